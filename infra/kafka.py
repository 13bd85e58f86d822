"""A single-node Apache Kafka (KRaft, broker + controller in one JVM) run from Maven Central jars.

Layout under `<home>/kafka/`: `config/` (server.properties, log4j.properties, rendered on every
start), `data/` (the log dirs: topics live here), `logs/` (the broker's own logs), `state.json`
(ports and cluster id, chosen once and kept), `broker.pid`.
The jars are cached outside the checkout (`$LEDGER_CACHE` or `~/.cache/usage-ledger`), shared by
every home on the machine, so only the first start on a machine downloads them.

Locked by default: clients authenticate with SASL/SCRAM-SHA-512 (users made when the storage is
formatted, passwords kept by infra/credentials.py) and StandardAuthorizer refuses whatever no
ACL allows. Three principals: admin (the super user: topics and ACLs), ingest (writes the raw
log) and worker (reads it); streams/topics.py grants the last two per workspace. The controller
listener takes SASL/PLAIN (KRaft controllers cannot use SCRAM) with the admin's password.
A broker made before this (PLAINTEXT) is upgraded by `secure_broker`.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from infra.common import (
    InfraError,
    cache_root,
    file_lock,
    free_port,
    maven_copy_dependencies,
    port_is_free,
    port_is_open,
    process_command_line,
    process_is_alive,
    read_state,
    reap,
    run_blocking,
    run_command,
    spawn_detached,
    tail,
    wait_until_ready,
    write_state,
    write_text_atomic,
)
from infra.credentials import (
    Login,
    ensure_password,
    kafka_admin_secret,
    kafka_ingest_secret,
    kafka_worker_secret,
    write_secret_file,
)

kafka_version = "3.9.2"
broker_start_timeout_s = 90
broker_stop_timeout_s = 60
broker_kill_timeout_s = 10
metadata_request_timeout_ms = 5000
jar_fetch_timeout_s = 900
storage_format_timeout_s = 120
# The largest record batch the broker accepts: the broker's own ceiling, never below the codec's
# `schemas.codec.message_bytes_max` (a test checks; infra imports nothing of the ledger).
broker_message_bytes_max = 8 * 1024 * 1024
java_version_min = 11
jvm_heap_options = ("-Xms512m", "-Xmx1g")  # a smaller heap fails at start-up
jvm_options = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
log_file_bytes_max = 10 * 1024 * 1024
log_files_kept = 5
broker_main_class = "kafka.Kafka"
storage_tool_main_class = "kafka.tools.StorageTool"
config_tool_main_class = "kafka.admin.ConfigCommand"
config_tool_timeout_s = 120

sasl_mechanism = "SCRAM-SHA-512"
scram_iterations = 8192
controller_sasl_mechanism = "PLAIN"  # KRaft controllers authenticate before SCRAM users load
client_listener_name = "SASL_PLAINTEXT"
admin_principal = "ledger-admin"
ingest_principal = "ledger-ingest"
worker_principal = "ledger-worker"
secured_state_value = "sasl-scram-sha-512 v1"  # state.json "security": this broker is locked
authorizer_class = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

log = logging.getLogger(__name__)

pom_path = Path(__file__).resolve().parent / "kafka" / "pom.xml"


@dataclass(frozen=True)
class BrokerPaths:
    """Where one home's broker keeps everything."""

    root: Path

    @classmethod
    def of(cls, home: Path) -> BrokerPaths:
        return cls(home.resolve() / "kafka")

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def server_properties(self) -> Path:
        return self.config_dir / "server.properties"

    @property
    def log4j_properties(self) -> Path:
        return self.config_dir / "log4j.properties"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def console_log(self) -> Path:
        return self.logs_dir / "console.log"

    @property
    def server_log(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def pid_file(self) -> Path:
        return self.root / "broker.pid"


@dataclass(frozen=True)
class BrokerLogins:
    """The SCRAM users of a locked broker."""

    admin: Login
    ingest: Login
    worker: Login

    @property
    def all(self) -> tuple[Login, Login, Login]:
        return (self.admin, self.ingest, self.worker)


@dataclass(frozen=True)
class BrokerPorts:
    broker: int
    controller: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker}"


# ---------------------------------------------------------------- rendering (pure)


def properties_escape(value: str) -> str:
    """A value for a java.util.Properties file: read as ISO-8859-1, so escape the rest (æøå)."""
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n")
    return "".join(char if ord(char) < 0x7F else f"\\u{ord(char):04x}" for char in escaped)


