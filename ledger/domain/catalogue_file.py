"""Catalogue files (CONTRACT section 2): parse, validate, canonical form and its hash.

A catalogue decides who pays whom, so a file with any problem is refused whole, with
every problem listed (one sentence each, with its location), and nothing of it is used.

Pipeline: YAML/JSON text → plain document (dicts, lists, scalars) → pydantic models per
item (shape, types, formats, ranges) → cross-reference rules (duplicates, references,
pricing combinations) → the frozen dataclasses of `ledger.domain.catalogue`.

The parsed catalogue is normalised: every list whose order carries no meaning is sorted
by id and every decimal is in its shortest form, so a reordered or reformatted file is
the same catalogue with the same canonical JSON and the same sha256.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
)

from ledger.domain.catalogue import (
    Catalogue,
    Licence,
    Municipality,
    Pricing,
    Product,
    Role,
    School,
    Tier,
    Vendor,
)
from ledger.domain.events import identifier_characters_max
from ledger.domain.invariants import invariant
from ledger.domain.orgno import is_valid_org_no

# Limits, each with its unit.
catalogue_bytes_max: Final = 4 * 1024 * 1024  # the canonical JSON travels in one Kafka message
name_characters_max: Final = 200
population_max: Final = 10_000_000
pupils_max: Final = 100_000  # per school
tier_up_to_max: Final = 10**12
tiers_max: Final = 100
price_nok_max: Final = Decimal(10) ** 10  # keeps every amount in øre far inside a bigint
problems_listed_max: Final = 1000  # beyond this the rest are counted, not listed

ROLE_ORDER: Final[tuple[Role, ...]] = ("pupil", "teacher")
_decimal_text: Final = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?", re.ASCII)
_date_text: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_municipality_id_text: Final = re.compile(r"[0-9]{4}", re.ASCII)


class CatalogueRejected(ValueError):
    """The catalogue file breaks one or more rules; nothing of it may be applied."""

    def __init__(self, problems: list[str]) -> None:
        invariant(bool(problems), "a rejected catalogue has at least one problem")
        self.problems = problems
        super().__init__("\n".join(problems))


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
        raise ValueError(f'must be a decimal number such as "12.50", not {_kind(value)}')
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
        raise ValueError(f"must be a date written YYYY-MM-DD, not {_shown(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{json.dumps(value)} is not a real date") from error


def _schools_scope(value: object) -> tuple[str, ...] | None:
    if value == "all":
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(
            f"must be all or a list of school organisation numbers, not {_shown(value)}"
        )
    return tuple(value)


def _roles(value: object) -> tuple[Role, ...]:
    if not isinstance(value, list):
        raise ValueError(f"must be a list of roles (pupil, teacher), not {_shown(value)}")
    roles: list[Role] = []
    for item in value:
        if item == "pupil":
            roles.append("pupil")
        elif item == "teacher":
            roles.append("teacher")
        else:
            raise ValueError(f"{_shown(item)} is not a role: use pupil or teacher")
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
    metric: Literal["active_learners", "units", "fixed_per_pupil"]
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
    split: Literal["usage", "population"] = "usage"
    order_reference: Name | None = None
    pricing: PricingModel


_Model = TypeVar("_Model", bound=_FileModel)
_top_level_keys: Final = ("municipalities", "vendors", "licences")


# ---------------------------------------------------------------------------------------
# Parsing


def load_catalogue_text(text: str) -> Catalogue:
    """A catalogue from YAML or JSON text (YAML 1.1 is a superset of JSON)."""
    size = len(text.encode("utf-8"))
    if size > catalogue_bytes_max:
        raise CatalogueRejected(
            [f"the file is {size} bytes; a catalogue may be at most {catalogue_bytes_max} bytes"]
        )
    try:
        document = yaml.load(text, Loader=_CatalogueLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        problem = f"the file is not valid YAML or JSON: {_yaml_problem(error)}"
        raise CatalogueRejected([problem]) from error
    return parse_catalogue(document)


def parse_catalogue(document: object) -> Catalogue:
    """A catalogue from a loaded document (CONTRACT section 2), or `CatalogueRejected`."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise CatalogueRejected(
            ["the catalogue must be a mapping with the keys municipalities, vendors, licences"]
        )
    for key in document:
        if key not in _top_level_keys:
            sections = ", ".join(_top_level_keys)
            problems.append(f"{_shown(key)}: is not a known section (use {sections})")
    municipalities = _parse_items(document, "municipalities", MunicipalityModel, problems)
    vendors = _parse_items(document, "vendors", VendorModel, problems)
    licences = _parse_items(document, "licences", LicenceModel, problems)
    references = _References(document, municipalities, vendors)
    _check_duplicates(document, problems)
    _check_licences(licences, references, problems)
    if problems:
        raise CatalogueRejected(_bounded(problems))
    return _build(
        [model for _, model in municipalities],
        [model for _, model in vendors],
        [model for _, model in licences],
    )


