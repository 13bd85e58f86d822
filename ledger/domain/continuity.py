"""Which messages of a batch continue a partition's chain, and where the gap is.

Around a rebalance a consumer's batch can hold messages fetched before and after a
seek: out of order, repeated, below the ledger's position (a redelivery), or with a
hole. The raw topic is written by idempotent, non-transactional producers only, so
its offsets have no holes of their own: a hole in a batch means the consumer must
fetch again, never that a message may be skipped (that would lose an event).

Pure, so the writer's transaction only sequences it and the rules are tested alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.domain.processing import RawMessage


@dataclass(frozen=True, slots=True)
class Gap:
    """The ledger expects `expected_offset` next, but the batch continues at `found_offset`."""

    expected_offset: int
    found_offset: int


@dataclass(frozen=True, slots=True)
class Continuation:
    """How a batch continues a chain whose next offset is known.

    `skipped`: distinct offsets below the next one (already in the ledger).
    `run`: the contiguous messages starting exactly at the next offset, to write.
    `gap`: where the batch stops following on, if it does before its end.
    """

    skipped: int
    run: tuple[RawMessage, ...]
    gap: Gap | None

    @property
    def gap_after_run(self) -> bool:
        """The hole comes after a run that is written: the caller keeps that progress."""
        return self.gap is not None and bool(self.run)

    def next_offset(self, expected_offset: int) -> int:
        """The chain's next offset once `run` is written."""
        return self.run[-1].offset + 1 if self.run else expected_offset


def continuation(expected_offset: int, messages: Sequence[RawMessage]) -> Continuation:
    """Split `messages` into what the ledger already has, what continues it, and a gap.

    Messages repeated within the batch count once (the broker delivers the same value
    for one offset). Offsets below `expected_offset` are skipped. A batch whose first
    new offset is beyond `expected_offset` has an empty run and a gap at its start.
    """
    ordered = sorted({m.offset: m for m in messages}.values(), key=lambda m: m.offset)
    fresh = [m for m in ordered if m.offset >= expected_offset]
    skipped = len(ordered) - len(fresh)
    if not fresh:
        return Continuation(skipped, (), None)
    if fresh[0].offset != expected_offset:
        return Continuation(skipped, (), Gap(expected_offset, fresh[0].offset))
    run = _contiguous_run(fresh)
    if len(run) < len(fresh):
        return Continuation(skipped, run, Gap(run[-1].offset + 1, fresh[len(run)].offset))
    return Continuation(skipped, run, None)


def _contiguous_run(messages: Sequence[RawMessage]) -> tuple[RawMessage, ...]:
    """The leading messages whose offsets follow each other without a hole."""
    run = [messages[0]]
    for message in messages[1:]:
        if message.offset != run[-1].offset + 1:
            break
        run.append(message)
    return tuple(run)
