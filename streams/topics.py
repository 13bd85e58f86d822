"""The workspace's topics on the broker: created with their configs, waited for, deleted."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code

from ledger.domain.workspaces import Topics
from schemas.codec import message_bytes_max

log = logging.getLogger(__name__)

raw_topic_configs: Final = {
    "retention.ms": "-1",  # the raw log is the source of truth: keep everything, forever
    "retention.bytes": "-1",
    "max.message.bytes": str(message_bytes_max),
}
rejected_topic_configs: Final = {"max.message.bytes": str(message_bytes_max)}
# Partitions of a new workspace's topics: the unit of parallel processing (one hash chain
# each). Fixed once created: changing it would move keys between partitions.
raw_topic_partitions: Final = 4
admin_request_timeout_ms: Final = 30_000
topic_ready_timeout_s: Final = 30
topic_poll_interval_s: Final = 0.1


class TopicError(Exception):
    """A topic cannot be created, found or deleted as asked."""


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


async def ensure_topics(
    bootstrap: str, topics: Topics, partitions: int = raw_topic_partitions
) -> dict[str, int]:
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
            raise TopicError(f"could not create topic {topic}: {error_type.__name__} {message}")
        if topics.raw in existing:
            await enforce_topic_configs(admin, topics.raw, raw_topic_configs)
        return await wait_for_topics(admin, topics.names)


async def topic_configs(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    """The topic's configuration as the broker describes it now."""
    described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    current: dict[str, str] = {}
    for response in described:
        for resource_entry in response.resources:
            for config in resource_entry[4]:
                current[config[0]] = config[1]
    return current


def _differing(current: dict[str, str], wanted: dict[str, str]) -> dict[str, str | None]:
    return {key: current.get(key) for key, value in wanted.items() if current.get(key) != value}


async def enforce_topic_configs(
    admin: AIOKafkaAdminClient, topic: str, wanted: dict[str, str]
) -> None:
    """Set `wanted` on an existing topic and return once the broker describes it in force."""
    differing = _differing(await topic_configs(admin, topic), wanted)
    if not differing:
        return
    log.warning("topic %s had %s; setting %s", topic, differing, wanted)
    # AlterConfigs replaces every override of the topic: send all we want.
    await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, dict(wanted))])
    # The broker applies it through its metadata log, a moment later: until then a reader
    # (or a caller that trusts the retention) would still see the old value. Bounded wait.
    deadline = time.monotonic() + topic_ready_timeout_s
    while differing := _differing(await topic_configs(admin, topic), wanted):
        if time.monotonic() >= deadline:
            raise TopicError(
                f"topic {topic} still has {differing} {topic_ready_timeout_s} s after setting"
                f" {wanted}"
            )
        await asyncio.sleep(topic_poll_interval_s)


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
            raise TopicError(f"topics {missing} not ready after {topic_ready_timeout_s} s")
        await asyncio.sleep(topic_poll_interval_s)


async def delete_topics(bootstrap: str, names: tuple[str, ...]) -> None:
    """Delete topics; ones that do not exist are fine."""
    async with admin_client(bootstrap) as admin:
        response = await admin.delete_topics(list(names))
        for topic, code, _message in response_errors(response):
            error_type = for_code(code) if code else None
            if error_type is None or error_type is UnknownTopicOrPartitionError:
                continue
            raise TopicError(f"could not delete topic {topic}: {error_type.__name__}")
