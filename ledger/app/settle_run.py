"""`ledger settle`: the checks, the close marker, processing, then issuing in one transaction.

The command line processes what was sent itself (`process_until_idle`). A server
(`POST /v1/periods/{period}/settle`) must not: it would join the running worker's
consumer group and stall both, so it waits for the worker instead (`wait_for_ledger`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.fixed_charges import first_fixed_charge_period
from billing.settlement import Settlement
from ledger.app.settle import (
    CLOSE_NOT_PROCESSED,
    EARLIER_PERIOD_OPEN,
    INVALID_PERIOD,
    LATER_PERIOD_SETTLED,
    LEDGER_BEHIND,
    NO_CATALOGUE,
    PERIOD_ALREADY_SETTLED,
    PERIOD_NOT_ENDED,
    SettleRefused,
    close_id_for,
    compute_settlements,
    issue_for_closing,
)
from ledger.app.workspace import Workspace
from ledger.domain.catalogue import Catalogue
from ledger.domain.periods import next_period, parse_period, period_has_ended
from ledger.store.catalogues import latest_catalogue
from ledger.store.closings import closed_periods, closing_point, open_periods_with_usage
from ledger.store.engine import create_ledger_engine
from ledger.store.entries import chain_ends
from ledger.store.outcomes import ledger_positions
from streams.markers import publish_close_marker
from streams.runner import StreamTarget, end_offsets, process_until_idle

ledger_wait_s_default: Final = 30.0  # how long a server waits for the worker to catch up
ledger_poll_s: Final = 0.2

CatchUp = Callable[[], Awaitable[object]]


async def wait_for_ledger(ws: Workspace, timeout_s: float = ledger_wait_s_default) -> None:
    """Until the ledger holds every message the raw log has now (the worker's job).

    `SettleRefused` (`ledger_behind`) when it has not after `timeout_s`.
    """
    ends = await end_offsets(ws.kafka_worker, ws.topics.raw)
    deadline = time.monotonic() + timeout_s
    engine = create_ledger_engine(ws.database_url)
    try:
        while True:
            async with engine.connect() as conn:
                positions = await ledger_positions(conn, sorted(ends))
            behind = sum(max(0, end - positions.get(p, 0)) for p, end in ends.items())
            if behind == 0:
                return
            if time.monotonic() >= deadline:
                raise SettleRefused(
                    f"the ledger is {behind} messages behind the raw log after {timeout_s:.0f} s:"
                    " check that `ledger worker` runs, then settle again",
                    LEDGER_BEHIND,
                )
            await asyncio.sleep(ledger_poll_s)
    finally:
        await engine.dispose()


def refuse_settled(period: str, closed: list[str]) -> None:
    """`SettleRefused` when `period`, or a later one, is already settled."""
    if period in closed:
        raise SettleRefused(f"period {period} is already settled", PERIOD_ALREADY_SETTLED)
    latest = max(closed, default=None)
    if latest is not None and latest > period:
        # Its late events, if any, are adjusted in the next settlement instead.
        raise SettleRefused(
            f"period {period} is before {latest}, which is already settled:"
            " settle the next open period (late events are adjusted there)",
            LATER_PERIOD_SETTLED,
        )


async def refuse_earlier_open(
    conn: AsyncConnection, period: str, closed: list[str], catalogue: Catalogue | None
) -> None:
    """`SettleRefused` (`earlier_period_open`) naming the earliest open period before `period`
    with usage: accepted events, or a `fixed_per_pupil` charge (CONTRACT 4).

    The fixed charges are read from `catalogue`, the latest recorded version: the
    closing this settle starts prices with the version the worker holds when it meets
    the close marker, which is the latest loaded, and so will the earlier month's.
    """
    with_events = await open_periods_with_usage(conn, period)
    with_fixed = (
        None
        if catalogue is None
        else first_fixed_charge_period(catalogue, after=max(closed, default=None), before=period)
    )
    earliest = min([*with_events[:1], *([with_fixed] if with_fixed else [])], default=None)
    if earliest is None:
        return
    reason = "has usage" if earliest in with_events else "has fixed per-pupil charges"
    raise SettleRefused(
        f"earlier period {earliest} {reason} and is still open: settle it first",
        EARLIER_PERIOD_OPEN,
    )


async def settle(
    ws: Workspace,
    target: StreamTarget,
    period_text: str,
    now: datetime,
    *,
    dry_run: bool,
    catch_up: CatchUp | None = None,
) -> list[Settlement]:
    """Settle `period_text`; `catch_up` brings the ledger up to the raw log (by default by
    processing it here, `process_until_idle`)."""

    async def processed() -> object:
        return await process_until_idle(target)

    catch_up = catch_up or processed
    try:
        period = parse_period(period_text)
    except ValueError as error:
        raise SettleRefused(str(error), INVALID_PERIOD) from error
    if not period_has_ended(period, now):
        raise SettleRefused(
            f"period {period} has not ended in Europe/Oslo time; it can be settled from"
            f" {next_period(period)}-01",
            PERIOD_NOT_ENDED,
        )
    engine = create_ledger_engine(ws.database_url)
    try:
        # Refused at once when closings already decide it (processing cannot change them).
        async with engine.connect() as conn:
            refuse_settled(period, [c.period for c in await closed_periods(conn)])
        # Everything sent so far must be in the ledger before deciding what is open.
        await catch_up()
        async with engine.connect() as conn:
            # Again: another settle may have closed it while this one was processing.
            closed = [c.period for c in await closed_periods(conn)]
            refuse_settled(period, closed)
            latest = await latest_catalogue(conn)
            catalogue = None if latest is None else latest.catalogue
            await refuse_earlier_open(conn, period, closed, catalogue)
            if latest is None:
                raise SettleRefused(
                    "no catalogue loaded: run `ledger catalogue load FILE` first", NO_CATALOGUE
                )
            if dry_run:
                return await compute_settlements(
                    conn, latest.catalogue, period, await chain_ends(conn), {"dry_run": True}
                )
        close_id = close_id_for(period)
        chain_count = len(await end_offsets(target.kafka, target.raw_topic))
        async with engine.connect() as conn:
            point = await closing_point(conn, close_id, chain_count)
        if point is None:
            await publish_close_marker(
                ws.kafka_ingest, ws.topics.raw, close_id=close_id, period=period
            )
            await catch_up()
        async with engine.begin() as conn:
            point = await closing_point(conn, close_id, chain_count)
            if point is None:
                raise SettleRefused(
                    f"close marker for {period} not processed; run settle again",
                    CLOSE_NOT_PROCESSED,
                )
            return await issue_for_closing(conn, point)
    finally:
        await engine.dispose()
