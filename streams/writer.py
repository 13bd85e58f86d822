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

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.domain.chain import EntryDraft
from ledger.domain.continuity import Continuation, continuation
from ledger.domain.invariants import invariant
from ledger.domain.processing import (
    STATUS_ACCEPTED,
    STATUS_DUPLICATE,
    STATUS_REJECTED,
    CatalogueVersion,
    PartitionDecider,
    PartitionState,
    RawMessage,
    decide_batch,
    decode_message,
)
from ledger.store.append import (
    ChainHead,
    append_batch_entries_max,
    append_entries,
    chain_head,
    lock_chain,
)
from ledger.store.catalogues import record_catalogue_seen_in_log, recorded_catalogue
from ledger.store.ingest import accepted_digests

batch_events_max = 5_000
# A stream batch is written in one append: it must fit the append's bound.
invariant(
    batch_events_max <= append_batch_entries_max,
    f"batch_events_max {batch_events_max} exceeds append_batch_entries_max"
    f" {append_batch_entries_max}",
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
        return _next_offset(head)

    async def write(self, partition: int, messages: Sequence[RawMessage]) -> BatchResult:
        """Write the run of `messages` that continues the chain; the rest is left for later.

        Only the contiguous run starting at the ledger's next offset is written (see
        `ledger.domain.continuity`); a hole raises `OffsetGap` so the consumer seeks
        back. Safety wins over progress: a real hole keeps the partition waiting, loudly.
        """
        invariant(len(messages) <= batch_events_max, "batch larger than its bound")
        invariant(all(m.partition == partition for m in messages), "batch mixes partitions")
        async with self._engine.begin() as conn:
            await lock_chain(conn, partition)
            head = await chain_head(conn, partition)
            expected = _next_offset(head)
            plan = continuation(expected, messages)
            if plan.gap is not None and not plan.run:
                raise OffsetGap(partition, plan.gap.expected_offset, plan.gap.found_offset)
            if not plan.run:
                return BatchResult(partition, 0, plan.skipped, (), expected)
            drafts = await self._decide(conn, head, plan.run)
            written = await append_entries(conn, partition, drafts)
            invariant(len(written) == len(plan.run), "every message yields exactly one entry")
        result = _batch_result(partition, plan, drafts)
        if plan.gap is not None:
            # The rest lies beyond a hole: have the consumer fetch from next_offset again.
            raise OffsetGap(
                partition, plan.gap.expected_offset, plan.gap.found_offset, written=result
            )
        return result

    async def _decide(
        self, conn: AsyncConnection, head: ChainHead | None, run: Sequence[RawMessage]
    ) -> list[EntryDraft]:
        """One entry draft per message of `run`, recording catalogue versions first seen."""
        batch = [decode_message(m) for m in run]
        state = PartitionState(
            catalogue=await self._catalogue(conn, head.catalogue_version if head else None)
        )
        keys = {key for key in (d.event_key for d in batch) if key is not None}
        decider = PartitionDecider(
            source_topic=self._topic,
            learner_key=self._key,
            state=state,
            existing_accepted=await accepted_digests(conn, keys),
            known_catalogue=self._catalogues.get,
        )
        outcomes = decide_batch(decider, batch)
        for outcome in outcomes:
            if outcome.new_catalogue is not None:
                # First sighting of a catalogue version in this ledger (e.g. during a replay).
                await record_catalogue_seen_in_log(conn, outcome.new_catalogue)
                self._catalogues[outcome.new_catalogue.version] = outcome.new_catalogue
        return [outcome.draft for outcome in outcomes]

    async def _catalogue(
        self, conn: AsyncConnection, version: int | None
    ) -> CatalogueVersion | None:
        if version is None:
            return None
        if version not in self._catalogues:
            self._catalogues[version] = await recorded_catalogue(conn, version)
        return self._catalogues[version]


def _next_offset(head: ChainHead | None) -> int:
    return 0 if head is None else head.last_source_offset + 1


def _batch_result(partition: int, plan: Continuation, drafts: Sequence[EntryDraft]) -> BatchResult:
    """The counters of a written run (drafts in the run's order)."""
    rejected = tuple(
        (message, draft)
        for message, draft in zip(plan.run, drafts, strict=True)
        if draft.status == STATUS_REJECTED
    )
    return BatchResult(
        partition,
        len(plan.run),
        plan.skipped,
        rejected,
        plan.run[-1].offset + 1,
        accepted=sum(1 for d in drafts if d.status == STATUS_ACCEPTED),
        duplicates=sum(1 for d in drafts if d.status == STATUS_DUPLICATE),
    )
