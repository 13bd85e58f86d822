"""Server-rendered pages for people, on the same server and tokens as the API.

`install_web(app)` adds the pages, their static files (`/static`, served by the
application itself: no CDN) and the answers of `PageError` and `PageRedirect`.
How to write a page: `ledger.http.web.pages`.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ledger.http.web import (
    auditor_routes,
    download_routes,
    finance_routes,
    session_routes,
    vendor_routes,
)
from ledger.http.web.pages import render_page
from ledger.http.web.sessions import SESSION_COOKIE, PageError, PageRedirect, secure_request

STATIC_PATH = "/static"


async def _page_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageError)
    principal = getattr(request.state, "principal", None)
    return render_page(
        request,
        "error.html",
        principal,
        status=error.status,
        headers=error.headers,
        message_key=error.message_key,
    )


async def _page_redirect(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageRedirect)
    response = RedirectResponse(error.location, status_code=303)
    if error.clear_session:
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure_request(request),
        )
    return response


def install_web(app: FastAPI) -> None:
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(PageRedirect, _page_redirect)
    pages = (session_routes, finance_routes, vendor_routes, auditor_routes, download_routes)
    for module in pages:
        app.include_router(module.router)
    static = files("ledger.http.web").joinpath("static")
    app.mount(STATIC_PATH, StaticFiles(directory=str(static)), name="static")