def _parse_items(
    document: Mapping[object, object],
    section: str,
    model: type[_Model],
    problems: list[str],
) -> list[tuple[str, _Model]]:
    """Validate each item of a section on its own, so every item's problems are listed."""
    if section not in document:
        problems.append(f"{section}: is required (a list, possibly empty)")
        return []
    items = document[section]
    if not isinstance(items, list):
        problems.append(f"{section}: must be a list, not {_kind(items)}")
        return []
    parsed: list[tuple[str, _Model]] = []
    for index, item in enumerate(items):
        location = _item_location(section, index, item)
        try:
            parsed.append((location, model.model_validate(item)))
        except ValidationError as error:
            problems.extend(_pydantic_problems(location, item, error))
    return parsed


class _References:
    """What licences may refer to. Ids of items that failed to parse count as known, so a
    broken vendor entry is reported once rather than again in every licence naming it."""

    def __init__(
        self,
        document: Mapping[object, object],
        municipalities: Sequence[tuple[str, MunicipalityModel]],
        vendors: Sequence[tuple[str, VendorModel]],
    ) -> None:
        self.municipalities = {model.id for _, model in municipalities}
        self.school_municipality: dict[str, str] = {}
        for _, municipality in municipalities:
            for school in municipality.schools:
                self.school_municipality.setdefault(school.id, municipality.id)
        self.vendor_products: dict[str, set[str]] = {}
        for _, vendor in vendors:  # the first definition counts, as in Catalogue
            self.vendor_products.setdefault(
                vendor.org_no, {product.id for product in vendor.products}
            )
        # A missing or unreadable section is reported once; its references are not checked.
        self.municipalities_readable = isinstance(document.get("municipalities"), list)
        self.vendors_readable = isinstance(document.get("vendors"), list)
        self.broken_municipalities = _raw_ids(document.get("municipalities"), "id")
        self.broken_municipalities -= self.municipalities
        self.broken_schools: set[str] = set()
        for raw in _raw_list(document.get("municipalities")):
            self.broken_schools |= _raw_ids(_raw_get(raw, "schools"), "id")
        self.broken_schools -= set(self.school_municipality)
        self.broken_vendors = _raw_ids(document.get("vendors"), "org_no")
        self.broken_vendors -= set(self.vendor_products)


def _check_duplicates(document: Mapping[object, object], problems: list[str]) -> None:
    """Duplicate ids, found on the raw document so that items with other problems count too."""
    municipality_ids: dict[str, str] = {}
    municipality_org_nos: dict[str, str] = {}
    school_ids: dict[str, str] = {}
    for index, item in enumerate(_raw_list(document.get("municipalities"))):
        location = _item_location("municipalities", index, item)
        _note_duplicate(municipality_ids, item, "id", location, "municipality id", problems)
        _note_duplicate(
            municipality_org_nos, item, "org_no", location, "organisation number", problems
        )
        for school_index, school in enumerate(_raw_list(_raw_get(item, "schools"))):
            school_location = f"{location}.schools[{school_index}]{_label(school)}"
            _note_duplicate(school_ids, school, "id", school_location, "school id", problems)
    vendor_org_nos: dict[str, str] = {}
    for index, item in enumerate(_raw_list(document.get("vendors"))):
        location = _item_location("vendors", index, item)
        _note_duplicate(
            vendor_org_nos, item, "org_no", location, "vendor organisation number", problems
        )
        product_ids: dict[str, str] = {}
        for product_index, product in enumerate(_raw_list(_raw_get(item, "products"))):
            product_location = f"{location}.products[{product_index}]{_label(product)}"
            _note_duplicate(product_ids, product, "id", product_location, "product id", problems)
    licence_ids: dict[str, str] = {}
    for index, item in enumerate(_raw_list(document.get("licences"))):
        location = _item_location("licences", index, item)
        _note_duplicate(licence_ids, item, "id", location, "licence id", problems)


