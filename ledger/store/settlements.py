"""Issued settlements: the canonical JSON documents and their lines, one row per line.

The lines are stored twice on purpose: inside the digested document (what was sent)
and as `settlement_lines` rows (what adjustments are computed against), and
`ledger verify` checks the two agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.canonical import canonical_json
from ledger.domain.invariants import InvariantViolation
from ledger.domain.money import parse_amount
from ledger.domain.usage import IssuedLine
from ledger.store.schema import settlement_lines, settlements

# (period, municipality id, vendor org_no): a settlement's key.
SettlementKey = tuple[str, str, str]


@dataclass(frozen=True)
class IssuedSettlement:
    close_id: str
    document: dict[str, Any]


async def record_settlement(
    conn: AsyncConnection, close_id: str, document: Mapping[str, object]
) -> None:
    """Insert one settlement document (with its digest) and its lines, numbered from 1."""
    lines = document["lines"]
    if not isinstance(lines, list):
        raise InvariantViolation(f"settlement document lines are {type(lines).__name__}")
    await conn.execute(
        settlements.insert().values(
            period=document["period"],
            municipality=document["municipality"],
            vendor=document["vendor"],
            close_id=close_id,
            document=canonical_json(document).decode(),
            digest=document["digest"],
        )
    )
    if lines:
        await conn.execute(
            settlement_lines.insert(),
            [
                {
                    "period": document["period"],
                    "municipality": document["municipality"],
                    "vendor": document["vendor"],
                    "line_no": number,
                    "licence": line["licence"],
                    "usage_period": line["usage_period"],
                    "quantity": line["quantity"],
                    "amount_ore": parse_amount(line["amount"]),
                    "adjustment": bool(line.get("adjustment", False)),
                }
                for number, line in enumerate(lines, start=1)
            ],
        )


async def issued_lines(conn: AsyncConnection) -> list[IssuedLine]:
    """Every line ever issued: what adjustments for late events are computed against."""
    rows = await conn.execute(select(settlement_lines))
    return [
        IssuedLine(
            settlement_period=row.period,
            municipality=row.municipality,
            vendor=row.vendor,
            licence=row.licence,
            usage_period=row.usage_period,
            quantity=row.quantity,
            amount_ore=row.amount_ore,
        )
        for row in rows
    ]


async def settlement_documents(
    conn: AsyncConnection, period: str | None = None
) -> list[dict[str, object]]:
    """The issued documents (of one period, or all), by period, municipality and vendor."""
    query = select(settlements.c.document).order_by(
        settlements.c.period, settlements.c.municipality, settlements.c.vendor
    )
    if period is not None:
        query = query.where(settlements.c.period == period)
    return [json.loads(row.document) for row in await conn.execute(query)]


async def settlement_text(conn: AsyncConnection, key: SettlementKey) -> str | None:
    """One issued settlement's document exactly as stored (canonical JSON), or None."""
    period, municipality, vendor = key
    return (
        await conn.execute(
            select(settlements.c.document).where(
                (settlements.c.period == period)
                & (settlements.c.municipality == municipality)
                & (settlements.c.vendor == vendor)
            )
        )
    ).scalar_one_or_none()


async def settlement_texts(
    conn: AsyncConnection,
    *,
    period: str | None,
    municipality: str | None,
    vendor: str | None,
    after: SettlementKey | None,
    limit: int,
) -> list[str]:
    """Stored documents by key order after `after`, of one period / municipality / vendor
    where given (keyset pagination on the primary key)."""
    key = tuple_(settlements.c.period, settlements.c.municipality, settlements.c.vendor)
    query = (
        select(settlements.c.document)
        .order_by(settlements.c.period, settlements.c.municipality, settlements.c.vendor)
        .limit(limit)
    )
    if period is not None:
        query = query.where(settlements.c.period == period)
    if municipality is not None:
        query = query.where(settlements.c.municipality == municipality)
    if vendor is not None:
        query = query.where(settlements.c.vendor == vendor)
    if after is not None:
        query = query.where(key > tuple_(*after))
    return [row.document for row in await conn.execute(query)]


async def issued_settlement(conn: AsyncConnection, key: SettlementKey) -> IssuedSettlement | None:
    """One issued settlement by (period, municipality, vendor), or None."""
    period, municipality, vendor = key
    row = (
        await conn.execute(
            select(settlements.c.close_id, settlements.c.document).where(
                (settlements.c.period == period)
                & (settlements.c.municipality == municipality)
                & (settlements.c.vendor == vendor)
            )
        )
    ).first()
    if row is None:
        return None
    return IssuedSettlement(row.close_id, json.loads(row.document))


async def settlement_digests(conn: AsyncConnection) -> dict[SettlementKey, str]:
    """Every settlement's digest by key (what `ledger replay` compares)."""
    rows = await conn.execute(
        select(
            settlements.c.period,
            settlements.c.municipality,
            settlements.c.vendor,
            settlements.c.digest,
        )
    )
    return {(row.period, row.municipality, row.vendor): row.digest for row in rows}
