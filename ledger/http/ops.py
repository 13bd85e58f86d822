"""Health for load balancers and supervisors, metrics for Prometheus: no token needed."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ledger.http.auth import service_of

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    postgresql: bool
    kafka: bool


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="PostgreSQL and the broker answer",
    responses={503: {"model": Readiness, "description": "a dependency does not answer"}},
)
async def readyz(request: Request) -> Response:
    checks = await service_of(request).ready()
    ready = all(checks.values())
    body = Readiness(status="ready" if ready else "unavailable", **checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    exposition: Response = request.app.state.metrics.exposition()
    return exposition
