"""Every error is JSON `{"error": code, "detail": one line}`, never a traceback.

Codes are stable, lower_snake_case and machine-readable; details are for people and
never hold a secret or a learner id (they echo at most what the caller sent).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

detail_characters_max: Final = 300

# The codes Starlette's own errors get (routing, methods).
_STATUS_CODES: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    error: str
    detail: str


class ApiError(Exception):
    """Raised by a route: becomes `status` with the JSON error body (and headers)."""

    def __init__(
        self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


def one_line(text: str) -> str:
    return " ".join(text.split())[:detail_characters_max]


def error_response(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": code, "detail": one_line(detail)}, status_code=status, headers=headers
    )


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.detail, error.headers)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = _STATUS_CODES.get(error.status_code, f"http_{error.status_code}")
    detail = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    return error_response(error.status_code, code, detail, error.headers)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = []
    for problem in error.errors()[:3]:
        where = ".".join(str(part) for part in problem.get("loc", ()))
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return error_response(400, "invalid_parameter", "; ".join(problems) or "invalid request")


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # The route, not the URL: a query string could carry something a log must not keep.
    route = getattr(request.scope.get("route"), "path", "?")
    log.error("internal error on %s %s: %s", request.method, route, type(error).__name__)
    return error_response(500, "internal", "the server failed to answer; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
