"""`ledger status`: how far the ledger is behind the raw log, and what the workers are doing.

Per raw-topic partition: the ledger's position (the next offset it expects), the log
end offset, the lag between them, and the time the worker holding the partition last
wrote a batch. The workers' states come from their state files
(`$LEDGER_HOME/run/worker-<workspace>-<pid>.json`, written by `ledger worker`). A file
whose process is gone (the worker was killed) is stale, one that cannot be read as a
state is malformed: both are reported, never trusted and never fatal, because status
is what an operator runs when something is already wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from infra.common import process_is_alive
from ledger.app.worker_state import run_dir
from ledger.app.workspace import Workspace
from ledger.store.engine import create_ledger_engine
from ledger.store.outcomes import ledger_positions
from streams.runner import end_offsets

WORKER_STATES: Final = frozenset({"running", "waiting_for_broker", "waiting_for_database"})
state_files_max: Final = 64  # read per workspace; one per live worker, more is debris
state_file_bytes_max: Final = 1 << 20  # a state file lists partitions: far below this
state_partitions_max: Final = 10_000  # per state file; more than any topic here has

_STATE_FILE_NAME: Final = re.compile(r"worker-([a-z][a-z0-9_]*)-([0-9]{1,10})\.json", re.ASCII)


@dataclass(frozen=True)
class WorkerPartition:
    next_offset: int
    last_batch_at: datetime | None


@dataclass(frozen=True)
class WorkerState:
    """One live worker as its state file says."""

    pid: int
    state: str  # one of WORKER_STATES
    since: datetime
    updated_at: datetime
    partitions: Mapping[int, WorkerPartition]


@dataclass(frozen=True)
class IgnoredStateFile:
    path: Path
    reason: str  # "stale: ..." or "malformed: ..."


@dataclass(frozen=True)
class PartitionStatus:
    partition: int
    ledger_position: int  # the next raw-log offset the ledger expects
    log_end_offset: int
    last_batch_at: datetime | None  # from the worker holding the partition
    worker_pid: int | None

    @property
    def lag(self) -> int:
        return max(0, self.log_end_offset - self.ledger_position)


@dataclass(frozen=True)
class WorkspaceStatus:
    workspace: str
    partitions: list[PartitionStatus]
    workers: list[WorkerState]
    ignored: list[IgnoredStateFile] = field(default_factory=list)

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def to_document(self) -> dict[str, object]:
        """The `--json` shape: times as RFC 3339 UTC text, absent ones null."""
        return {
            "workspace": self.workspace,
            "lag": self.lag,
            "worker_running": bool(self.workers),
            "partitions": [
                {
                    "partition": p.partition,
                    "ledger_position": p.ledger_position,
                    "log_end_offset": p.log_end_offset,
                    "lag": p.lag,
                    "last_batch_at": utc_text(p.last_batch_at),
                    "worker_pid": p.worker_pid,
                }
                for p in self.partitions
            ],
            "workers": [
                {
                    "pid": w.pid,
                    "state": w.state,
                    "since": utc_text(w.since),
                    "updated_at": utc_text(w.updated_at),
                    "partitions": sorted(w.partitions),
                }
                for w in self.workers
            ],
            "ignored_state_files": [
                {"path": str(i.path), "reason": i.reason} for i in self.ignored
            ],
        }


def utc_text(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a time")
    instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if instant.utcoffset() is None:
        raise ValueError(f"{name} has no UTC offset")
    return instant.astimezone(UTC)


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} is not a whole number >= 0")
    return value


def parse_worker_state(text: str, workspace: str) -> WorkerState:
    """A state file's content as a `WorkerState`; `ValueError` saying what is wrong."""
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    if document.get("workspace") != workspace:
        raise ValueError(f"workspace is {document.get('workspace')!r}, not {workspace!r}")
    state = document.get("state")
    if not isinstance(state, str) or state not in WORKER_STATES:
        raise ValueError(f"unknown state {state!r}")
    raw_partitions = document.get("partitions")
    if not isinstance(raw_partitions, dict) or len(raw_partitions) > state_partitions_max:
        raise ValueError(f"partitions is not an object of at most {state_partitions_max} entries")
    partitions = {}
    for key, value in raw_partitions.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit()):
            raise ValueError(f"partition {key!r} is not a number")
        if not isinstance(value, dict):
            raise ValueError(f"partition {key} is not an object")
        last = value.get("last_batch_at")
        partitions[int(key)] = WorkerPartition(
            next_offset=_count(value.get("next_offset"), f"partition {key} next_offset"),
            last_batch_at=None if last is None else _utc(last, f"partition {key} last_batch_at"),
        )
    return WorkerState(
        pid=_count(document.get("pid"), "pid"),
        state=state,
        since=_utc(document.get("since"), "since"),
        updated_at=_utc(document.get("updated_at"), "updated_at"),
        partitions=partitions,
    )


