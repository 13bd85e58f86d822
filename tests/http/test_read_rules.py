"""The rules behind the read routes, without services: who may read, formats, cursors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.app.ledger_reads import timestamp_text
from ledger.app.month_to_date import LicenceUsage, UnlicensedUsage, UsageSoFar, visible_usage
from ledger.app.rejections import CursorInvalid, decode_cursor, encode_cursor
from ledger.app.settlement_reads import may_read, parse_settlement_id
from ledger.domain.periods import parse_period
from ledger.domain.tokens import Principal
from ledger.http.errors import ApiError
from ledger.http.params import PERIOD_PATTERN
from ledger.http.rejections import CURSOR_PATTERN
from ledger.http.settlements import SETTLEMENT_ID_PATTERN, negotiated_format


@pytest.mark.parametrize(
    ("format_", "accept", "chosen"),
    [
        (None, None, "json"),
        (None, "", "json"),
        (None, "*/*", "json"),
        (None, "text/csv", "csv"),
        (None, "application/xml", "ehf"),
        (None, "text/html, application/xml;q=0.9, */*;q=0.1", "ehf"),
        (None, "application/json;q=0.5, text/csv", "csv"),
        (None, "text/csv;q=0, application/json", "json"),
        ("ehf", "text/csv", "ehf"),  # ?format= wins over Accept
    ],
)
def test_format_negotiation(format_: str | None, accept: str | None, chosen: str) -> None:
    assert negotiated_format(format_, accept) == chosen  # type: ignore[arg-type]


@pytest.mark.parametrize("accept", ["image/png", "text/csv;q=0", "application/pdf, text/html"])
def test_unacceptable_media_types_are_406(accept: str) -> None:
    with pytest.raises(ApiError) as raised:
        negotiated_format(None, accept)
    assert (raised.value.status, raised.value.code) == (406, "not_acceptable")


positions = st.dictionaries(st.integers(0, 999_999_999), st.integers(0, 10**18 - 1), max_size=20)


@given(positions)
def test_a_cursor_gives_back_its_positions_and_matches_its_documented_shape(
    position: dict[int, int],
) -> None:
    cursor = encode_cursor(position)
    assert decode_cursor(cursor) == position
    assert re.fullmatch(CURSOR_PATTERN, cursor)


@given(st.text(max_size=60))
def test_any_other_cursor_is_refused_as_bad_input(text: str) -> None:
    try:
        decoded = decode_cursor(text)
    except CursorInvalid:
        return
    assert encode_cursor(decoded) == text  # only cursors we could have issued are accepted


@given(st.from_regex(r"[0-9]{4}-[0-9]{2}", fullmatch=True))
def test_the_documented_period_pattern_is_exactly_parse_period(text: str) -> None:
    try:
        parse_period(text)
        valid = True
    except ValueError:
        valid = False
    assert bool(re.fullmatch(PERIOD_PATTERN, text)) == valid


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("2026-10_3201_987654325", ("2026-10", "3201", "987654325")),
        ("2026-13_3201_987654325", None),
        ("2026-10_3201_987654325.json", None),  # never a file on the server
        ("../2026-10_3201_987654325", None),
        ("2026-10_320_987654325", None),
        ("2026-10_3201_98765432", None),
        ("2026-10-3201-987654325", None),
    ],
)
def test_settlement_ids(text: str, key: tuple[str, str, str] | None) -> None:
    assert parse_settlement_id(text) == key
    assert bool(re.fullmatch(SETTLEMENT_ID_PATTERN, text)) == (key is not None)


KEY = ("2026-10", "3201", "987654325")


@pytest.mark.parametrize(
    ("scope", "subject", "allowed"),
    [
        ("municipality", "3201", True),
        ("municipality", "3203", False),
        ("vendor", "987654325", True),
        ("vendor", "912000001", False),
        ("auditor", "anyone", True),
        ("admin", "operator", True),
    ],
)
def test_who_may_read_a_settlement(scope: str, subject: str, allowed: bool) -> None:
    principal = Principal("000000000000", scope, subject)  # type: ignore[arg-type]
    assert may_read(principal, KEY) is allowed


def _usage(licence: str, vendor: str, buyer: str) -> LicenceUsage:
    return LicenceUsage(
        licence, vendor, buyer, "units", "access", 1, 50, 2, 100, None, None, False, ()
    )


def test_each_party_sees_only_its_own_usage() -> None:
    usage = UsageSoFar(
        "2026-10",
        1,
        (
            _usage("L-A", "987654325", "3201"),
            _usage("L-J", "912000001", "3201"),
            _usage("L-J", "912000001", "3203"),
        ),
        (UnlicensedUsage("3201", "987654325", 1, 1), UnlicensedUsage("3203", "912000001", 2, 1)),
    )

    def seen(scope: str, subject: str) -> tuple[set[tuple[str, str]], set[str]]:
        visible = visible_usage(usage, Principal("0", scope, subject))  # type: ignore[arg-type]
        return (
            {(item.licence, item.buyer) for item in visible.licences},
            {u.municipality + "/" + u.vendor for u in visible.unlicensed},
        )

    assert seen("municipality", "3203") == ({("L-J", "3203")}, {"3203/912000001"})
    assert seen("vendor", "987654325") == ({("L-A", "3201")}, {"3201/987654325"})
    assert seen("vendor", "912000001")[0] == {("L-J", "3201"), ("L-J", "3203")}
    assert len(seen("auditor", "x")[0]) == 3


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(9998, 12, 30),
        timezones=st.just(timezone(timedelta(hours=-5))) | st.just(UTC),
    )
)
def test_entry_times_are_utc_with_microseconds_and_read_back_exactly(moment: datetime) -> None:
    text = timestamp_text(moment)
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z", text)
    assert datetime.fromisoformat(text) == moment
