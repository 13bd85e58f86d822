"""A workspace's own resources: database `ledger_<ws>` and topics `ledger.<ws>.*`.

Two workspaces share the servers and nothing else. The CLI checks names for the user
(`ledger.cli.app.checked_workspace`); they are checked here again against the same pattern
because they end up in SQL identifiers and topic names. (Not imported from the CLI: the CLI
imports infra/, not the other way round.)
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from infra.common import InfraError
from infra.services import Endpoints

log = logging.getLogger(__name__)

workspace_name_pattern = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # = ledger.cli.app's

database_prefix = "ledger_"
scratch_database_prefix = "scratch_"
topic_prefix = "ledger."
raw_topic_suffix = "usage-events"
rejected_topic_suffix = "rejected-events"
raw_topic_configs = {
    "retention.ms": "-1",  # the raw log is the source of truth: keep everything, forever
    "retention.bytes": "-1",
    "max.message.bytes": str(8 * 1024 * 1024),
}
rejected_topic_configs = {"max.message.bytes": str(8 * 1024 * 1024)}
admin_request_timeout_ms = 30_000
topic_ready_timeout_s = 30
topic_poll_interval_s = 0.1
# pg_advisory_lock key serialising CREATE DATABASE between processes ("LEDG").
create_database_lock_key = 0x4C454447
protected_databases = frozenset({"postgres", "template0", "template1"})


@dataclass(frozen=True)
class Topics:
    raw: str
    rejected: str

    @property
    def names(self) -> tuple[str, str]:
        return (self.raw, self.rejected)


def checked_name(workspace: str) -> str:
    """Guard: a workspace name reaches SQL identifiers and topic names only if it is safe."""
    if not workspace_name_pattern.match(workspace):
        raise ValueError(f"workspace name {workspace!r} does not match {workspace_name_pattern}")
    return workspace


def topic_names(workspace: str) -> Topics:
    name = checked_name(workspace)
    return Topics(
        raw=f"{topic_prefix}{name}.{raw_topic_suffix}",
        rejected=f"{topic_prefix}{name}.{rejected_topic_suffix}",
    )


def workspace_database_name(workspace: str) -> str:
    return f"{database_prefix}{checked_name(workspace)}"


def database_url_for(server_url: str, database: str) -> str:
    url: str = make_url(server_url).set(database=database).render_as_string(hide_password=False)
    return url


def workspace_database_url(endpoints: Endpoints, workspace: str) -> str:
    return database_url_for(endpoints.database_url, workspace_database_name(workspace))


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------- databases


@asynccontextmanager
async def maintenance_connection(endpoints: Endpoints) -> AsyncIterator[AsyncConnection]:
    """Autocommit: CREATE/DROP DATABASE cannot run inside a transaction."""
    engine = create_async_engine(
        endpoints.database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def create_database(endpoints: Endpoints, database: str) -> bool:
    """CREATE DATABASE unless it exists; True when this call created it.

    Race-safe: a session advisory lock serialises the check and the create across processes.
    """
    async with maintenance_connection(endpoints) as connection:
        await connection.execute(
            text("SELECT pg_advisory_lock(:key)"), {"key": create_database_lock_key}
        )
        try:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            )
            if exists:
                return False
            await connection.execute(text(f"CREATE DATABASE {quote_identifier(database)}"))
            return True
        finally:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": create_database_lock_key}
            )


async def ensure_workspace_database(endpoints: Endpoints, workspace: str) -> str:
    """The workspace's database, created when missing; its SQLAlchemy URL."""
    database = workspace_database_name(workspace)
    if await create_database(endpoints, database):
        log.info("created database %s", database)
    return database_url_for(endpoints.database_url, database)


async def create_scratch_database(endpoints: Endpoints) -> str:
    """A new empty database with a unique name (for tests); its SQLAlchemy URL."""
    database = f"{scratch_database_prefix}{uuid.uuid4().hex[:16]}"
    await create_database(endpoints, database)
    return database_url_for(endpoints.database_url, database)


async def drop_database(endpoints: Endpoints, url: str) -> None:
    """DROP DATABASE … WITH (FORCE): also when sessions are still connected to it."""
    database = make_url(url).database
    if not database or database in protected_databases:
        raise InfraError(f"refusing to drop database {database!r}")
    async with maintenance_connection(endpoints) as connection:
        await connection.execute(
            text(f"DROP DATABASE IF EXISTS {quote_identifier(database)} WITH (FORCE)")
        )


