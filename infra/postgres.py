"""A private PostgreSQL cluster from Debian's packages, installed with apt-get on first use.

Layout under `<home>/postgres/`: `data/` (the cluster; `ledger.conf` in it is rewritten on every
start), `logs/postgres.log`, `run/` (the unix socket), `state.json` (the port, chosen once and
kept). PostgreSQL refuses to run as root: when we are root, the cluster belongs to the `postgres`
system user (created by Debian's package) and every server command runs through `runuser`; the
folders it needs are chowned to it, and any parent folder it could not pass through gets o+x
(traverse only, never read). Any other user runs the cluster as itself.

Locked by default: every connection, over loopback or the socket, authenticates with
scram-sha-256. Three roles, their passwords kept by infra/credentials.py: the superuser
(`postgres`, for infra/ alone), the owner (`ledger_owner`: creates the workspace databases and
runs the migrations, so it owns every ledger table) and the application (`ledger_app`, a member
of the NOLOGIN `ledger_writer` that may only SELECT and INSERT). A cluster made before this
(trust) is locked in place by `lock_cluster`: roles and passwords first, then pg_hba.conf.
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
from infra.credentials import (
    Login,
    ensure_password,
    postgres_app_secret,
    postgres_owner_secret,
    postgres_superuser_secret,
    secrets_folder,
    write_secret_file,
)

log = logging.getLogger(__name__)

debian_postgres_root = Path("/usr/lib/postgresql")
cluster_owner_name = "postgres"
superuser_name = "postgres"
owner_role_name = "ledger_owner"
app_role_name = "ledger_app"
# The NOLOGIN role the application's sessions run as (ledger/store/engine.py `writer_role`;
# infra imports nothing of the ledger, a test checks they agree).
writer_role_name = "ledger_writer"
authentication_method = "scram-sha-256"
locked_state_value = "scram-sha-256 roles v1"  # state.json "auth": this cluster is locked
roles_version = 2  # state.json "roles": bumped when role_statements change (re-run once)
maintenance_database = "postgres"
system_databases = ("postgres", "template0", "template1")
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

    @property
    def hba_file(self) -> Path:
        return self.data_dir / "pg_hba.conf"


@dataclass(frozen=True)
class ClusterAccess:
    """How the ledger reaches a running cluster (SQLAlchemy asyncpg URLs, passwords included).

    owner_url: the maintenance database as the owner role (CREATE DATABASE, migrations);
    app_url: the same database as the application role. locked: False only for a cluster
    made before passwords that nobody asked to lock yet (both URLs are then the superuser's).
    """

    owner_url: str
    app_url: str
    locked: bool


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
        "password_encryption": quote_setting(authentication_method),
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
    """Loopback and the private socket only, and a password (scram-sha-256) on both."""
    return (
        "# Written by infra/postgres.py. Loopback and the private unix socket only, and every\n"
        "# connection proves its password (scram-sha-256): nobody is trusted.\n"
        "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
        f"local   all       all                 {authentication_method}\n"
        f"host    all       all   127.0.0.1/32  {authentication_method}\n"
    )


def server_url(port: int, login: Login | None = None) -> str:
    """The maintenance database as `login` (the superuser without a password when None)."""
    if login is None:
        return f"postgresql+asyncpg://{superuser_name}@127.0.0.1:{port}/{maintenance_database}"
    return (
        f"postgresql+asyncpg://{login.username}:{login.password}@127.0.0.1:{port}"
        f"/{maintenance_database}"
    )


def render_passfile(port: int, logins: list[Login]) -> str:
    """A PGPASSFILE for psql and friends (`PGPASSFILE=<home>/secrets/pgpass psql …`)."""
    lines = [f"127.0.0.1:{port}:*:{login.username}:{login.password}" for login in logins]
    return "\n".join(lines) + "\n"


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


def superuser_login(home: Path) -> Login:
    return Login(superuser_name, ensure_password(home, postgres_superuser_secret))


def owner_login(home: Path) -> Login:
    return Login(owner_role_name, ensure_password(home, postgres_owner_secret))


def app_login(home: Path) -> Login:
    return Login(app_role_name, ensure_password(home, postgres_app_secret))


def is_locked(paths: ClusterPaths) -> bool:
    return read_state(paths.state_file).get("auth") == locked_state_value


async def server_answers(port: int, password: str | None = None) -> bool:
    try:
        connection = await asyncpg.connect(
            host="127.0.0.1",
            port=port,
            user=superuser_name,
            password=password,
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


def init_cluster(
    paths: ClusterPaths, bin_dir: Path, owner: ClusterOwner | None, superuser_password: str
) -> None:
    """initdb into a side folder, configure it, then rename: a half-made cluster never counts.

    The superuser gets its password from the start, so the cluster is never open to anyone.
    """
    partial = paths.root / "data.initdb"
    shutil.rmtree(partial, ignore_errors=True)
    password_file = paths.root / ".initdb-password"
    write_secret_file(password_file, superuser_password + "\n")
    give_to(owner, password_file)
    log.info("creating the PostgreSQL cluster in %s", paths.data_dir)
    try:
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
                    f"--pwfile={password_file}",
                    f"--auth-local={authentication_method}",
                    f"--auth-host={authentication_method}",
                    "--data-checksums",
                ],
            ),
            "initdb",
            initdb_timeout_s,
            env={**os.environ, "LC_ALL": "C"},
            cwd=paths.root,
        )
    finally:
        password_file.unlink(missing_ok=True)
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
    """Start this home's cluster unless it runs (creating it first); the owner's URL.

    Callers hold the services lock.
    """
    return start_cluster(home).owner_url


def start_cluster(home: Path, *, lock_running: bool = False) -> ClusterAccess:
    """Start this home's cluster unless it runs (creating it first, locked); how to reach it.

    A cluster made before passwords is locked whenever this call starts it. One that already
    runs unlocked is locked only with `lock_running` (`ledger infra up`): locking changes how
    every client connects, which a user asks for, not a side effect of any command.
    Callers hold the services lock.
    """
    paths = ClusterPaths.of(home)
    superuser = superuser_login(home)
    port = running_port(home)
    if port is None:
        bin_dir = cluster_bin_dir(paths)
        owner = cluster_owner()
        paths.root.mkdir(parents=True, exist_ok=True)
        port = choose_port(paths)
        socket_dir = prepare_directories(paths, owner, port)
        if not (paths.data_dir / "PG_VERSION").is_file():
            init_cluster(paths, bin_dir, owner, superuser.password)
        write_owned(paths.data_dir / "ledger.conf", render_server_settings(port, socket_dir), owner)
        if is_locked(paths):
            write_owned(paths.hba_file, render_hba(), owner)
        lock_running = True
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
    wait_for_postgres(paths, port, superuser.password)
    if not is_locked(paths):
        if not lock_running:
            log.warning(
                "PostgreSQL under %s trusts every local connection (made before passwords):"
                " run `ledger infra up` to lock it",
                paths.root,
            )
            return ClusterAccess(server_url(port), server_url(port), locked=False)
        lock_cluster(home, paths, port)
    elif read_state(paths.state_file).get("roles") != roles_version:
        run_blocking(update_roles(port, superuser, owner_login(home), app_login(home)))
        mark_locked(paths)
    write_secret_file(
        secrets_folder(home) / "pgpass", render_passfile(port, [owner_login(home), app_login(home)])
    )
    return ClusterAccess(
        server_url(port, owner_login(home)), server_url(port, app_login(home)), locked=True
    )


def mark_locked(paths: ClusterPaths) -> None:
    state = read_state(paths.state_file)
    state["auth"] = locked_state_value
    state["roles"] = roles_version
    write_state(paths.state_file, state)


def role_statements(owner: Login, app: Login) -> list[str]:
    """Create or update the owner and application roles; idempotent.

    The owner may create databases and nothing else beyond what it owns; the application role
    may log in and become `ledger_writer` (SELECT and INSERT only). The owner is a member too:
    the migrations grant to `ledger_writer` and tests run the application's engine on it.
    """
    statements = [
        f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{writer_role_name}') THEN
        CREATE ROLE {writer_role_name} NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{owner.username}') THEN
        CREATE ROLE {owner.username} LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{app.username}') THEN
        CREATE ROLE {app.username} LOGIN;
    END IF;
END
$$""",
        f"ALTER ROLE {owner.username} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION"
        f" NOBYPASSRLS PASSWORD {quote_setting(owner.password)}",
        f"ALTER ROLE {app.username} LOGIN NOCREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION"
        f" NOBYPASSRLS PASSWORD {quote_setting(app.password)}",
        f"GRANT {writer_role_name} TO {owner.username}",
        f"GRANT {writer_role_name} TO {app.username}",
        # DROP DATABASE … WITH (FORCE) ends the application's sessions on it first.
        f"GRANT pg_signal_backend TO {owner.username}",
    ]
    return statements


