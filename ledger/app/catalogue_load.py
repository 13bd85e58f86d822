"""`ledger catalogue load FILE`: validate whole, record a new version, mark it in the raw log.

The version is recorded and the marker published inside one database transaction
(under an advisory lock, so two loads cannot take the same number): if the marker
cannot be published nothing is recorded; if the process dies after publishing, the
worker records the version from the marker itself. Loading the same content again
is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_file import (
    CatalogueRejected,
    canonical_catalogue_json,
    catalogue_sha256,
    load_catalogue_text,
)
from ledger.store.schema import catalogue_versions
from streams.markers import publish_catalogue_marker

catalogue_file_bytes_max = 4 * 1024 * 1024
CATALOGUE_LOCK_KEY = 0x4C45444745520001  # 'LEDGER' + 1: serialises catalogue loads


class CatalogueFileError(Exception):
    """The file cannot be used: unreadable, too large, or refused with its problems."""


@dataclass(frozen=True)
class LoadResult:
    version: int
    sha256: str
    changed: bool
    municipalities: int
    vendors: int
    licences: int


def read_catalogue_file(path: Path) -> Catalogue:
    if not path.is_file():
        raise CatalogueFileError(f"{path}: no such file")
    if path.stat().st_size > catalogue_file_bytes_max:
        raise CatalogueFileError(
            f"{path}: larger than {catalogue_file_bytes_max // (1024 * 1024)} MiB"
        )
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CatalogueFileError(f"{path}: not UTF-8 text ({error.reason})") from error
    try:
        return load_catalogue_text(content)
    except CatalogueRejected as rejected:
        count = len(rejected.problems)
        listing = "; ".join(rejected.problems)
        raise CatalogueFileError(
            f"{path} refused, nothing applied ({count} problem{'s' if count != 1 else ''}):"
            f" {listing}"
        ) from rejected


async def load_catalogue(
    engine: AsyncEngine, bootstrap: str, raw_topic: str, path: Path
) -> LoadResult:
    catalogue = read_catalogue_file(path)
    document = canonical_catalogue_json(catalogue)
    sha256 = catalogue_sha256(catalogue)
    counts = (len(catalogue.municipalities), len(catalogue.vendors), len(catalogue.licences))
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CATALOGUE_LOCK_KEY})
        latest = (
            await conn.execute(
                select(catalogue_versions.c.version, catalogue_versions.c.sha256)
                .order_by(catalogue_versions.c.version.desc())
                .limit(1)
            )
        ).first()
        if latest is not None and latest.sha256 == sha256:
            return LoadResult(latest.version, sha256, False, *counts)
        version = (
            int(
                (
                    await conn.execute(
                        select(func.coalesce(func.max(catalogue_versions.c.version), 0))
                    )
                ).scalar_one()
            )
            + 1
        )
        await conn.execute(
            catalogue_versions.insert().values(
                version=version,
                sha256=sha256,
                document=document.decode(),
                loaded_at=func.now(),
            )
        )
        await publish_catalogue_marker(
            bootstrap, raw_topic, version=version, sha256=sha256, document=document
        )
    return LoadResult(version, sha256, True, *counts)
