"""The catalogue: municipalities and their schools, vendors and their products, licences.

Plain immutable values; reading and checking catalogue files lives in
`ledger.domain.catalogue_parse`, their canonical form in `ledger.domain.catalogue_canonical`.
Money is `Decimal` NOK as written in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final, Literal

from ledger.domain.invariants import invariant

Metric = Literal["active_learners", "units", "fixed_per_pupil"]
Split = Literal["usage", "population"]
Role = Literal["pupil", "teacher"]
ROLE_ORDER: Final[tuple[Role, ...]] = ("pupil", "teacher")  # the order roles are written in


@dataclass(frozen=True)
class School:
    id: str  # organisation number
    name: str
    pupils: int


@dataclass(frozen=True)
class Municipality:
    id: str  # kommunenummer, 4 digits
    org_no: str
    name: str
    population: int
    schools: tuple[School, ...]
    buyer_reference: str | None = None


@dataclass(frozen=True)
class Product:
    id: str
    name: str


@dataclass(frozen=True)
class Vendor:
    org_no: str
    name: str
    products: tuple[Product, ...]


@dataclass(frozen=True)
class Tier:
    up_to: int | None  # inclusive upper bound of the tier; None = unbounded
    unit_price: Decimal


@dataclass(frozen=True)
class Pricing:
    metric: Metric
    unit: str | None = None  # only for metric "units"
    unit_price: Decimal | None = None  # exactly one of unit_price / tiers
    tiers: tuple[Tier, ...] | None = None
    monthly_cap: Decimal | None = None
    max_per_pupil: Decimal | None = None  # only with unit_price


@dataclass(frozen=True)
class Licence:
    id: str
    vendor: str  # vendor org_no
    products: tuple[str, ...]
    buyers: tuple[str, ...]  # municipality ids; several = joint licence
    schools: tuple[str, ...] | None  # None = all schools of the buyers
    valid_from: date  # inclusive, Europe/Oslo date
    valid_to: date  # inclusive, Europe/Oslo date
    vat_rate: Decimal
    pricing: Pricing
    billable_roles: tuple[Role, ...] = ("pupil",)
    split: Split = "usage"
    order_reference: str | None = None


@dataclass(frozen=True)
class Catalogue:
    municipalities: tuple[Municipality, ...]
    vendors: tuple[Vendor, ...]
    licences: tuple[Licence, ...]
    # Derived look-ups, built once; not part of equality. Dicts, because the stream
    # consults them for every event.
    _school_municipality: dict[str, str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _municipality_by_id: dict[str, Municipality] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _vendor_by_org_no: dict[str, Vendor] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _vendor_products: dict[str, frozenset[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _licence_by_id: dict[str, Licence] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for municipality in self.municipalities:
            self._municipality_by_id.setdefault(municipality.id, municipality)
            for school in municipality.schools:
                self._school_municipality[school.id] = municipality.id
        for vendor in self.vendors:
            self._vendor_by_org_no.setdefault(vendor.org_no, vendor)
            self._vendor_products.setdefault(
                vendor.org_no, frozenset(product.id for product in vendor.products)
            )
        for licence in self.licences:
            self._licence_by_id.setdefault(licence.id, licence)

    def municipality(self, municipality_id: str) -> Municipality | None:
        return self._municipality_by_id.get(municipality_id)

    def municipality_of_school(self, school_id: str) -> str | None:
        return self._school_municipality.get(school_id)

    def school(self, school_id: str) -> School | None:
        municipality_id = self._school_municipality.get(school_id)
        if municipality_id is None:
            return None
        municipality = self.municipality(municipality_id)
        invariant(municipality is not None, f"school {school_id}'s municipality is catalogued")
        schools = municipality.schools if municipality is not None else ()
        return next(s for s in schools if s.id == school_id)

    def vendor(self, org_no: str) -> Vendor | None:
        return self._vendor_by_org_no.get(org_no)

    def has_product(self, vendor_org_no: str, product_id: str) -> bool:
        """True when the product is one of that vendor's products."""
        products = self._vendor_products.get(vendor_org_no)
        return products is not None and product_id in products

    def licence(self, licence_id: str) -> Licence | None:
        return self._licence_by_id.get(licence_id)