# Objects in a workspace database made by the superuser before roles existed: the owner role
# must own them to migrate them. (REASSIGN OWNED refuses the bootstrap superuser.)
reassign_ledger_objects = """
DO $$
DECLARE
    object record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'ledger') THEN
        RETURN;
    END IF;
    EXECUTE pg_catalog.format('ALTER SCHEMA ledger OWNER TO %I', '{owner}');
    FOR object IN
        SELECT c.oid::regclass AS name FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'ledger'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', object.name, '{owner}');
    END LOOP;
    FOR object IN
        SELECT c.oid::regclass AS name FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'ledger'::regnamespace AND c.relkind = 'S'
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE pg_catalog.format('ALTER SEQUENCE %s OWNER TO %I', object.name, '{owner}');
    END LOOP;
    FOR object IN
        SELECT p.oid::regprocedure AS name FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'ledger'::regnamespace
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s OWNER TO %I', object.name, '{owner}');
    END LOOP;
END
$$
"""


async def update_roles(port: int, superuser: Login, owner: Login, app: Login) -> None:
    """Re-run the role statements on a cluster locked by an earlier version of them."""
    connection = await asyncpg.connect(
        host="127.0.0.1",
        port=port,
        user=superuser.username,
        password=superuser.password,
        database=maintenance_database,
        timeout=connect_timeout_s,
    )
    try:
        for statement in role_statements(owner, app):
            await connection.execute(statement)
    finally:
        await connection.close()