def _read_one(
    path: Path, workspace: str, pid: int, is_alive: Callable[[int], bool]
) -> WorkerState | IgnoredStateFile:
    if not is_alive(pid):
        return IgnoredStateFile(path, f"stale: process {pid} is not running")
    try:
        with path.open("rb") as file:
            content = file.read(state_file_bytes_max + 1)
        if len(content) > state_file_bytes_max:
            raise ValueError(f"larger than {state_file_bytes_max} bytes")
        state = parse_worker_state(content.decode("utf-8"), workspace)
    except FileNotFoundError:
        return IgnoredStateFile(path, "stale: removed while reading (the worker stopped)")
    except (OSError, ValueError, RecursionError) as error:  # JSON, UTF-8: ValueErrors
        return IgnoredStateFile(path, f"malformed: {error}")
    if state.pid != pid:
        return IgnoredStateFile(path, f"malformed: pid {state.pid} is not the file name's {pid}")
    return state


def read_worker_states(
    directory: Path, workspace: str, is_alive: Callable[[int], bool] = process_is_alive
) -> tuple[list[WorkerState], list[IgnoredStateFile]]:
    """The live workers of `workspace` by their state files, and the files ignored (why)."""
    workers: list[WorkerState] = []
    ignored: list[IgnoredStateFile] = []
    paths = sorted(directory.glob(f"worker-{workspace}-*.json"))
    for path in paths[:state_files_max]:
        match = _STATE_FILE_NAME.fullmatch(path.name)
        if match is None or match.group(1) != workspace:
            continue  # another workspace's, or not a state file at all
        read = _read_one(path, workspace, int(match.group(2)), is_alive)
        if isinstance(read, WorkerState):
            workers.append(read)
        else:
            ignored.append(read)
    if len(paths) > state_files_max:
        ignored.append(
            IgnoredStateFile(directory, f"only the first {state_files_max} state files were read")
        )
    return workers, ignored


def partition_statuses(
    ends: Mapping[int, int], positions: Mapping[int, int], workers: list[WorkerState]
) -> list[PartitionStatus]:
    """Join the log, the ledger and the workers per partition.

    When two workers claim a partition (a rebalance in flight), the one whose file was
    updated last holds it.
    """
    holders: dict[int, WorkerState] = {}
    for worker in sorted(workers, key=lambda w: w.updated_at):
        for partition in worker.partitions:
            holders[partition] = worker
    statuses = []
    for partition in sorted(ends):
        holder = holders.get(partition)
        statuses.append(
            PartitionStatus(
                partition=partition,
                ledger_position=positions.get(partition, 0),
                log_end_offset=ends[partition],
                last_batch_at=None
                if holder is None
                else holder.partitions[partition].last_batch_at,
                worker_pid=None if holder is None else holder.pid,
            )
        )
    return statuses


async def workspace_status(ws: Workspace) -> WorkspaceStatus:
    """The workspace's status now (reads the broker, the ledger and the state files)."""
    ends = await end_offsets(ws.kafka_worker, ws.topics.raw)
    engine = create_ledger_engine(ws.database_url)
    try:
        async with engine.connect() as conn:
            positions = await ledger_positions(conn, sorted(ends))
    finally:
        await engine.dispose()
    workers, ignored = read_worker_states(run_dir(ws.home), ws.name)
    return WorkspaceStatus(
        workspace=ws.name,
        partitions=partition_statuses(ends, positions, workers),
        workers=sorted(workers, key=lambda w: w.pid),
        ignored=ignored,
    )