def render_properties(settings: dict[str, str], heading: str) -> str:
    lines = [f"# {heading}", "# Written by infra/kafka.py on every start: edits are overwritten."]
    lines += [f"{key}={properties_escape(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def jaas_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def listener_settings(ports: BrokerPorts, admin: Login | None) -> dict[str, str]:
    """SASL on both listeners when `admin` is given; PLAINTEXT (a broker not yet locked) if not."""
    if admin is None:
        return {
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{ports.broker},CONTROLLER://127.0.0.1:{ports.controller}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{ports.broker}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        }
    user, password = jaas_quote(admin.username), jaas_quote(admin.password)
    client = client_listener_name
    return {
        "listeners": f"{client}://127.0.0.1:{ports.broker},CONTROLLER://127.0.0.1:{ports.controller}",
        "advertised.listeners": f"{client}://127.0.0.1:{ports.broker}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": client,
        "listener.security.protocol.map": f"CONTROLLER:SASL_PLAINTEXT,{client}:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": sasl_mechanism,
        "sasl.mechanism.inter.broker.protocol": sasl_mechanism,
        f"listener.name.{client.lower()}.{sasl_mechanism.lower()}.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required"
            f" username={user} password={password};"
        ),
        "sasl.mechanism.controller.protocol": controller_sasl_mechanism,
        "listener.name.controller.sasl.enabled.mechanisms": controller_sasl_mechanism,
        "listener.name.controller.plain.sasl.jaas.config": (
            "org.apache.kafka.common.security.plain.PlainLoginModule required"
            f" username={user} password={password}"
            f" user_{admin.username}={password};"
        ),
        "authorizer.class.name": authorizer_class,
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{admin.username}",
    }


def server_settings(
    ports: BrokerPorts, data_dir: Path, admin: Login | None = None
) -> dict[str, str]:
    """Single-node KRaft on loopback, tuned for tests and a developer machine."""
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{ports.controller}",
        **listener_settings(ports, admin),
        "log.dirs": str(data_dir),
        # One broker: every replication factor and ISR is 1.
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        # A new consumer group starts at once instead of waiting 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
        # faust creates its internal topics on the fly.
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "num.partitions": "1",
        "message.max.bytes": str(broker_message_bytes_max),
        "replica.fetch.max.bytes": str(broker_message_bytes_max),
        "num.network.threads": "3",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "2",
        "log.retention.hours": "168",
        "log.retention.check.interval.ms": "300000",
        "log.segment.bytes": str(256 * 1024 * 1024),
    }


def render_server_properties(ports: BrokerPorts, data_dir: Path, admin: Login | None = None) -> str:
    return render_properties(
        server_settings(ports, data_dir, admin), "Kafka single-node KRaft broker"
    )


def scram_argument(login: Login) -> str:
    """One `--add-scram` (storage format) value: the user's SCRAM-SHA-512 credential."""
    return f"{sasl_mechanism}=[name={login.username},password={login.password}]"


def client_security_options(login: Login | None) -> dict[str, Any]:
    """aiokafka keyword arguments to authenticate as `login` (none: PLAINTEXT)."""
    if login is None:
        return {}
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": sasl_mechanism,
        "sasl_plain_username": login.username,
        "sasl_plain_password": login.password,
    }


def render_log4j_properties(logs_dir: Path) -> str:
    """log4j 1 (reload4j) configuration: rolling files under logs_dir, warnings to the console."""
    server_log = logs_dir / "server.log"
    settings = {
        "log4j.rootLogger": "INFO, file, stdout",
        "log4j.appender.stdout": "org.apache.log4j.ConsoleAppender",
        "log4j.appender.stdout.Threshold": "WARN",
        "log4j.appender.stdout.layout": "org.apache.log4j.PatternLayout",
        "log4j.appender.stdout.layout.ConversionPattern": "[%d] %p %m (%c)%n",
        "log4j.appender.file": "org.apache.log4j.RollingFileAppender",
        "log4j.appender.file.File": str(server_log),
        "log4j.appender.file.MaxFileSize": str(log_file_bytes_max),
        "log4j.appender.file.MaxBackupIndex": str(log_files_kept),
        "log4j.appender.file.layout": "org.apache.log4j.PatternLayout",
        "log4j.appender.file.layout.ConversionPattern": "[%d] %p %m (%c)%n",
        "log4j.logger.kafka": "INFO",
        "log4j.logger.org.apache.kafka": "INFO",
        "log4j.logger.kafka.request.logger": "WARN",
        "log4j.logger.kafka.network.RequestChannel$": "WARN",
        "log4j.logger.kafka.controller": "INFO",
        "log4j.logger.state.change.logger": "WARN",
        "log4j.logger.kafka.log.LogCleaner": "WARN",
        "log4j.logger.kafka.authorizer.logger": "WARN",
    }
    return render_properties(settings, "Kafka broker logging (reload4j)")


