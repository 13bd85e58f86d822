"""Writes one partition's batch of raw messages to the ledger, exactly once in effect.

The consumed position is the ledger itself: every raw message becomes exactly one
entry carrying its source offset, written in the same transaction as everything else
the message produced. Under the chain's advisory lock the writer reads the chain head,
skips messages already in the ledger (a redelivery after a crash or rebalance) and
refuses a batch that would leave a hole (the consumer must seek back). So a worker
killed at any point and restarted, or two workers briefly owning one partition,
still produce the same ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.domain.catalogue_file import catalogue_from_canonical_json
from ledger.domain.chain import EntryDraft
from ledger.domain.invariants import invariant
from ledger.domain.processing import (
    STATUS_ACCEPTED,
    STATUS_DUPLICATE,
    STATUS_REJECTED,
    CatalogueVersion,
    Decoded,
    PartitionDecider,
    PartitionState,
    RawMessage,
    decide_batch,
    decode_message,
)
from ledger.store.append import append_entries, chain_head, lock_chain
from ledger.store.schema import catalogue_versions

batch_events_max = 5_000

# One probe of the unique index per key, whatever the statistics say: a plan cached
# while the table was small (a scan per key) must not survive into a large ledger.
_ACCEPTED_DIGESTS = text(
    """
    SELECT k.vendor, k.event_id, e.content_digest
    FROM unnest(CAST(:vendors AS text[]), CAST(:event_ids AS text[])) AS k(vendor, event_id)
    CROSS JOIN LATERAL (
        SELECT content_digest FROM ledger.entries e
        WHERE e.vendor = k.vendor AND e.event_id = k.event_id AND e.status = 'accepted'
        LIMIT 1
    ) e
    """
)


@dataclass(frozen=True)
class BatchResult:
    partition: int
    written: int
    skipped: int  # already in the ledger (redelivered)
    rejected: tuple[tuple[RawMessage, EntryDraft], ...]
    next_offset: int
    accepted: int = 0
    duplicates: int = 0


class OffsetGap(Exception):
    """A batch reaches past the next offset the ledger expects: seek back and fetch again.

    `written` is what came before the hole and has been written, if anything.
    """

    def __init__(
        self,
        partition: int,
        expected_offset: int,
        found_offset: int,
        *,
        written: BatchResult | None = None,
    ) -> None:
        super().__init__(
            f"partition {partition}: ledger expects offset {expected_offset}, got {found_offset}"
        )
        self.partition = partition
        self.expected_offset = expected_offset
        self.found_offset = found_offset
        self.written = written


class LedgerWriter:
    def __init__(self, engine: AsyncEngine, *, source_topic: str, learner_key: bytes) -> None:
        self._engine = engine
        self._topic = source_topic
        self._key = learner_key
        self._catalogues: dict[int, CatalogueVersion] = {}

    async def next_offset(self, partition: int) -> int:
        async with self._engine.connect() as conn:
            head = await chain_head(conn, partition)
        return 0 if head is None else head.last_source_offset + 1

    async def write(self, partition: int, messages: Sequence[RawMessage]) -> BatchResult:
        """Write the run of `messages` that continues the chain; the rest is left for later.

        Around a rebalance a batch can hold messages fetched before and after a seek:
        out of order, repeated, or with a hole. Only the contiguous run starting at the
        ledger's next offset is written; a hole raises `OffsetGap` so the consumer seeks
        back. The raw topic is written by idempotent, non-transactional producers only,
        so its offsets have no holes of their own: skipping one would lose an event, and
        safety wins over progress (a real hole keeps the partition waiting, loudly).
        """
        invariant(len(messages) <= batch_events_max, "batch larger than its bound")
        invariant(all(m.partition == partition for m in messages), "batch mixes partitions")
        ordered = sorted({m.offset: m for m in messages}.values(), key=lambda m: m.offset)
        async with self._engine.begin() as conn:
            await lock_chain(conn, partition)
            head = await chain_head(conn, partition)
            expected = 0 if head is None else head.last_source_offset + 1
            fresh = [m for m in ordered if m.offset >= expected]
            skipped = len(ordered) - len(fresh)
            if not fresh:
                return BatchResult(partition, 0, skipped, (), expected)
            if fresh[0].offset != expected:
                raise OffsetGap(partition, expected, fresh[0].offset)
            run = _contiguous_run(fresh)
            batch = [decode_message(m) for m in run]
            state = PartitionState(
                catalogue=await self._catalogue(conn, head.catalogue_version if head else None)
            )
            decider = PartitionDecider(
                source_topic=self._topic,
                learner_key=self._key,
                state=state,
                existing_accepted=await self._accepted_digests(conn, batch),
                known_catalogue=self._catalogues.get,
            )
            outcomes = decide_batch(decider, batch)
            for outcome in outcomes:
                if outcome.new_catalogue is not None:
                    await self._record_catalogue(conn, outcome.new_catalogue)
            drafts = [outcome.draft for outcome in outcomes]
            written = await append_entries(conn, partition, drafts)
            invariant(len(written) == len(run), "every message yields exactly one entry")
        rejected = tuple(
            (message, draft)
            for message, draft in zip(run, drafts, strict=True)
            if draft.status == STATUS_REJECTED
        )
        result = BatchResult(
            partition,
            len(run),
            skipped,
            rejected,
            run[-1].offset + 1,
            accepted=sum(1 for d in drafts if d.status == STATUS_ACCEPTED),
            duplicates=sum(1 for d in drafts if d.status == STATUS_DUPLICATE),
        )
        if len(run) < len(fresh):
            # The rest lies beyond a hole: have the consumer fetch from next_offset again.
            raise OffsetGap(partition, result.next_offset, fresh[len(run)].offset, written=result)
        return result

    async def _catalogue(
        self, conn: AsyncConnection, version: int | None
    ) -> CatalogueVersion | None:
        if version is None:
            return None
        if version not in self._catalogues:
            row = (
                await conn.execute(
                    select(catalogue_versions.c.sha256, catalogue_versions.c.document).where(
                        catalogue_versions.c.version == version
                    )
                )
            ).one()
            document = row.document.encode()
            self._catalogues[version] = CatalogueVersion(
                version, row.sha256, document, catalogue_from_canonical_json(document)
            )
        return self._catalogues[version]

    async def _record_catalogue(self, conn: AsyncConnection, version: CatalogueVersion) -> None:
        """First sighting of a catalogue version in this ledger (e.g. during a replay)."""
        await conn.execute(
            insert(catalogue_versions)
            .values(
                version=version.version,
                sha256=version.sha256,
                document=version.document.decode(),
                loaded_at=text("now()"),
            )
            .on_conflict_do_nothing(index_elements=["version"])
        )
        self._catalogues[version.version] = version

    async def _accepted_digests(
        self, conn: AsyncConnection, batch: Sequence[Decoded]
    ) -> dict[tuple[str, str], bytes]:
        """Content digests of already accepted events that share a key with the batch."""
        keys = {key for key in (d.event_key for d in batch) if key is not None}
        if not keys:
            return {}
        vendors = [vendor for vendor, _ in keys]
        event_ids = [event_id for _, event_id in keys]
        rows = await conn.execute(_ACCEPTED_DIGESTS, {"vendors": vendors, "event_ids": event_ids})
        return {(row.vendor, row.event_id): row.content_digest for row in rows}


def _contiguous_run(messages: Sequence[RawMessage]) -> list[RawMessage]:
    """The leading messages whose offsets follow each other without a hole."""
    run = [messages[0]]
    for message in messages[1:]:
        if message.offset != run[-1].offset + 1:
            break
        run.append(message)
    return run
