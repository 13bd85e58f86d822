"""Charts carry their own text alternative and no script; per-day counts lose nothing."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.app.vendor_overview import fold_days, month_total
from ledger.domain.invariants import InvariantViolation
from ledger.http.web.charts import Series, bar_chart, stacked_bars_by_day

OCTOBER = [date(2026, 10, 1) + timedelta(days=n) for n in range(31)]
rows = st.lists(
    st.tuples(
        st.sampled_from(OCTOBER),
        st.sampled_from(["accepted", "duplicate", "rejected"]),
        st.booleans(),
        st.sampled_from(["", "invalid_quantity", "unknown_school"]),
        st.integers(min_value=1, max_value=10**6),
    ),
    max_size=60,
)


def test_a_chart_is_named_for_assistive_technology_and_has_no_script() -> None:
    svg = stacked_bars_by_day(
        "Hendelser <per> dag",
        "Stablede søyler & tall",
        ["man. 5.10.", "tir. 6.10."],
        [Series("Godtatt", [3, 4]), Series("Avvist: <b>", [1, None])],
    )
    assert svg.startswith("<svg") and 'role="img"' in svg
    chart_id = svg.split('id="', 1)[1].split('"', 1)[0]
    assert f'aria-labelledby="{chart_id}-title {chart_id}-desc"' in svg
    assert f'<title id="{chart_id}-title">Hendelser &lt;per&gt; dag</title>' in svg
    assert "Stablede søyler &amp; tall" in svg
    assert "<script" not in svg and "<b>" not in svg and "Avvist: &lt;b&gt;" in svg
    assert 'id="activate-serie' not in svg  # ids stay unique when a page has two charts
    money = bar_chart("Forbruk", "Per lisens", ["L-1"], [Series("Beløp", [1_268_750])], money=True)
    assert "kr\u00a012\u00a0687,50" in money  # axis and values in the page's notation


def test_a_chart_refuses_series_that_do_not_fit_its_labels() -> None:
    with pytest.raises(InvariantViolation):
        bar_chart("t", "d", ["a", "b"], [Series("x", [1])])


@given(rows)
def test_the_days_of_a_month_add_up_to_the_rows(
    grouped: list[tuple[date, str, bool, str, int]],
) -> None:
    days = fold_days("2026-10", grouped)
    assert [d.day for d in days] == OCTOBER
    total = month_total("2026-10", days)
    assert total.received == sum(n for *_, n in grouped)
    by_day: Counter[date] = Counter()
    for day, _, _, _, n in grouped:
        by_day[day] += n
    assert {d.day: d.received for d in days if d.received} == dict(by_day)
    rejected = sum(n for _, status, _, _, n in grouped if status == "rejected")
    unlicensed = sum(n for _, status, free, _, n in grouped if status == "accepted" and free)
    assert total.rejected == rejected and total.unlicensed == unlicensed


def test_a_count_outside_the_month_is_a_bug() -> None:
    with pytest.raises(InvariantViolation):
        fold_days("2026-10", [(date(2026, 11, 1), "accepted", False, "", 1)])
