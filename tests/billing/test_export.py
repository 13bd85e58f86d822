"""Export: file names, canonical JSON files whose digest checks, and `;`-separated CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from decimal import Decimal

import pytest

from billing.export import render_csv, render_json, settlement_file_name
from billing.settlement import settle_period
from ledger.domain.usage import BuyerUsage, PeriodUsage, UnlicensedCount
from tests.billing import BAERUM, VENDOR, catalogue, licence, pricing


def document() -> dict[str, object]:
    """Contract example plus a negative adjustment line and a non-ASCII extra key."""
    l1 = licence()
    capped = licence(id="L;2", pricing=pricing(unit_price=Decimal("1.00"), monthly_cap=Decimal(1)))
    [settlement] = settle_period(
        "2026-10",
        catalogue(l1, capped),
        PeriodUsage(
            "2026-10",
            {"L-2026-001": {BAERUM: BuyerUsage(812)}, "L;2": {BAERUM: BuyerUsage(3)}},
            {(BAERUM, VENDOR): UnlicensedCount(3, 2)},
        ),
        {},
        [],
        extra={"municipality_name": "Bærum kommune"},
    )
    return settlement.to_document()


def test_file_name() -> None:
    assert settlement_file_name(document(), "json") == "2026-10_3201_987654325.json"
    assert settlement_file_name(document(), ".csv") == "2026-10_3201_987654325.csv"


@pytest.mark.parametrize(
    ("changes", "suffix"),
    [
        ({"municipality": "../3201"}, "json"),
        ({"vendor": "98765/4325"}, "json"),
        ({"vendor": ""}, "json"),
        ({"period": "2026-1"}, "json"),
        ({"period": None}, "json"),
        ({}, "js/on"),
        ({}, ""),
    ],
)
def test_file_name_refuses_unsafe_parts(changes: dict[str, object], suffix: str) -> None:
    with pytest.raises(ValueError):
        settlement_file_name({**document(), **changes}, suffix)


def test_json_file_is_the_canonical_document_and_its_digest_checks() -> None:
    original = document()
    data = render_json(original)
    assert data.endswith(b"\n") and not data.endswith(b"\n\n")
    assert "Bærum".encode() in data  # raw UTF-8, not \u escapes
    assert b" " not in data.replace("Bærum kommune".encode(), b"")
    loaded = json.loads(data)
    assert loaded == original
    body = {key: value for key, value in loaded.items() if key != "digest"}
    # The check an auditor can do with nothing but the file and a JSON library.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert loaded["digest"] == "sha256:" + hashlib.sha256(canonical).hexdigest()
    whole = json.dumps(loaded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert data == whole.encode() + b"\n"


def test_csv_rows_bom_and_separator() -> None:
    data = render_csv(document())
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.split("\r\n") == [
        "period;municipality;vendor;licence;metric;usage_period;quantity;amount;vat_rate;"
        "cap_applied;adjustment",
        "2026-10;3201;987654325;L-2026-001;active_learners;2026-10;812;10150.00;0.25;false;false",
        '2026-10;3201;987654325;"L;2";active_learners;2026-10;3;1.00;0.25;true;false',
        "",
    ]


def test_csv_reads_back_with_a_standard_reader() -> None:
    rows = list(
        csv.DictReader(io.StringIO(render_csv(document()).decode("utf-8-sig")), delimiter=";")
    )
    assert [row["licence"] for row in rows] == ["L-2026-001", "L;2"]
    assert rows[1]["cap_applied"] == "true"


def test_csv_of_a_settlement_without_lines_is_the_header() -> None:
    empty = {**document(), "lines": []}
    assert render_csv(empty).decode("utf-8-sig").count("\r\n") == 1


def test_csv_refuses_a_document_without_lines() -> None:
    broken = {key: value for key, value in document().items() if key != "lines"}
    with pytest.raises(ValueError, match="lines"):
        render_csv(broken)