def java_command(
    java: Path, libs_dir: Path, paths: BrokerPaths, main_class: str, *args: str
) -> list[str]:
    return [
        str(java),
        *jvm_heap_options,
        *jvm_options,
        f"-Dlog4j.configuration={paths.log4j_properties.as_uri()}",
        f"-Dkafka.logs.dir={paths.logs_dir}",
        "-cp",
        f"{libs_dir}/*",
        main_class,
        *args,
    ]


# ---------------------------------------------------------------- tools


def libs_dir() -> Path:
    return cache_root() / f"kafka-{kafka_version}" / "libs"


def libs_are_complete(directory: Path) -> bool:
    return (directory / f"kafka_2.13-{kafka_version}.jar").is_file() and (
        directory / "reload4j-1.2.25.jar"
    ).is_file()


def find_java() -> Path:
    """The JVM to run: $JAVA_HOME/bin/java, else java on PATH; Kafka 3.9 needs Java 11+."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is None or not candidate.is_file():
        found = shutil.which("java")
        candidate = Path(found) if found else None
    if candidate is None:
        raise InfraError(
            "java not found: install a JDK 17 (apt-get install openjdk-17-jre-headless)"
        )
    return candidate


def java_major_version(version_output: str) -> int | None:
    """From `java -version` output: 'version "17.0.15"' → 17, 'version "1.8.0_392"' → 8."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def check_java(java: Path) -> None:
    completed = subprocess.run(
        [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    major = java_major_version(completed.stderr + completed.stdout)
    if major is None or major < java_version_min:
        raise InfraError(
            f"{java} is Java {major or 'unknown'}: Kafka {kafka_version} needs Java"
            f" {java_version_min}+ (apt-get install openjdk-17-jre-headless)"
        )


def ensure_libs() -> Path:
    """The broker's jars, fetched with Maven on first use and cached for every later start."""
    target = libs_dir()
    if libs_are_complete(target):
        return target
    with file_lock(target.parent / "fetch.lock", "fetching the Kafka jars"):
        if libs_are_complete(target):
            return target
        partial = target.with_name(f"libs.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        maven_copy_dependencies(
            pom_path, partial, f"Kafka {kafka_version}'s jars", jar_fetch_timeout_s
        )
        if not libs_are_complete(partial):
            raise InfraError(f"Maven finished but {partial} lacks the Kafka jars: see ~/.m2")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)  # atomic: a reader sees no libs or all of them
    return target


# ---------------------------------------------------------------- state


def chosen_ports(paths: BrokerPaths) -> BrokerPorts | None:
    state = read_state(paths.state_file)
    broker, controller = state.get("broker_port"), state.get("controller_port")
    if isinstance(broker, int) and isinstance(controller, int):
        return BrokerPorts(broker, controller)
    return None


def broker_pid(paths: BrokerPaths) -> int | None:
    """The pid of this home's broker when it runs (checked against its command line)."""
    try:
        pid = int(paths.pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    if not process_is_alive(pid):
        return None
    command_line = process_command_line(pid)
    if broker_main_class in command_line and str(paths.server_properties) in command_line:
        return pid
    return None  # the pid was reused by another process


def broker_bootstrap(home: Path) -> str | None:
    """The bootstrap address of this home's broker when its process runs, else None."""
    paths = BrokerPaths.of(home)
    ports = chosen_ports(paths)
    if ports is None or broker_pid(paths) is None:
        return None
    return ports.bootstrap


def broker_logins(home: Path) -> BrokerLogins:
    """The SCRAM users' logins (passwords made on first use)."""
    return BrokerLogins(
        admin=Login(admin_principal, ensure_password(home, kafka_admin_secret)),
        ingest=Login(ingest_principal, ensure_password(home, kafka_ingest_secret)),
        worker=Login(worker_principal, ensure_password(home, kafka_worker_secret)),
    )


def is_secured(paths: BrokerPaths) -> bool:
    return read_state(paths.state_file).get("security") == secured_state_value


def mark_secured(paths: BrokerPaths) -> None:
    state = read_state(paths.state_file)
    state["security"] = secured_state_value
    write_state(paths.state_file, state)


def secured_logins(home: Path) -> BrokerLogins | None:
    """This home's broker logins when its broker is locked; None for an unlocked one."""
    return broker_logins(home) if is_secured(BrokerPaths.of(home)) else None


async def metadata_answers(bootstrap: str, login: Login | None = None) -> bool:
    """One real metadata request: the broker is up only when a client gets an answer."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=metadata_request_timeout_ms,
        **client_security_options(login),
    )
    try:
        await admin.start()
        await admin.describe_cluster()
        return True
    except Exception:  # any failure means "not yet": the caller's deadline bounds the wait
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def broker_answers(bootstrap: str, login: Login | None = None) -> bool:
    host, _, port = bootstrap.rpartition(":")
    if not port_is_open(host, int(port)):
        return False
    return await metadata_answers(bootstrap, login)


# ---------------------------------------------------------------- start and stop


def choose_ports(paths: BrokerPaths) -> BrokerPorts:
    """The ports kept in the state file; new free ones on first start or when one was taken."""
    kept = chosen_ports(paths)
    if kept is not None and port_is_free(kept.broker) and port_is_free(kept.controller):
        return kept
    broker = free_port()
    controller = free_port()
    while controller == broker:
        controller = free_port()
    ports = BrokerPorts(broker, controller)
    state = read_state(paths.state_file)
    state.update(broker_port=ports.broker, controller_port=ports.controller)
    write_state(paths.state_file, state)
    return ports


def new_cluster_id() -> str:
    """A KRaft cluster id: a base64url-encoded random 16-byte UUID, 22 characters.

    Like Kafka's own Uuid.randomUuid, never one starting with '-': the storage tool's argument
    parser would read it as an option (one id in 64 did, and failed CI).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if is_usable_cluster_id(cluster_id):
            return cluster_id


def is_usable_cluster_id(cluster_id: str) -> bool:
    return len(cluster_id) == 22 and not cluster_id.startswith("-")


def is_formatted(paths: BrokerPaths) -> bool:
    return (paths.data_dir / "meta.properties").is_file()


def format_storage(java: Path, libs: Path, paths: BrokerPaths, logins: BrokerLogins) -> None:
    """Format the KRaft log dir once (meta.properties marks a formatted one), with the users.

    (The passwords are on the storage tool's command line for its few seconds: only root and
    this user can read another process's arguments on a default Linux.)
    """
    if is_formatted(paths):
        return
    state = read_state(paths.state_file)
    cluster_id = state.get("cluster_id")
    if not isinstance(cluster_id, str) or not is_usable_cluster_id(cluster_id):
        cluster_id = new_cluster_id()
        state["cluster_id"] = cluster_id
        write_state(paths.state_file, state)
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    run_command(
        java_command(
            java,
            libs,
            paths,
            storage_tool_main_class,
            "format",
            "-t",
            cluster_id,
            "-c",
            str(paths.server_properties),
            *[
                argument
                for login in logins.all
                for argument in ("--add-scram", scram_argument(login))
            ],
        ),
        "formatting the Kafka storage",
        storage_format_timeout_s,
    )
    mark_secured(paths)


def launch_broker(home: Path, *, secure_running: bool = False) -> str:
    """Start this home's broker unless it runs; returns its bootstrap address at once.

    The caller then waits with `wait_for_broker` (so PostgreSQL can start meanwhile).
    A broker made before SASL is upgraded when this call starts it; one that runs unlocked
    is restarted locked only with `secure_running` (`ledger infra up`), never as a side
    effect of another command. Callers hold the services lock.
    """
    paths = BrokerPaths.of(home)
    ports = chosen_ports(paths)
    if ports is not None and broker_pid(paths) is not None:
        if is_secured(paths):
            return ports.bootstrap
        if not secure_running:
            log.warning(
                "the Kafka broker under %s takes any client (made before SASL):"
                " run `ledger infra up` to lock it",
                paths.root,
            )
            return ports.bootstrap
        stop_broker(home)
    java = find_java()
    check_java(java)
    libs = ensure_libs()
    for directory in (paths.config_dir, paths.data_dir, paths.logs_dir):
        directory.mkdir(parents=True, exist_ok=True)
    ports = choose_ports(paths)
    logins = broker_logins(home)
    write_text_atomic(paths.log4j_properties, render_log4j_properties(paths.logs_dir))
    if is_formatted(paths) and not is_secured(paths):
        secure_broker(home, java, libs, paths, ports, logins)
    write_secret_file(
        paths.server_properties, render_server_properties(ports, paths.data_dir, logins.admin)
    )
    format_storage(java, libs, paths, logins)
    pid = spawn_detached(
        java_command(java, libs, paths, broker_main_class, str(paths.server_properties)),
        paths.console_log,
        cwd=paths.root,
    )
    write_text_atomic(paths.pid_file, f"{pid}\n")
    return ports.bootstrap


def secure_broker(
    home: Path, java: Path, libs: Path, paths: BrokerPaths, ports: BrokerPorts, logins: BrokerLogins
) -> None:
    """Give a broker formatted before SASL its SCRAM users, keeping every topic.

    The users of a KRaft cluster live in its metadata log, which only a running broker
    writes: start it once more as it was (PLAINTEXT), add them with Kafka's own config tool,
    stop it. The caller then starts it locked.
    """
    log.warning("locking the Kafka broker under %s: adding its SCRAM users", paths.root)
    write_text_atomic(paths.server_properties, render_server_properties(ports, paths.data_dir))
    pid = spawn_detached(
        java_command(java, libs, paths, broker_main_class, str(paths.server_properties)),
        paths.console_log,
        cwd=paths.root,
    )
    write_text_atomic(paths.pid_file, f"{pid}\n")
    wait_for_broker(home)
    try:
        for login in logins.all:
            run_command(
                java_command(
                    java,
                    libs,
                    paths,
                    config_tool_main_class,
                    "--bootstrap-server",
                    ports.bootstrap,
                    "--alter",
                    "--add-config",
                    f"{sasl_mechanism}=[iterations={scram_iterations},password={login.password}]",
                    "--entity-type",
                    "users",
                    "--entity-name",
                    login.username,
                ),
                f"adding the Kafka user {login.username}",
                config_tool_timeout_s,
            )
    finally:
        stop_broker(home)
    mark_secured(paths)


def wait_for_broker(home: Path, timeout_s: float = broker_start_timeout_s) -> str:
    """Block until the broker answers a metadata request; InfraError after timeout_s.

    A locked broker is asked as its admin; one not yet locked without SASL.
    """
    paths = BrokerPaths.of(home)
    ports = chosen_ports(paths)
    if ports is None:
        raise InfraError(f"no Kafka broker was started under {home}")
    login = broker_logins(home).admin if is_secured(paths) else None

    def gave_up() -> str | None:
        if broker_pid(paths) is not None:
            return None
        reason = last_error_line(paths)
        return f"the Kafka broker exited while starting: {reason} (see {paths.logs_dir})"

    run_blocking(
        wait_until_ready(
            lambda: broker_answers(ports.bootstrap, login),
            f"the Kafka broker at {ports.bootstrap} (see {paths.logs_dir})",
            timeout_s,
            gave_up,
        )
    )
    return ports.bootstrap


def last_error_line(paths: BrokerPaths) -> str:
    for log in (paths.console_log, paths.server_log):
        lines = tail(log, 200).splitlines()
        errors = [line for line in lines if "ERROR" in line or "Exception" in line]
        if errors:
            return errors[-1].strip()[:300]
    return "no error logged"


def start_broker(home: Path) -> str:
    """Launch and wait: the bootstrap address of a broker that answers."""
    launch_broker(home)
    return wait_for_broker(home)


def stop_broker(home: Path) -> int | None:
    """SIGTERM (controlled shutdown), SIGKILL after broker_stop_timeout_s; the pid it stopped."""
    paths = BrokerPaths.of(home)
    pid = broker_pid(paths)
    if pid is None:
        paths.pid_file.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    if not wait_for_exit(pid, broker_stop_timeout_s):
        os.kill(pid, signal.SIGKILL)
        if not wait_for_exit(pid, broker_kill_timeout_s):
            raise InfraError(f"the Kafka broker (pid {pid}) survived SIGKILL")
    paths.pid_file.unlink(missing_ok=True)
    return pid


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        reap(pid)
        if not process_is_alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
