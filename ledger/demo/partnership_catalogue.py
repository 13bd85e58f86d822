"""The partnership's catalogue: seven municipalities, five vendors, every kind of licence.

Deterministic for a seed. Pupil numbers are realistic for grunnskole (Oslo about 90,000);
school counts are close to the real ones. Organisation numbers are synthetic but carry
valid mod-11 check digits, so the catalogue loads like a real one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from ledger.domain.orgno import org_no_check_digit

catalogue_valid_from: Final = "2026-08-01"
catalogue_valid_to: Final = "2027-07-31"
mid_month_end: Final = "2026-10-15"  # the licence that ends in the middle of October


@dataclass(frozen=True)
class MunicipalityPlan:
    id: str  # kommunenummer (2024)
    name: str
    population: int
    pupils: int  # grunnskole pupils, the whole municipality
    schools: int


MUNICIPALITIES: Final = (
    MunicipalityPlan("0301", "Oslo kommune", 717_000, 90_000, 180),
    MunicipalityPlan("3201", "Bærum kommune", 130_000, 16_500, 58),
    MunicipalityPlan("3203", "Asker kommune", 98_000, 12_800, 50),
    MunicipalityPlan("3301", "Drammen kommune", 104_000, 11_800, 40),
    MunicipalityPlan("3909", "Larvik kommune", 48_000, 5_300, 24),
    MunicipalityPlan("3303", "Kongsberg kommune", 28_500, 3_500, 15),
    MunicipalityPlan("4005", "Notodden kommune", 13_000, 1_450, 8),
)


@dataclass(frozen=True)
class ProductPlan:
    vendor: str  # vendor key, see VENDORS
    id: str
    name: str
    unit: str  # the unit its events carry
    actions: tuple[str, ...]
    quantity_max: int  # events carry 1..quantity_max of the unit


@dataclass(frozen=True)
class VendorPlan:
    key: str
    name: str
    registered: bool  # False: not in the catalogue (its events are unknown_vendor)


VENDORS: Final = (
    VendorPlan("fjord", "Fjordforlaget AS", True),
    VendorPlan("nordlys", "Nordlys Læring AS", True),
    VendorPlan("kode", "Kodeverkstedet AS", True),
    VendorPlan("sprak", "Språkbrua AS", True),
    VendorPlan("bibliotek", "Skolebiblioteket Digital AS", True),
    VendorPlan("ukjent", "Uregistrert Læremiddel AS", False),
)

PRODUCTS: Final = (
    ProductPlan("fjord", "matte-1-7", "Matematikk 1–7", "access", ("open", "complete"), 1),
    ProductPlan("fjord", "matte-8-10", "Matematikk 8–10", "access", ("open", "complete"), 1),
    ProductPlan("fjord", "naturfag-8-10", "Naturfag 8–10", "access", ("open", "complete"), 1),
    ProductPlan("nordlys", "lesing-1-4", "Lesetrening 1–4", "login", ("login",), 1),
    ProductPlan("nordlys", "norsk-5-10", "Norsk 5–10", "activity", ("attempt", "complete"), 1),
    ProductPlan("kode", "koding", "Koding i skolen", "minute", ("session",), 45),
    ProductPlan("kode", "programmering-beta", "Programmering (beta)", "minute", ("session",), 30),
    ProductPlan("sprak", "engelsk-1-10", "English 1–10", "access", ("open", "complete"), 1),
    ProductPlan("sprak", "tysk-8-10", "Deutsch 8–10", "access", ("open", "complete"), 1),
    ProductPlan("sprak", "ordbok", "Skoleordbok", "access", ("lookup",), 1),
    ProductPlan("bibliotek", "ebok-bibliotek", "E-bokbiblioteket", "access", ("open",), 1),
    ProductPlan("bibliotek", "lydbok", "Lydbøker", "minute", ("listen",), 40),
    ProductPlan("ukjent", "quiz-app", "Quiz-appen", "access", ("open",), 1),
)


@dataclass(frozen=True)
class UsagePlan:
    """Who uses a product and how much: `share` of a municipality's use goes to it."""

    product: str
    municipalities: tuple[str, ...]
    share: float


