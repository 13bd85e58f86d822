"""Who is asking: the bearer token, its scope, and the per-token rate limit.

Routes declare the scopes they serve with `Depends(allow("vendor", "admin"))`. A
missing, unknown, expired or revoked token is 401; a valid token of another scope
is 403. Data of another party of the same scope is refused by the route itself
(403, or 404 where saying "it exists" would already leak).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.app.api_service import ApiService
from ledger.domain.tokens import Principal, Scope
from ledger.http.errors import ApiError
from ledger.http.ratelimit import RateLimiter

bearer = HTTPBearer(auto_error=False, description="A token from `ledger tokens create`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def service_of(request: Request) -> ApiService:
    service: ApiService = request.app.state.service
    return service


async def _principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>", _CHALLENGE)
    principal = await service_of(request).principal(credentials.credentials)
    if principal is None:
        raise ApiError(
            401, "unauthorized", "the token is not valid (unknown, expired or revoked)", _CHALLENGE
        )
    limiter: RateLimiter = request.app.state.rate_limiter
    retry_after = limiter.retry_after_s(principal.token_id)
    if retry_after:
        raise ApiError(
            429,
            "rate_limited",
            f"more than {limiter.rate:g} requests per second for this token: retry later",
            {"Retry-After": str(retry_after)},
        )
    request.state.principal = principal
    return principal


def allow(*scopes: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the request's principal, when its scope is one of `scopes`."""

    async def dependency(principal: Principal = Depends(_principal)) -> Principal:
        if principal.scope not in scopes:
            raise ApiError(
                403,
                "forbidden",
                f"a {principal.scope} token cannot use this: it is for {', '.join(scopes)}",
            )
        return principal

    return dependency
