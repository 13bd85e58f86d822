"""Is the database there? A one-round-trip probe for readiness checks."""

from __future__ import annotations

import asyncio
from typing import Final

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

probe_timeout_s: Final = 3.0


async def database_reachable(engine: AsyncEngine) -> bool:
    async def probe() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(probe(), probe_timeout_s)
    except (SQLAlchemyError, OSError, TimeoutError):
        return False
    return True
