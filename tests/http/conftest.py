"""HTTP API fixtures: the real application on the real services, called in-process.

`api` is an httpx client over ASGITransport on `create_app(ApiService(workspace))`:
the routes, auth, limits and use cases are the production ones; only the socket is
skipped (tests/http/test_serve.py runs the real `ledger serve`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from ledger.app.api_service import ApiService
from ledger.app.tokens import create_token
from ledger.app.workspace import Workspace
from ledger.domain.tokens import Scope
from ledger.http.app import create_app
from ledger.http.ratelimit import RateLimiter
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
