"""The rules across items of a catalogue: duplicate ids, unknown references, pricing.

They run after every item has been validated on its own and collect every problem
rather than stopping at the first, so one round of corrections is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ledger.domain.catalogue_models import (
    LicenceModel,
    MunicipalityModel,
    PricingModel,
    TierModel,
    VendorModel,
)
from ledger.domain.catalogue_problems import (
    item_location,
    label,
    raw_get,
    raw_ids,
    raw_list,
    repeated,
    shown,
)


def cross_reference_problems(
    document: Mapping[object, object],
    municipalities: Sequence[tuple[str, MunicipalityModel]],
    vendors: Sequence[tuple[str, VendorModel]],
    licences: Sequence[tuple[str, LicenceModel]],
) -> list[str]:
    """Every problem between items, each prefixed by the location of the item it is in."""
    problems: list[str] = []
    references = _References(document, municipalities, vendors)
    _check_duplicates(document, problems)
    _check_licences(licences, references, problems)
    return problems


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
        self.broken_municipalities = raw_ids(document.get("municipalities"), "id")
        self.broken_municipalities -= self.municipalities
        self.broken_schools: set[str] = set()
        for raw in raw_list(document.get("municipalities")):
            self.broken_schools |= raw_ids(raw_get(raw, "schools"), "id")
        self.broken_schools -= set(self.school_municipality)
        self.broken_vendors = raw_ids(document.get("vendors"), "org_no")
        self.broken_vendors -= set(self.vendor_products)


def _check_duplicates(document: Mapping[object, object], problems: list[str]) -> None:
    """Duplicate ids, found on the raw document so that items with other problems count too."""
    municipality_ids: dict[str, str] = {}
    municipality_org_nos: dict[str, str] = {}
    school_ids: dict[str, str] = {}
    for index, item in enumerate(raw_list(document.get("municipalities"))):
        location = item_location("municipalities", index, item)
        _note_duplicate(municipality_ids, item, "id", location, "municipality id", problems)
        _note_duplicate(
            municipality_org_nos, item, "org_no", location, "organisation number", problems
        )
        for school_index, school in enumerate(raw_list(raw_get(item, "schools"))):
            school_location = f"{location}.schools[{school_index}]{label(school)}"
            _note_duplicate(school_ids, school, "id", school_location, "school id", problems)
    vendor_org_nos: dict[str, str] = {}
    for index, item in enumerate(raw_list(document.get("vendors"))):
        location = item_location("vendors", index, item)
        _note_duplicate(
            vendor_org_nos, item, "org_no", location, "vendor organisation number", problems
        )
        product_ids: dict[str, str] = {}
        for product_index, product in enumerate(raw_list(raw_get(item, "products"))):
            product_location = f"{location}.products[{product_index}]{label(product)}"
            _note_duplicate(product_ids, product, "id", product_location, "product id", problems)
    licence_ids: dict[str, str] = {}
    for index, item in enumerate(raw_list(document.get("licences"))):
        location = item_location("licences", index, item)
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
        for role in repeated(licence.billable_roles):
            found.append(f"billable_roles lists {role} more than once")
        _check_pricing(licence.pricing, found)
        problems.extend(f"{location}: {sentence}" for sentence in found)


def _check_licence_vendor(licence: LicenceModel, references: _References, found: list[str]) -> None:
    if not licence.products:
        found.append("products must list at least one product")
    for product in repeated(licence.products):
        found.append(f"products lists {shown(product)} more than once")
    if licence.vendor in references.broken_vendors or not references.vendors_readable:
        return  # already reported where the vendor is defined
    products = references.vendor_products.get(licence.vendor)
    if products is None:
        found.append(f"vendor {shown(licence.vendor)} is not a known vendor")
        return
    for product in licence.products:
        if product not in products:
            found.append(
                f"product {shown(product)} is not a product of vendor {shown(licence.vendor)}"
            )


def _check_licence_buyers(licence: LicenceModel, references: _References, found: list[str]) -> None:
    if not licence.buyers:
        found.append("buyers must list at least one municipality id")
    for buyer in repeated(licence.buyers):
        found.append(f"buyers lists {shown(buyer)} more than once")
    if not references.municipalities_readable:
        return
    for buyer in licence.buyers:
        if buyer not in references.municipalities and buyer not in references.broken_municipalities:
            found.append(f"buyer {shown(buyer)} is not a known municipality")


def _check_licence_schools(
    licence: LicenceModel, references: _References, found: list[str]
) -> None:
    if licence.schools is None or not references.municipalities_readable:
        return
    if not licence.schools:
        found.append("schools must be all or a non-empty list of school ids")
    for school in repeated(licence.schools):
        found.append(f"schools lists {shown(school)} more than once")
    for school in licence.schools:
        if school in references.broken_schools:
            continue
        municipality = references.school_municipality.get(school)
        if municipality is None:
            found.append(f"school {shown(school)} is not a known school")
        elif municipality not in licence.buyers:
            found.append(
                f"school {shown(school)} belongs to municipality {municipality}, "
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


def _note_duplicate(
    seen: dict[str, str],
    item: object,
    key: str,
    location: str,
    what: str,
    problems: list[str],
) -> None:
    value = raw_get(item, key)
    if not isinstance(value, str):
        return  # not an id at all: reported by the item's own validation
    first = seen.setdefault(value, location)
    if first != location:
        problems.append(f"{location}: {what} {shown(value)} is already used at {first}")