async def database_exists(endpoints: Endpoints, database: str) -> bool:
    async with maintenance_connection(endpoints) as connection:
        found = await connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
        )
        return bool(found)


# ---------------------------------------------------------------- topics


@asynccontextmanager
async def admin_client(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=admin_request_timeout_ms
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


def response_errors(response: object) -> list[tuple[str, int, str | None]]:
    """(topic, error code, message) per topic of a CreateTopics/DeleteTopics response."""
    errors: list[tuple[str, int, str | None]] = []
    entries = getattr(response, "topic_errors", None) or getattr(
        response, "topic_error_codes", None
    )
    for entry in entries or []:
        topic, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        errors.append((topic, code, message))
    return errors


async def ensure_topics(bootstrap: str, topics: Topics, partitions: int = 4) -> dict[str, int]:
    """Create the workspace's topics when missing; {topic: partition count} once all are ready.

    The raw topic keeps everything (retention.ms=-1). A raw topic that already exists (made by
    an earlier call, or auto-created by a producer) gets that retention enforced too.
    A topic that exists keeps its partition count: changing it would move keys.
    """
    new_topics = [
        NewTopic(topics.raw, partitions, 1, topic_configs=dict(raw_topic_configs)),
        NewTopic(topics.rejected, partitions, 1, topic_configs=dict(rejected_topic_configs)),
    ]
    async with admin_client(bootstrap) as admin:
        response = await admin.create_topics(new_topics)
        existing: set[str] = set()
        for topic, code, message in response_errors(response):
            if code == 0:
                continue
            error_type = for_code(code)
            if error_type is TopicAlreadyExistsError:
                existing.add(topic)
                continue
            raise InfraError(f"could not create topic {topic}: {error_type.__name__} {message}")
        if topics.raw in existing:
            await enforce_topic_configs(admin, topics.raw, raw_topic_configs)
        return await wait_for_topics(admin, topics.names)


async def enforce_topic_configs(
    admin: AIOKafkaAdminClient, topic: str, wanted: dict[str, str]
) -> None:
    resource = ConfigResource(ConfigResourceType.TOPIC, topic)
    described = await admin.describe_configs([resource])
    current: dict[str, str] = {}
    for response in described:
        for resource_entry in response.resources:
            for config in resource_entry[4]:
                current[config[0]] = config[1]
    if all(current.get(key) == value for key, value in wanted.items()):
        return
    log.warning("topic %s had %s; setting %s", topic, current, wanted)
    # AlterConfigs replaces every override of the topic: send all we want.
    await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, dict(wanted))])


async def wait_for_topics(admin: AIOKafkaAdminClient, names: tuple[str, ...]) -> dict[str, int]:
    """Until the metadata shows every topic with a leader for every partition (bounded)."""
    deadline = time.monotonic() + topic_ready_timeout_s
    while True:
        described = await admin.describe_topics(list(names))
        partitions: dict[str, int] = {}
        for topic in described:
            leaders_known = all(p["leader"] >= 0 for p in topic["partitions"])
            if topic["error_code"] == 0 and topic["partitions"] and leaders_known:
                partitions[topic["topic"]] = len(topic["partitions"])
        if len(partitions) == len(names):
            return partitions
        if time.monotonic() >= deadline:
            missing = sorted(set(names) - set(partitions))
            raise InfraError(f"topics {missing} not ready after {topic_ready_timeout_s} s")
        await asyncio.sleep(topic_poll_interval_s)


async def delete_topics(bootstrap: str, names: tuple[str, ...]) -> None:
    """Delete topics; ones that do not exist are fine."""
    async with admin_client(bootstrap) as admin:
        response = await admin.delete_topics(list(names))
        for topic, code, _message in response_errors(response):
            error_type = for_code(code) if code else None
            if error_type is None or error_type is UnknownTopicOrPartitionError:
                continue
            raise InfraError(f"could not delete topic {topic}: {error_type.__name__}")


async def drop_workspace(endpoints: Endpoints, workspace: str) -> None:
    """Remove a workspace's database and topics (tests clean up with it)."""
    await drop_database(endpoints, workspace_database_url(endpoints, workspace))
    await delete_topics(endpoints.kafka_bootstrap, topic_names(workspace).names)
