"""Small pieces shared by infra/: the error, state files, ports, locks, processes, waiting.

Nothing here knows about Kafka or PostgreSQL; `kafka.py` and `postgres.py` build on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

poll_interval_s = 0.1  # between two readiness probes; readiness is always a probe, never a sleep
port_probe_timeout_s = 0.5
lock_wait_timeout_s = 1200  # another process may be installing PostgreSQL and fetching jars
log_tail_lines_max = 20
command_output_chars_max = 4000


class InfraError(Exception):
    """A service could not be installed, started or reached: one line saying why and what to do."""


# ---------------------------------------------------------------- caches


def cache_root() -> Path:
    """Where downloads shared by every home live: outside the checkout, fetched once a machine.

    `$LEDGER_CACHE`, else `~/.cache/usage-ledger` (Kafka's jars, the e-invoice rules).
    """
    override = os.environ.get("LEDGER_CACHE")
    base = Path(override) if override else Path.home() / ".cache" / "usage-ledger"
    return base.resolve()


# ---------------------------------------------------------------- state files


def read_state(path: Path) -> dict[str, Any]:
    """A JSON state file, or {} when it does not exist yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InfraError(f"state file {path} is damaged ({error}): delete it and retry") from error
    if not isinstance(value, dict):
        raise InfraError(f"state file {path} is damaged (not an object): delete it and retry")
    return value


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomic: a reader sees the old file or the new one, never half of one."""
    write_text_atomic(path, json.dumps(state, indent=2, sort_keys=True) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def tail(path: Path, lines_max: int = log_tail_lines_max) -> str:
    """The last lines of a log file, for error messages ('' when there is none)."""
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            size = file.tell()
            file.seek(max(0, size - 64 * 1024))
            data = file.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines_max:])


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ---------------------------------------------------------------- ports


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """True when a server could listen on 127.0.0.1:port (SO_REUSEADDR, as servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_is_open(host: str, port: int, timeout_s: float = port_probe_timeout_s) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- locks


@contextlib.contextmanager
def file_lock(path: Path, what: str, timeout_s: float = lock_wait_timeout_s) -> Iterator[None]:
    """An exclusive fcntl lock, so two processes never start (or stop) the same service twice.

    Not re-entrant: flock locks belong to the open file, so taking it twice in one process
    waits for itself. Callers take it once, at the top.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise InfraError(
                        f"{what}: another process held {path} for more than {timeout_s:.0f} s"
                    ) from None
                time.sleep(poll_interval_s)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# ---------------------------------------------------------------- processes


def process_exists(pid: int) -> bool:
    """True while the pid exists at all, zombies included."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_is_alive(pid: int) -> bool:
    """True for a live process (a zombie counts as dead: it only waits to be reaped)."""
    if not process_exists(pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # no /proc: trust kill(0)
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def process_command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", errors="replace") for part in raw.split(b"\0") if part]


def reap(pid: int) -> None:
    """Collect an exited child of ours, if it is one, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def spawn_detached(argv: Sequence[str], log_path: Path, cwd: Path) -> int:
    """Start argv as a daemon: own session, stdin /dev/null, stdout+stderr appended to log_path.

    A short-lived `sh` starts it in the background and exits, so the service is not our child:
    it outlives us (a `ledger` command, a pytest run) and never becomes our zombie.
    Returns the service's pid (the background child execs argv, so the pid is argv's).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    script = '"$@" </dev/null >>"$0" 2>&1 &\necho $!'
    completed = subprocess.run(
        ["sh", "-c", script, str(log_path), *argv],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=30,
        check=False,
    )
    output = completed.stdout.strip()
    if completed.returncode != 0 or not output.isdigit():
        raise InfraError(f"could not start {argv[0]}: {last_line(completed.stderr) or output}")
    return int(output)


def run_command(
    argv: Sequence[str],
    what: str,
    timeout_s: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run a command to completion; InfraError with its last output line when it fails."""
    try:
        completed = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as error:
        raise InfraError(f"{what}: {argv[0]} not found") from error
    except subprocess.TimeoutExpired as error:
        raise InfraError(f"{what}: gave up after {timeout_s:.0f} s") from error
    if completed.returncode != 0:
        reason = last_line(completed.stderr) or last_line(completed.stdout) or "no output"
        raise InfraError(f"{what} failed (exit {completed.returncode}): {reason}")
    return completed.stdout[-command_output_chars_max:]


# ---------------------------------------------------------------- waiting


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running event loop.

    It always runs on a thread of its own with a fresh loop, so it neither nests in nor
    replaces the caller's loop (pytest-asyncio's session loop, a faust worker's loop).
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def wait_until_ready(
    probe: Callable[[], Awaitable[bool]],
    what: str,
    timeout_s: float,
    gave_up: Callable[[], str | None] | None = None,
) -> None:
    """Probe until it says yes, at most timeout_s; `gave_up` names a reason to stop early."""
    deadline = time.monotonic() + timeout_s
    while True:
        if await probe():
            return
        if gave_up is not None:
            reason = gave_up()
            if reason:
                raise InfraError(reason)
        if time.monotonic() >= deadline:
            raise InfraError(f"{what} was not ready after {timeout_s:.0f} s")
        await asyncio.sleep(poll_interval_s)


maven_dependency_plugin = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"


def maven_copy_dependencies(pom: Path, output_dir: Path, what: str, timeout_s: float) -> None:
    """Copy the runtime jars a small pom declares into `output_dir` (Maven Central, ~/.m2)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError(
            f"mvn not found: install Maven (apt-get install maven) to fetch {what}"
            " from Maven Central"
        )
    run_command(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            f"{maven_dependency_plugin}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={output_dir}",
        ],
        f"fetching {what} with Maven",
        timeout_s,
    )
