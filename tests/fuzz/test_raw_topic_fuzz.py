"""Fuzzed messages straight onto a workspace's raw topic, decided by the real worker.

Hypothesis draws batches of messages (tests/fuzz/messages.py: random bytes, damaged Avro,
other schemas, wrong types, megabyte strings, invalid UTF-8, odd times and quantities,
unknown ids, another vendor's ids, submitter header variants) interleaved with valid
events. They are produced with the project's own raw-log producer, processed by the
stream application, and every message must end as exactly one entry: the valid events
decided as in a clean run of them alone, the rest rejected with a contract reason code
and a readable detail. Examples are drawn first and sent together, so a run costs a few
Kafka round trips; `LEDGER_FUZZ_EXAMPLES` scales it (batches of `batch_messages`).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from ledger.app.workspace import Workspace, drop_workspace, open_workspace, stream_target
from ledger.domain.events import REASON_CODES, detail_characters_max
from schemas.codec import message_bytes_max
from streams.producer import raw_log_producer
from streams.runner import process_until_idle
from streams.topics import admin_client, topic_configs
from tests.fuzz.conftest import count
from tests.fuzz.messages import (
    TEMPLATES,
    Expected,
    Message,
    Recipe,
    build_batch,
    event_key,
    message_of,
    recipes,
    record_of,
)
from tests.integration.conftest import load_catalogue, query

pytestmark = pytest.mark.integration

examples = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "4"))
fuzz_seed = int(os.environ.get("LEDGER_FUZZ_SEED", "20261203"))
batch_messages = 200
copies_per_batch = 10  # valid events sent again: identical (duplicate) or changed (conflict)
processing_timeout_s = 180.0  # the worker must neither crash nor stall
learner_checked_characters_min = 12  # shorter learner ids could occur in a detail by chance


@dataclass(frozen=True)
class Sent:
    message: Message
    partition: int
    offset: int


def draw_batches(count_: int) -> list[tuple[list[Recipe], list[int]]]:
    """`count_` hypothesis examples, each a batch of recipes and the valid events to copy."""
    drawn: list[tuple[list[Recipe], list[int]]] = []

    @seed(fuzz_seed)
    @settings(
        max_examples=count_,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(recipes, min_size=batch_messages, max_size=batch_messages),
        st.lists(st.integers(0, 10_000), min_size=copies_per_batch, max_size=copies_per_batch),
    )
    def collect(batch: list[Recipe], copies: list[int]) -> None:
        drawn.append((batch, copies))

    collect()
    return drawn


async def produce(ws: Workspace, messages: Sequence[Message]) -> list[Sent]:
    """Produce in order with the project's raw-log producer; where each one landed."""
    producer = raw_log_producer(ws.kafka_ingest)
    await producer.start()
    try:
        futures = [
            await producer.send(ws.topics.raw, m.value, key=m.key, headers=list(m.headers) or None)
            for m in messages
        ]
        landed = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [
        Sent(message, metadata.partition, metadata.offset)
        for message, metadata in zip(messages, landed, strict=True)
    ]


async def entries(ws: Workspace) -> dict[tuple[int, int], Any]:
    rows = await query(
        ws,
        "SELECT chain, source_offset, kind, status, reason_code, reason_detail, licence_id,"
        " period, quantity, vendor, event_id FROM ledger.entries",
    )
    return {(row.chain, row.source_offset): row for row in rows}


def check_entry(sent: Sent, row: Any) -> list[str]:
    """What is wrong with the entry of one message (empty when it is as expected)."""
    expected = sent.message.expected
    if row is None:
        return ["no ledger entry"]
    problems = []
    if row.kind != "event" or row.status != expected.status:
        problems.append(f"status {row.kind}/{row.status} {row.reason_code}, expected {expected}")
    if expected.status == "accepted":
        decided = (row.licence_id, row.period, row.quantity)
        wanted = (expected.licence, expected.period, expected.quantity)
        if decided != wanted:
            problems.append(f"decided (licence, period, quantity) {decided}, expected {wanted}")
    if expected.status == "rejected":
        if row.reason_code not in expected.codes or row.reason_code not in REASON_CODES:
            problems.append(f"reason {row.reason_code}, expected one of {sorted(expected.codes)}")
        detail = row.reason_detail or ""
        if not detail.strip() or "\n" in detail or len(detail) > detail_characters_max:
            problems.append(f"detail is not one readable line: {detail[:120]!r}")
        learner = sent.message.learner
        if learner and len(learner) >= learner_checked_characters_min and learner in detail:
            problems.append("the detail shows the learner id")
        if expected.vendor is not None and row.vendor != expected.vendor:
            problems.append(f"listed for vendor {row.vendor}, expected {expected.vendor}")
    return problems


