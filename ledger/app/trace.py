"""`ledger trace`: the events behind a settlement line, so vendor and buyer can reconcile.

A current-period line is backed by the billable events of its licence, buyer and period
known at the closing; an adjustment line by those that arrived late, between the
previous closing and this one. For unit `access`, events absorbed by the 30-second
double-click rule are listed too, marked as not counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.workspace import Workspace, ledger_connection
from ledger.domain.catalogue import Licence
from ledger.domain.usage import BillableEvent
from ledger.store.catalogues import catalogue_version
from ledger.store.closings import closed_periods, closing_catalogue_version
from ledger.store.entries import licence_events
from ledger.store.settlements import issued_settlement

SETTLEMENT_ID_PARTS = 3
trace_events_max = 1_000_000


class TraceError(Exception):
    """The settlement or line asked for does not exist (one line, exit 2)."""


@dataclass(frozen=True)
class TracedEvent:
    event_id: str
    school: str
    occurred_at: str
    quantity: int
    counted: bool


@dataclass(frozen=True)
class TracedLine:
    settlement: str
    line_no: int
    licence: str
    usage_period: str
    adjustment: bool
    quantity: int
    amount: str
    events: list[TracedEvent]


def settlement_key(reference: str) -> tuple[str, str, str]:
    """A settlement file path, or an id `<period>_<municipality>_<vendor>`."""
    path = Path(reference)
    if path.suffix == ".json" and path.is_file():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            return str(document["period"]), str(document["municipality"]), str(document["vendor"])
        except (ValueError, KeyError, TypeError) as error:
            raise TraceError(f"{path}: not a settlement JSON file") from error
    parts = path.stem.split("_") if path.suffix else reference.split("_")
    if len(parts) != SETTLEMENT_ID_PARTS:
        raise TraceError(
            f"{reference!r} is neither a settlement file nor an id like 2026-10_3201_987654325"
        )
    return parts[0], parts[1], parts[2]


def _counted_flags(rows: list[BillableEvent], licence: Licence) -> list[bool]:
    if licence.pricing.metric != "units" or licence.pricing.unit != "access":
        return [True] * len(rows)
    flags = []
    previous = None
    for row in rows:
        group = (row.learner_hash, row.product, row.item, row.action)
        at = row.occurred_at
        repeat = (
            previous is not None
            and previous[0] == group
            and (at - previous[1]).total_seconds() <= 30
        )
        flags.append(not repeat)
        previous = (group, at)
    return flags


async def trace_settlement(
    conn: AsyncConnection, reference: str, line_no: int | None
) -> list[TracedLine]:
    period, municipality, vendor = settlement_key(reference)
    issued = await issued_settlement(conn, (period, municipality, vendor))
    if issued is None:
        raise TraceError(f"no settlement {period}_{municipality}_{vendor} has been issued")
    lines = issued.document["lines"]
    if line_no is not None and not 1 <= line_no <= len(lines):
        raise TraceError(f"settlement has {len(lines)} lines; --line must be 1..{len(lines)}")
    version = await closing_catalogue_version(conn, issued.close_id)
    catalogue = await catalogue_version(conn, version)
    closed = {c.period: c for c in await closed_periods(conn)}
    this_close = closed[period]
    traced = []
    for number, line in enumerate(lines, start=1):
        if line_no is not None and number != line_no:
            continue
        licence = catalogue.licence(line["licence"])
        if licence is None:
            raise TraceError(f"licence {line['licence']} is not in catalogue version {version}")
        adjustment = bool(line.get("adjustment")) or line["usage_period"] != period
        starts = closed[line["usage_period"]].heads if adjustment else {}
        traced.append(
            await _trace_line(
                conn,
                f"{period}_{municipality}_{vendor}",
                number,
                line,
                licence,
                municipality,
                this_close.heads,
                starts,
                adjustment,
            )
        )
    return traced


async def _trace_line(
    conn: AsyncConnection,
    settlement: str,
    number: int,
    line: dict[str, object],
    licence: Licence,
    municipality: str,
    ends: dict[int, int],
    starts: dict[int, int],
    adjustment: bool,
) -> TracedLine:
    if licence.pricing.metric == "fixed_per_pupil":
        rows: list[BillableEvent] = []
    else:
        rows = await licence_events(
            conn, licence, municipality, str(line["usage_period"]), ends, starts, trace_events_max
        )
    flags = _counted_flags(rows, licence)
    events = [
        TracedEvent(r.event_id, r.school, r.occurred_at.isoformat(), r.quantity, flag)
        for r, flag in zip(rows, flags, strict=True)
    ]
    events.sort(key=lambda e: (e.occurred_at, e.event_id))
    return TracedLine(
        settlement,
        number,
        licence.id,
        str(line["usage_period"]),
        adjustment,
        int(str(line["quantity"])),
        str(line["amount"]),
        events,
    )


async def trace_in_workspace(ws: Workspace, reference: str, line: int | None) -> list[TracedLine]:
    """`trace_settlement` on a workspace's ledger."""
    async with ledger_connection(ws) as conn:
        return await trace_settlement(conn, reference, line)
