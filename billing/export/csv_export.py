"""CSV export: one row per settlement line, for spreadsheets.

Choices, for Norwegian Excel and LibreOffice as finance offices use them:
- `;` as separator: with a Norwegian locale, the list separator is `;` (the comma
  is the decimal mark), so a `;` file opens in columns on double-click.
- UTF-8 with a byte order mark: without it Excel reads UTF-8 as Windows-1252 and
  mangles "Bærum"; with it, every spreadsheet and `csv` reader in "utf-8-sig" mode
  reads it right.
- CRLF line ends (RFC 4180).
- Amounts are the document's own two-decimal strings with a "." ("10150.00"), not
  localised: the file must agree character for character with the JSON and the
  digest, and a "." number is what scripts and accounting imports expect.
- Booleans as "true"/"false", as in the JSON.
Totals are not repeated as rows: a row is always a line, so sums in the sheet are right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

csv_columns = (
    "period",
    "municipality",
    "vendor",
    "licence",
    "metric",
    "usage_period",
    "quantity",
    "amount",
    "vat_rate",
    "cap_applied",
    "adjustment",
)
csv_delimiter = ";"
_byte_order_mark = "\ufeff"

_DOCUMENT_FIELDS = ("period", "municipality", "vendor")
_LINE_FIELDS = csv_columns[3:]


def render_csv(document: Mapping[str, object]) -> bytes:
    """Header + one row per line of the settlement document, UTF-8 with BOM, `;`-separated."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=csv_delimiter, lineterminator="\r\n")
    writer.writerow(csv_columns)
    header = [_cell(document, key) for key in _DOCUMENT_FIELDS]
    for line in _lines(document):
        writer.writerow(header + [_cell(line, key) for key in _LINE_FIELDS])
    return (_byte_order_mark + buffer.getvalue()).encode("utf-8")


def _lines(document: Mapping[str, object]) -> list[Mapping[str, object]]:
    lines = document.get("lines")
    if not isinstance(lines, list) or not all(isinstance(line, Mapping) for line in lines):
        raise ValueError("A settlement document needs a list of lines.")
    return lines


def _cell(source: Mapping[str, object], key: str) -> str:
    if key not in source:
        raise ValueError(f"A settlement document or line is missing {key!r}.")
    value = source[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    raise ValueError(f"{key!r} must be text, a whole number or true/false; got {value!r}.")