def _check_licences(
    licences: Sequence[tuple[str, LicenceModel]],
    references: _References,
    problems: list[str],
) -> None:
    for location, licence in licences:
        found: list[str] = []
        _check_licence_vendor(licence, references, found)
        _check_licence_buyers(licence, references, found)
        _check_licence_schools(licence, references, found)
        if licence.valid_from > licence.valid_to:
            found.append(
                f"valid_from {licence.valid_from.isoformat()} is after "
                f"valid_to {licence.valid_to.isoformat()}"
            )
        if not licence.billable_roles:
            found.append("billable_roles must list at least one role (pupil, teacher)")
        for role in _repeated(licence.billable_roles):
            found.append(f"billable_roles lists {role} more than once")
        _check_pricing(licence.pricing, found)
        problems.extend(f"{location}: {sentence}" for sentence in found)


def _check_licence_vendor(licence: LicenceModel, references: _References, found: list[str]) -> None:
    if not licence.products:
        found.append("products must list at least one product")
    for product in _repeated(licence.products):
        found.append(f"products lists {_shown(product)} more than once")
    if licence.vendor in references.broken_vendors or not references.vendors_readable:
        return  # already reported where the vendor is defined
    products = references.vendor_products.get(licence.vendor)
    if products is None:
        found.append(f"vendor {_shown(licence.vendor)} is not a known vendor")
        return
    for product in licence.products:
        if product not in products:
            found.append(
                f"product {_shown(product)} is not a product of vendor {_shown(licence.vendor)}"
            )


def _check_licence_buyers(licence: LicenceModel, references: _References, found: list[str]) -> None:
    if not licence.buyers:
        found.append("buyers must list at least one municipality id")
    for buyer in _repeated(licence.buyers):
        found.append(f"buyers lists {_shown(buyer)} more than once")
    if not references.municipalities_readable:
        return
    for buyer in licence.buyers:
        if buyer not in references.municipalities and buyer not in references.broken_municipalities:
            found.append(f"buyer {_shown(buyer)} is not a known municipality")


def _check_licence_schools(
    licence: LicenceModel, references: _References, found: list[str]
) -> None:
    if licence.schools is None or not references.municipalities_readable:
        return
    if not licence.schools:
        found.append("schools must be all or a non-empty list of school ids")
    for school in _repeated(licence.schools):
        found.append(f"schools lists {_shown(school)} more than once")
    for school in licence.schools:
        if school in references.broken_schools:
            continue
        municipality = references.school_municipality.get(school)
        if municipality is None:
            found.append(f"school {_shown(school)} is not a known school")
        elif municipality not in licence.buyers:
            found.append(
                f"school {_shown(school)} belongs to municipality {municipality}, "
                "which is not one of the licence's buyers"
            )


def _check_pricing(pricing: PricingModel, found: list[str]) -> None:
    if pricing.metric == "units" and pricing.unit is None:
        found.append("pricing.unit is required for metric units (for example access)")
    if pricing.metric != "units" and pricing.unit is not None:
        found.append(f"pricing.unit is only for metric units, not {pricing.metric}")
    if (pricing.unit_price is None) == (pricing.tiers is None):
        found.append("pricing must have exactly one of unit_price and tiers")
    if pricing.max_per_pupil is not None and pricing.unit_price is None:
        found.append("pricing.max_per_pupil is only allowed with unit_price, not with tiers")
    if pricing.tiers is not None:
        _check_tiers(pricing.tiers, found)


def _check_tiers(tiers: Sequence[TierModel], found: list[str]) -> None:
    if not tiers:
        found.append("pricing.tiers must have at least one tier")
        return
    if tiers[-1].up_to is not None:
        found.append("pricing.tiers: the last tier must have up_to: null (no upper bound)")
    previous = 0
    for index, tier in enumerate(tiers):
        if tier.up_to is None:
            if index != len(tiers) - 1:
                found.append(f"pricing.tiers[{index}]: only the last tier may have up_to: null")
            continue
        if tier.up_to <= previous:
            found.append(
                f"pricing.tiers[{index}]: up_to {tier.up_to} must be greater than the "
                f"previous tier's {previous}"
            )
        previous = max(previous, tier.up_to)


# ---------------------------------------------------------------------------------------
# Building the catalogue values (sorted: order in the file carries no meaning)


def _build(
    municipalities: Iterable[MunicipalityModel],
    vendors: Iterable[VendorModel],
    licences: Iterable[LicenceModel],
) -> Catalogue:
    return Catalogue(
        municipalities=tuple(
            Municipality(
                id=m.id,
                org_no=m.org_no,
                name=m.name,
                population=m.population,
                schools=tuple(
                    School(id=s.id, name=s.name, pupils=s.pupils)
                    for s in sorted(m.schools, key=lambda s: s.id)
                ),
                buyer_reference=m.buyer_reference,
            )
            for m in sorted(municipalities, key=lambda m: m.id)
        ),
        vendors=tuple(
            Vendor(
                org_no=v.org_no,
                name=v.name,
                products=tuple(
                    Product(id=p.id, name=p.name) for p in sorted(v.products, key=lambda p: p.id)
                ),
            )
            for v in sorted(vendors, key=lambda v: v.org_no)
        ),
        licences=tuple(_build_licence(lic) for lic in sorted(licences, key=lambda lic: lic.id)),
    )


