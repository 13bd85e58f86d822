"""Query parameters the read routes share, described exactly and checked the same way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Final, TypeVar

from fastapi import Query, Request

from ledger.app.rejections import cursor_characters_max
from ledger.domain.events import parse_rfc3339
from ledger.domain.periods import parse_period
from ledger.http.errors import ApiError

# Exactly the periods `parse_period` accepts (years 1900-9998, months 01-12), so a value
# the description allows is never refused.
PERIOD_PATTERN: Final = (
    r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(0[1-9]|1[0-2])$"
)

PeriodQuery = Annotated[
    str | None,
    Query(
        description="A calendar month YYYY-MM (Europe/Oslo).",
        examples=["2026-10"],
        # Documented, checked by `checked_period` (whose refusal says what to fix).
        json_schema_extra={"pattern": PERIOD_PATTERN},
    ),
]
SinceQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="Only what was received at or after this RFC 3339 time (with an offset,"
        " e.g. 2026-10-05T08:15:00Z).",
        json_schema_extra={"format": "date-time"},
    ),
]

T = TypeVar("T")


def cursor_query(pattern: str) -> object:
    """A `cursor` parameter whose shape is documented (its content stays opaque)."""
    return Query(
        max_length=cursor_characters_max,
        description="`next_cursor` of the previous page; leave out for the first page.",
        json_schema_extra={"pattern": pattern},  # checked where it is decoded
    )


def checked_period(text: str) -> str:
    try:
        return parse_period(text)
    except ValueError as error:
        raise ApiError(400, "invalid_period", str(error)) from error


def checked_instant(text: str, name: str) -> datetime:
    """An RFC 3339 time with an offset, in UTC (the ledger's own parser of event times)."""
    parsed = parse_rfc3339(text)
    if isinstance(parsed, str):
        raise ApiError(400, "invalid_parameter", f"{name} {parsed}")
    return parsed


def app_singleton(request: Request, name: str, factory: Callable[[], T]) -> T:
    """One object per application (a lock, the latest verify run), made on first use.

    No await between the look-up and the assignment, so two requests cannot make two.
    """
    state = request.app.state
    existing: T | None = getattr(state, name, None)
    if existing is None:
        existing = factory()
        setattr(state, name, existing)
    return existing
