"""HTTP API fixtures: the real application on the real services, called in-process.

`api` is an httpx client over ASGITransport on `create_app(ApiService(workspace))`:
the routes, auth, limits and use cases are the production ones; only the socket is
skipped (tests/http/test_serve.py runs the real `ledger serve`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ledger.app.api_service import ApiService
from ledger.app.tokens import create_token
from ledger.app.workspace import Workspace, stream_target
from ledger.domain.tokens import Scope
from ledger.http.app import create_app
from ledger.http.ratelimit import RateLimiter
from streams.runner import run_worker
from tests.integration.conftest import load_catalogue, workspace  # noqa: F401  (fixture)

# The integration catalogue's parties (tests/integration/catalogue.yaml).
VENDOR = "987654325"
OTHER_VENDOR = "912000001"
MUNICIPALITY = "3201"
OTHER_MUNICIPALITY = "3203"


@dataclass
class Api:
    client: httpx.AsyncClient
    service: ApiService
    ws: Workspace

    async def token(self, scope: Scope, subject: str) -> str:
        return (await create_token(self.ws, scope, subject)).token

    async def headers(self, scope: Scope, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(scope, subject)}"}


@pytest.fixture
async def api(workspace: Workspace) -> AsyncIterator[Api]:  # noqa: F811
    await load_catalogue(workspace)
    service = ApiService(workspace)
    app = create_app(service, rate_limiter=RateLimiter(10_000, 10_000))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ledger.test") as client:
        yield Api(client, service, workspace)
    await service.close()


@pytest.fixture
async def worker(api: Api) -> AsyncIterator[None]:
    """The stream worker of the API's workspace, running in-process for the test (what
    `?wait=` and settling over HTTP wait for)."""
    stop = asyncio.Event()
    task = asyncio.ensure_future(run_worker(stream_target(api.ws), stop))
    yield
    stop.set()
    await asyncio.wait_for(task, 30)


def event(event_id: str, **changes: Any) -> dict[str, Any]:
    """A valid event of VENDOR at a Bærum school in 2026-10, with `changes` applied."""
    base: dict[str, Any] = {
        "event_id": event_id,
        "vendor": VENDOR,
        "product": "matte-1-7",
        "school": "974626993",
        "learner": f"learner-{event_id}",
        "role": "pupil",
        "action": "open",
        "item": "kap-3",
        "quantity": 1,
        "unit": "access",
        "occurred_at": "2026-10-05T08:15:00Z",
    }
    base.update(changes)
    return base
