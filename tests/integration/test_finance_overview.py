"""The finance page's read model on a real workspace: its numbers are the settlement
documents', its forecast and warnings behave, budgets appear, and one municipality
never sees another's data."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledger.app.budgets import set_budget
from ledger.app.finance_overview import (
    FinanceOverview,
    FinancePeriod,
    finance_overview,
    finance_periods,
)
from ledger.app.settle_run import settle
from ledger.app.workspace import Workspace, ledger_connection, stream_target
from ledger.domain.money import parse_amount
from ledger.store.settlements import settlement_documents
from tests.integration.conftest import CATALOGUE, event, load_catalogue, process, send_events

pytestmark = pytest.mark.integration

BAERUM, ASKER = "3201", "3203"
EIKELI, BEKKESTUA, HOFSTAD = "974000008", "974626993", "974000202"
FORLAG, APPEN = "987654325", "912000001"
# October 2026 has 20 school days (1-2 October are the autumn holiday); by Wednesday
# 14 October 8 have passed and 12 are left.
MID_OCTOBER = date(2026, 10, 14)


def catalogue_with_cap(tmp_path: Path) -> Path:
    """The test catalogue, with a monthly cap of kr 3,00 on the joint licence."""
    document = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    for licence in document["licences"]:
        if licence["id"] == "L-JOINT":
            licence["pricing"]["monthly_cap"] = "3.00"
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def october_events() -> list[dict[str, object]]:
    at = "2026-10-0{}T08:00:00Z"
    return [
        # Bærum, Eikeli: two pupils under L-LATER (9.00 per active learner)
        event("b-1", school=EIKELI, learner="p1", occurred_at=at.format(5)),
        event("b-2", school=EIKELI, learner="p2", occurred_at=at.format(6)),
        event("b-3", school=EIKELI, learner="p1", occurred_at=at.format(7)),
        # Bærum, Bekkestua: one pupil under L-SCHOOL (7.00)
        event("b-4", school=BEKKESTUA, learner="p3", occurred_at=at.format(7)),
        # the joint licence (0.50 per access, capped at 3.00): two accesses each
        *(
            event(
                f"j-{school}-{n}",
                vendor=APPEN,
                product="eng-5-10",
                school=school,
                learner="p9",
                item=f"kap-{n}",
                occurred_at=at.format(5 + n),
            )
            for school in (EIKELI, HOFSTAD)
            for n in (1, 2)
        ),
        # unlicensed: no licence covers norsk-1-7
        event("u-1", product="norsk-1-7", school=EIKELI, learner="p1", occurred_at=at.format(8)),
        event("u-2", product="norsk-1-7", school=EIKELI, learner="p4", occurred_at=at.format(8)),
        event("u-3", product="norsk-1-7", school=HOFSTAD, learner="p5", occurred_at=at.format(8)),
    ]


async def overview(ws: Workspace, municipality: str, period: str, today: date) -> FinanceOverview:
    async with ledger_connection(ws) as conn:
        return await finance_overview(conn, municipality, period, today)


async def documents(ws: Workspace, period: str) -> list[dict[str, Any]]:
    async with ledger_connection(ws) as conn:
        return [dict(d) for d in await settlement_documents(conn, period)]


def licence_of(view: FinanceOverview, licence: str) -> Any:
    return next(item for v in view.vendors for item in v.licences if item.licence == licence)


def assert_equals_settlements(view: FinanceOverview, issued: list[dict[str, Any]]) -> None:
    """Every number the page shows for a settled month is the documents'."""
    mine = [d for d in issued if d["municipality"] == view.municipality]
    assert {v.settlement_id for v in view.vendors if v.settlement_id} == {
        f"{d['period']}_{d['municipality']}_{d['vendor']}" for d in mine
    }
    for document in mine:
        vendor = next(v for v in view.vendors if v.org_no == document["vendor"])
        assert vendor.amount_ore + vendor.adjustments_ore == parse_amount(document["subtotal"])
        assert (vendor.unlicensed_events, vendor.unlicensed_learners) == (
            document["unlicensed"]["events"],
            document["unlicensed"]["learners"],
        )
        for line in document["lines"]:
            if line.get("adjustment"):
                continue
            item = licence_of(view, line["licence"])
            assert (item.quantity, item.amount_ore) == (
                line["quantity"],
                parse_amount(line["amount"]),
            )
            assert item.forecast_ore == item.amount_ore
    assert view.amount_ore == sum(
        parse_amount(line["amount"])
        for d in mine
        for line in d["lines"]
        if not line.get("adjustment")
    )


