"""Locked by default: our PostgreSQL and Kafka refuse whoever lacks the credentials, and each
principal may do only its own part (issue 9).

Runs against the services of the state folder (LEDGER_HOME); skipped for external services,
whose locks are their owners' business.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from infra import kafka, postgres
from infra.credentials import secrets_folder_name
from infra.services import Endpoints
from ledger.app.workspace import Workspace, drop_workspace
from ledger.store.engine import writer_role
from streams.access import KafkaAccess
from streams.producer import raw_log_producer
from tests.integration.conftest import event, load_catalogue, process, query, send_events

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(os.environ.get("LEDGER_KAFKA_BOOTSTRAP") or os.environ.get("LEDGER_DATABASE_URL")),
        reason="external services: their locks are not ours",
    ),
]

refusal_timeout_s = 30.0
client_timeout_ms = 5000


@pytest.fixture(autouse=True)
def locked_services(services: object, ledger_home: Path) -> None:
    """These tests are about our locks: a state folder made before them must be upgraded."""
    if not postgres.is_locked(postgres.ClusterPaths.of(ledger_home)):
        pytest.fail(f"PostgreSQL under {ledger_home} is not locked: run `ledger infra up`")
    if not kafka.is_secured(kafka.BrokerPaths.of(ledger_home)):
        pytest.fail(f"the Kafka broker under {ledger_home} is not locked: run `ledger infra up`")


# ---------------------------------------------------------------- PostgreSQL


async def connect(database_url: str, **overrides: object) -> asyncpg.Connection:
    url = make_url(database_url)
    options: dict[str, object] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "database": url.database,
        "passfile": "/nonexistent/pgpass",  # no ~/.pgpass may lend a password here
        "timeout": 10,
    }
    options.update(overrides)
    connection: asyncpg.Connection = await asyncpg.connect(**options)
    return connection


@pytest.mark.parametrize("user", [postgres.superuser_name, "ledger_owner", "ledger_app"])
async def test_postgres_refuses_a_connection_without_a_password_or_a_wrong_one(
    workspace: Workspace, ledger_home: Path, user: str
) -> None:
    paths = postgres.ClusterPaths.of(ledger_home)
    port = postgres.kept_port(paths)
    assert port is not None
    socket_dir = postgres.socket_dir_for(paths, port)
    for host in ("127.0.0.1", str(socket_dir)):  # loopback and the unix socket alike
        for password in (None, "not-the-password"):
            with pytest.raises(
                (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
            ):
                await connect(workspace.database_url, host=host, user=user, password=password)


async def test_the_application_role_only_reads_and_appends(workspace: Workspace) -> None:
    await load_catalogue(workspace)
    await send_events(workspace, [event("locked-1")])
    await process(workspace)
    assert make_url(workspace.database_url).username == "ledger_app"
    connection = await connect(workspace.database_url)
    try:
        attributes = await connection.fetchrow(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles"
            " WHERE rolname = current_user"
        )
        assert tuple(attributes) == (False, False, False, False)
        assert await connection.fetchval("SELECT count(*) FROM ledger.entries") >= 1
        # As itself and as the role its sessions run as: no change, no new table or database.
        for role in ("ledger_app", writer_role):
            await connection.execute(f"SET ROLE {role}")
            for statement in (
                "UPDATE ledger.entries SET quantity = 5",
                "DELETE FROM ledger.entries",
                "TRUNCATE ledger.entries",
                "UPDATE ledger.catalogue_versions SET document = '[]'",
                "CREATE TABLE ledger.stolen (id int)",
                "CREATE TABLE public.stolen (id int)",
                "CREATE DATABASE stolen",
                "CREATE ROLE stolen",
                "ALTER TABLE ledger.entries DISABLE TRIGGER ALL",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.execute(statement)
    finally:
        await connection.close()
    assert len(await query(workspace, "SELECT 1 FROM ledger.entries")) >= 1


async def test_the_owner_role_is_no_superuser(workspace: Workspace) -> None:
    assert workspace.owner_database_url is not None
    connection = await connect(workspace.owner_database_url)
    try:
        row = await connection.fetchrow(
            "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        assert tuple(row) == (False, False)
        owner = await connection.fetchval(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'ledger' AND tablename = 'entries'"
        )
        assert owner == "ledger_owner"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("SET session_replication_role = replica")
    finally:
        await connection.close()


def test_secret_files_are_readable_by_their_owner_only(services: object, ledger_home: Path) -> None:
    folder = ledger_home / secrets_folder_name
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    passwords = sorted(path.name for path in folder.glob("*.pass"))
    assert passwords == sorted(
        f"{name}.pass"
        for name in (
            "kafka-admin",
            "kafka-ingest",
            "kafka-worker",
            "postgres-app",
            "postgres-owner",
            "postgres-superuser",
        )
    )
    for path in [*folder.glob("*.pass"), folder / "pgpass"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    server_properties = kafka.BrokerPaths.of(ledger_home).server_properties
    assert stat.S_IMODE(server_properties.stat().st_mode) == 0o600  # holds the admin's password


def test_passwords_are_never_printed(
    services: object, ledger_home: Path, workspace_name: str
) -> None:
    from ledger.cli import app

    passwords = [
        path.read_text(encoding="utf-8").strip()
        for path in (ledger_home / secrets_folder_name).glob("*.pass")
    ]
    runner = CliRunner()
    for arguments in (["infra", "status"], ["infra", "up", "--workspace", workspace_name]):
        result = runner.invoke(app, arguments, env={"LEDGER_HOME": str(ledger_home)})
        assert result.exit_code == 0, result.output
        assert "***" in result.output or arguments[1] == "status"
        for password in passwords:
            assert password not in result.output


# ---------------------------------------------------------------- Kafka


def without_login(access: KafkaAccess) -> KafkaAccess:
    return KafkaAccess(access.bootstrap)


def with_password(access: KafkaAccess, password: str) -> KafkaAccess:
    return KafkaAccess(
        access.bootstrap, access.protocol, access.mechanism, access.username, password
    )


@asynccontextmanager
async def started_admin(access: KafkaAccess) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**access.client_options(), request_timeout_ms=client_timeout_ms)
    try:
        await admin.start()
        yield admin
    finally:
        await admin.close()


async def metadata_as(access: KafkaAccess) -> None:
    async with started_admin(access) as admin:
        await admin.describe_cluster()


async def test_the_broker_refuses_a_client_without_credentials_or_a_wrong_password(
    workspace: Workspace,
) -> None:
    await asyncio.wait_for(metadata_as(workspace.kafka_ingest), refusal_timeout_s)  # control
    for access in (
        without_login(workspace.kafka_ingest),
        with_password(workspace.kafka_ingest, "not-the-password-at-all"),
        with_password(workspace.kafka_admin, "not-the-password-at-all"),
    ):
        with pytest.raises((KafkaError, OSError, TimeoutError)):
            await asyncio.wait_for(metadata_as(access), refusal_timeout_s)


async def test_a_producer_without_credentials_writes_nothing(workspace: Workspace) -> None:
    producer = AIOKafkaProducer(
        **without_login(workspace.kafka_ingest).client_options(),
        request_timeout_ms=client_timeout_ms,
    )
    with pytest.raises((KafkaError, OSError, TimeoutError)):
        await asyncio.wait_for(producer.start(), refusal_timeout_s)
    await producer.stop()


async def test_the_worker_principal_cannot_write_the_raw_topic(workspace: Workspace) -> None:
    producer = raw_log_producer(workspace.kafka_worker, request_timeout_ms=client_timeout_ms)
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(
                producer.send_and_wait(workspace.topics.raw, b"forged", key=b"k"),
                refusal_timeout_s,
            )
    finally:
        await producer.stop()


async def test_the_ingest_principal_cannot_read_the_raw_topic(workspace: Workspace) -> None:
    await send_events(workspace, [event("readable-by-the-worker-only")])
    for access, allowed in ((workspace.kafka_ingest, False), (workspace.kafka_worker, True)):
        consumer = AIOKafkaConsumer(
            **access.client_options(),
            group_id=f"{workspace.topics.raw}-probe",
            enable_auto_commit=False,
            request_timeout_ms=client_timeout_ms,
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(workspace.topics.raw, p) for p in range(4)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            if allowed:
                message = await asyncio.wait_for(consumer.getone(), refusal_timeout_s)
                assert b"readable-by-the-worker-only" in message.value
            else:
                with pytest.raises(TopicAuthorizationFailedError):
                    await asyncio.wait_for(consumer.getone(), refusal_timeout_s)
        finally:
            await consumer.stop()


async def test_the_ingest_principal_cannot_create_topics_nor_the_worker_delete_them(
    workspace: Workspace,
) -> None:
    from streams.topics import delete_topics

    for access in (workspace.kafka_ingest, workspace.kafka_worker):
        with pytest.raises(Exception, match=r"(?i)authoriz"):
            await delete_topics(access, (workspace.topics.raw,))
    async with started_admin(workspace.kafka_admin) as admin:
        assert workspace.topics.raw in await admin.list_topics()


async def principals_granted_on(admin_access: KafkaAccess, topic: str) -> set[str]:
    from aiokafka.protocol.admin import DescribeAclsRequest

    any_operation = any_permission = 1
    pattern_literal = 3
    request = DescribeAclsRequest(
        2, topic, pattern_literal, None, None, any_operation, any_permission
    )
    async with started_admin(admin_access) as admin:
        response = await admin._send_request(request)
    assert response.error_code == 0, response.error_message
    return {acl[0] for resource in response.resources for acl in resource[-1]}


async def test_a_dropped_workspace_leaves_no_grants_behind(
    services: Endpoints, workspace: Workspace
) -> None:
    admin_access = workspace.kafka_admin
    granted = await principals_granted_on(admin_access, workspace.topics.raw)
    assert granted == {workspace.kafka_ingest.principal, workspace.kafka_worker.principal}
    await drop_workspace(services, workspace.name)
    assert await principals_granted_on(admin_access, workspace.topics.raw) == set()


async def test_the_owner_drops_a_workspace_the_application_is_still_connected_to(
    services: Endpoints, workspace: Workspace
) -> None:
    connection = await connect(workspace.database_url)
    try:
        await drop_workspace(services, workspace.name)  # ends the application's session
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await connect(workspace.database_url)


# ---------------------------------------------------------------- what a user sees


def test_a_refused_login_is_one_line_and_exit_2(
    services: Endpoints, tmp_path: Path, workspace_name: str
) -> None:
    """A wrong password in the settings a user passes: a reason naming them, no traceback."""
    from tests.integration.conftest import ledger_cli

    database = make_url(services.database_url).set(password="not-the-password")
    refused = ledger_cli(
        "status",
        "--workspace",
        workspace_name,
        check=False,
        env={"LEDGER_DATABASE_URL": database.render_as_string(hide_password=False)},
        timeout=120,
    )
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("ledger: PostgreSQL refused the login") and "PGPASSFILE" in line

    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "e-1"}\n', encoding="utf-8")
    broker = ledger_cli(
        "ingest",
        str(events),
        "--workspace",
        workspace_name,
        check=False,
        env={
            "LEDGER_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
            "LEDGER_KAFKA_SASL_USERNAME": "ledger-ingest",
            "LEDGER_KAFKA_SASL_PASSWORD": "not-the-password",
        },
        timeout=120,
    )
    assert broker.returncode == 2, broker.stderr
    assert "Traceback" not in broker.stderr
    assert broker.stderr.strip().splitlines()[-1].startswith("ledger: cannot use the Kafka broker")
    assert "SaslAuthenticationFailed" in broker.stderr  # aiokafka's own line says which
