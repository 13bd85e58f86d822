"""What an auditor reads of the ledger: every entry with its hashes, and each chain's head.

Entries are given with every field of the canonical encoding (`ledger.domain.chain`),
so an auditor can recompute each hash outside this code: bytes as lowercase hex,
timestamps as UTC with exactly six fractional digits (the encoding counts
microseconds), integers as JSON numbers, NULL as null.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.chain import BYTES_FIELDS, ENCODED_FIELDS, TIMESTAMP_FIELDS
from ledger.domain.invariants import invariant
from ledger.store.entries import ChainHead, chain_heads, entries_between

entries_page_default: Final = 100
entries_page_max: Final = 1_000
HASH_FIELDS: Final = ("prev_hash", "hash")
ENTRY_FIELDS: Final = (*ENCODED_FIELDS, *HASH_FIELDS)  # what each listed entry holds

EntryValue = str | int | None


@dataclass(frozen=True)
class EntriesPage:
    chain: int
    entries: list[dict[str, EntryValue]]
    next_from_seq: int  # ask for this seq next (the page after, or new entries later)
    has_more: bool  # entries at next_from_seq exist already


@dataclass(frozen=True)
class ChainHeadView:
    chain: int
    seq: int
    hash: str  # hex


def timestamp_text(value: datetime) -> str:
    """UTC, microseconds always written: `2026-10-05T08:15:00.000000Z`."""
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def entry_view(row: Mapping[str, Any]) -> dict[str, EntryValue]:
    """One stored entry as JSON values, every field of the encoding and both hashes."""
    view: dict[str, EntryValue] = {}
    for name in ENTRY_FIELDS:
        value = row[name]
        if value is None:
            view[name] = None
        elif name in BYTES_FIELDS or name in HASH_FIELDS:
            view[name] = bytes(value).hex()
        elif name in TIMESTAMP_FIELDS:
            view[name] = timestamp_text(value)
        else:
            invariant(isinstance(value, str | int), f"entry field {name} is {type(value)}")
            view[name] = value
    return view


async def entries_page(conn: AsyncConnection, chain: int, from_seq: int, limit: int) -> EntriesPage:
    """Entries `from_seq`, `from_seq + 1`, … of one chain (seq has no gaps), at most `limit`."""
    limit = max(1, min(limit, entries_page_max))
    rows = await entries_between(conn, chain, from_seq, from_seq + limit)  # one extra: more?
    page = rows[:limit]
    next_from_seq = int(page[-1]["seq"]) + 1 if page else from_seq
    return EntriesPage(chain, [entry_view(row) for row in page], next_from_seq, len(rows) > limit)


async def ledger_heads(conn: AsyncConnection) -> list[ChainHeadView]:
    heads: list[ChainHead] = await chain_heads(conn)
    return [ChainHeadView(head.chain, head.seq, head.hash.hex()) for head in heads]