USAGE: Final = (
    UsagePlan("matte-1-7", ("0301", "3201"), 0.30),
    UsagePlan("matte-8-10", ("3201",), 0.15),
    UsagePlan("naturfag-8-10", ("3203",), 0.15),
    UsagePlan("lesing-1-4", ("0301",), 0.20),
    UsagePlan("norsk-5-10", ("3301",), 0.30),
    UsagePlan("koding", ("3203",), 0.20),
    UsagePlan("programmering-beta", ("0301", "3201"), 0.03),  # no licence covers it
    UsagePlan("engelsk-1-10", ("3201", "3203", "3301"), 0.25),
    UsagePlan("tysk-8-10", ("4005",), 0.35),
    UsagePlan("ordbok", ("3303",), 0.30),
    UsagePlan("ebok-bibliotek", ("3909", "3303", "4005"), 0.40),
    UsagePlan("lydbok", ("3909",), 0.30),
)

_STEMS: Final = (
    "Berg", "Lia", "Haug", "Dal", "Vik", "Nes", "Holt", "Åsen", "Bakke", "Mo", "Strand",
    "Eng", "Sand", "Skog", "Voll", "Myr", "Tveit", "Fjell", "Bråten", "Rud", "Løkka",
    "Toppen", "Jordet", "Moen", "Enga", "Høgda", "Kollen", "Bekken", "Grav", "Hauger",
)  # fmt: skip
_PREFIXES: Final = ("", "Nord", "Sør", "Øvre", "Nedre", "Vest", "Øst", "Ny")


def org_numbers(prefix: str, start: int) -> Iterator[str]:
    """Valid organisation numbers `prefix` + counter + check digit, skipping those without one."""
    width = 8 - len(prefix)
    number = start
    while number < 10**width:
        base = f"{prefix}{number:0{width}d}"
        check = org_no_check_digit(base)
        if check is not None:
            yield f"{base}{check}"
        number += 1
    raise ValueError(f"no organisation numbers left after prefix {prefix}")


def school_sizes(rng: random.Random, pupils: int, schools: int) -> list[int]:
    """`schools` sizes that add up to exactly `pupils` (largest remainder on the weights)."""
    weights = [rng.uniform(0.4, 1.6) for _ in range(schools)]
    total = sum(weights)
    exact = [pupils * w / total for w in weights]
    sizes = [int(x) for x in exact]
    by_remainder = sorted(range(schools), key=lambda i: exact[i] - sizes[i], reverse=True)
    for i in by_remainder[: pupils - sum(sizes)]:
        sizes[i] += 1
    return sizes


def vendor_org_numbers() -> dict[str, str]:
    numbers = org_numbers("91", 300_000)
    return {vendor.key: next(numbers) for vendor in VENDORS}


def municipality_org_numbers() -> dict[str, str]:
    numbers = org_numbers("94", 410_000)
    return {m.id: next(numbers) for m in MUNICIPALITIES}


def _school_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        stem = rng.choice(_STEMS)
        prefix = rng.choice(_PREFIXES)
        kind = "ungdomsskole" if rng.random() < 0.25 else "skole"
        name = f"{prefix}{stem.lower() if prefix else stem} {kind}"
        if name in seen:
            name = f"{name} {len(names) + 1}"
        seen.add(name)
        names.append(name)
    return names


def _municipality_documents(seed: int) -> list[dict[str, object]]:
    rng = random.Random(f"schools-{seed}")
    school_numbers = org_numbers("97", 500_000)
    org_nos = municipality_org_numbers()
    documents: list[dict[str, object]] = []
    for plan in MUNICIPALITIES:
        sizes = school_sizes(rng, plan.pupils, plan.schools)
        names = _school_names(rng, plan.schools)
        documents.append(
            {
                "id": plan.id,
                "org_no": org_nos[plan.id],
                "name": plan.name,
                "population": plan.population,
                "buyer_reference": f"{plan.id}-OPPVEKST",
                "schools": [
                    {"id": next(school_numbers), "name": name, "pupils": size}
                    for name, size in zip(names, sizes, strict=True)
                ],
            }
        )
    return documents


def _licence(
    licence_id: str,
    vendor: str,
    products: list[str],
    buyers: list[str],
    pricing: dict[str, object],
    **extra: object,
) -> dict[str, object]:
    document: dict[str, object] = {
        "id": licence_id,
        "vendor": vendor,
        "products": products,
        "buyers": buyers,
        "schools": "all",
        "valid_from": catalogue_valid_from,
        "valid_to": catalogue_valid_to,
        "vat_rate": "0.25",
        "order_reference": f"{licence_id[2:]}/INNKJØP",
        "pricing": pricing,
    }
    document.update(extra)
    return document


