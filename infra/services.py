"""The two services every command needs: Kafka and PostgreSQL, started on demand and reused.

`ensure_services(home)` is idempotent and safe to call from several processes at once (a file
lock serialises starts). `LEDGER_KAFKA_BOOTSTRAP` / `LEDGER_DATABASE_URL` point at services run
by someone else: then that service is neither started nor stopped here. Their credentials
come the usual ways: the URL's password (or PGPASSFILE / ~/.pgpass, which asyncpg reads), and
LEDGER_KAFKA_SASL_USERNAME / _PASSWORD / _MECHANISM (LEDGER_KAFKA_SECURITY_PROTOCOL for SASL_SSL).
Our own services are locked (see infra/postgres.py and infra/kafka.py); `Endpoints` carries the
logins, and `mask_password` keeps them out of what is printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from infra import kafka, postgres
from infra.common import InfraError, file_lock, port_is_open
from infra.credentials import Login

__all__ = [
    "Endpoints",
    "InfraError",
    "KafkaSecurity",
    "Login",
    "ServiceStatus",
    "ServicesStatus",
    "ensure_services",
    "ledger_home",
    "mask_password",
    "normalise_database_url",
    "services_status",
    "stop_services",
]

kafka_bootstrap_variable = "LEDGER_KAFKA_BOOTSTRAP"
database_url_variable = "LEDGER_DATABASE_URL"
kafka_username_variable = "LEDGER_KAFKA_SASL_USERNAME"
kafka_password_variable = "LEDGER_KAFKA_SASL_PASSWORD"
kafka_mechanism_variable = "LEDGER_KAFKA_SASL_MECHANISM"
kafka_protocol_variable = "LEDGER_KAFKA_SECURITY_PROTOCOL"
kafka_mechanisms = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
kafka_protocols = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
home_variable = "LEDGER_HOME"
default_home = ".ledger"
database_driver = "postgresql+asyncpg"
default_postgres_port = 5432


@dataclass(frozen=True)
class KafkaSecurity:
    """How each of our principals authenticates to the broker (no logins: PLAINTEXT).

    admin creates topics and grants; ingest writes the raw log (`ledger ingest`, the HTTP
    server, markers); worker reads it (the worker, replay, archives, offsets). An external
    broker gets one login for all three; `grants` is True when we manage its ACLs (our own).
    """

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    admin: Login | None = None
    ingest: Login | None = None
    worker: Login | None = None
    grants: bool = False


plaintext = KafkaSecurity()


@dataclass(frozen=True)
class Endpoints:
    """How to reach the services.

    kafka_bootstrap: "host:port[,host:port]"; database_url: a SQLAlchemy URL
    (`postgresql+asyncpg://…/postgres`, the maintenance database: workspaces get their own),
    as the owner role (creates databases, runs migrations); app_database_url: the same as the
    application role (None: the owner's, as with an external server); managed: True when
    infra/ runs both services itself under the home folder (neither LEDGER_KAFKA_BOOTSTRAP nor
    LEDGER_DATABASE_URL is set). Passwords are in the URLs: print them with `mask_password`.
    """

    kafka_bootstrap: str
    database_url: str = field(repr=False)
    managed: bool
    app_database_url: str | None = field(default=None, repr=False)
    kafka_security: KafkaSecurity = plaintext

    @property
    def application_database_url(self) -> str:
        return self.app_database_url or self.database_url


def mask_password(url: str) -> str:
    """The URL with its password as ***: for anything printed or logged."""
    try:
        rendered: str = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
    return rendered


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


def external_kafka_security() -> KafkaSecurity:
    """The SASL settings for a broker given by LEDGER_KAFKA_BOOTSTRAP (none: PLAINTEXT)."""
    username = os.environ.get(kafka_username_variable, "").strip()
    password = os.environ.get(kafka_password_variable, "")
    mechanism = os.environ.get(kafka_mechanism_variable, "").strip().upper() or kafka_mechanisms[0]
    protocol = os.environ.get(kafka_protocol_variable, "").strip().upper()
    if not username:
        if password:
            raise InfraError(f"{kafka_password_variable} is set: set {kafka_username_variable} too")
        return KafkaSecurity(protocol=protocol or "PLAINTEXT")
    if not password:
        raise InfraError(f"{kafka_username_variable} is set: set {kafka_password_variable} too")
    if mechanism not in kafka_mechanisms:
        raise InfraError(f"{kafka_mechanism_variable} must be one of {', '.join(kafka_mechanisms)}")
    protocol = protocol or "SASL_PLAINTEXT"
    if protocol not in kafka_protocols[1:]:
        raise InfraError(f"{kafka_protocol_variable} must be SASL_PLAINTEXT or SASL_SSL with SASL")
    login = Login(username, password)
    return KafkaSecurity(protocol, mechanism, login, login, login, grants=False)


def managed_kafka_security(home: Path) -> KafkaSecurity:
    """Our own broker's principals; PLAINTEXT for one made before SASL and not yet locked."""
    logins = kafka.secured_logins(home)
    if logins is None:
        return plaintext
    return KafkaSecurity(
        "SASL_PLAINTEXT",
        kafka.sasl_mechanism,
        logins.admin,
        logins.ingest,
        logins.worker,
        grants=True,
    )


def lock_path(home: Path) -> Path:
    return home / "services.lock"


def ensure_services(home: Path | None = None, *, lock_running: bool = False) -> Endpoints:
    """Both services up and answering (started when needed); how to reach them.

    Fast when they already run: a metadata request and a connection, under the lock.
    Services this call starts are locked (passwords, SASL); ones made before that and still
    running unlocked are locked only with `lock_running` (`ledger infra up`), which restarts
    the broker.
    """
    home = (home or ledger_home()).resolve()
    bootstrap = external_bootstrap()
    database_url = external_database_url()
    app_database_url: str | None = None  # an external server: the URL's user does everything
    kafka_security = external_kafka_security() if bootstrap is not None else plaintext
    if bootstrap is not None and database_url is not None:
        return Endpoints(bootstrap, database_url, False, app_database_url, kafka_security)
    home.mkdir(parents=True, exist_ok=True)
    with file_lock(lock_path(home), "starting the services"):
        # The broker first: its JVM starts while PostgreSQL starts, then we wait for both.
        if bootstrap is None:
            kafka.launch_broker(home, secure_running=lock_running)
        if database_url is None:
            cluster = postgres.start_cluster(home, lock_running=lock_running)
            database_url, app_database_url = cluster.owner_url, cluster.app_url
        if bootstrap is None:
            bootstrap = kafka.wait_for_broker(home)
            kafka_security = managed_kafka_security(home)
    managed = external_bootstrap() is None and external_database_url() is None
    return Endpoints(bootstrap, database_url, managed, app_database_url, kafka_security)


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
        return ServiceStatus("postgres", reachable, False, mask_password(database_url), None)
    paths = postgres.ClusterPaths.of(home)
    pid = postgres.postmaster_pid(paths)
    port = postgres.kept_port(paths)
    running = pid is not None and port is not None and port_is_open("127.0.0.1", port)
    address = None
    if port is not None:
        user = postgres.owner_role_name if postgres.is_locked(paths) else postgres.superuser_name
        address = mask_password(postgres.server_url(port, Login(user, "-")))
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
