"""Month to date against caps (`GET /v1/usage`): what the month costs so far, nothing recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from ledger.app.month_to_date import LicenceUsage, usage_so_far, visible_usage
from ledger.app.workspace import WorkspaceError
from ledger.domain.money import format_ore
from ledger.domain.periods import period_of
from ledger.domain.tokens import Principal
from ledger.http.auth import allow, service_of
from ledger.http.errors import ApiError
from ledger.http.params import PeriodQuery, checked_period

router = APIRouter(tags=["usage"])


class SchoolQuantity(BaseModel):
    school: str
    quantity: int


class LicenceUsageModel(BaseModel):
    licence: str
    vendor: str
    municipality: str = Field(description="The buyer")
    metric: str
    unit: str | None
    quantity: int = Field(description="The municipality's own quantity so far")
    amount: str = Field(description="Its share of the licence amount so far, NOK, excl. VAT")
    licence_quantity: int = Field(description="The licence's quantity (all its buyers)")
    licence_amount: str = Field(description="The licence's amount after caps, NOK")
    monthly_cap: str | None = Field(description="The ceiling on the licence amount, NOK")
    max_per_pupil: str | None = Field(description="The ceiling per school and pupil, NOK")
    cap_applied: bool = Field(description="A ceiling reduced the amount")
    schools: list[SchoolQuantity]


class UnlicensedUsageModel(BaseModel):
    municipality: str
    vendor: str
    events: int
    learners: int


class UsageAnswer(BaseModel):
    period: str
    computed_at: datetime
    catalogue_version: int
    licences: list[LicenceUsageModel]
    unlicensed: list[UnlicensedUsageModel]


def licence_model(item: LicenceUsage) -> LicenceUsageModel:
    return LicenceUsageModel(
        licence=item.licence,
        vendor=item.vendor,
        municipality=item.buyer,
        metric=item.metric,
        unit=item.unit,
        quantity=item.quantity,
        amount=format_ore(item.amount_ore),
        licence_quantity=item.licence_quantity,
        licence_amount=format_ore(item.licence_amount_ore),
        monthly_cap=str(item.monthly_cap) if item.monthly_cap is not None else None,
        max_per_pupil=str(item.max_per_pupil) if item.max_per_pupil is not None else None,
        cap_applied=item.cap_applied,
        schools=[SchoolQuantity(school=s, quantity=q) for s, q in item.schools],
    )


@router.get(
    "/v1/usage",
    response_model=UsageAnswer,
    summary="Usage and amounts so far this month, against caps",
    description="Priced exactly as a settlement would be if the month closed now, from "
    "what the ledger holds now (events still in flight are not in it yet). A municipality "
    "token sees its own purchases, a vendor token its own sales, auditor and admin tokens "
    "everything. Without `period`, the current month in Europe/Oslo.",
    responses={409: {"description": "no catalogue has been loaded yet"}},
)
async def get_usage(
    request: Request,
    principal: Annotated[Principal, Depends(allow("municipality", "vendor", "auditor", "admin"))],
    period: PeriodQuery = None,
) -> UsageAnswer:
    now = datetime.now(UTC)
    month = checked_period(period) if period is not None else period_of(now)
    try:
        async with service_of(request).connection() as conn:
            usage = visible_usage(await usage_so_far(conn, month), principal)
    except WorkspaceError as error:
        raise ApiError(409, "no_catalogue", str(error)) from error
    return UsageAnswer(
        period=usage.period,
        computed_at=now,
        catalogue_version=usage.catalogue_version,
        licences=[licence_model(item) for item in usage.licences],
        unlicensed=[
            UnlicensedUsageModel(
                municipality=u.municipality, vendor=u.vendor, events=u.events, learners=u.learners
            )
            for u in usage.unlicensed
        ],
    )