def _licences(vendors: dict[str, str], asker_schools: list[str]) -> list[dict[str, object]]:
    """One licence or more of every kind CONTRACT section 2 allows."""
    return [
        # active learners with a monthly cap that binds for Oslo
        _licence(
            "L-2026-101",
            vendors["fjord"],
            ["matte-1-7"],
            ["0301"],
            {"metric": "active_learners", "unit_price": "12.50", "monthly_cap": "250000.00"},
        ),
        # active learners, graduated tiers
        _licence(
            "L-2026-102",
            vendors["fjord"],
            ["matte-1-7", "matte-8-10"],
            ["3201"],
            {
                "metric": "active_learners",
                "tiers": [
                    {"up_to": 3000, "unit_price": "14.00"},
                    {"up_to": None, "unit_price": "9.00"},
                ],
            },
        ),
        # active learners at listed schools only
        _licence(
            "L-2026-103",
            vendors["fjord"],
            ["naturfag-8-10"],
            ["3203"],
            {"metric": "active_learners", "unit_price": "10.00"},
            schools=asker_schools,
        ),
        # the same product for all of Asker's schools: the licence listing schools wins
        _licence(
            "L-2026-104",
            vendors["fjord"],
            ["naturfag-8-10"],
            ["3203"],
            {"metric": "active_learners", "unit_price": "12.00"},
        ),
        # per login
        _licence(
            "L-2026-201",
            vendors["nordlys"],
            ["lesing-1-4"],
            ["0301"],
            {"metric": "units", "unit": "login", "unit_price": "0.80", "monthly_cap": "60000.00"},
        ),
        # per activity, graduated tiers
        _licence(
            "L-2026-202",
            vendors["nordlys"],
            ["norsk-5-10"],
            ["3301"],
            {
                "metric": "units",
                "unit": "activity",
                "tiers": [
                    {"up_to": 20000, "unit_price": "0.40"},
                    {"up_to": None, "unit_price": "0.25"},
                ],
            },
        ),
        # per minute, at most NOK 3 per pupil and school a month
        _licence(
            "L-2026-301",
            vendors["kode"],
            ["koding"],
            ["3203"],
            {"metric": "units", "unit": "minute", "unit_price": "0.05", "max_per_pupil": "3.00"},
        ),
        # joint licence shared by usage
        _licence(
            "L-2026-401",
            vendors["sprak"],
            ["engelsk-1-10"],
            ["3201", "3203", "3301"],
            {"metric": "active_learners", "unit_price": "6.00", "monthly_cap": "90000.00"},
            split="usage",
            order_reference="SIVON-2026-ENG",
        ),
        # ends in the middle of October: later use is unlicensed
        _licence(
            "L-2026-402",
            vendors["sprak"],
            ["tysk-8-10"],
            ["4005"],
            {"metric": "units", "unit": "access", "unit_price": "0.50"},
            valid_to=mid_month_end,
        ),
        # fixed per pupil, charged for every month of validity (August too)
        _licence(
            "L-2026-403",
            vendors["sprak"],
            ["ordbok"],
            ["3303"],
            {"metric": "fixed_per_pupil", "unit_price": "2.50"},
        ),
        # joint licence shared by population; e-books carry no VAT
        _licence(
            "L-2026-501",
            vendors["bibliotek"],
            ["ebok-bibliotek"],
            ["3909", "3303", "4005"],
            {"metric": "units", "unit": "access", "unit_price": "0.30", "monthly_cap": "15000.00"},
            split="population",
            vat_rate="0",
            billable_roles=["pupil", "teacher"],
        ),
        _licence(
            "L-2026-502",
            vendors["bibliotek"],
            ["lydbok"],
            ["3909"],
            {"metric": "units", "unit": "minute", "unit_price": "0.04"},
            vat_rate="0",
        ),
    ]


def catalogue_document(seed: int) -> dict[str, object]:
    """The catalogue as CONTRACT section 2 describes it (dump it as YAML or JSON)."""
    municipalities = _municipality_documents(seed)
    vendors = vendor_org_numbers()
    asker = next(m for m in municipalities if m["id"] == "3203")
    asker_schools = asker["schools"]
    if not isinstance(asker_schools, list):
        raise TypeError("schools must be a list")
    listed = [str(school["id"]) for school in asker_schools[::3]]  # a third of Asker's
    return {
        "municipalities": municipalities,
        "vendors": [
            {
                "org_no": vendors[vendor.key],
                "name": vendor.name,
                "products": [
                    {"id": p.id, "name": p.name} for p in PRODUCTS if p.vendor == vendor.key
                ],
            }
            for vendor in VENDORS
            if vendor.registered
        ],
        "licences": _licences(vendors, listed),
    }
