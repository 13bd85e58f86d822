"""infra/ against the real services: Kafka round trip, PostgreSQL round trip, isolation, CLI."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from sqlalchemy import BigInteger, Column, MetaData, Table, Text, func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from infra.services import Endpoints, ensure_services, services_status, stop_services
from ledger.app.workspace import admin_access, drop_workspace
from ledger.domain.workspaces import topic_names, workspace_database_name
from ledger.store.databases import database_exists, ensure_workspace_database
from streams.access import KafkaAccess
from streams.topics import delete_topics, ensure_topics

pytestmark = pytest.mark.integration

consume_timeout_s = 30
services_reuse_seconds_max = 3.0

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("body", Text, nullable=False),
)


async def consume(access: KafkaAccess, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    """Read `count` messages of topic from the start (bounded in time)."""
    consumer = AIOKafkaConsumer(
        topic,
        **access.client_options(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + consume_timeout_s
    try:
        while len(received) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=count)
            for messages in batches.values():
                received += [(m.key, m.value) for m in messages]
    finally:
        await consumer.stop()
    return received


async def end_offsets(access: KafkaAccess, topic: str, partitions: int) -> dict[int, int]:
    consumer = AIOKafkaConsumer(**access.client_options(), group_id=None)
    await consumer.start()
    try:
        offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in offsets.items()}


async def produce(access: KafkaAccess, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(**access.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def topic_config(access: KafkaAccess, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(**access.client_options())
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    return {c[0]: c[1] for r in described for res in r.resources for c in res[4]}


async def test_kafka_round_trip_through_the_real_broker(services: Endpoints) -> None:
    topic = f"test.infra.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(**admin_access(services).client_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    sent = [(f"k{i}".encode(), f"value {i}".encode()) for i in range(50)]
    try:
        await produce(admin_access(services), topic, sent)
        received = await consume(admin_access(services), topic, len(sent))
        assert sorted(received) == sorted(sent)
    finally:
        await delete_topics(admin_access(services), (topic,))


async def test_large_message_up_to_eight_mebibytes(services: Endpoints) -> None:
    topics = topic_names(f"t_{uuid.uuid4().hex[:12]}")
    await ensure_topics(admin_access(services), topics, partitions=1)
    value = os.urandom(6 * 1024 * 1024)
    try:
        producer = AIOKafkaProducer(
            **admin_access(services).client_options(), max_request_size=8 * 1024 * 1024
        )
        await producer.start()
        try:
            await producer.send_and_wait(topics.raw, value=value, key=b"big")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topics.raw,
            **admin_access(services).client_options(),
            group_id=None,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), consume_timeout_s)
        finally:
            await consumer.stop()
        assert message.value == value
    finally:
        await delete_topics(admin_access(services), topics.names)


async def test_postgres_round_trip_with_sqlalchemy_asyncpg(fresh_database_url: str) -> None:
    assert fresh_database_url.startswith("postgresql+asyncpg://")
    engine = create_async_engine(fresh_database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(
                insert(notes), [{"id": 1, "body": "Bærum"}, {"id": 2, "body": "Oslo"}]
            )
        async with engine.connect() as connection:
            rows = (await connection.execute(select(notes).order_by(notes.c.id))).all()
            server_encoding = await connection.scalar(func.current_setting("server_encoding"))
            fsync = await connection.scalar(func.current_setting("fsync"))
        assert [tuple(row) for row in rows] == [(1, "Bærum"), (2, "Oslo")]
        assert server_encoding == "UTF8"
        assert fsync == "on"
    finally:
        await engine.dispose()


async def count_notes(database_url: str) -> int:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(notes)) or 0)
    finally:
        await engine.dispose()


async def test_two_workspaces_never_see_each_other(
    services: Endpoints, workspace_name: str
) -> None:
    first, second = f"{workspace_name}_a", f"{workspace_name}_b"
    try:
        urls = {}
        partitions = {}
        for workspace in (first, second):
            urls[workspace] = await ensure_workspace_database(services.database_url, workspace)
            partitions[workspace] = await ensure_topics(
                admin_access(services), topic_names(workspace), partitions=2
            )
            engine = create_async_engine(urls[workspace], poolclass=NullPool)
            try:
                async with engine.begin() as connection:
                    await connection.run_sync(metadata.create_all)
            finally:
                await engine.dispose()
        assert urls[first] != urls[second]
        assert partitions[first] == {name: 2 for name in topic_names(first).names}

        engine = create_async_engine(urls[first], poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                await connection.execute(insert(notes), [{"id": i, "body": "a"} for i in range(5)])
        finally:
            await engine.dispose()
        sent = [(f"k{i}".encode(), b"event") for i in range(7)]
        await produce(admin_access(services), topic_names(first).raw, sent)

        assert await count_notes(urls[first]) == 5
        assert await count_notes(urls[second]) == 0
        first_offsets = await end_offsets(admin_access(services), topic_names(first).raw, 2)
        second_offsets = await end_offsets(admin_access(services), topic_names(second).raw, 2)
        assert sum(first_offsets.values()) == 7
        assert sum(second_offsets.values()) == 0
        for workspace in (first, second):
            rejected = topic_names(workspace).rejected
            assert sum((await end_offsets(admin_access(services), rejected, 2)).values()) == 0
    finally:
        for workspace in (first, second):
            await drop_workspace(services, workspace)
    assert not await database_exists(services.database_url, workspace_database_name(first))


async def test_workspace_creation_is_idempotent_and_race_safe(
    services: Endpoints, workspace_name: str
) -> None:
    try:
        urls = await asyncio.gather(
            *(ensure_workspace_database(services.database_url, workspace_name) for _ in range(5))
        )
        assert len(set(urls)) == 1
        assert urls[0].endswith(f"/ledger_{workspace_name}")
        topics = topic_names(workspace_name)
        results = await asyncio.gather(
            *(ensure_topics(admin_access(services), topics) for _ in range(3))
        )
        assert all(result == {topics.raw: 4, topics.rejected: 4} for result in results)
        raw_config = await topic_config(admin_access(services), topics.raw)
        assert raw_config["retention.ms"] == "-1"
        assert raw_config["max.message.bytes"] == str(8 * 1024 * 1024)
        rejected_config = await topic_config(admin_access(services), topics.rejected)
        assert rejected_config["retention.ms"] != "-1"
    finally:
        await drop_workspace(services, workspace_name)


async def test_an_auto_created_raw_topic_gets_unlimited_retention(
    services: Endpoints, workspace_name: str
) -> None:
    """A producer that wrote before the workspace existed auto-created the topic."""
    topics = topic_names(workspace_name)
    try:
        await produce(admin_access(services), topics.raw, [(b"k", b"early")])
        before = await topic_config(admin_access(services), topics.raw)
        assert before["retention.ms"] != "-1"
        partitions = await ensure_topics(admin_access(services), topics)
        assert partitions[topics.raw] == 1  # an existing topic keeps its partitions
        after = await topic_config(admin_access(services), topics.raw)
        assert after["retention.ms"] == "-1"
    finally:
        await delete_topics(admin_access(services), topics.names)


def test_services_are_reused_when_running(services: Endpoints, ledger_home: Path) -> None:
    started = time.monotonic()
    again = ensure_services(ledger_home)
    once_more = ensure_services(ledger_home)
    elapsed_s = time.monotonic() - started
    assert again == services == once_more
    assert elapsed_s < services_reuse_seconds_max


def test_cli_status_and_up(services: Endpoints, ledger_home: Path, workspace_name: str) -> None:
    from ledger.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["infra", "status"], env={"LEDGER_HOME": str(ledger_home)})
    assert result.exit_code == 0, result.output
    if services.managed:
        lines = result.output.splitlines()
        assert any(line.split()[:2] == ["kafka", "running"] for line in lines), result.output
        assert any(line.split()[:2] == ["postgres", "running"] for line in lines), result.output
        assert services.kafka_bootstrap in result.output

    try:
        result = runner.invoke(app, ["infra", "up", "--workspace", workspace_name])
        assert result.exit_code == 0, result.output
        assert services.kafka_bootstrap in result.output
        assert f"/ledger_{workspace_name}" in result.output
        assert topic_names(workspace_name).raw in result.output
    finally:
        asyncio.run(drop_workspace(services, workspace_name))


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line mentions text (zombies excluded)."""
    from infra.common import process_command_line, process_is_alive

    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            if any(text in part for part in process_command_line(pid)) and process_is_alive(pid):
                found.append(pid)
    return found


