"""JSON export: one file per settlement, named `<period>_<municipality>_<vendor>.json`.

The file holds the canonical JSON of the document (plus a final newline), so anyone
can check the digest from the file alone: drop "digest", serialise canonically,
hash, compare. A pretty-printed file would need re-serialising before that check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ledger.domain.canonical import canonical_json
from ledger.domain.periods import parse_period

# Municipality ids and organisation numbers are digits; anything else in a file name
# (a slash, "..") would let a document choose where its file goes.
_NAME_PART = re.compile(r"[0-9A-Za-z-]{1,64}")
_SUFFIX = re.compile(r"[0-9A-Za-z]{1,16}")


def settlement_file_name(document: Mapping[str, object], suffix: str) -> str:
    """`<period>_<municipality>_<vendor>.<suffix>` (CONTRACT 4); `suffix` with or without a dot."""
    period = document.get("period")
    municipality = document.get("municipality")
    vendor = document.get("vendor")
    if not isinstance(period, str):
        raise ValueError(f"A settlement document needs a period; got {period!r}.")
    parse_period(period)
    for label, value in (("municipality", municipality), ("vendor", vendor)):
        if not isinstance(value, str) or _NAME_PART.fullmatch(value) is None:
            raise ValueError(f"The settlement's {label} {value!r} cannot be part of a file name.")
    bare_suffix = suffix.removeprefix(".")
    if _SUFFIX.fullmatch(bare_suffix) is None:
        raise ValueError(f"A file suffix must be letters and digits, like json; got {suffix!r}.")
    return f"{period}_{municipality}_{vendor}.{bare_suffix}"


def render_json(document: Mapping[str, object]) -> bytes:
    """The document as canonical JSON (UTF-8, sorted keys, no spaces) and a final newline."""
    return canonical_json(dict(document)) + b"\n"
