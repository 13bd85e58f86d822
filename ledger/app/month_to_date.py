"""Month-to-date usage and amounts, for budgets and ceilings (`ledger usage`, `GET /v1/usage`).

Computed exactly as a settlement would be if the month closed now, but nothing is
recorded. `usage_so_far` gives one item per licence and buyer (with its share, the
licence's total and cap) and its schools' quantities, plus unlicensed use;
`visible_usage` narrows it to what one party may see, and `usage_rows` lays it out
for the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.metrics import fixed_usage
from billing.pricing import charge_licence
from ledger.app.workspace import Workspace, WorkspaceError
from ledger.domain.money import format_ore
from ledger.domain.tokens import Principal
from ledger.store.catalogues import latest_catalogue
from ledger.store.engine import create_ledger_engine
from ledger.store.entries import chain_ends
from ledger.store.usage import measure_period
from streams.runner import StreamTarget, process_until_idle


@dataclass(frozen=True)
class LicenceUsage:
    """One buyer's month so far under one licence, and the licence's own total."""

    licence: str
    vendor: str
    buyer: str
    metric: str
    unit: str | None
    quantity: int  # the buyer's own
    amount_ore: int  # the buyer's share of the licence amount
    licence_quantity: int  # summed over the licence's buyers
    licence_amount_ore: int  # after caps, rounded half-even to øre once (CONTRACT 5.5)
    monthly_cap: Decimal | None
    max_per_pupil: Decimal | None
    cap_applied: bool  # a ceiling reduced the licence amount
    schools: tuple[tuple[str, int], ...]  # (school, quantity), by school


@dataclass(frozen=True)
class UnlicensedUsage:
    municipality: str
    vendor: str
    events: int
    learners: int


@dataclass(frozen=True)
class UsageSoFar:
    period: str
    catalogue_version: int
    licences: tuple[LicenceUsage, ...]  # by licence, then buyer
    unlicensed: tuple[UnlicensedUsage, ...]  # by municipality, then vendor


async def usage_so_far(conn: AsyncConnection, period: str) -> UsageSoFar:
    """Everything the ledger holds now for `period`, priced as if it closed now."""
    latest = await latest_catalogue(conn)
    if latest is None:
        raise WorkspaceError("no catalogue loaded: run `ledger catalogue load FILE` first")
    catalogue = latest.catalogue
    usage = await measure_period(conn, catalogue, period, await chain_ends(conn))
    licences: list[LicenceUsage] = []
    for licence in sorted(catalogue.licences, key=lambda lic: lic.id):
        if licence.pricing.metric == "fixed_per_pupil":
            licence_usage = fixed_usage(licence, catalogue, period)
        else:
            licence_usage = dict(usage.by_licence.get(licence.id, {}))
        if not licence_usage:
            continue
        charge = charge_licence(licence, catalogue, licence_usage)
        for buyer, buyer_charge in sorted(charge.buyers.items()):
            buyer_usage = licence_usage.get(buyer)
            licences.append(
                LicenceUsage(
                    licence=licence.id,
                    vendor=licence.vendor,
                    buyer=buyer,
                    metric=licence.pricing.metric,
                    unit=licence.pricing.unit,
                    quantity=buyer_charge.quantity,
                    amount_ore=buyer_charge.share_ore,
                    licence_quantity=charge.quantity,
                    licence_amount_ore=charge.amount_ore,
                    monthly_cap=licence.pricing.monthly_cap,
                    max_per_pupil=licence.pricing.max_per_pupil,
                    cap_applied=charge.cap_applied,
                    schools=tuple(sorted((buyer_usage.per_school if buyer_usage else {}).items())),
                )
            )
    unlicensed = tuple(
        UnlicensedUsage(municipality, vendor, count.events, count.learners)
        for (municipality, vendor), count in sorted(usage.unlicensed.items())
    )
    return UsageSoFar(period, latest.version, tuple(licences), unlicensed)


def visible_usage(usage: UsageSoFar, principal: Principal) -> UsageSoFar:
    """What one party may see: a municipality its own purchases, a vendor its own sales.

    A municipality on a joint licence sees the licence's total (the cap applies to it),
    not the other buyers' own quantities or shares.
    """
    if principal.scope == "municipality":
        return replace(
            usage,
            licences=tuple(item for item in usage.licences if item.buyer == principal.subject),
            unlicensed=tuple(u for u in usage.unlicensed if u.municipality == principal.subject),
        )
    if principal.scope == "vendor":
        return replace(
            usage,
            licences=tuple(item for item in usage.licences if item.vendor == principal.subject),
            unlicensed=tuple(u for u in usage.unlicensed if u.vendor == principal.subject),
        )
    return usage


def _cap_text(cap: object, applied: bool) -> str:
    if cap is None:
        return "-"
    return f"{cap} ({'reached' if applied else 'not reached'})"


def usage_rows(usage: UsageSoFar) -> list[tuple[str, ...]]:
    """The command line's table: a row per licence and buyer, then one per school."""
    rows: list[tuple[str, ...]] = []
    for item in usage.licences:
        rows.append(
            (
                item.licence,
                item.buyer,
                "all",
                item.metric,
                str(item.quantity),
                format_ore(item.amount_ore),
                _cap_text(item.monthly_cap, item.cap_applied),
            )
        )
        for school, quantity in item.schools:
            rows.append((item.licence, item.buyer, school, item.metric, str(quantity), "", ""))
    for count in usage.unlicensed:
        rows.append(
            (
                "UNLICENSED",
                count.municipality,
                count.vendor,
                "events / learners",
                f"{count.events} / {count.learners}",
                "",
                "",
            )
        )
    return rows


async def month_to_date(ws: Workspace, target: StreamTarget, period: str) -> list[tuple[str, ...]]:
    """`ledger usage`: process what was sent, then the table rows of `usage_so_far`."""
    await process_until_idle(target)
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            usage = await usage_so_far(conn, period)
    finally:
        await engine.dispose()
    return usage_rows(usage)
