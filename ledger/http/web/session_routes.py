"""The front page, and signing in and out."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.http.auth import service_of
from ledger.http.web.pages import HOME_OF_SCOPE, page_router, render_page
from ledger.http.web.sessions import (
    SESSION_COOKIE,
    form_fields,
    rate_limited,
    require_same_origin,
    secure_request,
    session_principal,
)

router = page_router()


def _client_key(request: Request) -> str:
    """Sign-in attempts are limited per client address (there is no token id yet)."""
    return "sign-in:" + (request.client.host if request.client else "unknown")


@router.get("/")
async def front_page(request: Request) -> HTMLResponse:
    principal = await session_principal(request)
    return render_page(request, "index.html", principal, bad_token=False)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    require_same_origin(request)
    rate_limited(request, _client_key(request))
    token = (await form_fields(request)).get("token", "").strip()
    principal = await service_of(request).principal(token) if token else None
    if principal is None:
        return render_page(request, "index.html", None, status=401, bad_token=True)
    response = RedirectResponse(HOME_OF_SCOPE[principal.scope], status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_request(request),
        path="/",
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    require_same_origin(request)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure_request(request)
    )
    return response
