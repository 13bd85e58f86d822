"""The two services every command needs: Kafka and PostgreSQL, started on demand and reused.

`ensure_services(home)` is idempotent and safe to call from several processes at once (a file
lock serialises starts). `LEDGER_KAFKA_BOOTSTRAP` / `LEDGER_DATABASE_URL` point at services run
by someone else: then that service is neither started nor stopped here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from infra import kafka, postgres
from infra.common import InfraError, file_lock, port_is_open

__all__ = [
    "Endpoints",
    "InfraError",
    "ServiceStatus",
    "ServicesStatus",
    "ensure_services",
    "ledger_home",
    "normalise_database_url",
    "services_status",
    "stop_services",
]

kafka_bootstrap_variable = "LEDGER_KAFKA_BOOTSTRAP"
database_url_variable = "LEDGER_DATABASE_URL"
home_variable = "LEDGER_HOME"
default_home = ".ledger"
database_driver = "postgresql+asyncpg"
default_postgres_port = 5432


@dataclass(frozen=True)
class Endpoints:
    """How to reach the services.

    kafka_bootstrap: "host:port[,host:port]"; database_url: a SQLAlchemy URL
    (`postgresql+asyncpg://…/postgres`, the maintenance database: workspaces get their own);
    managed: True when infra/ runs both services itself under the home folder (neither
    LEDGER_KAFKA_BOOTSTRAP nor LEDGER_DATABASE_URL is set).
    """

    kafka_bootstrap: str
    database_url: str
    managed: bool


@dataclass(frozen=True)
class ServiceStatus:
    name: str  # "kafka" or "postgres"
    running: bool
    managed: bool  # False: given by the environment, never started or stopped here
    address: str | None  # bootstrap address or database URL, when known
    pid: int | None  # of the managed process, when running


@dataclass(frozen=True)
class ServicesStatus:
    kafka: ServiceStatus
    postgres: ServiceStatus

    @property
    def all_running(self) -> bool:
        return self.kafka.running and self.postgres.running


def ledger_home() -> Path:
    """The state folder: $LEDGER_HOME, else ./.ledger (absolute)."""
    return Path(os.environ.get(home_variable) or default_home).resolve()


def normalise_database_url(url: str) -> str:
    """Any PostgreSQL URL as a SQLAlchemy asyncpg URL: postgresql:// → postgresql+asyncpg://."""
    try:
        parsed = make_url(url.strip())
    except ArgumentError as error:
        raise InfraError(f"{database_url_variable} is not a database URL: {url!r}") from error
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise InfraError(
            f"{database_url_variable} must be a PostgreSQL URL (postgresql://user@host:port/db),"
            f" not {parsed.drivername}://"
        )
    if not parsed.database:
        parsed = parsed.set(database=postgres.maintenance_database)
    normalised: str = parsed.set(drivername=database_driver).render_as_string(hide_password=False)
    return normalised


def external_bootstrap() -> str | None:
    value = os.environ.get(kafka_bootstrap_variable, "").strip()
    return value or None


def external_database_url() -> str | None:
    value = os.environ.get(database_url_variable, "").strip()
    return normalise_database_url(value) if value else None


def lock_path(home: Path) -> Path:
    return home / "services.lock"


def ensure_services(home: Path | None = None) -> Endpoints:
    """Both services up and answering (started when needed); how to reach them.

    Fast when they already run: a metadata request and a connection, under the lock.
    """
    home = (home or ledger_home()).resolve()
    bootstrap = external_bootstrap()
    database_url = external_database_url()
    if bootstrap is not None and database_url is not None:
        return Endpoints(bootstrap, database_url, managed=False)
    home.mkdir(parents=True, exist_ok=True)
    with file_lock(lock_path(home), "starting the services"):
        # The broker first: its JVM starts while PostgreSQL starts, then we wait for both.
        if bootstrap is None:
            kafka.launch_broker(home)
        if database_url is None:
            database_url = postgres.start_postgres(home)
        if bootstrap is None:
            bootstrap = kafka.wait_for_broker(home)
    managed = external_bootstrap() is None and external_database_url() is None
    return Endpoints(bootstrap, database_url, managed=managed)


def services_status(home: Path | None = None) -> ServicesStatus:
    """Running or not, for each service; starts nothing. External ones are probed over TCP."""
    home = (home or ledger_home()).resolve()
    return ServicesStatus(kafka=kafka_status(home), postgres=postgres_status(home))


def kafka_status(home: Path) -> ServiceStatus:
    bootstrap = external_bootstrap()
    if bootstrap is not None:
        reachable = any(address_is_open(address) for address in bootstrap.split(","))
        return ServiceStatus("kafka", reachable, False, bootstrap, None)
    paths = kafka.BrokerPaths.of(home)
    pid = kafka.broker_pid(paths)
    ports = kafka.chosen_ports(paths)
    running = pid is not None and ports is not None and port_is_open("127.0.0.1", ports.broker)
    address = ports.bootstrap if ports is not None else None
    return ServiceStatus("kafka", running, True, address, pid)


def postgres_status(home: Path) -> ServiceStatus:
    database_url = external_database_url()
    if database_url is not None:
        parsed = make_url(database_url)
        host = parsed.host or "127.0.0.1"
        reachable = port_is_open(host, parsed.port or default_postgres_port)
        return ServiceStatus("postgres", reachable, False, database_url, None)
    paths = postgres.ClusterPaths.of(home)
    pid = postgres.postmaster_pid(paths)
    port = postgres.kept_port(paths)
    running = pid is not None and port is not None and port_is_open("127.0.0.1", port)
    address = postgres.server_url(port) if port is not None else None
    return ServiceStatus("postgres", running, True, address, pid)


def address_is_open(address: str) -> bool:
    host, _, port = address.strip().rpartition(":")
    return port.isdigit() and port_is_open(host.strip("[]") or "127.0.0.1", int(port))


def stop_services(home: Path | None = None) -> dict[str, int]:
    """Stop the services this home runs (never external ones); {service: pid} of those stopped."""
    home = (home or ledger_home()).resolve()
    stopped: dict[str, int] = {}
    if not home.is_dir():
        return stopped
    with file_lock(lock_path(home), "stopping the services"):
        if external_bootstrap() is None:
            broker_pid = kafka.stop_broker(home)
            if broker_pid is not None:
                stopped["kafka"] = broker_pid
        if external_database_url() is None:
            postmaster_pid = postgres.stop_postgres(home)
            if postmaster_pid is not None:
                stopped["postgres"] = postmaster_pid
    return stopped
