"""`ledger status` reads the workers' state files: live ones are shown, stale and
malformed ones are reported and never crash it; partitions join log, ledger and worker."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ledger.app.status import (
    WorkerPartition,
    WorkerState,
    parse_worker_state,
    partition_statuses,
    read_worker_states,
)

ALIVE = {101, 102, 103, 104, 105}


def alive(pid: int) -> bool:
    return pid in ALIVE


def state_document(pid: int, workspace: str = "default", **overrides: object) -> dict[str, object]:
    document: dict[str, object] = {
        "pid": pid,
        "workspace": workspace,
        "state": "running",
        "since": "2026-12-03T10:40:33Z",
        "updated_at": "2026-12-03T10:41:00Z",
        "partitions": {"0": {"next_offset": 81233, "last_batch_at": "2026-12-03T10:40:59Z"}},
    }
    document.update(overrides)
    return document


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_live_workers_are_read_and_stale_files_reported(tmp_path: Path) -> None:
    write(tmp_path, "worker-default-101.json", json.dumps(state_document(101)))
    stale = write(tmp_path, "worker-default-999.json", json.dumps(state_document(999)))
    write(tmp_path, "worker-other-102.json", json.dumps(state_document(102, "other")))
    write(tmp_path, "worker-default_2-102.json", json.dumps(state_document(102, "default_2")))

    workers, ignored = read_worker_states(tmp_path, "default", alive)

    assert [(w.pid, w.state) for w in workers] == [(101, "running")]
    assert workers[0].since == datetime(2026, 12, 3, 10, 40, 33, tzinfo=UTC)
    assert workers[0].partitions == {
        0: WorkerPartition(81233, datetime(2026, 12, 3, 10, 40, 59, tzinfo=UTC))
    }
    assert [(i.path, i.reason.split(":")[0]) for i in ignored] == [(stale, "stale")]


def test_malformed_files_are_reported_not_fatal(tmp_path: Path) -> None:
    bad = {
        "worker-default-101.json": b"{not json",
        "worker-default-102.json": b"\xff\xfe\x00",
        "worker-default-103.json": b"[" * 100_000,
        "worker-default-104.json": json.dumps(state_document(104, state="asleep")).encode(),
        "worker-default-105.json": b"{" + b" " * (2 << 20) + b"}",
    }
    for name, content in bad.items():
        write(tmp_path, name, content)
    workers, ignored = read_worker_states(tmp_path, "default", alive)
    assert workers == []
    assert sorted(i.path.name for i in ignored) == sorted(bad)
    assert all(i.reason.startswith("malformed") for i in ignored)


def test_a_file_claiming_another_pid_is_malformed(tmp_path: Path) -> None:
    write(tmp_path, "worker-default-101.json", json.dumps(state_document(102)))
    workers, ignored = read_worker_states(tmp_path, "default", alive)
    assert workers == [] and "pid" in ignored[0].reason


def test_a_missing_run_directory_means_no_worker(tmp_path: Path) -> None:
    assert read_worker_states(tmp_path / "absent", "default") == ([], [])


def test_this_process_counts_as_alive(tmp_path: Path) -> None:
    pid = os.getpid()
    write(tmp_path, f"worker-default-{pid}.json", json.dumps(state_document(pid)))
    workers, ignored = read_worker_states(tmp_path, "default")
    assert [w.pid for w in workers] == [pid] and ignored == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(
    st.dictionaries(
        st.sampled_from(["pid", "workspace", "state", "since", "updated_at", "partitions"]),
        json_values,
    )
)
def test_any_json_either_parses_or_is_a_value_error(changes: dict[str, object]) -> None:
    text = json.dumps(state_document(101) | changes)
    with contextlib.suppress(ValueError):
        parse_worker_state(text, "default")


def worker(pid: int, updated: str, partitions: dict[int, str | None]) -> WorkerState:
    at = datetime.fromisoformat(updated)
    return WorkerState(
        pid=pid,
        state="running",
        since=at,
        updated_at=at,
        partitions={
            p: WorkerPartition(0, None if t is None else datetime.fromisoformat(t))
            for p, t in partitions.items()
        },
    )


def test_partitions_join_log_ledger_and_the_newest_holder() -> None:
    old = worker(101, "2026-12-03T10:00:00+00:00", {0: "2026-12-03T09:59:00+00:00", 1: None})
    new = worker(102, "2026-12-03T10:05:00+00:00", {1: "2026-12-03T10:04:00+00:00"})
    statuses = partition_statuses({0: 50, 1: 70, 2: 5}, {0: 50, 1: 60}, [new, old])
    assert [(s.partition, s.ledger_position, s.log_end_offset, s.lag) for s in statuses] == [
        (0, 50, 50, 0),
        (1, 60, 70, 10),
        (2, 0, 5, 5),
    ]
    assert [s.worker_pid for s in statuses] == [101, 102, None]
    assert statuses[1].last_batch_at == datetime(2026, 12, 3, 10, 4, tzinfo=UTC)
    assert statuses[2].last_batch_at is None
