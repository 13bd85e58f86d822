"""infra/'s pure parts: rendering, URL handling, names, locks, waiting. No services needed."""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from infra import kafka, postgres
from infra.common import (
    InfraError,
    file_lock,
    read_state,
    run_blocking,
    wait_until_ready,
    write_state,
)
from infra.credentials import Login
from infra.services import (
    Endpoints,
    ensure_services,
    normalise_database_url,
    services_status,
)
from ledger.domain.workspaces import Topics, topic_names, workspace_database_name
from ledger.store.databases import database_url_for, workspace_database_url

REPO_ROOT = Path(__file__).resolve().parents[1]


def parse_properties(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


def test_server_properties_single_node_kraft_on_loopback() -> None:
    ports = kafka.BrokerPorts(broker=19092, controller=19093)
    settings = parse_properties(kafka.render_server_properties(ports, Path("/srv/ledger/data")))
    assert settings["process.roles"] == "broker,controller"
    assert settings["node.id"] == "1"
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert settings["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert settings["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert settings["controller.listener.names"] == "CONTROLLER"
    assert settings["log.dirs"] == "/srv/ledger/data"
    assert settings["group.initial.rebalance.delay.ms"] == "0"
    assert settings["offsets.topic.num.partitions"] == "1"
    assert settings["offsets.topic.replication.factor"] == "1"
    assert settings["transaction.state.log.replication.factor"] == "1"
    assert settings["transaction.state.log.min.isr"] == "1"
    assert settings["message.max.bytes"] == str(8 * 1024 * 1024)
    assert settings["auto.create.topics.enable"] == "true"
    assert ports.bootstrap == "127.0.0.1:19092"


def test_properties_values_are_escaped_for_iso_8859_1() -> None:
    """java.util.Properties reads Latin-1: a Norwegian path must survive as \\u escapes."""
    assert kafka.properties_escape("/home/bjørn/æ") == "/home/bj\\u00f8rn/\\u00e6"
    assert kafka.properties_escape("C:\\data") == "C:\\\\data"
    text = kafka.render_server_properties(kafka.BrokerPorts(1, 2), Path("/tmp/Bærum"))
    assert text.isascii()
    assert "log.dirs=/tmp/B\\u00e6rum" in text


def test_log4j_properties_write_under_the_logs_dir() -> None:
    settings = parse_properties(kafka.render_log4j_properties(Path("/x/kafka/logs")))
    assert settings["log4j.appender.file.File"] == "/x/kafka/logs/server.log"
    assert settings["log4j.rootLogger"].startswith("INFO")


def test_java_command_uses_the_cached_libs_and_heap() -> None:
    paths = kafka.BrokerPaths(Path("/h/kafka"))
    argv = kafka.java_command(Path("/usr/bin/java"), Path("/c/libs"), paths, "kafka.Kafka", "a")
    assert argv[0] == "/usr/bin/java"
    assert "-Xms512m" in argv and "-Xmx1g" in argv
    assert "-Dlog4j.configuration=file:///h/kafka/config/log4j.properties" in argv
    assert argv[argv.index("-cp") + 1] == "/c/libs/*"
    assert argv[-2:] == ["kafka.Kafka", "a"]


def test_cluster_ids_never_start_with_a_dash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The storage tool reads '-t -xyz' as a missing value; one random id in 64 began with '-'.

    A saved id of that kind (from a home formatted before the fix) is replaced too.
    """
    dash_first = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))  # base64url 0b111110... is '-'
    plain = uuid.UUID(bytes=bytes([0x10]) + bytes(15))
    draws = iter([dash_first, dash_first, plain])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))
    assert base64.urlsafe_b64encode(dash_first.bytes).decode().startswith("-")

    paths = kafka.BrokerPaths(tmp_path / "kafka")
    write_state(paths.state_file, {"cluster_id": "-" + "A" * 21})
    calls: list[list[str]] = []
    monkeypatch.setattr(kafka, "run_command", lambda argv, *rest, **kw: calls.append(list(argv)))

    logins = kafka.BrokerLogins(*(Login(name, "p" * 20) for name in ("a", "i", "w")))
    kafka.format_storage(Path("/usr/bin/java"), tmp_path / "libs", paths, logins)

    (argv,) = calls
    cluster_id = argv[argv.index("-t") + 1]
    assert cluster_id == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")
    assert read_state(paths.state_file)["cluster_id"] == cluster_id


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("garbage", None),
    ],
)
def test_java_major_version(output: str, major: int | None) -> None:
    assert kafka.java_major_version(output) == major


def test_libs_cache_is_outside_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LEDGER_CACHE", str(tmp_path))
    assert kafka.libs_dir() == tmp_path.resolve() / f"kafka-{kafka.kafka_version}" / "libs"
    monkeypatch.delenv("LEDGER_CACHE")
    assert REPO_ROOT not in kafka.libs_dir().parents


def test_pom_declares_kafka_and_a_logging_backend() -> None:
    pom = kafka.pom_path.read_text(encoding="utf-8")
    assert "<packaging>pom</packaging>" in pom
    assert f"<kafka.version>{kafka.kafka_version}</kafka.version>" in pom
    for artifact in ("kafka_2.13", "slf4j-reload4j", "reload4j"):
        assert f"<artifactId>{artifact}</artifactId>" in pom


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@db:5433/x", "postgresql+asyncpg://u@db:5433/x"),
        ("postgres://u:secret@db/x", "postgresql+asyncpg://u:secret@db/x"),
        ("postgresql+psycopg2://u@db/x", "postgresql+asyncpg://u@db/x"),
        ("postgresql+asyncpg://u@db/x", "postgresql+asyncpg://u@db/x"),
        ("postgresql://u@db:5433", "postgresql+asyncpg://u@db:5433/postgres"),
        ("  postgresql://u@db/x\n", "postgresql+asyncpg://u@db/x"),
    ],
)
def test_database_url_is_normalised_to_asyncpg(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize("given", ["mysql://u@db/x", "not a url", "sqlite:///x.db"])
def test_database_url_must_be_postgresql(given: str) -> None:
    with pytest.raises(InfraError, match="LEDGER_DATABASE_URL"):
        normalise_database_url(given)


def test_workspace_names() -> None:
    assert topic_names("default") == Topics(
        raw="ledger.default.usage-events", rejected="ledger.default.rejected-events"
    )
    assert topic_names("a_1").names == ("ledger.a_1.usage-events", "ledger.a_1.rejected-events")
    assert workspace_database_name("oslo_2026") == "ledger_oslo_2026"
    endpoints = Endpoints(
        "127.0.0.1:9092", "postgresql+asyncpg://postgres@127.0.0.1:5/postgres", True
    )
    assert (
        workspace_database_url(endpoints.database_url, "oslo")
        == "postgresql+asyncpg://postgres@127.0.0.1:5/ledger_oslo"
    )
    assert database_url_for("postgresql+asyncpg://u:p@h:1/postgres", "d") == (
        "postgresql+asyncpg://u:p@h:1/d"
    )


@pytest.mark.parametrize("bad", ["", "Default", "1st", "a-b", 'x"; DROP', "bærum", "a" * 41])
def test_unsafe_workspace_names_never_reach_sql_or_topics(bad: str) -> None:
    with pytest.raises(ValueError):
        topic_names(bad)
    with pytest.raises(ValueError):
        workspace_database_name(bad)


def test_workspace_pattern_is_the_clis() -> None:
    from ledger.cli.app import WORKSPACE_NAME_PATTERN
    from ledger.domain.workspaces import workspace_name_pattern

    assert workspace_name_pattern.pattern == WORKSPACE_NAME_PATTERN.pattern


def test_endpoints_are_frozen() -> None:
    endpoints = Endpoints("b", "u", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        endpoints.managed = False  # type: ignore[misc]


def test_external_services_are_used_and_nothing_is_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LEDGER_KAFKA_BOOTSTRAP", "broker.example:9092")
    monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://ledger@db.example:5432/ledger")
    home = tmp_path / "home"
    endpoints = ensure_services(home)
    assert endpoints == Endpoints(
        "broker.example:9092", "postgresql+asyncpg://ledger@db.example:5432/ledger", False
    )
    assert not home.exists()
    status = services_status(home)
    assert not status.kafka.managed and not status.postgres.managed
    assert status.kafka.address == "broker.example:9092"


def test_status_of_a_home_that_never_ran(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LEDGER_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    status = services_status(tmp_path)
    assert not status.kafka.running and not status.postgres.running
    assert status.kafka.managed and status.postgres.managed
    assert not status.all_running


def test_postgres_settings_loopback_durable_sized_for_two_cores(tmp_path: Path) -> None:
    text = postgres.render_server_settings(54321, tmp_path / "run")
    settings = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    assert settings["listen_addresses"] == "'127.0.0.1'"
    assert settings["port"] == "54321"
    assert settings["unix_socket_directories"] == f"'{tmp_path / 'run'}'"
    assert settings["fsync"] == "on"
    assert settings["synchronous_commit"] == "on"
    assert settings["max_connections"] == "200"
    assert settings["shared_buffers"] == "'256MB'"
    hba = [line.split() for line in postgres.render_hba().splitlines() if not line.startswith("#")]
    assert hba == [
        ["local", "all", "all", "scram-sha-256"],
        ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"],
    ]
    assert postgres.quote_setting("it's") == "'it''s'"


def test_highest_installed_postgres_is_chosen(tmp_path: Path) -> None:
    for version in ("9.6", "13", "15", "notaversion"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl", "postgres"):
            (bin_dir / tool).touch()
    (tmp_path / "16" / "bin").mkdir(parents=True)  # half-installed: no tools
    assert postgres.find_bin_dir(tmp_path) == tmp_path / "15" / "bin"
    assert postgres.find_bin_dir(tmp_path, version="13") == tmp_path / "13" / "bin"
    assert postgres.find_bin_dir(tmp_path, version="12") is None
    assert postgres.find_bin_dir(tmp_path / "missing") is None


def test_socket_dir_falls_back_when_the_path_is_too_long(tmp_path: Path) -> None:
    short = postgres.ClusterPaths(tmp_path / "postgres")
    assert postgres.socket_dir_for(short, 5432) == short.local_socket_dir
    deep = postgres.ClusterPaths(tmp_path / ("x" * 120) / "postgres")
    fallback = postgres.socket_dir_for(deep, 5432)
    assert fallback != deep.local_socket_dir
    assert len(str(fallback / ".s.PGSQL.65535")) <= postgres.unix_socket_path_bytes_max


def test_file_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    lock = tmp_path / "services.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a+');"
            " fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(InfraError, match="another process held"),
            file_lock(lock, "testing", timeout_s=0.3),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with file_lock(lock, "testing", timeout_s=5):
        pass


def test_waiting_is_bounded_and_stops_early_on_a_reason() -> None:
    async def never() -> bool:
        return False

    with pytest.raises(InfraError, match="not ready after"):
        run_blocking(wait_until_ready(never, "nothing", 0.3))
    with pytest.raises(InfraError, match="it crashed"):
        run_blocking(wait_until_ready(never, "nothing", 30, lambda: "it crashed"))


def test_infra_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LEDGER_HOME": str(tmp_path),
        "LEDGER_DATABASE_URL": "mysql://u@h/x",
    }
    env.pop("LEDGER_KAFKA_BOOTSTRAP", None)
    completed = subprocess.run(
        [sys.executable, "-c", "from ledger.cli import main; main()", "infra", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith("ledger: LEDGER_DATABASE_URL must be a PostgreSQL URL")


# ---------------------------------------------------------------- apt and Chromium


def test_apt_install_waits_for_the_lock_and_skips_recommends() -> None:
    from infra.apt import apt_install_command, apt_lock_timeout_s

    argv = apt_install_command(["chromium", "fonts-liberation"])
    assert argv[0] == "apt-get"
    assert f"DPkg::Lock::Timeout={apt_lock_timeout_s}" in argv
    assert argv[-4:] == ["-y", "--no-install-recommends", "chromium", "fonts-liberation"]
    with pytest.raises(InfraError):
        apt_install_command([])


def test_apt_install_says_what_to_run_when_not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra import apt

    monkeypatch.setattr(apt.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(apt.os, "geteuid", lambda: 1000)
    with pytest.raises(InfraError, match=r"sudo apt-get install -y chromium.*LEDGER_CHROMIUM"):
        apt.apt_install(["chromium"], "Chromium", "or set LEDGER_CHROMIUM")
    monkeypatch.setattr(apt.shutil, "which", lambda name: None)
    with pytest.raises(InfraError, match="apt-get is not available"):
        apt.apt_install(["chromium"], "Chromium", "or set LEDGER_CHROMIUM")


def test_chromium_is_found_by_setting_then_debian_path_then_path() -> None:
    from infra.chromium import debian_chromium_path, find_chromium

    everywhere = {Path("/opt/chrome/chrome"), debian_chromium_path, Path("/snap/bin/chromium")}

    def is_executable(path: Path) -> bool:
        return path in everywhere

    def which(name: str) -> str | None:
        return "/snap/bin/chromium" if name == "chromium" else None

    chosen = {"LEDGER_CHROMIUM": "/opt/chrome/chrome"}
    assert find_chromium(chosen, which, is_executable) == Path("/opt/chrome/chrome")
    assert find_chromium({}, which, is_executable) == debian_chromium_path
    everywhere.discard(debian_chromium_path)
    assert find_chromium({}, which, is_executable) == Path("/snap/bin/chromium")
    assert find_chromium({}, lambda name: None, is_executable) is None


def test_a_chromium_setting_that_names_nothing_is_an_error_not_a_fallback() -> None:
    from infra.chromium import find_chromium

    with pytest.raises(InfraError, match="LEDGER_CHROMIUM=/nowhere/chromium"):
        find_chromium(
            {"LEDGER_CHROMIUM": "/nowhere/chromium"}, lambda name: "/usr/bin/x", lambda path: False
        )


def test_chromium_flags_keep_it_headless_and_off_the_network() -> None:
    from infra.chromium import chromium_flags

    assert len(set(chromium_flags)) == len(chromium_flags)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        assert flag in chromium_flags


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("Chromium 156.0.8078.114 built on Debian GNU/Linux 12 (bookworm)", (156, 0, 8078, 114)),
        ("Google Chrome 131.0.6778.85 ", (131, 0, 6778, 85)),
        ("chromium: error while loading shared libraries", None),
    ],
)
def test_chromium_version_lines(text: str, version: tuple[int, ...] | None) -> None:
    from infra.chromium import parse_chromium_version

    assert parse_chromium_version(text) == version
