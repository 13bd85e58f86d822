"""CONTRACT 6: canonical JSON (sorted keys, no whitespace, UTF-8) and the digest over it."""

from __future__ import annotations

import hashlib

import pytest

from ledger.domain.canonical import canonical_json, document_digest


def test_canonical_json_sorts_keys_without_whitespace_in_raw_utf8() -> None:
    value = {"b": 1, "a": "Bærum", "c": {"z": [3, 1, 2], "y": None, "x": True}}
    expected = '{"a":"Bærum","b":1,"c":{"x":true,"y":null,"z":[3,1,2]}}'.encode()
    assert canonical_json(value) == expected


def test_canonical_json_refuses_floats_anywhere() -> None:
    with pytest.raises(TypeError, match="floats"):
        canonical_json({"amount": 1.5})
    with pytest.raises(TypeError, match="floats"):
        canonical_json({"lines": [{"amount": float("nan")}]})


def test_canonical_json_refuses_non_string_keys() -> None:
    with pytest.raises(TypeError, match="keys"):
        canonical_json({1: "a"})


def test_digest_is_sha256_of_canonical_json_without_digest() -> None:
    document = {"period": "2026-10", "total": "12.50", "digest": "sha256:old"}
    expected = hashlib.sha256(b'{"period":"2026-10","total":"12.50"}').hexdigest()
    assert document_digest(document) == "sha256:" + expected


def test_digest_ignores_key_order_but_not_content() -> None:
    first = {"period": "2026-10", "total": "12.50"}
    reordered = {"total": "12.50", "period": "2026-10"}
    changed = {"period": "2026-10", "total": "12.51"}
    assert document_digest(first) == document_digest(reordered)
    assert document_digest(first) != document_digest(changed)
