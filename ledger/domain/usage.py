"""What the settlement rules consume: measured usage, and what was issued before.

The store computes these with SQL over the ledger; tests compute them with
`billing.metrics.measure_usage` from events. Both must agree exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class BillableEvent:
    """An accepted event covered by `licence_id`, in one period (role not yet filtered)."""

    event_id: str
    licence_id: str
    municipality: str
    school: str
    learner_hash: bytes
    role: str
    product: str
    action: str
    item: str
    quantity: int
    unit: str
    occurred_at: datetime  # aware UTC


@dataclass(frozen=True)
class BuyerUsage:
    """One buyer's quantity for one licence and period, and per school (for max_per_pupil)."""

    quantity: int
    per_school: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UnlicensedCount:
    events: int
    learners: int


@dataclass(frozen=True)
class PeriodUsage:
    """Everything measured for one period, as known at one closing point."""

    period: str
    # licence id -> municipality id -> usage. Buyers without billable use may be absent.
    by_licence: Mapping[str, Mapping[str, BuyerUsage]]
    # (municipality id, vendor org_no) -> unlicensed events of this period.
    unlicensed: Mapping[tuple[str, str], UnlicensedCount] = field(default_factory=dict)


@dataclass(frozen=True)
class IssuedLine:
    """A line of an already issued settlement: what adjustments are computed against."""

    settlement_period: str
    municipality: str
    vendor: str
    licence: str
    usage_period: str
    quantity: int
    amount_ore: int
