"""Who is looking at a page: the session cookie or a bearer token, and forms from elsewhere.

Signing in stores the token itself in a cookie that scripts cannot read (HttpOnly),
that the browser sends only with requests started on this site (SameSite=Strict),
on every path (Path=/), over https only when the page was served over https
(Secure), and that ends with the browser session. The token's own expiry and
revocation still apply on every request, exactly as for the API, with the same
per-token rate limit. `Authorization: Bearer` works on every page too, and wins.

Cross-site request forgery: every form POST (sign-in, sign-out, verify) must come
from a page of this site. Two defences, both needed to get past: the cookie is
SameSite=Strict (a form posted from another site arrives without it), and
`require_same_origin` refuses a POST whose Origin (or, when a browser sends none,
Referer) names another host than the request's own. A POST with neither header is
refused too, unless it is authenticated by an Authorization header, which another
site cannot make a browser send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

from ledger.domain.tokens import Principal, Scope
from ledger.http.auth import service_of
from ledger.http.ratelimit import RateLimiter

SESSION_COOKIE: Final = "ledger_session"
LANGUAGE_COOKIE: Final = "lang"
form_body_bytes_max: Final = 4_096  # a token and a few fields; anything longer is not ours


class PageError(Exception):
    """Answered with the error page: `status` and the text of `message_key` (i18n)."""

    def __init__(
        self, status: int, message_key: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message_key)
        self.status = status
        self.message_key = message_key
        self.headers = dict(headers or {})


class PageRedirect(Exception):
    """Answered with 303 See Other to `location` (a path of this site)."""

    def __init__(self, location: str, *, clear_session: bool = False) -> None:
        super().__init__(location)
        self.location = location
        self.clear_session = clear_session


def secure_request(request: Request) -> bool:
    return request.url.scheme == "https"


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def bearer_token(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def rate_limited(request: Request, key: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    retry_after = limiter.retry_after_s(key)
    if retry_after:
        raise PageError(429, "error.rate_limited", {"Retry-After": str(retry_after)})


async def session_principal(request: Request) -> Principal | None:
    """The principal of the bearer token or, failing that, of the session cookie."""
    token = bearer_token(request) or request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    principal = await service_of(request).principal(token)
    if principal is not None:
        rate_limited(request, principal.token_id)
    return principal


def page_principal(*scopes: Scope) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the page's principal when its scope is one of `scopes`.

    Nobody signed in: a browser (Accept: text/html) is sent to the sign-in page
    (and a cookie that no longer works is cleared); anything else gets 401.
    Signed in with another scope: 403.
    """

    async def dependency(request: Request) -> Principal:
        principal = await session_principal(request)
        if principal is None:
            if wants_html(request):
                raise PageRedirect("/", clear_session=SESSION_COOKIE in request.cookies)
            raise PageError(401, "error.unauthorized", {"WWW-Authenticate": "Bearer"})
        request.state.principal = principal  # the error page, too, shows who is signed in
        if principal.scope not in scopes:
            raise PageError(403, "error.forbidden")
        return principal

    return dependency


def require_same_origin(request: Request) -> None:
    """Refuse a form POST that did not come from a page of this site (see the module doc)."""
    host = request.headers.get("host", "")
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None or source == "null":
        if bearer_token(request) is not None:
            return
        raise PageError(403, "error.bad_origin")
    if not host or urlsplit(source).netloc != host:
        raise PageError(403, "error.bad_origin")


async def form_fields(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body, read up to `form_body_bytes_max`."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > form_body_bytes_max):
        raise PageError(413, "error.bad_request")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > form_body_bytes_max:
            raise PageError(413, "error.bad_request")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=16)
    except (UnicodeDecodeError, ValueError) as error:
        raise PageError(400, "error.bad_request") from error
    return {name: values[0] for name, values in parsed.items()}
