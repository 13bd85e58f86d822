"""The shape of a catalogue file: one pydantic model per item, one phrase per failure.

Each field validator says what is wrong in words a municipality's clerk can act on;
pydantic adds where (`catalogue_parse` turns both into one sentence). Decimals are
read from text or YAML numbers without float arithmetic and kept in their shortest
form, so a reformatted file gives the same catalogue.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator

from ledger.domain.catalogue import Metric, Role, Split
from ledger.domain.catalogue_problems import kind, shown
from ledger.domain.events import identifier_characters_max
from ledger.domain.invariants import invariant
from ledger.domain.orgno import is_valid_org_no

# Limits, each with its unit.
name_characters_max: Final = 200
population_max: Final = 10_000_000
pupils_max: Final = 100_000  # per school
tier_up_to_max: Final = 10**12
tiers_max: Final = 100
price_nok_max: Final = Decimal(10) ** 10  # keeps every amount in øre far inside a bigint

_decimal_text: Final = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?", re.ASCII)
_date_text: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_municipality_id_text: Final = re.compile(r"[0-9]{4}", re.ASCII)


# ---------------------------------------------------------------------------------------
# Field validators: one readable phrase per failure (pydantic adds the location).


def _text(value: str, limit: int) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > limit:
        raise ValueError(f"has {len(value)} characters; at most {limit} allowed")
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValueError("must not contain control characters (such as line breaks)")
    return value


def _name(value: str) -> str:
    return _text(value, name_characters_max)


def _identifier(value: str) -> str:
    _text(value, identifier_characters_max)
    if value != value.strip():
        raise ValueError(f"{json.dumps(value)} must not begin or end with spaces")
    return value


def _org_no(value: str) -> str:
    if not is_valid_org_no(value):
        raise ValueError(
            f"{json.dumps(value)} is not a valid organisation number "
            "(9 digits, the last a mod-11 check digit)"
        )
    return value


def _municipality_id(value: str) -> str:
    if _municipality_id_text.fullmatch(value) is None:
        raise ValueError(f"{json.dumps(value)} is not a municipality number (4 digits)")
    return value


def _decimal(value: object) -> Decimal:
    """A decimal from a string ("12.50") or a YAML/JSON number, never via float arithmetic."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f'must be a decimal number such as "12.50", not {kind(value)}')
    if isinstance(value, str):
        if _decimal_text.fullmatch(value) is None:
            raise ValueError(f'{json.dumps(value)} is not a decimal number such as "12.50"')
        number = Decimal(value)
    else:
        try:
            number = Decimal(str(value))  # str(float) is the shortest text that round-trips
        except InvalidOperation as error:
            raise ValueError(f"{value!r} is not a decimal number") from error
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite decimal number")
    return normalise_decimal(number)


def _money(value: object) -> Decimal:
    amount = _decimal(value)
    if amount < 0:
        raise ValueError(f"{decimal_text(amount)} must not be negative")
    if amount > price_nok_max:
        raise ValueError(f"{decimal_text(amount)} is above the limit of {price_nok_max} NOK")
    if _decimal_places(amount) > 2:
        raise ValueError(f"{decimal_text(amount)} NOK has more than 2 decimals (øre)")
    return amount


def _rate(value: object) -> Decimal:
    rate = _decimal(value)
    if not Decimal(0) <= rate <= Decimal(1):
        raise ValueError(f"{decimal_text(rate)} must be between 0 and 1 (0.25 for 25 %)")
    return rate


def _date(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError("must be a date (YYYY-MM-DD) without a time")
    if isinstance(value, date):
        return value  # YAML reads an unquoted 2026-08-01 as a date
    if not isinstance(value, str) or _date_text.fullmatch(value) is None:
        raise ValueError(f"must be a date written YYYY-MM-DD, not {shown(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{json.dumps(value)} is not a real date") from error


def _schools_scope(value: object) -> tuple[str, ...] | None:
    if value == "all":
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(
            f"must be all or a list of school organisation numbers, not {shown(value)}"
        )
    return tuple(value)


def _roles(value: object) -> tuple[Role, ...]:
    if not isinstance(value, list):
        raise ValueError(f"must be a list of roles (pupil, teacher), not {shown(value)}")
    roles: list[Role] = []
    for item in value:
        if item == "pupil":
            roles.append("pupil")
        elif item == "teacher":
            roles.append("teacher")
        else:
            raise ValueError(f"{shown(item)} is not a role: use pupil or teacher")
    return tuple(roles)


Name = Annotated[str, AfterValidator(_name)]
Identifier = Annotated[str, AfterValidator(_identifier)]
OrgNo = Annotated[str, AfterValidator(_org_no)]
MunicipalityId = Annotated[str, AfterValidator(_municipality_id)]
Money = Annotated[Decimal, PlainValidator(_money)]
Rate = Annotated[Decimal, PlainValidator(_rate)]
DateValue = Annotated[date, PlainValidator(_date)]
SchoolsScope = Annotated[tuple[str, ...] | None, PlainValidator(_schools_scope)]
Roles = Annotated[tuple[Role, ...], PlainValidator(_roles)]
Population = Annotated[int, Field(ge=0, le=population_max)]
Pupils = Annotated[int, Field(ge=0, le=pupils_max)]
UpTo = Annotated[int, Field(ge=1, le=tier_up_to_max)]


# ---------------------------------------------------------------------------------------
# The file's shape


class _FileModel(BaseModel):
    # strict: "3201" must be a string and 420 a number; no silent conversions.
    # extra forbidden: a misspelt key ("valid_too") is a problem, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SchoolModel(_FileModel):
    id: OrgNo
    name: Name
    pupils: Pupils


class MunicipalityModel(_FileModel):
    id: MunicipalityId
    org_no: OrgNo
    name: Name
    population: Population
    buyer_reference: Name | None = None
    schools: list[SchoolModel]


class ProductModel(_FileModel):
    id: Identifier
    name: Name


class VendorModel(_FileModel):
    org_no: OrgNo
    name: Name
    products: list[ProductModel]


class TierModel(_FileModel):
    up_to: UpTo | None
    unit_price: Money


class PricingModel(_FileModel):
    metric: Metric
    unit: Identifier | None = None
    unit_price: Money | None = None
    tiers: Annotated[list[TierModel], Field(max_length=tiers_max)] | None = None
    monthly_cap: Money | None = None
    max_per_pupil: Money | None = None


class LicenceModel(_FileModel):
    id: Identifier
    vendor: str
    products: list[str]
    buyers: list[str]
    schools: SchoolsScope
    valid_from: DateValue
    valid_to: DateValue
    vat_rate: Rate
    billable_roles: Roles = ("pupil",)
    split: Split = "usage"
    order_reference: Name | None = None
    pricing: PricingModel


# ---------------------------------------------------------------------------------------
# Decimals in their shortest form (also the canonical form's text)


def normalise_decimal(number: Decimal) -> Decimal:
    """The same value with no trailing zeros and no negative zero: 12.50 → 12.5."""
    return Decimal(decimal_text(number))


def decimal_text(number: Decimal) -> str:
    """Shortest fixed-point text (never an exponent): 12.50 → "12.5", 1.25E+3 → "1250"."""
    if number == 0:
        return "0"
    return format(number.normalize(), "f")


def _decimal_places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    invariant(isinstance(exponent, int), "a finite decimal has an integer exponent")
    return max(0, -int(exponent))
