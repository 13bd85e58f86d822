"""The pages' framework: templates, the words and filters they use, and how a page answers.

To add a page (the finance page is written this way):

    router = page_router()

    @router.get("/finance")
    async def finance(request: Request, principal: MunicipalityPage) -> HTMLResponse:
        async with service_of(request).connection() as conn:
            overview = await finance_overview(conn, principal, ...)
        return render_page(request, "finance.html", principal, overview=overview)

and a template that starts `{% extends "base.html" %}` and fills `{% block content %}`
(`{% import "macros.html" as ui %}` gives tables, amounts, month picker, charts and
downloads). In templates, `t("key")` is a string of `i18n.py` in the page's language,
and the filters `amount`, `count`, `seconds`, `period`, `day`, `date`, `datetime` format values
for it. Page routes are not in the OpenAPI description (`page_router` sees to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from ledger.domain.periods import parse_period
from ledger.domain.tokens import Principal
from ledger.http.auth import service_of
from ledger.http.web.formatting import (
    format_amount,
    format_count,
    format_date,
    format_datetime,
    format_day,
    format_period,
    format_seconds,
)
from ledger.http.web.i18n import LANGUAGES, Language, language_of, text
from ledger.http.web.sessions import (
    LANGUAGE_COOKIE,
    PageError,
    page_principal,
    secure_request,
)

language_cookie_max_age_s: Final = 365 * 24 * 3600

# The page each kind of user lands on after signing in.
HOME_OF_SCOPE: Final[Mapping[str, str]] = {
    "municipality": "/finance",
    "vendor": "/vendor",
    "auditor": "/auditor",
    "admin": "/auditor",
}

MunicipalityPage = Annotated[Principal, Depends(page_principal("municipality"))]
VendorPage = Annotated[Principal, Depends(page_principal("vendor"))]
AuditorPage = Annotated[Principal, Depends(page_principal("auditor", "admin"))]
AnyPage = Annotated[
    Principal, Depends(page_principal("municipality", "vendor", "auditor", "admin"))
]


def page_router() -> APIRouter:
    """A router for pages: HTML answers, kept out of the OpenAPI description."""
    return APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def page_language(request: Request) -> Language:
    """`?lang=` wins (and is remembered by `render_page`), then the `lang` cookie, then bokmål."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return language_of(asked)
    return language_of(request.cookies.get(LANGUAGE_COOKIE))


def checked_page_period(value: str | None, default: str) -> str:
    """A `YYYY-MM` from a month picker (`<input type=month>` sends exactly that)."""
    if value is None or value == "":
        return default
    try:
        return parse_period(value)
    except ValueError as error:
        raise PageError(400, "error.bad_request") from error


def _url_with(request: Request, **changes: str | int | None) -> str:
    """This page's path and query with some parameters changed (None removes one)."""
    query = dict(request.query_params)
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = str(value)
    return request.url.path + ("?" + urlencode(query) if query else "")


@pass_context
def _t(context: Context, key: str) -> str:
    return text(context["lang"], key)


@pass_context
def _amount(context: Context, value: int | Decimal | str) -> str:
    return format_amount(value, context["lang"])


@pass_context
def _count(context: Context, value: int) -> str:
    return format_count(value, context["lang"])


@pass_context
def _seconds(context: Context, value: float) -> str:
    return format_seconds(value, context["lang"])


@pass_context
def _period(context: Context, value: str) -> str:
    return format_period(value, context["lang"])


@pass_context
def _day(context: Context, value: date) -> str:
    return format_day(value, context["lang"])


@pass_context
def _date(context: Context, value: date) -> str:
    return format_date(value, context["lang"])


@pass_context
def _datetime(context: Context, value: datetime | str) -> str:
    return format_datetime(value, context["lang"])


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("ledger.http.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a misspelt variable fails the test that renders it
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["t"] = _t
    environment.filters.update(
        amount=_amount,
        count=_count,
        period=_period,
        seconds=_seconds,
        day=_day,
        date=_date,
        datetime=_datetime,
    )
    return environment


TEMPLATES: Final = _environment()


def render_page(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page in the request's language; `?lang=` is remembered in a cookie."""
    language = page_language(request)
    other: Language = "en" if language == "nb" else "nb"
    html = TEMPLATES.get_template(template).render(
        lang=language,
        principal=principal,
        home_of_scope=HOME_OF_SCOPE,
        path=request.url.path,
        switch_language_url=_url_with(request, lang=other),
        url_with=lambda **changes: _url_with(request, **changes),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    response.headers["Cache-Control"] = "no-store"  # a party's numbers stay off shared caches
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=language_cookie_max_age_s,
            path="/",
            samesite="lax",
            secure=secure_request(request),
        )
    return response


async def party_names(request: Request) -> dict[str, str]:
    """Names of municipalities, schools and vendors by id, from the latest catalogue.

    Names are public (the catalogue is the procurement's own list); what a party may
    read is decided by the use cases, never by which names are known here.
    """
    version = await service_of(request).catalogue()
    if version is None:
        return {}
    catalogue = version.catalogue
    names = {vendor.org_no: vendor.name for vendor in catalogue.vendors}
    for municipality in catalogue.municipalities:
        names[municipality.id] = municipality.name
        names.update((school.id, school.name) for school in municipality.schools)
    return names
