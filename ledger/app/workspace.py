"""Opening a workspace: services up, its database migrated, its topics and learner key present."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from infra.services import Endpoints, Login, ensure_services, ledger_home
from ledger.domain.workspaces import Topics, topic_names
from ledger.store.databases import drop_database, ensure_workspace_database, workspace_database_url
from ledger.store.engine import create_ledger_engine, database_login_refusal
from ledger.store.migrate import migrate
from streams.access import KafkaAccess, broker_login_refusal
from streams.runner import StreamTarget
from streams.topics import (
    AclBinding,
    delete_topics,
    ensure_topics,
    grant_workspace_access,
    revoke_workspace_access,
    workspace_grants,
)

learner_key_bytes = 32


class WorkspaceError(Exception):
    """The workspace cannot be used as asked (e.g. a replay target that is not empty)."""


@dataclass(frozen=True)
class Workspace:
    """An open workspace. `database_url` connects as the application role; the owner's URL
    (migrations, and tests that go behind the application's back) is `owner_database_url`."""

    name: str
    home: Path
    endpoints: Endpoints
    database_url: str = field(repr=False)
    topics: Topics
    owner_database_url: str | None = field(default=None, repr=False)

    @property
    def kafka_admin(self) -> KafkaAccess:
        return admin_access(self.endpoints)

    @property
    def kafka_ingest(self) -> KafkaAccess:
        """The only principal that may write the raw log: ingest, the HTTP API, markers."""
        return kafka_access(self.endpoints, self.endpoints.kafka_security.ingest)

    @property
    def kafka_worker(self) -> KafkaAccess:
        """The only principal that may read the raw log: the worker, replay, archives, offsets."""
        return kafka_access(self.endpoints, self.endpoints.kafka_security.worker)

    @property
    def learner_key_path(self) -> Path:
        return secrets_dir(self.home) / f"{self.name}.key"

    def learner_key(self) -> bytes:
        """The HMAC key for learner ids: outside the database, created on first use."""
        path = self.learner_key_path
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(secrets.token_bytes(learner_key_bytes))
        key = path.read_bytes()
        if len(key) != learner_key_bytes:
            raise WorkspaceError(
                f"learner key {path} is damaged: expected {learner_key_bytes} bytes"
            )
        return key

    def adopt_learner_key(self, key: bytes) -> None:
        """A replay target must hash learners exactly as its source did."""
        path = self.learner_key_path
        if path.exists():
            if path.read_bytes() != key:
                raise WorkspaceError(
                    f"workspace {self.name} already has a different learner key ({path})"
                )
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(key)


@asynccontextmanager
async def ledger_connection(ws: Workspace) -> AsyncIterator[AsyncConnection]:
    """A read connection to the workspace's ledger, its engine closed afterwards."""
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


def stream_target(ws: Workspace, *, app_id: str | None = None) -> StreamTarget:
    """What the stream application of this workspace reads and writes."""
    app_id = app_id or worker_app_id(ws.name)
    return StreamTarget(
        app_id=app_id,
        kafka=ws.kafka_worker,
        raw_topic=ws.topics.raw,
        rejected_topic=ws.topics.rejected,
        database_url=ws.database_url,
        learner_key=ws.learner_key(),
        data_dir=faust_data_dir(ws.home, app_id),
    )


def worker_app_id(workspace: str) -> str:
    """The consumer group (and faust app) of a workspace's worker."""
    return f"ledger-{workspace}"


def replay_app_id(workspace: str) -> str:
    """The consumer group of a replay into `workspace`: never the source's worker group."""
    return f"ledger-replay-{workspace}"


def faust_data_dir(home: Path, app_id: str) -> Path:
    """Faust's own folder for one app: in the state folder, not the working directory."""
    return home / "faust" / app_id


def kafka_access(endpoints: Endpoints, login: Login | None) -> KafkaAccess:
    """One principal's way to the broker (no login: PLAINTEXT, an unlocked broker)."""
    security = endpoints.kafka_security
    if login is None:
        return KafkaAccess(endpoints.kafka_bootstrap)
    return KafkaAccess(
        endpoints.kafka_bootstrap,
        protocol=security.protocol,
        mechanism=security.mechanism,
        username=login.username,
        password=login.password,
    )


def admin_access(endpoints: Endpoints) -> KafkaAccess:
    return kafka_access(endpoints, endpoints.kafka_security.admin)


def secrets_dir(home: Path) -> Path:
    override = os.environ.get("LEDGER_SECRETS_DIR")
    return Path(override) if override else home / "secrets"


async def provision_workspace(endpoints: Endpoints, name: str) -> tuple[str, Topics]:
    """The workspace's database and topics, created when missing, and on our own broker the
    grants of its principals: (the database's URL as its owner, topics)."""
    database_url = await ensure_workspace_database(endpoints.database_url, name)
    topics = topic_names(name)
    admin = admin_access(endpoints)
    await ensure_topics(admin, topics)
    grants = workspace_access_grants(endpoints, name)
    if grants:
        await grant_workspace_access(admin, grants)
    return database_url, topics


def workspace_access_grants(endpoints: Endpoints, name: str) -> list[AclBinding]:
    """The ACLs of a workspace's principals on our own broker (none for anyone else's)."""
    security = endpoints.kafka_security
    if not security.grants or security.ingest is None or security.worker is None:
        return []
    return workspace_grants(
        topic_names(name),
        ingest=f"User:{security.ingest.username}",
        worker=f"User:{security.worker.username}",
        worker_app_ids=(worker_app_id(name), replay_app_id(name)),
    )


async def open_workspace(name: str, *, home: Path | None = None) -> Workspace:
    home = home or ledger_home()
    endpoints = ensure_services(home)
    owner_database_url, topics = await provision_workspace(endpoints, name)
    await migrate(owner_database_url)
    database_url = workspace_database_url(endpoints.application_database_url, name)
    return Workspace(name, home, endpoints, database_url, topics, owner_database_url)


async def drop_workspace(endpoints: Endpoints, workspace: str, *, home: Path | None = None) -> None:
    """Remove a workspace's database, topics and faust folders (tests and benchmarks clean up
    with it). Its learner key stays: without it nothing archived could be replayed."""
    await drop_database(
        endpoints.database_url, workspace_database_url(endpoints.database_url, workspace)
    )
    await delete_topics(admin_access(endpoints), topic_names(workspace).names)
    grants = workspace_access_grants(endpoints, workspace)
    if grants:
        await revoke_workspace_access(admin_access(endpoints), grants)
    for app_id in (worker_app_id(workspace), replay_app_id(workspace)):
        shutil.rmtree(faust_data_dir(home or ledger_home(), app_id), ignore_errors=True)


def refused_login(error: BaseException) -> str | None:
    """One line when `error` is PostgreSQL or the broker refusing our credentials, else None."""
    return database_login_refusal(error) or broker_login_refusal(error)