@pytest.mark.skipif(
    bool(os.environ.get("LEDGER_KAFKA_BOOTSTRAP") or os.environ.get("LEDGER_DATABASE_URL")),
    reason="external services: nothing of ours to start or stop",
)
def test_down_stops_everything_of_its_own_home(services: Endpoints) -> None:
    """A home of its own (the shared services keep running).

    Not under pytest's tmp_path: every pytest session resets /tmp/pytest-of-<user> to 0700,
    which would lock the postgres user out while another session runs.
    """
    parent = Path(tempfile.mkdtemp(prefix="ledger-down-test-"))
    home = parent / "ledger home æ"  # a space and a non-ASCII letter on every path we write
    try:
        endpoints = ensure_services(home)
        try:
            assert endpoints.managed
            assert endpoints.kafka_bootstrap != services.kafka_bootstrap
            assert endpoints.database_url != services.database_url
            assert services_status(home).all_running
            assert processes_mentioning(str(home))
        finally:
            stopped = stop_services(home)
        assert set(stopped) == {"kafka", "postgres"}
        assert processes_mentioning(str(home)) == []
        status = services_status(home)
        assert not status.kafka.running and not status.postgres.running
        assert stop_services(home) == {}
        assert services_status().all_running  # the shared services were not touched
    finally:
        shutil.rmtree(parent, ignore_errors=True)
