"""Verifying a workspace's ledger: every hash chain, closing and settlement digest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.app.workspace import Workspace
from ledger.store.verify import VerifyReport, verify_ledger

__all__ = ["VerifyAlreadyRunning", "VerifyReport", "VerifyRun", "VerifyRuns", "verify_workspace"]


async def verify_workspace(
    ws: Workspace, *, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    return await verify_ledger(ws.database_url, progress=progress)


class VerifyAlreadyRunning(Exception):
    """A verification is under way; its result will be the latest."""


@dataclass(frozen=True)
class VerifyRun:
    report: VerifyReport
    started_at: datetime
    finished_at: datetime
    seconds: float


class VerifyRuns:
    """Verifications asked for over the API: one at a time, the latest result kept.

    A run reads every entry on two connections per core; two at once would only
    halve each one's speed, so a second request is refused while one runs. The
    latest result lives in this process only: it is a report, not a ledger fact
    (anyone may run verify again at any time).
    """

    def __init__(self) -> None:
        self.latest: VerifyRun | None = None
        self._task: asyncio.Task[VerifyRun] | None = None

    async def run(self, ws: Workspace) -> VerifyRun:
        """Verify now and wait for the result; `VerifyAlreadyRunning` while one runs."""
        if self._task is not None and not self._task.done():
            raise VerifyAlreadyRunning("a verification is running: ask for its result shortly")
        self._task = asyncio.create_task(self._verify(ws))
        # Shielded: a client that disconnects does not cut the run short.
        return await asyncio.shield(self._task)

    async def _verify(self, ws: Workspace) -> VerifyRun:
        started_at = datetime.now(UTC)
        started = time.monotonic()
        report = await verify_workspace(ws)
        run = VerifyRun(report, started_at, datetime.now(UTC), time.monotonic() - started)
        self.latest = run
        return run
