"""A private PostgreSQL cluster from Debian's packages, installed with apt-get on first use.

Layout under `<home>/postgres/`: `data/` (the cluster; `ledger.conf` in it is rewritten on every
start), `logs/postgres.log`, `run/` (the unix socket), `state.json` (the port, chosen once and
kept). PostgreSQL refuses to run as root: when we are root, the cluster belongs to the `postgres`
system user (created by Debian's package) and every server command runs through `runuser`; the
folders it needs are chowned to it, and any parent folder it could not pass through gets o+x
(traverse only, never read). Any other user runs the cluster as itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import re
import shlex
import shutil
import signal
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from infra.apt import apt_install
from infra.common import (
    InfraError,
    free_port,
    poll_interval_s,
    port_is_free,
    process_command_line,
    process_exists,
    process_is_alive,
    read_state,
    reap,
    run_blocking,
    run_command,
    tail,
    wait_until_ready,
    write_state,
)

log = logging.getLogger(__name__)

debian_postgres_root = Path("/usr/lib/postgresql")
cluster_owner_name = "postgres"
superuser_name = "postgres"
maintenance_database = "postgres"
postgres_start_timeout_s = 60
postgres_stop_timeout_s = 60
dead_postmaster_wait_s = 60  # a crashed postmaster's zombie, until init reaps it
connect_timeout_s = 5
initdb_timeout_s = 300
unix_socket_path_bytes_max = 107  # sun_path is 108 bytes with the terminating NUL
max_connections = 200


@dataclass(frozen=True)
class ClusterPaths:
    root: Path

    @classmethod
    def of(cls, home: Path) -> ClusterPaths:
        return cls(home.resolve() / "postgres")

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "postgres.log"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def local_socket_dir(self) -> Path:
        return self.root / "run"


@dataclass(frozen=True)
class ClusterOwner:
    """The system user that owns and runs the cluster when we are root."""

    name: str
    uid: int
    gid: int


# ---------------------------------------------------------------- rendering (pure)


def quote_setting(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def server_settings(port: int, socket_dir: Path) -> dict[str, str]:
    """postgresql.conf settings for loopback only, on a 2-core machine, durable (fsync on)."""
    return {
        "listen_addresses": quote_setting("127.0.0.1"),
        "port": str(port),
        "unix_socket_directories": quote_setting(str(socket_dir)),
        "max_connections": str(max_connections),
        "superuser_reserved_connections": "3",
        "shared_buffers": quote_setting("256MB"),
        "effective_cache_size": quote_setting("2GB"),
        "work_mem": quote_setting("8MB"),
        "maintenance_work_mem": quote_setting("128MB"),
        "wal_buffers": quote_setting("16MB"),
        "min_wal_size": quote_setting("256MB"),
        "max_wal_size": quote_setting("2GB"),
        "checkpoint_completion_target": "0.9",
        # A ledger: durability first.
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "random_page_cost": "1.1",
        "max_worker_processes": "4",
        "max_parallel_workers": "2",
        "max_parallel_workers_per_gather": "1",
        "max_parallel_maintenance_workers": "1",
        "timezone": quote_setting("UTC"),
        "log_timezone": quote_setting("UTC"),
        "lc_messages": quote_setting("C"),
        "logging_collector": "off",
        "log_min_messages": "warning",
        "log_line_prefix": quote_setting("%m [%p] %q%u@%d "),
    }


def render_server_settings(port: int, socket_dir: Path) -> str:
    lines = [
        "# Included from postgresql.conf. Written by infra/postgres.py on every start:",
        "# edits are overwritten.",
    ]
    lines += [f"{key} = {value}" for key, value in server_settings(port, socket_dir).items()]
    return "\n".join(lines) + "\n"


def render_hba() -> str:
    """Trust on loopback and the private socket only; nothing else may connect."""
    return (
        "# Written by infra/postgres.py. Loopback and the private unix socket only.\n"
        "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
        "local   all       all                 trust\n"
        "host    all       all   127.0.0.1/32  trust\n"
    )


def server_url(port: int) -> str:
    return f"postgresql+asyncpg://{superuser_name}@127.0.0.1:{port}/{maintenance_database}"


# ---------------------------------------------------------------- binaries


def version_key(name: str) -> tuple[int, ...] | None:
    if not re.fullmatch(r"\d+(\.\d+)*", name):
        return None
    return tuple(int(part) for part in name.split("."))


def find_bin_dir(root: Path = debian_postgres_root, version: str | None = None) -> Path | None:
    """Debian's /usr/lib/postgresql/<version>/bin: the given version, else the highest."""
    candidates: list[tuple[tuple[int, ...], Path]] = []
    for bin_dir in root.glob("*/bin"):
        key = version_key(bin_dir.parent.name)
        if key is None or (version is not None and bin_dir.parent.name != version):
            continue
        if all((bin_dir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            candidates.append((key, bin_dir))
    return max(candidates)[1] if candidates else None


def install_postgres() -> Path:
    """apt-get install postgresql (we are root on Debian); the bin dir it brought."""
    apt_install(["postgresql"], "PostgreSQL", "or set LEDGER_DATABASE_URL")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise InfraError(f"apt-get installed postgresql but {debian_postgres_root} has no initdb")
    return bin_dir


def cluster_bin_dir(paths: ClusterPaths) -> Path:
    """The binaries for this cluster: its own major version once it exists, else the highest."""
    version_file = paths.data_dir / "PG_VERSION"
    if version_file.is_file():
        version = version_file.read_text(encoding="utf-8").strip()
        bin_dir = find_bin_dir(version=version)
        if bin_dir is None:
            raise InfraError(
                f"the cluster in {paths.data_dir} was made by PostgreSQL {version}, which is not"
                f" installed: apt-get install postgresql-{version}"
            )
        return bin_dir
    return find_bin_dir() or install_postgres()


# ---------------------------------------------------------------- ownership


def cluster_owner() -> ClusterOwner | None:
    """The postgres system user when we are root (PostgreSQL refuses root), else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(cluster_owner_name)
    except KeyError as error:
        raise InfraError(
            f"the {cluster_owner_name!r} system user does not exist: reinstall PostgreSQL"
            " (apt-get install --reinstall postgresql-common)"
        ) from error
    return ClusterOwner(entry.pw_name, entry.pw_uid, entry.pw_gid)


def as_owner(owner: ClusterOwner | None, argv: list[str]) -> list[str]:
    if owner is None:
        return argv
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", owner.name, "--", *argv]
    return ["su", owner.name, "-s", "/bin/sh", "-c", shlex.join(argv)]


def give_to(owner: ClusterOwner | None, path: Path) -> None:
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)


def make_traversable(directory: Path, owner: ClusterOwner) -> list[Path]:
    """Add o+x (pass through, not list) to every parent the owner could not pass; the changed."""
    changed: list[Path] = []
    for folder in [directory, *directory.parents]:
        mode = folder.stat().st_mode
        if folder.stat().st_uid == owner.uid or mode & stat.S_IXOTH:
            continue
        os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
        changed.append(folder)
    if changed:
        log.info("made passable for %s (o+x): %s", owner.name, ", ".join(map(str, changed)))
    return changed


def socket_dir_for(paths: ClusterPaths, port: int) -> Path:
    """The private socket folder, or a short one in /tmp when the path is too long for a socket."""
    local = paths.local_socket_dir
    if len(str(local / f".s.PGSQL.{port}").encode()) <= unix_socket_path_bytes_max:
        return local
    digest = hashlib.sha256(str(paths.root).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"ledger-pg-{digest}"


# ---------------------------------------------------------------- state


def kept_port(paths: ClusterPaths) -> int | None:
    port = read_state(paths.state_file).get("port")
    return port if isinstance(port, int) else None


def recorded_postmaster_pid(paths: ClusterPaths) -> int | None:
    """The pid in postmaster.pid, alive or not."""
    try:
        first_line = (paths.data_dir / "postmaster.pid").read_text(encoding="utf-8").split("\n")[0]
        return int(first_line.strip())
    except (OSError, ValueError, IndexError):
        return None


def postmaster_pid(paths: ClusterPaths) -> int | None:
    """The running postmaster of this cluster (from postmaster.pid, checked against /proc)."""
    pid = recorded_postmaster_pid(paths)
    if pid is None or not process_is_alive(pid):
        return None
    command_line = process_command_line(pid)
    if command_line and str(paths.data_dir) not in command_line:
        return None  # a stale pid file and a reused pid
    return pid


def running_port(home: Path) -> int | None:
    """The port of this home's server when its postmaster runs, else None."""
    paths = ClusterPaths.of(home)
    port = kept_port(paths)
    if port is None or postmaster_pid(paths) is None:
        return None
    return port


def wait_for_dead_postmaster(paths: ClusterPaths) -> None:
    """After a crash, wait (bounded) until the dead postmaster is reaped.

    PostgreSQL refuses to start while the pid in postmaster.pid exists, and a zombie still
    exists. We never delete postmaster.pid ourselves: it guards the data against a second
    server while orphaned backends may still be attached.
    """
    pid = recorded_postmaster_pid(paths)
    if pid is None:
        return
    deadline = time.monotonic() + dead_postmaster_wait_s
    while process_exists(pid) and not process_is_alive(pid) and time.monotonic() < deadline:
        time.sleep(poll_interval_s)


def choose_port(paths: ClusterPaths) -> int:
    port = kept_port(paths)
    if port is not None and port_is_free(port):
        return port
    port = free_port()
    state = read_state(paths.state_file)
    state["port"] = port
    write_state(paths.state_file, state)
    return port


async def server_answers(port: int) -> bool:
    try:
        connection = await asyncpg.connect(
            host="127.0.0.1",
            port=port,
            user=superuser_name,
            database=maintenance_database,
            timeout=connect_timeout_s,
        )
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    try:
        return bool(await connection.fetchval("SELECT 1") == 1)
    finally:
        await connection.close()


# ---------------------------------------------------------------- cluster


def write_owned(path: Path, text: str, owner: ClusterOwner | None) -> None:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)
    give_to(owner, path)


def init_cluster(paths: ClusterPaths, bin_dir: Path, owner: ClusterOwner | None) -> None:
    """initdb into a side folder, configure it, then rename: a half-made cluster never counts."""
    partial = paths.root / "data.initdb"
    shutil.rmtree(partial, ignore_errors=True)
    log.info("creating the PostgreSQL cluster in %s", paths.data_dir)
    run_command(
        as_owner(
            owner,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(partial),
                "-U",
                superuser_name,
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=trust",
                "--data-checksums",
            ],
        ),
        "initdb",
        initdb_timeout_s,
        env={**os.environ, "LC_ALL": "C"},
        cwd=paths.root,
    )
    with (partial / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# infra/postgres.py: our settings, rewritten on every start\n")
        conf.write("include = 'ledger.conf'\n")
    write_owned(partial / "pg_hba.conf", render_hba(), owner)
    os.replace(partial, paths.data_dir)


def prepare_directories(paths: ClusterPaths, owner: ClusterOwner | None, port: int) -> Path:
    socket_dir = socket_dir_for(paths, port)
    for folder in (paths.root, paths.logs_dir, socket_dir):
        folder.mkdir(parents=True, exist_ok=True)
        give_to(owner, folder)
    if owner is not None:
        make_traversable(paths.root.parent, owner)
    return socket_dir


def start_postgres(home: Path) -> str:
    """Start this home's cluster unless it runs (creating it first); the maintenance db URL.

    Callers hold the services lock.
    """
    paths = ClusterPaths.of(home)
    port = running_port(home)
    if port is None:
        bin_dir = cluster_bin_dir(paths)
        owner = cluster_owner()
        paths.root.mkdir(parents=True, exist_ok=True)
        port = choose_port(paths)
        socket_dir = prepare_directories(paths, owner, port)
        if not (paths.data_dir / "PG_VERSION").is_file():
            init_cluster(paths, bin_dir, owner)
        write_owned(paths.data_dir / "ledger.conf", render_server_settings(port, socket_dir), owner)
        wait_for_dead_postmaster(paths)
        log.info("starting PostgreSQL on 127.0.0.1:%d", port)
        pg_ctl(
            paths,
            bin_dir,
            owner,
            ["-l", str(paths.log_file), "start"],
            f"starting PostgreSQL (see {paths.log_file})",
            postgres_start_timeout_s,
        )
    wait_for_postgres(paths, port)
    return server_url(port)


def pg_ctl(
    paths: ClusterPaths,
    bin_dir: Path,
    owner: ClusterOwner | None,
    arguments: list[str],
    what: str,
    timeout_s: int,
) -> None:
    """pg_ctl on this cluster as its owner, waiting (-w) at most `timeout_s` for the result."""
    argv = [str(bin_dir / "pg_ctl"), "-D", str(paths.data_dir), "-w", "-t", str(timeout_s)]
    run_command(as_owner(owner, argv + arguments), what, timeout_s + 10, cwd=paths.root)


def wait_for_postgres(paths: ClusterPaths, port: int) -> None:
    def gave_up() -> str | None:
        if postmaster_pid(paths) is not None:
            return None
        lines = [line for line in tail(paths.log_file).splitlines() if "FATAL" in line]
        reason = lines[-1].strip() if lines else "no FATAL line logged"
        return f"PostgreSQL exited while starting: {reason} (see {paths.log_file})"

    run_blocking(
        wait_until_ready(
            lambda: server_answers(port),
            f"PostgreSQL on 127.0.0.1:{port} (see {paths.log_file})",
            postgres_start_timeout_s,
            gave_up,
        )
    )


def stop_postgres(home: Path) -> int | None:
    """pg_ctl stop -m fast; the postmaster pid it stopped.

    When pg_ctl cannot do it (e.g. another program took away the owner's access to a parent
    folder), the same shutdown requests go straight to the postmaster as signals: SIGINT is
    a fast shutdown, SIGQUIT an immediate one (crash recovery on the next start, no data lost).
    """
    paths = ClusterPaths.of(home)
    pid = postmaster_pid(paths)
    if pid is None:
        return None
    bin_dir = cluster_bin_dir(paths)
    owner = cluster_owner()
    if owner is not None:
        make_traversable(paths.root.parent, owner)
    try:
        pg_ctl(
            paths,
            bin_dir,
            owner,
            ["-m", "fast", "stop"],
            "stopping PostgreSQL",
            postgres_stop_timeout_s,
        )
    except InfraError as error:
        log.warning("%s; signalling the postmaster (pid %d) instead", error, pid)
    for shutdown_signal in (signal.SIGINT, signal.SIGQUIT):
        if postmaster_is_gone(pid):
            return pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, shutdown_signal)
        deadline = time.monotonic() + postgres_stop_timeout_s
        while not postmaster_is_gone(pid) and time.monotonic() < deadline:
            time.sleep(poll_interval_s)
    if not postmaster_is_gone(pid):
        raise InfraError(f"PostgreSQL (pid {pid}) did not stop: see {paths.log_file}")
    return pid


def postmaster_is_gone(pid: int) -> bool:
    reap(pid)
    return not process_is_alive(pid)
