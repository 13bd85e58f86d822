"""Feeding a workspace's ledger: sending a file's events, processing, the continuous worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ledger.app.workspace import Workspace, stream_target
from ledger.domain.submitters import OPERATOR
from streams.handler import Progress
from streams.ingest import IngestFileError, read_submissions, send_submissions
from streams.runner import ProcessingTimeout, process_until_idle, run_worker

__all__ = [
    "IngestFileError",
    "ProcessingTimeout",
    "Progress",
    "ingest_file",
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
    return await send_submissions(
        ws.endpoints.kafka_bootstrap, ws.topics.raw, submissions, progress=progress
    )


async def process_workspace(
    ws: Workspace, *, timeout_s: float, on_progress: Callable[[int, int], None] | None = None
) -> Progress:
    """Process every event sent so far into the ledger, then return the run's counters."""
    return await process_until_idle(stream_target(ws), timeout_s=timeout_s, on_progress=on_progress)


async def run_workspace_worker(ws: Workspace, stop: asyncio.Event) -> Progress:
    """The stream application, until `stop` is set."""
    return await run_worker(stream_target(ws), stop)
