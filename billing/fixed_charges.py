"""Which months a catalogue's `fixed_per_pupil` licences charge (CONTRACT 4 and 5.4).

A month in which any licence has a fixed charge is a period "with usage" even when no
event came: `ledger settle` must not close a later month while it is open, or its
fixed charges would never be invoiced.

Bounds, so the answer never grows with the catalogue's dates:

- Only months after the ledger's latest settled period count (`after`). A month at or
  before it can no longer be settled (`later_period_settled`), so refusing because of
  it would stop every later settle for good: a licence made retroactive by a later
  catalogue version, or a ledger settled before this rule existed. Before the first
  settlement every month from the licence's `valid_from` counts: the catalogue says
  the licence was in force then, and the ledger is where it is invoiced.
- Only months before the period being settled (`before`).
- Only the earliest such month is computed, per licence in constant time (a licence's
  charged months are one run of consecutive months), so the work is linear in the
  number of licences whatever their validity spans.
"""

from __future__ import annotations

from billing.metrics import fixed_usage
from ledger.domain.catalogue import Catalogue, Licence
from ledger.domain.periods import next_period, period_of_date


def _first_charged(
    licence: Licence, catalogue: Catalogue, after: str | None, before: str
) -> str | None:
    if licence.pricing.metric != "fixed_per_pupil":
        return None
    start = period_of_date(licence.valid_from)
    if after is not None and start <= after:
        start = next_period(after)
    if start >= before:
        return None
    if period_of_date(licence.valid_to) < start:
        return None
    # The same rule the settlement charges with: no pupils in scope, no charge.
    return start if fixed_usage(licence, catalogue, start) else None


def first_fixed_charge_period(
    catalogue: Catalogue, *, after: str | None, before: str
) -> str | None:
    """The earliest month strictly between `after` (None: no bound) and `before` in which a
    `fixed_per_pupil` licence of `catalogue` charges, or None."""
    if after is not None and after >= before:
        return None
    charged = (_first_charged(licence, catalogue, after, before) for licence in catalogue.licences)
    return min((period for period in charged if period is not None), default=None)