async def clean_run(
    services: Any, valid: Sequence[Sent]
) -> dict[str, tuple[str | None, str | None, str | None, int | None]]:
    """The valid events alone, in order, in a workspace of their own: their decisions."""
    ws = await open_workspace(f"t_{uuid.uuid4().hex[:12]}")
    try:
        await load_catalogue(ws)
        await produce(ws, [s.message for s in valid])
        await process_until_idle(stream_target(ws), timeout_s=processing_timeout_s)
        rows = await query(
            ws,
            "SELECT event_id, status, licence_id, period, quantity FROM ledger.entries"
            " WHERE kind = 'event'",
        )
        return {r.event_id: (r.status, r.licence_id, r.period, r.quantity) for r in rows}
    finally:
        await drop_workspace(services, ws.name)
        ws.learner_key_path.unlink(missing_ok=True)


async def test_every_fuzzed_message_ends_as_one_entry_with_a_reason(
    services: Any, workspace: Workspace
) -> None:
    await load_catalogue(workspace)
    batches = draw_batches(examples)
    assert batches, "hypothesis drew no batch"
    run = uuid.uuid4().hex[:6]
    messages = [
        message
        for number, (drawn, copies) in enumerate(batches)
        for message in build_batch(drawn, f"fz-{run}-{number}", copies)
    ]
    sent = await produce(workspace, messages)
    count("raw messages onto the raw topic", len(sent))

    await process_until_idle(stream_target(workspace), timeout_s=processing_timeout_s)

    found = await entries(workspace)
    failures = [
        f"{s.message!r} at {s.partition}/{s.offset}: {'; '.join(problems)}"
        for s in sent
        if (problems := check_entry(s, found.get((s.partition, s.offset))))
    ]
    assert not failures, f"{len(failures)} of {len(sent)} messages:\n" + "\n".join(failures[:20])
    # Nothing lost, nothing invented: per partition, one entry for every offset of the log.
    for partition in {s.partition for s in sent}:
        offsets = sorted(offset for chain, offset in found if chain == partition)
        assert offsets == list(range(len(offsets))), f"partition {partition} has holes"
        assert offsets[-1] == max(s.offset for s in sent if s.partition == partition)

    valid = [s for s in sent if s.message.valid]
    assert len(valid) >= len(batches) * batch_messages // 4, "too few valid events drawn"
    clean = await clean_run(services, valid)
    in_fuzz = {
        s.message.event_id: (
            found[(s.partition, s.offset)].status,
            found[(s.partition, s.offset)].licence_id,
            found[(s.partition, s.offset)].period,
            found[(s.partition, s.offset)].quantity,
        )
        for s in valid
    }
    assert in_fuzz == clean, "valid events were decided differently among fuzzed input"


async def test_the_raw_topic_takes_messages_up_to_its_limit_and_refuses_larger(
    workspace: Workspace,
) -> None:
    """A message just under max.message.bytes is decided (rejected: its field is too long)
    and the worker goes on; a larger one never reaches the log (the producer refuses)."""
    async with admin_client(workspace.kafka_admin) as admin:
        configs = await topic_configs(admin, workspace.topics.raw)
    assert int(configs["max.message.bytes"]) == message_bytes_max
    await load_catalogue(workspace)
    record_overhead_bytes = 4096  # record batch header, key and the event's other fields
    item = "x" * (message_bytes_max - record_overhead_bytes)
    largest = build_one(record_of(TEMPLATES[1], "fz-largest", item=item))
    after = build_one(record_of(TEMPLATES[1], "fz-after-largest"))
    sent = await produce(workspace, [largest, after])
    with pytest.raises(MessageSizeTooLargeError):
        too_large = build_one(record_of(TEMPLATES[1], "fz-too-large", item=item + "x" * 8192))
        await produce(workspace, [too_large])
    count("raw messages onto the raw topic", 3)

    await process_until_idle(stream_target(workspace), timeout_s=processing_timeout_s)

    found = await entries(workspace)
    largest_entry = found[(sent[0].partition, sent[0].offset)]
    assert (largest_entry.status, largest_entry.reason_code) == ("rejected", "schema_violation")
    assert "item has" in largest_entry.reason_detail
    assert found[(sent[1].partition, sent[1].offset)].status == "accepted"
    rows = await query(
        workspace, "SELECT count(*) AS n FROM ledger.entries WHERE event_id = 'fz-too-large'"
    )
    assert rows[0].n == 0


def build_one(record: dict[str, object]) -> Message:
    return message_of("single", record, Expected("rejected"), key=event_key(record))
