"""Canonical JSON and settlement digests (CONTRACT 6).

A digest is only checkable if everyone serialises a document to the same bytes:
keys sorted, no insignificant whitespace, UTF-8 without escaping non-ASCII. Floats
are refused because their text form is not canonical across languages; money in
documents is always a two-decimal string.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

digest_key = "digest"
digest_prefix = "sha256:"


def _refuse_floats(value: object, path: str) -> None:
    if isinstance(value, float):
        raise TypeError(
            f"Canonical JSON does not allow floats (at {path}); write money as a string."
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"Canonical JSON keys must be strings (at {path}); got {key!r}.")
            _refuse_floats(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_floats(item, f"{path}[{index}]")


def canonical_json(obj: object) -> bytes:
    """The canonical bytes of a JSON value: sorted keys, "," and ":" separators, raw UTF-8."""
    _refuse_floats(obj, "$")
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def document_digest(document: Mapping[str, object]) -> str:
    """ "sha256:" + hex SHA-256 of the canonical JSON of `document` without its "digest" key."""
    body = {key: value for key, value in document.items() if key != digest_key}
    return digest_prefix + hashlib.sha256(canonical_json(body)).hexdigest()