def _build_licence(licence: LicenceModel) -> Licence:
    pricing = licence.pricing
    return Licence(
        id=licence.id,
        vendor=licence.vendor,
        products=tuple(sorted(licence.products)),
        buyers=tuple(sorted(licence.buyers)),
        schools=None if licence.schools is None else tuple(sorted(licence.schools)),
        valid_from=licence.valid_from,
        valid_to=licence.valid_to,
        vat_rate=licence.vat_rate,
        pricing=Pricing(
            metric=pricing.metric,
            unit=pricing.unit,
            unit_price=pricing.unit_price,
            tiers=None
            if pricing.tiers is None
            else tuple(Tier(up_to=t.up_to, unit_price=t.unit_price) for t in pricing.tiers),
            monthly_cap=pricing.monthly_cap,
            max_per_pupil=pricing.max_per_pupil,
        ),
        billable_roles=tuple(role for role in ROLE_ORDER if role in licence.billable_roles),
        split=licence.split,
        order_reference=licence.order_reference,
    )


# ---------------------------------------------------------------------------------------
# Canonical form


def canonical_catalogue_json(catalogue: Catalogue) -> bytes:
    """Deterministic JSON of the catalogue: keys sorted, no whitespace, UTF-8, lists sorted
    by id, decimals as shortest fixed-point strings, dates ISO, defaults written out.

    It is itself a valid catalogue file: `catalogue_from_canonical_json` reads it back.
    """
    document = {
        "municipalities": [
            _municipality_document(m) for m in sorted(catalogue.municipalities, key=lambda m: m.id)
        ],
        "vendors": [
            {
                "org_no": v.org_no,
                "name": v.name,
                "products": [
                    {"id": p.id, "name": p.name} for p in sorted(v.products, key=lambda p: p.id)
                ],
            }
            for v in sorted(catalogue.vendors, key=lambda v: v.org_no)
        ],
        "licences": [
            _licence_document(lic) for lic in sorted(catalogue.licences, key=lambda lic: lic.id)
        ],
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def catalogue_sha256(catalogue: Catalogue) -> str:
    """Hex SHA-256 of the canonical JSON: the catalogue version's identity."""
    return hashlib.sha256(canonical_catalogue_json(catalogue)).hexdigest()


def catalogue_from_canonical_json(data: bytes) -> Catalogue:
    """The catalogue back from `canonical_catalogue_json` (validated like any file)."""
    if len(data) > catalogue_bytes_max:
        raise CatalogueRejected(
            [f"the document is {len(data)} bytes; at most {catalogue_bytes_max} allowed"]
        )
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CatalogueRejected([f"the document is not UTF-8 JSON: {error}"]) from error
    return parse_catalogue(document)


def _municipality_document(municipality: Municipality) -> dict[str, object]:
    document: dict[str, object] = {
        "id": municipality.id,
        "org_no": municipality.org_no,
        "name": municipality.name,
        "population": municipality.population,
        "schools": [
            {"id": s.id, "name": s.name, "pupils": s.pupils}
            for s in sorted(municipality.schools, key=lambda s: s.id)
        ],
    }
    if municipality.buyer_reference is not None:
        document["buyer_reference"] = municipality.buyer_reference
    return document


def _licence_document(licence: Licence) -> dict[str, object]:
    pricing = licence.pricing
    pricing_document: dict[str, object] = {"metric": pricing.metric}
    _put_decimal(pricing_document, "unit_price", pricing.unit_price)
    _put_decimal(pricing_document, "monthly_cap", pricing.monthly_cap)
    _put_decimal(pricing_document, "max_per_pupil", pricing.max_per_pupil)
    if pricing.unit is not None:
        pricing_document["unit"] = pricing.unit
    if pricing.tiers is not None:
        pricing_document["tiers"] = [
            {"up_to": tier.up_to, "unit_price": decimal_text(tier.unit_price)}
            for tier in pricing.tiers
        ]
    document: dict[str, object] = {
        "id": licence.id,
        "vendor": licence.vendor,
        "products": sorted(licence.products),
        "buyers": sorted(licence.buyers),
        "schools": "all" if licence.schools is None else sorted(licence.schools),
        "valid_from": licence.valid_from.isoformat(),
        "valid_to": licence.valid_to.isoformat(),
        "vat_rate": decimal_text(licence.vat_rate),
        "billable_roles": [role for role in ROLE_ORDER if role in licence.billable_roles],
        "split": licence.split,
        "pricing": pricing_document,
    }
    if licence.order_reference is not None:
        document["order_reference"] = licence.order_reference
    return document


def _put_decimal(document: dict[str, object], key: str, value: Decimal | None) -> None:
    if value is not None:
        document[key] = decimal_text(value)


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


# ---------------------------------------------------------------------------------------
# YAML loading


class _CatalogueLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (they can expand exponentially: "billion laughs")
    and duplicate keys (PyYAML would silently keep the last one)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors and aliases (*name) are not allowed in a catalogue",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the constructor reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} appears twice in one mapping",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(error: Any) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(problem).split())


