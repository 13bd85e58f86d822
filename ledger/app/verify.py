"""Verifying a workspace's ledger: every hash chain, closing and settlement digest."""

from __future__ import annotations

from collections.abc import Callable

from ledger.app.workspace import Workspace
from ledger.store.verify import VerifyReport, verify_ledger

__all__ = ["VerifyReport", "verify_workspace"]


async def verify_workspace(
    ws: Workspace, *, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    return await verify_ledger(ws.database_url, progress=progress)
