"""Projecting one buyer's use of a licence to the end of the month, by school days.

Pupils use learning materials on school days, so use so far is scaled by the
school days of the whole month over those elapsed (`ledger.domain.school_calendar`).
Pricing the projection is billing's job (`billing.forecast`), with the same code
settlements use, so a forecast and a settlement never disagree on the rules.

- Additive metrics (units: accesses, logins, activities, minutes): linear, rounded up
  to a whole unit, per school; the buyer's quantity is the sum of its schools'.
- `active_learners`: distinct learners saturate (the same pupils come back), so a
  linear projection is an upper bound; it is never taken beyond the pupils the
  licence covers for that buyer (or a school's own pupils), and never below use so far.
- `fixed_per_pupil`: the fixed quantity does not depend on use; it is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from ledger.domain.catalogue import Metric
from ledger.domain.invariants import invariant
from ledger.domain.usage import BuyerUsage


def linear_projection(so_far: int, elapsed: int, left: int) -> int:
    """`so_far` scaled by (elapsed + left) / elapsed, rounded up; unchanged without a basis.

    With no school day elapsed there is nothing to scale from, and with none left
    nothing more will come: both keep `so_far`.
    """
    invariant(so_far >= 0 and elapsed >= 0 and left >= 0, "negative use or days")
    if elapsed == 0 or left == 0:
        return so_far
    return -(-so_far * (elapsed + left) // elapsed)  # ceiling division, exact in integers


def _learners(so_far: int, elapsed: int, left: int, pupils: int) -> int:
    return max(so_far, min(linear_projection(so_far, elapsed, left), pupils))


def project_buyer_usage(
    metric: Metric,
    usage: BuyerUsage,
    elapsed: int,
    left: int,
    pupils_by_school: Mapping[str, int],
) -> BuyerUsage:
    """One buyer's usage at month end, per school as pricing with max_per_pupil needs.

    `pupils_by_school`: the pupils of the buyer's schools the licence covers.
    """
    if metric == "fixed_per_pupil":
        return usage
    if metric == "units":
        per_school = {
            school: linear_projection(quantity, elapsed, left)
            for school, quantity in usage.per_school.items()
        }
        if not per_school:  # no per-school split known: project the total alone
            return BuyerUsage(linear_projection(usage.quantity, elapsed, left), {})
        return BuyerUsage(sum(per_school.values()), per_school)
    per_school = {
        school: _learners(quantity, elapsed, left, pupils_by_school.get(school, 0))
        for school, quantity in usage.per_school.items()
    }
    covered = sum(pupils_by_school.values())
    quantity = _learners(usage.quantity, elapsed, left, covered)
    if per_school:
        # A learner active at two schools counts at both: the schools' sum bounds the total.
        quantity = min(quantity, sum(per_school.values()))
    projected = BuyerUsage(quantity, per_school)
    invariant(projected.quantity >= usage.quantity, "a projection below use so far")
    return projected


def school_days_in_validity(
    days: tuple[date, ...], today: date, valid_from: date, valid_to: date
) -> tuple[int, int]:
    """(elapsed, left) of a month's school `days` within a licence's validity (inclusive).

    A licence that ends mid-month has no days left after its end: nothing after it
    is billed under it, so nothing after it is projected.
    """
    valid = [day for day in days if valid_from <= day <= valid_to]
    elapsed = sum(1 for day in valid if day <= today)
    return elapsed, len(valid) - elapsed