# ---------------------------------------------------------------------------------------
# Problem sentences


_messages: Final[Mapping[str, Callable[[Mapping[str, Any]], str]]] = {
    "missing": lambda error: "is required",
    "extra_forbidden": lambda error: "is not a known field",
    "string_type": lambda error: (
        "must be text"
        + (
            f' (write it in quotes: "{error["input"]}")'
            if isinstance(error["input"], int | float) and not isinstance(error["input"], bool)
            else f", not {_kind(error['input'])}"
        )
    ),
    "int_type": lambda error: f"must be a whole number, not {_kind(error['input'])}",
    "int_strict": lambda error: f"must be a whole number, not {_kind(error['input'])}",
    "greater_than_equal": lambda error: f"must be at least {error['ctx']['ge']}",
    "less_than_equal": lambda error: f"must be at most {error['ctx']['le']}",
    "literal_error": lambda error: (
        f"must be {error['ctx']['expected']}, not {_shown(error['input'])}"
    ),
    "list_type": lambda error: f"must be a list, not {_kind(error['input'])}",
    "too_long": lambda error: f"must have at most {error['ctx']['max_length']} entries",
    "model_type": lambda error: f"must be a mapping (key: value), not {_kind(error['input'])}",
    "model_attributes_type": lambda error: (
        f"must be a mapping (key: value), not {_kind(error['input'])}"
    ),
    "value_error": lambda error: str(error["ctx"]["error"]),
}


def _pydantic_problems(location: str, item: object, error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors(include_url=False):
        path = _field_path(location, item, detail["loc"])
        render = _messages.get(detail["type"])
        message = render(detail) if render is not None else detail["msg"]
        problems.append(f"{path}: {message}")
    return problems


def _field_path(location: str, item: object, loc: Sequence[int | str]) -> str:
    """municipalities[0] (3201).schools[2] (974626993).pupils"""
    path = location
    current: object = item
    for part in loc:
        if isinstance(part, int):
            current = current[part] if isinstance(current, list) and part < len(current) else None
            path += f"[{part}]" + _label(current)
        else:
            current = current.get(part) if isinstance(current, dict) else None
            path += f".{part}"
    return path


def _item_location(section: str, index: int, item: object) -> str:
    return f"{section}[{index}]{_label(item)}"


def _label(item: object) -> str:
    if isinstance(item, dict):
        for key in ("id", "org_no"):
            value = item.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return f" ({str(value)[:identifier_characters_max]})"
    return ""


def _note_duplicate(
    seen: dict[str, str],
    item: object,
    key: str,
    location: str,
    what: str,
    problems: list[str],
) -> None:
    value = _raw_get(item, key)
    if not isinstance(value, str):
        return  # not an id at all: reported by the item's own validation
    first = seen.setdefault(value, location)
    if first != location:
        problems.append(f"{location}: {what} {_shown(value)} is already used at {first}")


def _raw_get(item: object, key: str) -> object:
    return item.get(key) if isinstance(item, dict) else None


def _repeated(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def _raw_list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _raw_ids(items: object, key: str) -> set[str]:
    """Ids as written in items, also unquoted numbers (YAML `id: 3201`): what the user meant."""
    ids: set[str] = set()
    for item in _raw_list(items):
        value = _raw_get(item, key)
        if isinstance(value, str):
            ids.add(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            ids.add(str(value))
    return ids


def _bounded(problems: list[str]) -> list[str]:
    if len(problems) <= problems_listed_max:
        return problems
    hidden = len(problems) - problems_listed_max
    return [*problems[:problems_listed_max], f"… and {hidden} more problems"]


def _shown(value: object) -> str:
    """A value as the user wrote it, on one line and of readable length."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:60] + "…"
        return text if text and text.isprintable() and " " not in text else json.dumps(text)
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:60] + "…"


def _kind(value: object) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"a yes/no value ({str(value).lower()})"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {_shown(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return type(value).__name__
