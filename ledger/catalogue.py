"""The catalogue: municipalities and their schools, vendors and their products, licences.

Plain immutable values; parsing and validation of catalogue files lives in
`ledger.catalogue_file`. Money is `Decimal` NOK as written in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

Metric = Literal["active_learners", "units", "fixed_per_pupil"]
Split = Literal["usage", "population"]
Role = Literal["pupil", "teacher"]


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
    # Derived look-ups, built once; not part of equality.
    _school_municipality: dict[str, str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for municipality in self.municipalities:
            for school in municipality.schools:
                self._school_municipality[school.id] = municipality.id

    def municipality(self, municipality_id: str) -> Municipality | None:
        return next((m for m in self.municipalities if m.id == municipality_id), None)

    def municipality_of_school(self, school_id: str) -> str | None:
        return self._school_municipality.get(school_id)

    def school(self, school_id: str) -> School | None:
        municipality_id = self._school_municipality.get(school_id)
        if municipality_id is None:
            return None
        municipality = self.municipality(municipality_id)
        assert municipality is not None
        return next(s for s in municipality.schools if s.id == school_id)

    def vendor(self, org_no: str) -> Vendor | None:
        return next((v for v in self.vendors if v.org_no == org_no), None)

    def licence(self, licence_id: str) -> Licence | None:
        return next((lic for lic in self.licences if lic.id == licence_id), None)
