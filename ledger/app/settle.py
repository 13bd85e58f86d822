"""Closing a period and issuing its settlements.

Closing writes a close marker into every partition of the raw log; the worker turns
each into a `close` entry. The close entries are the closing point: what came before
them in each chain was known at closing, what comes after is late. Settlements are
computed from the ledger as of that point, so `ledger replay` reproduces them exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.settlement import Settlement, settle_period
from ledger.domain.canonical import canonical_json
from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_file import catalogue_from_canonical_json
from ledger.domain.invariants import invariant
from ledger.domain.money import parse_amount
from ledger.domain.periods import oslo_date
from ledger.domain.processing import KIND_CLOSE
from ledger.domain.usage import IssuedLine, PeriodUsage
from ledger.store.schema import (
    catalogue_versions,
    closings,
    settlement_lines,
    settlements,
)
from ledger.store.usage import Heads, late_licences, measure_period


class SettleRefused(Exception):
    """The period cannot be settled now; the message says why (exit 2)."""


def close_id_for(period: str) -> str:
    return f"close-{period}"


@dataclass(frozen=True)
class ClosingPoint:
    close_id: str
    period: str
    heads: dict[int, int]  # chain -> seq of its close entry (exclusive bound)
    head_hashes: dict[int, str]  # chain -> hash hex of the close entry
    catalogue_version: int
    issued_at: datetime

    @property
    def heads_document(self) -> list[dict[str, object]]:
        """The chain heads as recorded in closings and every settlement of this closing."""
        return [
            {"chain": chain, "seq": self.heads[chain], "hash": self.head_hashes[chain]}
            for chain in sorted(self.heads)
        ]


@dataclass(frozen=True)
class Closed:
    close_id: str
    period: str
    heads: dict[int, int]


async def catalogue_version(conn: AsyncConnection, version: int) -> Catalogue:
    row = (
        await conn.execute(
            select(catalogue_versions.c.document).where(catalogue_versions.c.version == version)
        )
    ).one()
    return catalogue_from_canonical_json(row.document.encode())


async def latest_catalogue(conn: AsyncConnection) -> tuple[int, Catalogue] | None:
    row = (
        await conn.execute(
            select(catalogue_versions.c.version, catalogue_versions.c.document)
            .order_by(catalogue_versions.c.version.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return row.version, catalogue_from_canonical_json(row.document.encode())


async def closed_periods(conn: AsyncConnection) -> list[Closed]:
    rows = await conn.execute(
        select(closings.c.close_id, closings.c.period, closings.c.heads).order_by(closings.c.period)
    )
    return [
        Closed(row.close_id, row.period, {h["chain"]: h["seq"] for h in json.loads(row.heads)})
        for row in rows
    ]


async def open_periods_with_usage(conn: AsyncConnection, before: str) -> list[str]:
    """Periods before `before` with accepted events and no closing (loose index scan)."""
    rows = await conn.execute(
        text(
            """
            WITH RECURSIVE periods(period) AS (
                SELECT min(period) FROM ledger.entries
                WHERE status = 'accepted' AND period < :before
              UNION ALL
                SELECT (SELECT min(e.period) FROM ledger.entries e
                        WHERE e.status = 'accepted' AND e.period > p.period
                          AND e.period < :before)
                FROM periods p WHERE p.period IS NOT NULL
            )
            SELECT period FROM periods WHERE period IS NOT NULL
              AND period NOT IN (SELECT period FROM ledger.closings)
            ORDER BY period
            """
        ),
        {"before": before},
    )
    return [row.period for row in rows]


async def chain_ends(conn: AsyncConnection) -> dict[int, int]:
    """Per chain, the seq after the last entry: 'everything known now' (loose index scan)."""
    rows = await conn.execute(
        text(
            """
            WITH RECURSIVE chains(chain) AS (
                SELECT min(chain) FROM ledger.entries
              UNION ALL
                SELECT (SELECT min(e.chain) FROM ledger.entries e WHERE e.chain > c.chain)
                FROM chains c WHERE c.chain IS NOT NULL
            )
            SELECT chain, (SELECT max(seq) FROM ledger.entries e WHERE e.chain = chains.chain)
                AS seq
            FROM chains WHERE chain IS NOT NULL
            """
        )
    )
    return {row.chain: row.seq + 1 for row in rows}


async def closing_point(
    conn: AsyncConnection, close_id: str, chain_count: int
) -> ClosingPoint | None:
    """The first close entry of `close_id` in each of the `chain_count` chains, or None."""
    rows = (
        await conn.execute(
            text(
                "SELECT DISTINCT ON (chain) chain, seq, hash, period, catalogue_version,"
                " received_at FROM ledger.entries WHERE kind = :kind AND reference = :close_id"
                " ORDER BY chain, seq"
            ),
            {"kind": KIND_CLOSE, "close_id": close_id},
        )
    ).all()
    if {row.chain for row in rows} != set(range(chain_count)):
        return None
    versions = {row.catalogue_version for row in rows}
    invariant(None not in versions, f"{close_id}: closed before any catalogue was loaded")
    return ClosingPoint(
        close_id=close_id,
        period=rows[0].period,
        heads={row.chain: row.seq for row in rows},
        head_hashes={row.chain: bytes(row.hash).hex() for row in rows},
        catalogue_version=max(versions),
        issued_at=min(row.received_at for row in rows),
    )


async def issued_lines(conn: AsyncConnection) -> list[IssuedLine]:
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


async def compute_settlements(
    conn: AsyncConnection,
    catalogue: Catalogue,
    period: str,
    heads: Heads,
    extra: Mapping[str, object],
) -> list[Settlement]:
    """Settlements of `period` as of `heads`, with adjustments for late events."""
    usage = await measure_period(conn, catalogue, period, heads)
    recomputed: dict[str, PeriodUsage] = {}
    for closed in await closed_periods(conn):
        if closed.period >= period:
            continue
        affected = await late_licences(conn, closed.period, closed.heads, heads)
        if affected:
            recomputed[closed.period] = await measure_period(
                conn, catalogue, closed.period, heads, licence_ids=affected, with_unlicensed=False
            )
    return settle_period(period, catalogue, usage, recomputed, await issued_lines(conn), extra)


def closing_extra(point: ClosingPoint) -> dict[str, object]:
    """Keys added to every settlement document of a closing (covered by its digest)."""
    return {
        "close_id": point.close_id,
        "issue_date": oslo_date(point.issued_at).isoformat(),
        "catalogue_version": point.catalogue_version,
        "ledger_heads": point.heads_document,
    }


async def record_settlements(
    conn: AsyncConnection, point: ClosingPoint, issued: Sequence[Settlement]
) -> None:
    heads_json = canonical_json(point.heads_document).decode()
    await conn.execute(
        closings.insert().values(
            close_id=point.close_id,
            period=point.period,
            issued_at=point.issued_at,
            catalogue_version=point.catalogue_version,
            heads=heads_json,
        )
    )
    for settlement in issued:
        document = settlement.to_document()
        await conn.execute(
            settlements.insert().values(
                period=document["period"],
                municipality=document["municipality"],
                vendor=document["vendor"],
                close_id=point.close_id,
                document=canonical_json(document).decode(),
                digest=document["digest"],
            )
        )
        lines = document["lines"]
        assert isinstance(lines, list)
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


async def issue_for_closing(conn: AsyncConnection, point: ClosingPoint) -> list[Settlement]:
    """Compute and record the settlements of one closing point (settle and replay)."""
    catalogue = await catalogue_version(conn, point.catalogue_version)
    issued = await compute_settlements(
        conn, catalogue, point.period, point.heads, closing_extra(point)
    )
    await record_settlements(conn, point, issued)
    return issued


async def settlement_documents(
    conn: AsyncConnection, period: str | None = None
) -> list[dict[str, object]]:
    query = select(settlements.c.document).order_by(
        settlements.c.period, settlements.c.municipality, settlements.c.vendor
    )
    if period is not None:
        query = query.where(settlements.c.period == period)
    return [json.loads(row.document) for row in await conn.execute(query)]
