"""Recorded catalogue versions: which one is latest, one by number, recording a loaded one.

Versions are numbered 1, 2, 3 … in load order (`locks.catalogue_load_lock_key`); each
row holds the canonical JSON and its SHA-256, so `ledger verify` can re-check it.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_canonical import catalogue_from_canonical_json
from ledger.domain.processing import CatalogueVersion
from ledger.store.schema import catalogue_versions


def _parsed(version: int, sha256: str, document_text: str) -> CatalogueVersion:
    document = document_text.encode()
    return CatalogueVersion(version, sha256, document, catalogue_from_canonical_json(document))


async def latest_catalogue(conn: AsyncConnection) -> CatalogueVersion | None:
    """The highest recorded version, or None before the first load."""
    row = (
        await conn.execute(
            select(
                catalogue_versions.c.version,
                catalogue_versions.c.sha256,
                catalogue_versions.c.document,
            )
            .order_by(catalogue_versions.c.version.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return _parsed(row.version, row.sha256, row.document)


async def recorded_catalogue(conn: AsyncConnection, version: int) -> CatalogueVersion:
    """One recorded version; it must exist (closings and entries name only recorded ones)."""
    row = (
        await conn.execute(
            select(catalogue_versions.c.sha256, catalogue_versions.c.document).where(
                catalogue_versions.c.version == version
            )
        )
    ).one()
    return _parsed(version, row.sha256, row.document)


async def catalogue_version(conn: AsyncConnection, version: int) -> Catalogue:
    """The catalogue of one recorded version."""
    return (await recorded_catalogue(conn, version)).catalogue


async def record_loaded_catalogue(conn: AsyncConnection, version: CatalogueVersion) -> None:
    """Insert a version just loaded; the caller holds `locks.lock_catalogue_loads`."""
    await conn.execute(
        catalogue_versions.insert().values(
            version=version.version,
            sha256=version.sha256,
            document=version.document.decode(),
            loaded_at=func.now(),
        )
    )


async def record_catalogue_seen_in_log(conn: AsyncConnection, version: CatalogueVersion) -> None:
    """A version met in the raw log (a replay, or a marker before its load committed here).

    Unlike a load, meeting a recorded version again is normal: it stays as it is.
    """
    await conn.execute(
        insert(catalogue_versions)
        .values(
            version=version.version,
            sha256=version.sha256,
            document=version.document.decode(),
            loaded_at=func.now(),
        )
        .on_conflict_do_nothing(index_elements=["version"])
    )
