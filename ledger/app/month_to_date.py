"""`ledger usage`: month-to-date quantities and amounts, for budgets and ceilings.

Computed exactly as a settlement would be if the month closed now, but nothing is
recorded. Rows: one per licence and buyer (with its share and the licence's cap), then
one per school with its quantity.
"""

from __future__ import annotations

from billing.metrics import fixed_usage
from billing.pricing import charge_licence
from ledger.app.workspace import Workspace, WorkspaceError
from ledger.domain.money import format_ore
from ledger.store.catalogues import latest_catalogue
from ledger.store.engine import create_ledger_engine
from ledger.store.entries import chain_ends
from ledger.store.usage import measure_period
from streams.runner import StreamTarget, process_until_idle


def _cap_text(cap: object, applied: bool) -> str:
    if cap is None:
        return "-"
    return f"{cap} ({'reached' if applied else 'not reached'})"


async def month_to_date(ws: Workspace, target: StreamTarget, period: str) -> list[tuple[str, ...]]:
    await process_until_idle(target)
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            latest = await latest_catalogue(conn)
            if latest is None:
                raise WorkspaceError("no catalogue loaded: run `ledger catalogue load FILE` first")
            catalogue = latest.catalogue
            usage = await measure_period(conn, catalogue, period, await chain_ends(conn))
    finally:
        await engine.dispose()
    rows: list[tuple[str, ...]] = []
    for licence in sorted(catalogue.licences, key=lambda lic: lic.id):
        if licence.pricing.metric == "fixed_per_pupil":
            licence_usage = fixed_usage(licence, catalogue, period)
        else:
            licence_usage = dict(usage.by_licence.get(licence.id, {}))
        if not licence_usage:
            continue
        charge = charge_licence(licence, catalogue, licence_usage)
        cap = _cap_text(licence.pricing.monthly_cap, charge.cap_applied)
        for buyer, buyer_charge in sorted(charge.buyers.items()):
            rows.append(
                (
                    licence.id,
                    buyer,
                    "all",
                    licence.pricing.metric,
                    str(buyer_charge.quantity),
                    format_ore(buyer_charge.share_ore),
                    cap,
                )
            )
            buyer_usage = licence_usage.get(buyer)
            for school, quantity in sorted((buyer_usage.per_school if buyer_usage else {}).items()):
                rows.append(
                    (licence.id, buyer, school, licence.pricing.metric, str(quantity), "", "")
                )
    for (municipality, vendor), count in sorted(usage.unlicensed.items()):
        rows.append(
            (
                "UNLICENSED",
                municipality,
                vendor,
                "events / learners",
                f"{count.events} / {count.learners}",
                "",
                "",
            )
        )
    return rows
