"""The fault harness: a seeded workload through `ledger worker` under faults, then byte equality.

Runs on private services (a broker and a PostgreSQL cluster under a temporary LEDGER_HOME, with
their own ports), never the shared ones: it stops and kills them. Every `ledger` subprocess gets
that LEDGER_HOME. The same module drives the fast run in `make test` and `make soak`.

The faulted run: chunks of a seeded workload (September and October 2026, with duplicates,
conflicting duplicates, bad events and late September events after September is settled) are
sent with `ledger ingest` while `ledger worker` processes are SIGKILLed, stopped with SIGTERM or
SIGINT in each state, paired, joined, and while the broker and PostgreSQL are stopped and
restarted. The reference is `ledger replay --to-workspace`: an uninterrupted run over the SAME
raw log (entries carry Kafka timestamps, so only the same log can give equal bytes). Equal
means every (chain, seq, hash) and every exported settlement file byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra import kafka, postgres
from infra.common import file_lock
from infra.services import ensure_services, lock_path, stop_services
from ledger.app.status import workspace_status
from ledger.app.worker_state import read_worker_states
from ledger.app.workspace import Workspace, ledger_connection, open_workspace
from ledger.demo.simulate import generate_events
from ledger.domain.catalogue_parse import load_catalogue_text
from ledger.store.entries import entry_hashes

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = REPO_ROOT / "examples" / "catalogue.yaml"
WORKSPACE = "faults"
REFERENCE_WORKSPACE = "faults_ref"

stop_within_s = 10.0  # SIGTERM / SIGINT must end the worker this fast in every state
outage_log_lines_max = 20  # lines a worker may log for one outage, from its start to recovery
state_wait_s = 45.0  # for a worker to reach a state (a rebalance after a kill takes ~10 s)
drain_timeout_s = 600.0
ingest_attempts_max = 5
command_timeout_s = 900.0
sample_interval_s = 1.0
worker_outage_limit_s = 600.0  # far beyond any outage here: a worker must never give up
late_share = 0.05  # September events sent after September is settled
duplicate_share = 0.03
conflicting_share = 0.005
bad_share = 0.01
backlog_chunk_events = 3_000  # sent right before a PostgreSQL outage or a stop check
backlog_chunks = 4  # two PostgreSQL outages, two stops while processing
stderr_tail_bytes = 2000
# Variables that would point a subprocess at the shared services or another workspace.
inherited_variables_dropped = (
    "LEDGER_KAFKA_BOOTSTRAP",
    "LEDGER_DATABASE_URL",
    "LEDGER_LOG_LEVEL",
    "LEDGER_SECRETS_DIR",
    "LEDGER_WORKSPACE",
)


class HarnessFailure(Exception):
    """The harness itself could not go on (a service would not restart, a command failed)."""


@dataclass
class Config:
    seed: int = 1
    events: int = 24_000  # of the workload; the soak generates more while time lasts
    chunks: int = 24
    kills: int = 20
    soak_seconds: float = 0.0  # > 0: the soak (continuous ingest, faults on a timer)
    outage_s: float = 4.0  # a service stays down this long at least
    kill_anywhere_share: float = 1 / 3  # of the kills, wherever the worker is; else processing


@dataclass
class StopCheck:
    state: str  # processing, waiting_for_broker, waiting_for_database, rebalancing
    signal: str
    reached: bool  # the worker was seen in that state when signalled
    seconds: float
    exit_code: int | None


@dataclass
class Outage:
    service: str  # kafka or postgres
    how: str  # SIGTERM, SIGKILL, fast, immediate
    down_s: float
    worker_log_lines: int  # of the worker riding it out, from the fault until it ran again
    recovered_s: float  # from the restart until the worker ran again


@dataclass
class Report:
    seed: int
    mode: str
    events_generated: int = 0
    chunks_sent: int = 0
    events_sent: int = 0  # by `ledger ingest` runs that succeeded (a retried chunk counts once)
    ingest_retries: list[str] = field(default_factory=list)
    kills: int = 0
    kill_states: dict[str, int] = field(default_factory=dict)
    workers_started: int = 0
    unexpected_exits: list[str] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    stop_checks: list[StopCheck] = field(default_factory=list)
    pair_kills: int = 0
    joins_while_held: int = 0
    settled: list[str] = field(default_factory=list)
    peak_rss_bytes: int = 0
    lag_max: int = 0
    drain_s: float = 0.0
    entries_compared: int = 0
    entry_hashes_sha256: str = ""
    reference_entry_hashes_sha256: str = ""
    settlement_files: int = 0
    settlement_files_differing: list[str] = field(default_factory=list)
    replay_exit_code: int | None = None
    verify_exit_code: int | None = None
    ingest_rate_events_per_s: float = 0.0
    wall_s: float = 0.0

    @property
    def equal(self) -> bool:
        return (
            self.replay_exit_code == 0
            and self.verify_exit_code == 0
            and self.entry_hashes_sha256 == self.reference_entry_hashes_sha256
            and self.entries_compared > 0
            and self.settlement_files > 0
            and not self.settlement_files_differing
        )

    def to_document(self) -> dict[str, Any]:
        document = asdict(self)
        document["equal"] = self.equal
        return document


# ---------------------------------------------------------------- workload (pure, seeded)


def workload(config: Config) -> tuple[list[list[dict[str, object]]], list[list[dict[str, object]]]]:
    """(early chunks, late chunks): the late ones hold the September events sent after
    September is settled, plus duplicates, conflicting duplicates and bad events."""
    rng = random.Random(config.seed)
    catalogue = load_catalogue_text(CATALOGUE.read_text(encoding="utf-8"))
    half = config.events // 2
    september = list(generate_events(catalogue, period="2026-09", count=half, seed=config.seed))
    october = list(
        generate_events(
            catalogue, period="2026-10", count=config.events - half, seed=config.seed + 1
        )
    )
    late_count = int(len(september) * late_share)
    late, september = september[:late_count], september[late_count:]
    events: list[dict[str, object]] = september + october
    rng.shuffle(events)
    extras = special_events(events, rng)
    early_count = max(1, config.chunks * 2 // 3)
    late_events = late + extras
    rng.shuffle(late_events)
    return split(events, early_count), split(late_events, max(1, config.chunks - early_count))


def backlog_events(seed: int, number: int) -> list[dict[str, object]]:
    """October events of their own ids, sent right before a PostgreSQL outage or a stop check."""
    catalogue = load_catalogue_text(CATALOGUE.read_text(encoding="utf-8"))
    events = generate_events(
        catalogue,
        period="2026-10",
        count=backlog_chunk_events,
        seed=seed * 1000 + number,
        id_prefix=f"backlog{number}",
    )
    return list(events)


def special_events(events: list[dict[str, object]], rng: random.Random) -> list[dict[str, object]]:
    duplicates = [dict(e) for e in rng.sample(events, int(len(events) * duplicate_share))]
    conflicting = [
        dict(e, quantity=int(str(e["quantity"])) + 1)
        for e in rng.sample(events, int(len(events) * conflicting_share))
    ]
    bad: list[dict[str, object]] = []
    for number, template in enumerate(rng.sample(events, int(len(events) * bad_share))):
        flaw = number % 4
        changed = dict(template, event_id=f"bad-{number}")
        if flaw == 0:
            changed["vendor"] = "999999999"
        elif flaw == 1:
            changed["school"] = "911111111"
        elif flaw == 2:
            changed["quantity"] = 0
        else:
            changed["occurred_at"] = "2031-01-01T00:00:00Z"
        bad.append(changed)
    return duplicates + conflicting + bad


def split(events: list[dict[str, object]], parts: int) -> list[list[dict[str, object]]]:
    size = max(1, -(-len(events) // parts))
    return [events[i : i + size] for i in range(0, len(events), size)]


def write_chunk(events: list[dict[str, object]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as file:
        for event in events:
            file.write(json.dumps(event) + "\n")


# ---------------------------------------------------------------- processes


def private_environment(home: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in inherited_variables_dropped}
    environment["LEDGER_HOME"] = str(home)
    return environment


def tail_text(text: str) -> str:
    return text[-stderr_tail_bytes:].strip()


def rss_bytes(pid: int) -> int:
    """The resident set of a live process (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path
    started_at: float
    signalled: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def lines_since(self, position: int) -> list[str]:
        with self.log.open("rb") as file:
            file.seek(position)
            return file.read().decode(errors="replace").splitlines()


class Harness:
    def __init__(self, config: Config, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.home = run_dir / "home"
        self.environment = private_environment(self.home)
        self.rng = random.Random(config.seed * 7919 + 1)
        self.report = Report(seed=config.seed, mode="soak" if config.soak_seconds else "fast")
        self.workers: list[Worker] = []
        self.worker_number = 0
        self.services_up = threading.Event()
        self.services_up.set()
        self.release = threading.Semaphore(0)  # fast: the main loop releases chunks one by one
        self.september_settled = threading.Event()
        self.ingest_done = threading.Event()
        self.stopping = threading.Event()
        self.ingest_error: str | None = None
        self.workspace: Workspace | None = None
        self.lag_now = -1
        self.last_fault_end = time.monotonic()
        self.lock = threading.Lock()
        self.backlog_chunks: list[Path] = []

    # ------------------------------------------------------------ commands

    def ledger(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [sys.executable, "-m", "ledger", *args],
            capture_output=True,
            text=True,
            timeout=command_timeout_s,
            env=self.environment,
            cwd=self.run_dir,
        )
        if check and completed.returncode != 0:
            raise HarnessFailure(
                f"ledger {' '.join(args)} exited {completed.returncode}:"
                f" {tail_text(completed.stderr)}"
            )
        return completed

    def start_worker(self) -> Worker:
        self.worker_number += 1
        log = self.run_dir / "logs" / f"worker-{self.worker_number:04d}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as stderr:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ledger",
                    "worker",
                    "--workspace",
                    WORKSPACE,
                    "--outage-limit-s",
                    str(worker_outage_limit_s),
                ],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=self.environment,
                cwd=self.run_dir,
            )
        worker = Worker(process, log, time.monotonic())
        with self.lock:
            self.workers.append(worker)
        self.report.workers_started += 1
        return worker

    def alive_workers(self) -> list[Worker]:
        """The live workers; one that exited without being signalled is a defect, noted."""
        with self.lock:
            for worker in list(self.workers):
                if worker.alive():
                    continue
                self.workers.remove(worker)
                if not worker.signalled:
                    lines = worker.lines_since(0)[-5:]
                    self.report.unexpected_exits.append(
                        f"worker {worker.pid} exited {worker.process.returncode}: {lines}"
                    )
            return list(self.workers)

    def ensure_workers(self, count: int) -> None:
        while len(self.alive_workers()) < count:
            self.start_worker()

    def kill(self, worker: Worker) -> None:
        worker.signalled = True
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=30)
        self.alive_workers()

    def stop_timed(self, worker: Worker, sig: signal.Signals) -> tuple[float, int | None]:
        worker.signalled = True
        started = time.monotonic()
        worker.process.send_signal(sig)
        try:
            code: int | None = worker.process.wait(timeout=stop_within_s * 3)
        except subprocess.TimeoutExpired:
            code = None
            self.kill(worker)
        self.alive_workers()
        return time.monotonic() - started, code

    def worker_state(self, worker: Worker) -> str | None:
        for document in read_worker_states(self.home, WORKSPACE):
            if document.get("pid") == worker.pid:
                return str(document["state"])
        return None

    def holds_partitions(self, worker: Worker) -> bool:
        for document in read_worker_states(self.home, WORKSPACE):
            if document.get("pid") == worker.pid:
                return document["state"] == "running" and bool(document.get("partitions"))
        return False

    def wait_until_ready(self, worker: Worker, timeout_s: float = state_wait_s) -> bool:
        """Until the worker runs and holds partitions (its state file says "running" from
        the start, before faust has joined the group)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and worker.alive():
            if self.holds_partitions(worker):
                return True
            time.sleep(0.1)
        return False

    def wait_for_state(self, worker: Worker, state: str, timeout_s: float = state_wait_s) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and worker.alive():
            if self.worker_state(worker) == state:
                return True
            time.sleep(0.1)
        return False

    # ------------------------------------------------------------ services

    def services_lock(self) -> Any:
        return file_lock(lock_path(self.home), "a fault of the harness")

    def broker_down(self, how: signal.Signals) -> None:
        self.services_up.clear()
        with self.services_lock():
            if how == signal.SIGTERM:
                kafka.stop_broker(self.home)
                return
            pid = kafka.broker_pid(kafka.BrokerPaths.of(self.home))
            if pid is None:
                raise HarnessFailure("no broker to kill")
            os.kill(pid, signal.SIGKILL)
            if not kafka.wait_for_exit(pid, kafka.broker_kill_timeout_s):
                raise HarnessFailure(f"the broker (pid {pid}) survived SIGKILL")

    def postgres_down(self, mode: str) -> None:
        self.services_up.clear()
        with self.services_lock():
            if mode == "fast":
                postgres.stop_postgres(self.home)
                return
            paths = postgres.ClusterPaths.of(self.home)
            postgres.pg_ctl(
                paths,
                postgres.cluster_bin_dir(paths),
                postgres.cluster_owner(),
                ["-m", mode, "stop"],
                f"stopping PostgreSQL -m {mode}",
                postgres.postgres_stop_timeout_s,
            )

    def postgres_down_with_backlog(self, mode: str, workers: tuple[Worker, ...]) -> None:
        """PostgreSQL stopped while events wait: an idle worker never touches the database and
        would not notice. The workers are frozen (SIGSTOP, a few seconds: below the session
        timeout) while a chunk is sent and PostgreSQL stops, then thawed. `ledger ingest`
        must run before the stop: like every command it starts the services it finds down."""
        for worker in workers:
            worker.process.send_signal(signal.SIGSTOP)
        try:
            if self.backlog_chunks:
                self.ingest(self.backlog_chunks.pop())
            self.postgres_down(mode)
        finally:
            for worker in workers:
                worker.process.send_signal(signal.SIGCONT)

    def services_restart(self) -> None:
        """Both services up again, the way every `ledger` command would start them."""
        ensure_services(self.home)
        self.services_up.set()

    # ------------------------------------------------------------ monitoring

    def monitor(self) -> None:
        """Peak RSS of the workers and the lag, sampled until stopped (errors mean an outage)."""
        if self.workspace is None:
            raise HarnessFailure("the monitor needs the workspace")
        workspace = self.workspace
        while not self.stopping.is_set():
            with self.lock:
                pids = [w.pid for w in self.workers]
            for pid in pids:
                self.report.peak_rss_bytes = max(self.report.peak_rss_bytes, rss_bytes(pid))
            if self.services_up.is_set():
                with contextlib.suppress(Exception):
                    status = asyncio.run(asyncio.wait_for(workspace_status(workspace), timeout=10))
                    self.lag_now = status.lag
                    self.report.lag_max = max(self.report.lag_max, status.lag)
            self.stopping.wait(sample_interval_s)

    # ------------------------------------------------------------ ingest

    def ingest(self, path: Path) -> None:
        """`ledger ingest` once, retried only on a non-zero exit (each retry is reported)."""
        for attempt in range(1, ingest_attempts_max + 1):
            self.services_up.wait()
            completed = self.ledger("ingest", str(path), "--workspace", WORKSPACE, check=False)
            if completed.returncode == 0:
                self.report.chunks_sent += 1
                with path.open(encoding="utf-8") as file:
                    self.report.events_sent += sum(1 for _ in file)
                return
            failure_log = self.run_dir / "logs" / f"ingest-{path.stem}-{attempt}.stderr"
            failure_log.parent.mkdir(parents=True, exist_ok=True)
            failure_log.write_text(completed.stderr)
            reason = tail_text(completed.stderr).splitlines()[-1:] or ["no reason given"]
            self.report.ingest_retries.append(
                f"{path.name} attempt {attempt}: exit {completed.returncode}: {reason[0]}"
            )
            time.sleep(1)
        raise HarnessFailure(f"ledger ingest {path} failed {ingest_attempts_max} times")

    def ingest_fast(self, early: list[Path], late: list[Path]) -> None:
        try:
            for path in early:
                self.release.acquire()
                self.ingest(path)
            self.september_settled.wait()
            for path in late:
                self.release.acquire()
                self.ingest(path)
        except HarnessFailure as error:
            self.ingest_error = str(error)
        finally:
            self.ingest_done.set()

    def ingest_soak(self, early: list[Path], late: list[Path], deadline: float) -> None:
        """Back to back, as fast as `ledger ingest` goes, until the deadline; late ones last."""
        try:
            chunks = self.soak_chunks(early, deadline)
            for path in chunks:
                self.ingest(path)
            self.september_settled.wait()
            for path in late:
                self.ingest(path)
        except HarnessFailure as error:
            self.ingest_error = str(error)
        finally:
            self.ingest_done.set()

    def soak_chunks(self, early: list[Path], deadline: float) -> Iterator[Path]:
        """The early chunks again and again with fresh event ids, until the deadline."""
        round_number = 0
        while True:
            for path in early:
                if time.monotonic() >= deadline:
                    return
                if round_number == 0:
                    yield path
                    continue
                renamed = path.with_name(f"{path.stem}-r{round_number}.jsonl")
                with path.open(encoding="utf-8") as source, renamed.open("w") as target:
                    for line in source:
                        event = json.loads(line)
                        event["event_id"] = f"r{round_number}-{event['event_id']}"
                        target.write(json.dumps(event) + "\n")
                self.report.events_generated += sum(1 for _ in renamed.open(encoding="utf-8"))
                yield renamed
                renamed.unlink(missing_ok=True)
            round_number += 1

    # ------------------------------------------------------------ faults

    def fault_kill(self) -> None:
        """One SIGKILL: a third anywhere (often a worker still starting), the rest while the
        worker holds partitions with events to process."""
        self.ensure_workers(1)
        worker = self.rng.choice(self.alive_workers())
        if self.rng.random() < self.config.kill_anywhere_share:
            time.sleep(self.rng.uniform(0.0, 1.5))
        else:
            self.wait_until_ready(worker)
            self.wait_for_lag()
            time.sleep(self.rng.uniform(0.0, 1.0))
        state = self.worker_state(worker) or "starting"
        if state == "running" and not self.holds_partitions(worker):
            state = "joining"
        elif state == "running" and self.lag_now > 0:
            state = "processing"
        self.kill(worker)
        self.report.kills += 1
        self.report.kill_states[state] = self.report.kill_states.get(state, 0) + 1
        self.ensure_workers(1)

    def fault_stop_processing(self, sig: signal.Signals) -> None:
        self.ensure_workers(1)
        worker = self.alive_workers()[0]
        ready = self.wait_until_ready(worker, timeout_s=state_wait_s * 2)
        if self.backlog_chunks:
            self.ingest(self.backlog_chunks.pop())  # events to be processing when signalled
        reached = ready and self.lag_fresh() > 0 and worker.alive()
        seconds, code = self.stop_timed(worker, sig)
        self.report.stop_checks.append(StopCheck("processing", sig.name, reached, seconds, code))
        self.ensure_workers(1)

    def lag_fresh(self) -> int:
        """The lag now, read for this question (the monitor samples once a second)."""
        if self.workspace is None:
            return -1
        try:
            status = asyncio.run(asyncio.wait_for(workspace_status(self.workspace), timeout=10))
        except Exception:
            return -1
        return status.lag

    def wait_for_lag(self, timeout_s: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.lag_now > 0:
                return True
            time.sleep(0.1)
        return False

    def fault_rebalance(self, sig: signal.Signals) -> None:
        """A second worker joins while the first holds the partitions; the first is stopped
        the moment the newcomer's state file appears (the group is rebalancing)."""
        self.ensure_workers(1)
        holder = self.alive_workers()[0]
        self.wait_until_ready(holder)
        newcomer = self.start_worker()
        self.report.joins_while_held += 1
        deadline = time.monotonic() + state_wait_s
        while self.worker_state(newcomer) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        reached = self.worker_state(newcomer) is not None
        seconds, code = self.stop_timed(holder, sig)
        self.report.stop_checks.append(StopCheck("rebalancing", sig.name, reached, seconds, code))
        self.ensure_workers(1)

    def fault_pair_kill(self) -> None:
        """Two workers in one group, one SIGKILLed once both hold partitions."""
        self.ensure_workers(2)
        pair = self.alive_workers()[:2]
        for worker in pair:
            self.wait_until_ready(worker)
        time.sleep(self.rng.uniform(0.5, 3.0))
        self.kill(self.rng.choice(pair))
        self.report.kills += 1
        self.report.pair_kills += 1
        self.report.kill_states["pair"] = self.report.kill_states.get("pair", 0) + 1

    def fault_outage(
        self, service: str, how: str, sig: signal.Signals, *, rider_starting: bool = False
    ) -> None:
        """Two workers; the service goes down; one is stopped with `sig` while it waits, the
        other rides the outage out (its log lines are counted); the service comes back.

        With `rider_starting`, the rider is a worker still starting (its workspace open, faust
        starting) when the service goes: the moment a restarted worker is most fragile.
        """
        if rider_starting:
            self.ensure_workers(1)
            stopped = self.alive_workers()[0]
            self.wait_until_ready(stopped)
            rider = self.start_worker()
            deadline = time.monotonic() + state_wait_s
            while self.worker_state(rider) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(self.rng.uniform(0.0, 0.5))
        else:
            self.ensure_workers(2)
            rider, stopped = self.alive_workers()[:2]
            for worker in (rider, stopped):
                self.wait_until_ready(worker)
        position = rider.log_size()
        waiting = "waiting_for_broker" if service == "kafka" else "waiting_for_database"
        down_at = time.monotonic()
        if service == "kafka":
            self.broker_down(signal.SIGTERM if how == "SIGTERM" else signal.SIGKILL)
        else:
            self.postgres_down_with_backlog(how, (rider, stopped))
        reached = self.wait_for_state(stopped, waiting)
        seconds, code = self.stop_timed(stopped, sig)
        self.report.stop_checks.append(StopCheck(waiting, sig.name, reached, seconds, code))
        time.sleep(max(0.0, down_at + self.config.outage_s - time.monotonic()))
        restarted_at = time.monotonic()
        self.services_restart()
        back = self.wait_until_ready(rider, timeout_s=120)
        recovered_s = time.monotonic() - restarted_at
        if not back:
            self.report.unexpected_exits.append(
                f"worker {rider.pid} not running 120 s after {service} came back"
            )
        time.sleep(2)  # the recovery lines
        lines = rider.lines_since(position) if rider.log.exists() else []
        self.report.outages.append(
            Outage(service, how, restarted_at - down_at, len(lines), recovered_s)
        )
        (self.run_dir / "logs" / f"outage-{service}-{how}.log").write_text("\n".join(lines))
        self.ensure_workers(1)

    def settle_september(self) -> None:
        """Workers stopped (settle processes by itself), September settled, workers back."""
        for worker in self.alive_workers():
            reached = self.wait_until_ready(worker)
            seconds, code = self.stop_timed(worker, signal.SIGTERM)
            self.report.stop_checks.append(
                StopCheck("before_settle", "SIGTERM", reached, seconds, code)
            )
        self.settle("2026-09")
        self.september_settled.set()
        self.ensure_workers(1)

    def settle(self, period: str) -> None:
        self.services_up.wait()
        self.ledger("settle", "--period", period, "--workspace", WORKSPACE)
        self.report.settled.append(period)

    def plan(self) -> list[Callable[[], None]]:
        """The faults in seeded order; September is settled two thirds of the way."""
        specials: list[Callable[[], None]] = [
            lambda: self.fault_stop_processing(signal.SIGTERM),
            lambda: self.fault_stop_processing(signal.SIGINT),
            lambda: self.fault_rebalance(signal.SIGTERM),
            lambda: self.fault_rebalance(signal.SIGINT),
            self.fault_pair_kill,
            lambda: self.fault_outage("kafka", "SIGTERM", signal.SIGTERM),
            lambda: self.fault_outage("kafka", "SIGKILL", signal.SIGINT, rider_starting=True),
            lambda: self.fault_outage("postgres", "fast", signal.SIGINT),
            lambda: self.fault_outage("postgres", "immediate", signal.SIGTERM),
        ]
        kills_left = self.config.kills - 1  # the pair kill is one
        actions: list[Callable[[], None]] = [self.fault_kill] * kills_left + specials
        self.rng.shuffle(actions)
        actions.insert(len(actions) * 2 // 3, self.settle_september)
        return actions

    # ------------------------------------------------------------ the run

    def prepare(self) -> tuple[list[Path], list[Path]]:
        self.home.mkdir(parents=True, exist_ok=True)
        ensure_services(self.home)
        self.workspace = asyncio.run(open_workspace(WORKSPACE, home=self.home))
        self.ledger("catalogue", "load", str(CATALOGUE), "--workspace", WORKSPACE)
        self.settle("2026-08")  # the fixed charge makes August a period with usage
        early, late = workload(self.config)
        chunk_dir = self.run_dir / "chunks"
        chunk_dir.mkdir(exist_ok=True)
        paths: tuple[list[Path], list[Path]] = ([], [])
        for kind, chunks in zip(("early", "late"), (early, late), strict=True):
            for number, chunk in enumerate(chunks):
                path = chunk_dir / f"{kind}-{number:03d}.jsonl"
                write_chunk(chunk, path)
                paths[kind == "late"].append(path)
                self.report.events_generated += len(chunk)
        for number in range(backlog_chunks):
            path = chunk_dir / f"backlog-{number}.jsonl"
            events = backlog_events(self.config.seed, number)
            write_chunk(events, path)
            self.backlog_chunks.append(path)
            self.report.events_generated += len(events)
        return paths

    def measure_ingest_rate(self, path: Path) -> None:
        count = sum(1 for _ in path.open(encoding="utf-8"))
        started = time.monotonic()
        self.ingest(path)
        self.report.ingest_rate_events_per_s = count / (time.monotonic() - started)

    def run(self) -> Report:
        started = time.monotonic()
        early, late = self.prepare()
        monitor = threading.Thread(target=self.monitor, name="monitor", daemon=True)
        monitor.start()
        actions = self.plan()
        if self.config.soak_seconds:
            self.measure_ingest_rate(early[0])
            deadline = time.monotonic() + self.config.soak_seconds
            feeder = threading.Thread(
                target=self.ingest_soak, args=(early[1:], late, deadline), daemon=True
            )
        else:
            feeder = threading.Thread(target=self.ingest_fast, args=(early, late), daemon=True)
        feeder.start()
        self.ensure_workers(1)
        try:
            spacing_s = self.config.soak_seconds / max(1, len(actions))
            for action in actions:
                action_started = time.monotonic()
                self.release.release()
                action()
                self.last_fault_end = time.monotonic()
                if self.config.soak_seconds:
                    time.sleep(max(0.0, action_started + spacing_s - time.monotonic()))
            for _ in range(len(early) + len(late)):
                self.release.release()
            self.settle_remaining(feeder)
        finally:
            self.stopping.set()
            for worker in self.alive_workers():
                self.kill(worker)
        self.compare()
        self.report.wall_s = time.monotonic() - started
        return self.report

    def settle_remaining(self, feeder: threading.Thread) -> None:
        self.ingest_done.wait()
        feeder.join()
        if self.ingest_error is not None:
            raise HarnessFailure(self.ingest_error)
        self.ensure_workers(1)
        self.report.drain_s = self.drain()
        for worker in self.alive_workers():
            reached = self.wait_until_ready(worker)  # one the drain started may be importing
            seconds, code = self.stop_timed(worker, signal.SIGTERM)
            self.report.stop_checks.append(StopCheck("idle", "SIGTERM", reached, seconds, code))
        self.settle("2026-10")

    def drain(self) -> float:
        """Seconds from the end of the last fault until the lag is zero with every chunk in."""
        deadline = time.monotonic() + drain_timeout_s
        while time.monotonic() < deadline:
            self.alive_workers()
            self.ensure_workers(1)
            if self.workspace is not None:
                status = asyncio.run(workspace_status(self.workspace))
                if status.lag == 0:
                    return time.monotonic() - self.last_fault_end
            time.sleep(0.5)
        raise HarnessFailure(f"the ledger did not drain within {drain_timeout_s:.0f} s")

    # ------------------------------------------------------------ equality

    def compare(self) -> None:
        verify = self.ledger("verify", "--workspace", WORKSPACE, check=False)
        self.report.verify_exit_code = verify.returncode
        replay = self.ledger(
            "replay", "--workspace", WORKSPACE, "--to-workspace", REFERENCE_WORKSPACE, check=False
        )
        self.report.replay_exit_code = replay.returncode
        (self.run_dir / "replay.out").write_text(replay.stdout + replay.stderr)
        count, digest = asyncio.run(self.hash_entries(WORKSPACE))
        reference_count, reference_digest = asyncio.run(self.hash_entries(REFERENCE_WORKSPACE))
        self.report.entries_compared = min(count, reference_count)
        self.report.entry_hashes_sha256 = digest
        self.report.reference_entry_hashes_sha256 = reference_digest
        for period in self.report.settled:
            ours = self.export(WORKSPACE, period)
            theirs = self.export(REFERENCE_WORKSPACE, period)
            names = sorted({p.name for p in ours.iterdir()} | {p.name for p in theirs.iterdir()})
            for name in names:
                self.report.settlement_files += 1
                mine, reference = ours / name, theirs / name
                if not (
                    mine.exists()
                    and reference.exists()
                    and mine.read_bytes() == reference.read_bytes()
                ):
                    self.report.settlement_files_differing.append(f"{period}/{name}")

    def export(self, workspace: str, period: str) -> Path:
        out = self.run_dir / "export" / workspace / period
        self.ledger(
            "export", "--period", period, "--format", "json", "--out", str(out),
            "--workspace", workspace,
        )  # fmt: skip
        return out

    async def hash_entries(self, name: str) -> tuple[int, str]:
        """How many entries, and a SHA-256 over every (chain, seq, hash) in order."""
        workspace = await open_workspace(name, home=self.home)
        digest = hashlib.sha256()
        count = 0
        async with ledger_connection(workspace) as conn:
            async for chain, seq, entry_hash in entry_hashes(conn):
                digest.update(f"{chain}:{seq}:".encode() + bytes(entry_hash) + b"\n")
                count += 1
        return count, digest.hexdigest()


def run_harness(config: Config, run_dir: Path, *, keep: bool = False) -> Report:
    """The whole run on private services, stopped at the end (also on failure)."""
    for variable in ("LEDGER_KAFKA_BOOTSTRAP", "LEDGER_DATABASE_URL"):
        if os.environ.get(variable):
            raise HarnessFailure(f"{variable} is set: the harness only runs private services")
    run_dir.mkdir(parents=True, exist_ok=True)
    harness = Harness(config, run_dir)
    try:
        return harness.run()
    finally:
        harness.stopping.set()
        for worker in harness.alive_workers():
            harness.kill(worker)
        with contextlib.suppress(Exception):
            stop_services(harness.home)
        with contextlib.suppress(Exception):
            (run_dir / "report.json").write_text(
                json.dumps(harness.report.to_document(), indent=2) + "\n"
            )
        if not keep:
            shutil.rmtree(harness.home / "kafka" / "data", ignore_errors=True)
            shutil.rmtree(harness.home / "postgres" / "data", ignore_errors=True)
