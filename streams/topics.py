"""The workspace's topics on the broker: created with their configs, granted, waited for, deleted.

On a broker with an authorizer (ours is locked: StandardAuthorizer, nothing allowed without an
ACL) `grant_workspace_access` lets the ingest principal write the raw topic and the worker read
it, and nothing more: the worker cannot write the raw log and ingest cannot read it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1, DeleteAclsRequest_v1
from aiokafka.protocol.api import Request

from ledger.domain.workspaces import Topics
from schemas.codec import message_bytes_max
from streams.access import KafkaAccess

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
async def admin_client(access: KafkaAccess) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(
        **access.client_options(), request_timeout_ms=admin_request_timeout_ms
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
    access: KafkaAccess, topics: Topics, partitions: int = raw_topic_partitions
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
    async with admin_client(access) as admin:
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


async def delete_topics(access: KafkaAccess, names: tuple[str, ...]) -> None:
    """Delete topics; ones that do not exist are fine."""
    async with admin_client(access) as admin:
        response = await admin.delete_topics(list(names))
        for topic, code, _message in response_errors(response):
            error_type = for_code(code) if code else None
            if error_type is None or error_type is UnknownTopicOrPartitionError:
                continue
            raise TopicError(f"could not delete topic {topic}: {error_type.__name__}")


# Kafka's wire codes (org.apache.kafka.common.acl / resource): CreateAcls version 1.
resource_topic: Final = 2
resource_group: Final = 3
pattern_literal: Final = 3
pattern_prefixed: Final = 4
operation_all: Final = 2
operation_read: Final = 3
operation_write: Final = 4
operation_describe: Final = 8
permission_allow: Final = 3
any_host: Final = "*"
acl_bindings_per_request_max: Final = 100


@dataclass(frozen=True)
class AclBinding:
    """One ALLOW rule: `principal` may do `operation` on the resource (from any host)."""

    resource_type: int
    resource_name: str
    pattern_type: int
    principal: str
    operation: int


def workspace_grants(
    topics: Topics, *, ingest: str, worker: str, worker_app_ids: Sequence[str]
) -> list[AclBinding]:
    """The least each principal needs (`ingest`/`worker` are `User:<name>` principals).

    ingest: write (and describe) the raw topic; its offset probes use groups named after it.
    worker: read the raw topic, write the rejected one, run its consumer groups, and own the
    topics faust makes for itself (named after its app id).
    """

    def topic(name: str, principal: str, *operations: int) -> list[AclBinding]:
        return [
            AclBinding(resource_topic, name, pattern_literal, principal, op) for op in operations
        ]

    def group(name: str, pattern: int, principal: str) -> list[AclBinding]:
        return [
            AclBinding(resource_group, name, pattern, principal, op)
            for op in (operation_read, operation_describe)
        ]

    bindings = [
        *topic(topics.raw, ingest, operation_write, operation_describe),
        *topic(topics.raw, worker, operation_read, operation_describe),
        *topic(topics.rejected, worker, operation_write, operation_describe),
        *group(topics.raw, pattern_prefixed, ingest),
        *group(topics.raw, pattern_prefixed, worker),
    ]
    for app_id in worker_app_ids:
        bindings += group(app_id, pattern_literal, worker)
        bindings.append(
            AclBinding(resource_topic, f"{app_id}-", pattern_prefixed, worker, operation_all)
        )
    return bindings


def _binding_rows(bindings: Sequence[AclBinding]) -> list[tuple[int, str, int, str, str, int, int]]:
    return [
        (
            binding.resource_type,
            binding.resource_name,
            binding.pattern_type,
            binding.principal,
            any_host,
            binding.operation,
            permission_allow,
        )
        for binding in bindings
    ]


class CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]  # aiokafka is untyped
    """CreateAcls with many bindings in one request (aiokafka's own carries one)."""

    API_KEY = 30

    def __init__(self, bindings: Sequence[AclBinding]) -> None:
        self._bindings = bindings

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(_binding_rows(self._bindings))


class DeleteAcls(Request[DeleteAclsRequest_v1]):  # type: ignore[misc]  # aiokafka is untyped
    """DeleteAcls whose filters are exactly the given bindings."""

    API_KEY = 31

    def __init__(self, bindings: Sequence[AclBinding]) -> None:
        self._bindings = bindings

    def build(self, request_struct_class: type[DeleteAclsRequest_v1]) -> DeleteAclsRequest_v1:
        return request_struct_class(_binding_rows(self._bindings))


async def grant_workspace_access(admin_access: KafkaAccess, bindings: Sequence[AclBinding]) -> None:
    """Create the ACLs (as the admin; an ACL that exists already is left as it is)."""
    async with admin_client(admin_access) as admin:
        for start in range(0, len(bindings), acl_bindings_per_request_max):
            chunk = bindings[start : start + acl_bindings_per_request_max]
            response = await admin._send_request(CreateAcls(chunk))
            for binding, (code, message) in zip(chunk, response.creation_responses, strict=True):
                if code != 0:
                    raise TopicError(
                        f"could not grant {binding}: {for_code(code).__name__} {message}"
                    )


async def revoke_workspace_access(
    admin_access: KafkaAccess, bindings: Sequence[AclBinding]
) -> None:
    """Delete the ACLs a dropped workspace had, so they do not pile up on the broker."""
    async with admin_client(admin_access) as admin:
        for start in range(0, len(bindings), acl_bindings_per_request_max):
            chunk = bindings[start : start + acl_bindings_per_request_max]
            response = await admin._send_request(DeleteAcls(chunk))
            for binding, result in zip(chunk, response.filter_responses, strict=True):
                code, message = result[0], result[1]
                if code != 0:
                    raise TopicError(
                        f"could not revoke {binding}: {for_code(code).__name__} {message}"
                    )