async def test_finance_overview_open_then_settled_then_adjusted(
    workspace: Workspace, tmp_path: Path
) -> None:
    await load_catalogue(workspace, catalogue_with_cap(tmp_path))
    await set_budget(
        workspace, municipality=BAERUM, licence="L-LATER", amount="30.00",
        from_period="2026-10", standing=True, now=datetime.now(UTC),
    )  # fmt: skip
    await send_events(workspace, october_events())
    await process(workspace)

    # The open month, seen mid-October.
    open_view = await overview(workspace, BAERUM, "2026-10", MID_OCTOBER)
    assert not open_view.settled
    assert (open_view.school_days_elapsed, open_view.school_days_left) == (8, 12)
    assert open_view.school_days_total == 20
    later = licence_of(open_view, "L-LATER")
    assert (later.quantity, later.amount_ore, later.active_pupils) == (2, 1_800, 2)
    assert later.budget_ore == 3_000
    # 2 learners over 8 of 20 school days: 5 by month end, at 9.00
    assert later.forecast_ore == 4_500
    assert later.warnings == ("forecast_exceeds_budget",)
    assert later.pupils_covered == 420 + 380
    assert later.cost_per_active_pupil_ore == 900
    assert later.little_used  # 2 of 800 pupils
    joint = licence_of(open_view, "L-JOINT")
    assert joint.joint and joint.monthly_cap_ore == 300
    assert (joint.quantity, joint.amount_ore, joint.licence_amount_ore) == (2, 100, 200)
    # 2 accesses each become 5 each: 10 × 0.50 = 5.00, capped at 3.00 and shared
    assert joint.forecast_licence_ore == 300 and joint.forecast_ore == 150
    assert joint.warnings == ("forecast_reaches_cap",)
    school_licence = licence_of(open_view, "L-SCHOOL")
    assert school_licence.budget_ore is None and school_licence.amount_ore == 700
    for item in (later, joint, school_licence):
        assert item.amount_ore <= item.forecast_ore
    assert open_view.amount_ore == 1_800 + 700 + 100
    assert not open_view.adjustments and not any(v.settlement_id for v in open_view.vendors)
    assert {(u.product, u.school, u.events, u.pupils) for u in open_view.unlicensed} == {
        ("norsk-1-7", EIKELI, 2, 2)
    }
    eikeli_matte = next(
        s for s in open_view.schools if (s.school, s.product) == (EIKELI, "matte-1-7")
    )
    assert (eikeli_matte.events, eikeli_matte.active_pupils) == (3, 2)
    assert eikeli_matte.school_name == "Eikeli skole"
    # At month end nothing is left to project: the forecast is the amount so far.
    last_day = await overview(workspace, BAERUM, "2026-10", date(2026, 10, 31))
    assert all(
        item.forecast_ore == item.amount_ore for v in last_day.vendors for item in v.licences
    )

    assert period_list(await periods(workspace, BAERUM, date(2026, 11, 2))) == [
        ("2026-11", False),
        ("2026-10", False),
    ]

    # Settled: the page shows the documents' numbers, and the same as the open month's.
    target = stream_target(workspace)
    await settle(workspace, target, "2026-10", datetime(2026, 11, 2, tzinfo=UTC), dry_run=False)
    october = await documents(workspace, "2026-10")
    settled_view = await overview(workspace, BAERUM, "2026-10", date(2026, 11, 2))
    assert settled_view.settled
    assert_equals_settlements(settled_view, october)
    assert settled_view.amount_ore == open_view.amount_ore
    # Within cap and budget once the whole month is known: no warnings left.
    assert licence_of(settled_view, "L-JOINT").warnings == ()
    assert licence_of(settled_view, "L-LATER").warnings == ()

    # A late October event, and November's use; November's settlement adjusts October.
    await send_events(
        workspace,
        [
            event("late-1", school=EIKELI, learner="p7", occurred_at="2026-10-20T08:00:00Z"),
            event("n-1", school=EIKELI, learner="p1", occurred_at="2026-11-03T08:00:00Z"),
        ],
    )
    await process(workspace)
    await settle(workspace, target, "2026-11", datetime(2026, 12, 3, tzinfo=UTC), dry_run=False)
    november = await documents(workspace, "2026-11")
    november_view = await overview(workspace, BAERUM, "2026-11", date(2026, 12, 3))
    assert_equals_settlements(november_view, november)
    adjustment = next(a for a in november_view.adjustments if a.licence == "L-LATER")
    assert (adjustment.usage_period, adjustment.late_events) == ("2026-10", 1)
    assert (adjustment.quantity_change, adjustment.amount_change_ore) == (1, 900)
    assert adjustment.settlement_id == f"2026-11_{BAERUM}_{FORLAG}"
    later_november = licence_of(november_view, "L-LATER")
    assert later_november.last_month_amount_ore == 1_800
    assert later_november.budget_ore == 3_000  # a standing budget

    assert period_list(await periods(workspace, BAERUM)) == [
        ("2026-12", False),
        ("2026-11", True),
        ("2026-10", True),
    ]
    assert set(november_view.downloads) == {
        f"{d['period']}_{d['municipality']}_{d['vendor']}"
        for d in october + november
        if d["municipality"] == BAERUM
    }

    # Asker sees its own use only: no Bærum school, licence, budget or settlement.
    asker = await overview(workspace, ASKER, "2026-10", date(2026, 11, 2))
    assert_equals_settlements(asker, october)
    assert {item.licence for v in asker.vendors for item in v.licences} == {"L-JOINT"}
    assert {s.school for s in asker.schools} == {HOFSTAD}
    assert {u.school for u in asker.unlicensed} == {HOFSTAD}
    assert all(f"_{ASKER}_" in d for d in asker.downloads)
    assert all(a.settlement_id.split("_")[1] == ASKER for a in asker.adjustments)
    text = json.dumps([repr(asker)])
    for foreign in (EIKELI, BEKKESTUA, "L-LATER", "L-SCHOOL", "Bærum"):
        assert foreign not in text


async def periods(
    ws: Workspace, municipality: str, today: date = date(2026, 12, 3)
) -> tuple[FinancePeriod, ...]:
    async with ledger_connection(ws) as conn:
        return await finance_periods(conn, municipality, today)


def period_list(listed: tuple[FinancePeriod, ...]) -> list[tuple[str, bool]]:
    return [(item.period, item.settled) for item in listed]
