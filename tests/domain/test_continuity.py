"""Which messages of a batch continue the chain (ledger.domain.continuity).

Examples for each shape a consumer's batch takes around crashes and rebalances, and
properties held to an oracle that walks the offsets one by one from the expected one.
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.continuity import Continuation, Gap, continuation
from ledger.domain.processing import RawMessage

PARTITION = 2


def message(offset: int, value: bytes | None = None) -> RawMessage:
    return RawMessage(PARTITION, offset, 1_790_000_000_000 + offset, value or b"m%d" % offset)


def batch(*offsets: int) -> list[RawMessage]:
    return [message(offset) for offset in offsets]


def run_offsets(plan: Continuation) -> list[int]:
    return [m.offset for m in plan.run]


def test_an_empty_batch_continues_nothing() -> None:
    plan = continuation(7, [])
    assert plan == Continuation(0, (), None)
    assert not plan.gap_after_run
    assert plan.next_offset(7) == 7


def test_a_batch_at_the_head_is_written_whole() -> None:
    plan = continuation(3, batch(3, 4, 5))
    assert plan.skipped == 0
    assert run_offsets(plan) == [3, 4, 5]
    assert plan.gap is None
    assert plan.next_offset(3) == 6


def test_a_redelivered_batch_is_skipped_whole() -> None:
    plan = continuation(10, batch(4, 5, 6, 7, 8, 9))
    assert plan == Continuation(6, (), None)
    assert plan.next_offset(10) == 10


def test_a_redelivery_overlapping_the_head_writes_only_the_new_part() -> None:
    plan = continuation(6, batch(4, 5, 6, 7))
    assert plan.skipped == 2
    assert run_offsets(plan) == [6, 7]
    assert plan.gap is None


def test_a_hole_after_the_head_writes_up_to_the_hole() -> None:
    plan = continuation(0, batch(0, 1, 2, 5, 6))
    assert run_offsets(plan) == [0, 1, 2]
    assert plan.gap == Gap(expected_offset=3, found_offset=5)
    assert plan.gap_after_run
    assert plan.next_offset(0) == 3


def test_a_batch_beginning_beyond_the_head_writes_nothing() -> None:
    plan = continuation(4, batch(2, 3, 6, 7))
    assert plan.skipped == 2
    assert plan.run == ()
    assert plan.gap == Gap(expected_offset=4, found_offset=6)
    assert not plan.gap_after_run
    assert plan.next_offset(4) == 4


def test_duplicates_within_a_batch_count_once() -> None:
    plan = continuation(1, batch(0, 0, 1, 2, 1, 2, 3, 3))
    assert plan.skipped == 1
    assert run_offsets(plan) == [1, 2, 3]
    assert plan.gap is None


def test_a_rebalance_batch_mixing_fetches_before_and_after_a_seek_is_put_in_order() -> None:
    # Fetched 5..7 before a seek back to 3, then 3..8 after it.
    plan = continuation(3, batch(5, 6, 7, 3, 4, 5, 6, 7, 8))
    assert plan.skipped == 0
    assert run_offsets(plan) == [3, 4, 5, 6, 7, 8]
    assert plan.gap is None


def test_a_rebalance_batch_still_missing_the_head_leaves_a_gap() -> None:
    # Fetched 5..7 before the seek; the seek's own fetch has not arrived yet.
    plan = continuation(3, batch(6, 7, 5))
    assert plan.run == ()
    assert plan.gap == Gap(3, 5)


def oracle(expected: int, offsets: Sequence[int]) -> tuple[int, list[int], Gap | None]:
    """Skipped, run and gap, walking from `expected` one offset at a time."""
    distinct = set(offsets)
    skipped = sum(1 for offset in distinct if offset < expected)
    run = []
    offset = expected
    while offset in distinct:
        run.append(offset)
        offset += 1
    beyond = [o for o in distinct if o >= offset]
    gap = Gap(offset, min(beyond)) if beyond else None
    return skipped, run, gap


offsets_near = st.lists(st.integers(0, 40), max_size=60)


@st.composite
def rebalance_batches(draw: st.DrawFn) -> tuple[int, list[int]]:
    """Runs of consecutive offsets, concatenated in any order: what fetches around seeks give."""
    expected = draw(st.integers(0, 20))
    runs = draw(
        st.lists(
            st.tuples(st.integers(max(0, expected - 10), expected + 10), st.integers(1, 8)),
            max_size=5,
        )
    )
    return expected, [offset for start, length in runs for offset in range(start, start + length)]


@given(st.one_of(st.tuples(st.integers(0, 40), offsets_near), rebalance_batches()))
def test_continuation_matches_the_oracle(case: tuple[int, list[int]]) -> None:
    expected, offsets = case
    plan = continuation(expected, batch(*offsets))
    skipped, run, gap = oracle(expected, offsets)
    assert plan.skipped == skipped
    assert run_offsets(plan) == run
    assert plan.gap == gap
    assert plan.gap_after_run == (gap is not None and bool(run))
    assert plan.next_offset(expected) == expected + len(run)
    if gap is not None:
        assert gap.expected_offset == plan.next_offset(expected) < gap.found_offset


@given(st.integers(0, 40), offsets_near, st.randoms(use_true_random=False))
def test_order_and_repetition_within_a_batch_do_not_matter(
    expected: int, offsets: list[int], rng: Random
) -> None:
    shuffled = [*offsets, *offsets[: len(offsets) // 2]]
    rng.shuffle(shuffled)
    assert continuation(expected, batch(*shuffled)) == continuation(expected, batch(*offsets))


@given(st.integers(0, 40), offsets_near)
def test_the_run_carries_the_batch_messages_themselves(expected: int, offsets: list[int]) -> None:
    messages = [message(offset, b"v%d-%d" % (offset, i)) for i, offset in enumerate(offsets)]
    plan = continuation(expected, messages)
    assert all(m in messages for m in plan.run)
