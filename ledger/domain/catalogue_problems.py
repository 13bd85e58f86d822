"""How catalogue problems are worded and where they point (CONTRACT section 2).

Shared by the item validation (`catalogue_models`), the cross-reference rules
(`catalogue_checks`) and the parser (`catalogue_parse`), so that every sentence shows
values and locations the same way. The raw-document helpers read the loaded YAML/JSON
as it is, before validation, so that items with problems of their own still count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Final

from ledger.domain.events import identifier_characters_max
from ledger.domain.invariants import invariant

problems_listed_max: Final = 1000  # beyond this the rest are counted, not listed


class CatalogueRejected(ValueError):
    """The catalogue file breaks one or more rules; nothing of it may be applied."""

    def __init__(self, problems: list[str]) -> None:
        invariant(bool(problems), "a rejected catalogue has at least one problem")
        self.problems = problems
        super().__init__("\n".join(problems))


def bounded_problems(problems: list[str]) -> list[str]:
    """At most `problems_listed_max` sentences: a generated file can break a rule per line."""
    if len(problems) <= problems_listed_max:
        return problems
    hidden = len(problems) - problems_listed_max
    return [*problems[:problems_listed_max], f"… and {hidden} more problems"]


def item_location(section: str, index: int, item: object) -> str:
    return f"{section}[{index}]{label(item)}"


def label(item: object) -> str:
    if isinstance(item, dict):
        for key in ("id", "org_no"):
            value = item.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return f" ({_one_line(str(value)[:identifier_characters_max])})"
    return ""


def _one_line(text: str) -> str:
    """Text as written when it prints on one line; else JSON-quoted (a problem is one line)."""
    return text if text.isprintable() else json.dumps(text)


def field_name(key: str) -> str:
    """A key as a problem's location shows it (a key of line breaks stays on one line)."""
    return _one_line(key)


def raw_get(item: object, key: str) -> object:
    return item.get(key) if isinstance(item, dict) else None


def repeated(values: Iterable[str]) -> list[str]:
    """Values that occur more than once, each named once, in the order of the file."""
    seen: set[str] = set()
    twice: list[str] = []
    for value in values:
        if value in seen and value not in twice:
            twice.append(value)
        seen.add(value)
    return twice


def raw_list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def raw_ids(items: object, key: str) -> set[str]:
    """Ids as written in items, also unquoted numbers (YAML `id: 3201`): what the user meant."""
    ids: set[str] = set()
    for item in raw_list(items):
        value = raw_get(item, key)
        if isinstance(value, str):
            ids.add(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            ids.add(str(value))
    return ids


def shown(value: object) -> str:
    """A value as the user wrote it, on one line and of readable length."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:60] + "…"
        return text if text and text.isprintable() and " " not in text else json.dumps(text)
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:60] + "…"


def kind(value: object) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"a yes/no value ({str(value).lower()})"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {shown(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return type(value).__name__
