"""The demo's closing table: per municipality and vendor, what became of the events and
what was settled. Every submitted event lands in exactly one column, so
events = accepted + duplicates + rejected + unlicensed on every row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from ledger.app.workspace import Workspace, ledger_connection
from ledger.domain.catalogue import Catalogue
from ledger.domain.invariants import invariant
from ledger.store.catalogues import latest_catalogue
from ledger.store.demo_counts import OutcomeCount, outcome_counts, settled_totals


@dataclass(frozen=True)
class SummaryRow:
    municipality: str | None  # None: the events named no known school
    vendor: str | None  # None: the event named none (e.g. unreadable)
    events: int = 0
    accepted: int = 0  # accepted and covered by a licence
    duplicates: int = 0
    rejected: int = 0
    unlicensed: int = 0
    amount: Decimal = Decimal("0.00")  # settled totals with VAT, NOK

    def add(self, other: SummaryRow) -> SummaryRow:
        return replace(
            self,
            events=self.events + other.events,
            accepted=self.accepted + other.accepted,
            duplicates=self.duplicates + other.duplicates,
            rejected=self.rejected + other.rejected,
            unlicensed=self.unlicensed + other.unlicensed,
            amount=self.amount + other.amount,
        )


def _row_of(count: OutcomeCount, catalogue: Catalogue | None) -> SummaryRow:
    municipality = count.municipality
    if municipality is None and count.school is not None and catalogue is not None:
        municipality = catalogue.municipality_of_school(count.school)
    n = count.events
    accepted = count.status == "accepted"
    return SummaryRow(
        municipality,
        count.vendor,
        events=n,
        accepted=n if accepted and not count.unlicensed else 0,
        unlicensed=n if accepted and count.unlicensed else 0,
        duplicates=n if count.status == "duplicate" else 0,
        rejected=n if count.status not in ("accepted", "duplicate") else 0,
    )


def summary_rows(
    counts: Sequence[OutcomeCount],
    totals: Sequence[tuple[str, str, Decimal]],
    catalogue: Catalogue | None,
) -> list[SummaryRow]:
    """Rows by (municipality, vendor); known municipalities first, in id order."""
    rows: dict[tuple[str | None, str | None], SummaryRow] = {}
    for count in counts:
        row = _row_of(count, catalogue)
        key = (row.municipality, row.vendor)
        rows[key] = rows[key].add(row) if key in rows else row
    for municipality, vendor, amount in totals:
        key = (municipality, vendor)
        found = rows.get(key, SummaryRow(municipality, vendor))
        rows[key] = replace(found, amount=found.amount + amount)
    for row in rows.values():
        invariant(
            row.events == row.accepted + row.duplicates + row.rejected + row.unlicensed,
            f"summary row {row.municipality}/{row.vendor} does not add up",
        )
    return sorted(
        rows.values(), key=lambda r: (r.municipality is None, r.municipality or "", r.vendor or "")
    )


def total_row(rows: Sequence[SummaryRow]) -> SummaryRow:
    total = SummaryRow(None, None)
    for row in rows:
        total = total.add(row)
    return total


async def demo_summary(ws: Workspace) -> tuple[list[SummaryRow], Catalogue | None]:
    """The rows, and the catalogue to name municipalities and vendors with."""
    async with ledger_connection(ws) as conn:
        counts = await outcome_counts(conn)
        settled = await settled_totals(conn)
        latest = await latest_catalogue(conn)
    catalogue = latest.catalogue if latest is not None else None
    totals = [(s.municipality, s.vendor, s.total) for s in settled]
    return summary_rows(counts, totals, catalogue), catalogue