async def lock_roles(port: int, superuser: Login, owner: Login, app: Login) -> None:
    """As the superuser: its password, the two roles, and the owner owning every workspace."""
    connection = await asyncpg.connect(
        host="127.0.0.1",
        port=port,
        user=superuser.username,
        password=superuser.password,
        database=maintenance_database,
        timeout=connect_timeout_s,
    )
    try:
        await connection.execute(
            f"ALTER ROLE {superuser.username} PASSWORD {quote_setting(superuser.password)}"
        )
        for statement in role_statements(owner, app):
            await connection.execute(statement)
        databases = await connection.fetch(
            "SELECT datname FROM pg_catalog.pg_database WHERE NOT datname = ANY($1::text[])",
            list(system_databases),
        )
        for row in databases:
            name = row["datname"]
            await connection.execute(
                f"ALTER DATABASE {quote_identifier(name)} OWNER TO {owner.username}"
            )
    finally:
        await connection.close()
    for row in databases:
        database = await asyncpg.connect(
            host="127.0.0.1",
            port=port,
            user=superuser.username,
            password=superuser.password,
            database=row["datname"],
            timeout=connect_timeout_s,
        )
        try:
            await database.execute(reassign_ledger_objects.replace("{owner}", owner.username))
        finally:
            await database.close()


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lock_cluster(home: Path, paths: ClusterPaths, port: int) -> None:
    """Passwords and roles first (the old trust rules still let us in), then pg_hba.conf."""
    log.info("locking PostgreSQL under %s: roles, passwords, scram-sha-256", paths.root)
    run_blocking(lock_roles(port, superuser_login(home), owner_login(home), app_login(home)))
    owner = cluster_owner()
    write_owned(paths.hba_file, render_hba(), owner)
    run_blocking(reload_configuration(port, superuser_login(home)))
    mark_locked(paths)


async def reload_configuration(port: int, superuser: Login) -> None:
    connection = await asyncpg.connect(
        host="127.0.0.1",
        port=port,
        user=superuser.username,
        password=superuser.password,
        database=maintenance_database,
        timeout=connect_timeout_s,
    )
    try:
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


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


def wait_for_postgres(paths: ClusterPaths, port: int, password: str) -> None:
    def gave_up() -> str | None:
        if postmaster_pid(paths) is not None:
            return None
        lines = [line for line in tail(paths.log_file).splitlines() if "FATAL" in line]
        reason = lines[-1].strip() if lines else "no FATAL line logged"
        return f"PostgreSQL exited while starting: {reason} (see {paths.log_file})"

    run_blocking(
        wait_until_ready(
            lambda: server_answers(port, password),
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
