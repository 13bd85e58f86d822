"""The ASGI application of `ledger serve`: routes, errors, auth, limits, docs, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ledger.app.api_service import ApiService
from ledger.http import admin, auditor, events, ops, rejections, settlements, usage, xapi
from ledger.http.docs import install_docs
from ledger.http.errors import ErrorBody, install_error_handlers
from ledger.http.metrics import ApiMetrics, install_metrics
from ledger.http.ratelimit import RateLimiter
from ledger.http.web import install_web

api_title: Final = "Usage ledger"
api_version: Final = "1"

# Errors any authenticated route may answer, documented on every operation.
_COMMON_ERRORS: Final = {
    "400": "the request is malformed (a parameter or the body)",
    "401": "no valid bearer token",
    "403": "the token's scope does not allow this",
    "429": "too many requests for this token: see Retry-After",
}
_PUBLIC_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})


def _with_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation documents the JSON error body; FastAPI's 422 becomes our 400."""
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema()
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            codes = {} if path in _PUBLIC_PATHS else dict(_COMMON_ERRORS)
            if path not in _PUBLIC_PATHS:
                codes["500"] = "the server failed (logged)"
            for code in list(responses):
                if code[0] in "45" and code not in codes:
                    codes[code] = responses[code].get("description", "error")
            for code, description in codes.items():
                if code == "503" and path == "/readyz":
                    continue
                responses[code] = {
                    "description": description,
                    "content": {"application/json": {"schema": error_ref}},
                }
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return schema


def create_app(service: ApiService, *, rate_limiter: RateLimiter | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title=api_title,
        version=api_version,
        description="Pay-per-use ledger for digital learning materials: vendors send usage, "
        "municipal finance reads settlements, auditors read the ledger.",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,  # one spelling per path: /v1/events/ is not /v1/events
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.rate_limiter = rate_limiter or RateLimiter()
    app.state.metrics = ApiMetrics()
    install_error_handlers(app)
    install_metrics(app, app.state.metrics)
    install_docs(app)
    app.include_router(ops.router)
    app.include_router(rejections.router)  # before events: /v1/events/{event_id} would match
    app.include_router(events.router)
    app.include_router(xapi.router)
    app.include_router(settlements.router)
    app.include_router(usage.router)
    app.include_router(auditor.router)
    app.include_router(admin.router)
    install_web(app)  # the pages: not in the OpenAPI description

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_error_responses(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
