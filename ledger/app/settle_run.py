"""`ledger settle`: the checks, the close marker, processing, then issuing in one transaction."""

from __future__ import annotations

from datetime import datetime

from billing.settlement import Settlement
from ledger.app.settle import (
    SettleRefused,
    close_id_for,
    compute_settlements,
    issue_for_closing,
)
from ledger.app.workspace import Workspace
from ledger.domain.periods import next_period, parse_period, period_has_ended
from ledger.store.catalogues import latest_catalogue
from ledger.store.closings import closed_periods, closing_point, open_periods_with_usage
from ledger.store.engine import create_ledger_engine
from ledger.store.entries import chain_ends
from streams.markers import publish_close_marker
from streams.runner import StreamTarget, end_offsets, process_until_idle


async def settle(
    ws: Workspace, target: StreamTarget, period_text: str, now: datetime, *, dry_run: bool
) -> list[Settlement]:
    try:
        period = parse_period(period_text)
    except ValueError as error:
        raise SettleRefused(str(error)) from error
    if not period_has_ended(period, now):
        raise SettleRefused(
            f"period {period} has not ended in Europe/Oslo time; it can be settled from"
            f" {next_period(period)}-01"
        )
    # Everything sent so far must be in the ledger before deciding what is open.
    await process_until_idle(target)
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            if any(c.period == period for c in await closed_periods(conn)):
                raise SettleRefused(f"period {period} is already settled")
            still_open = await open_periods_with_usage(conn, period)
            if still_open:
                raise SettleRefused(
                    f"earlier period {still_open[0]} has usage and is still open: settle it first"
                )
            latest = await latest_catalogue(conn)
            if latest is None:
                raise SettleRefused("no catalogue loaded: run `ledger catalogue load FILE` first")
            if dry_run:
                return await compute_settlements(
                    conn, latest.catalogue, period, await chain_ends(conn), {"dry_run": True}
                )
        close_id = close_id_for(period)
        chain_count = len(await end_offsets(target.bootstrap, target.raw_topic))
        async with engine.connect() as conn:
            point = await closing_point(conn, close_id, chain_count)
        if point is None:
            await publish_close_marker(
                ws.endpoints.kafka_bootstrap, ws.topics.raw, close_id=close_id, period=period
            )
            await process_until_idle(target)
        async with engine.begin() as conn:
            point = await closing_point(conn, close_id, chain_count)
            if point is None:
                raise SettleRefused(f"close marker for {period} not processed; run settle again")
            return await issue_for_closing(conn, point)
    finally:
        await engine.dispose()
