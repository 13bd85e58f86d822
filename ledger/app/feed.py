"""Feeding a workspace's ledger: sending a file's events, processing, the continuous worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ledger.app.worker_state import WorkerStateFile
from ledger.app.workspace import Workspace, stream_target
from ledger.domain.submitters import OPERATOR
from streams.handler import Progress
from streams.ingest import IngestFileError, read_submissions, send_submissions
from streams.metrics import WorkerMetrics
from streams.runner import ProcessingTimeout, process_until_idle, run_worker
from streams.supervision import (
    StopDeadline,
    WorkerFailed,
    WorkerMonitor,
    install_log_throttle,
    outage_limit_s_default,
)

__all__ = [
    "IngestFileError",
    "ProcessingTimeout",
    "Progress",
    "WorkerFailed",
    "ingest_file",
    "install_log_throttle",
    "outage_limit_s_default",
    "process_workspace",
    "run_workspace_worker",
]


async def ingest_file(
    ws: Workspace, path: Path, *, progress: Callable[[int], None] | None = None
) -> int:
    """Send a file's events (JSON Lines or Avro) to the raw log as a producer would.

    Marked as the operator's: whoever runs `ledger ingest` may send any vendor's events
    (a vendor's own token goes through the API, which marks them as that vendor's).
    """
    submissions = (submission.with_submitter(OPERATOR) for submission in read_submissions(path))
    return await send_submissions(ws.kafka_ingest, ws.topics.raw, submissions, progress=progress)


async def process_workspace(
    ws: Workspace, *, timeout_s: float, on_progress: Callable[[int, int], None] | None = None
) -> Progress:
    """Process every event sent so far into the ledger, then return the run's counters."""
    return await process_until_idle(stream_target(ws), timeout_s=timeout_s, on_progress=on_progress)


async def run_workspace_worker(
    ws: Workspace,
    stop: asyncio.Event,
    *,
    outage_limit_s: float = outage_limit_s_default,
    metrics_port: int = 0,
) -> Progress:
    """The stream application, until `stop` is set or SIGTERM/SIGINT arrive; `WorkerFailed`
    when it cannot go on. A stop asked for ends the process within `stop_deadline_s`.

    Keeps `$LEDGER_HOME/run/worker-<workspace>-<pid>.json` current (removed on exit) and,
    with `metrics_port`, serves Prometheus metrics there.
    """
    state_file = WorkerStateFile(ws.home, ws.name)
    monitor = WorkerMonitor(listeners=[state_file])
    if metrics_port:
        metrics = WorkerMetrics()
        monitor.listeners.append(metrics.update)
        metrics.serve(metrics_port)
    deadline = StopDeadline(cleanup=state_file.remove)
    deadline.stop_on_signals(stop)
    try:
        return await run_worker(
            stream_target(ws),
            stop,
            monitor=monitor,
            outage_limit_s=outage_limit_s,
            deadline=deadline,
        )
    finally:
        state_file.remove()
