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

from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app.workspace import Workspace
from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_canonical import canonical_catalogue_json, catalogue_sha256
from ledger.domain.catalogue_parse import catalogue_bytes_max, load_catalogue_text
from ledger.domain.catalogue_problems import CatalogueRejected
from ledger.domain.processing import CatalogueVersion
from ledger.store.catalogues import latest_catalogue, record_loaded_catalogue
from ledger.store.engine import create_ledger_engine
from ledger.store.locks import lock_catalogue_loads
from streams.access import KafkaAccess
from streams.markers import publish_catalogue_marker
from streams.sender import BrokerUnavailable


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
    if path.stat().st_size > catalogue_bytes_max:
        raise CatalogueFileError(f"{path}: larger than {catalogue_bytes_max // (1024 * 1024)} MiB")
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
    engine: AsyncEngine, kafka: KafkaAccess, raw_topic: str, path: Path
) -> LoadResult:
    return await record_catalogue(engine, kafka, raw_topic, read_catalogue_file(path))


async def load_catalogue_content(
    engine: AsyncEngine, kafka: KafkaAccess, raw_topic: str, content: bytes
) -> LoadResult:
    """`PUT /v1/catalogue`: the same checks as a file; `CatalogueRejected` lists every problem."""
    if len(content) > catalogue_bytes_max:
        raise CatalogueRejected(
            [f"the catalogue is {len(content)} bytes; it may be at most {catalogue_bytes_max}"]
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CatalogueRejected([f"the catalogue is not UTF-8 text ({error.reason})"]) from error
    catalogue = load_catalogue_text(text)
    try:
        return await record_catalogue(engine, kafka, raw_topic, catalogue)
    except (KafkaError, OSError, TimeoutError) as error:
        # The marker was not published, so the version's transaction rolled back: nothing
        # of this catalogue is recorded, and the same request may simply be sent again.
        raise BrokerUnavailable(f"the broker did not take the catalogue marker: {error}") from error


async def record_catalogue(
    engine: AsyncEngine, kafka: KafkaAccess, raw_topic: str, catalogue: Catalogue
) -> LoadResult:
    """Record a checked catalogue as the next version (a no-op when unchanged)."""
    document = canonical_catalogue_json(catalogue)
    sha256 = catalogue_sha256(catalogue)
    counts = (len(catalogue.municipalities), len(catalogue.vendors), len(catalogue.licences))
    async with engine.begin() as conn:
        await lock_catalogue_loads(conn)
        latest = await latest_catalogue(conn)
        if latest is not None and latest.sha256 == sha256:
            return LoadResult(latest.version, sha256, False, *counts)
        version = (latest.version if latest is not None else 0) + 1
        await record_loaded_catalogue(conn, CatalogueVersion(version, sha256, document, catalogue))
        await publish_catalogue_marker(
            kafka, raw_topic, version=version, sha256=sha256, document=document
        )
    return LoadResult(version, sha256, True, *counts)


async def load_catalogue_file(ws: Workspace, path: Path) -> LoadResult:
    """`load_catalogue` into a workspace: its ledger and its raw topic."""
    engine = create_ledger_engine(ws.database_url)
    try:
        return await load_catalogue(engine, ws.kafka_ingest, ws.topics.raw, path)
    finally:
        await engine.dispose()
