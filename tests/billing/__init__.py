"""Billing tests, and the small catalogue and event builders they share.

The catalogue is tiny on purpose so that every expected amount in the tests can be
worked out by hand from CONTRACT 5 and 6.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal

from ledger.domain.catalogue import (
    Catalogue,
    Licence,
    Municipality,
    Pricing,
    Product,
    School,
    Tier,
    Vendor,
)
from ledger.domain.usage import BillableEvent

VENDOR = "987654325"
OTHER_VENDOR = "912345675"
PRODUCT = "matte-1-7"

BAERUM = "3201"
OSLO_KOMMUNE = "0301"
DRAMMEN = "3301"

BEKKESTUA = "974626993"  # Bærum, 420 pupils
EIKSMARKA = "974626994"  # Bærum, 300 pupils
OSLO_SCHOOL = "974590001"  # Oslo, 500 pupils
DRAMMEN_SCHOOL = "974580001"  # Drammen, 250 pupils

MUNICIPALITIES = (
    Municipality(
        id=BAERUM,
        org_no="935478715",
        name="Bærum kommune",
        population=130000,
        schools=(
            School(id=BEKKESTUA, name="Bekkestua skole", pupils=420),
            School(id=EIKSMARKA, name="Eiksmarka skole", pupils=300),
        ),
    ),
    Municipality(
        id=OSLO_KOMMUNE,
        org_no="974770482",
        name="Oslo kommune",
        population=700000,
        schools=(School(id=OSLO_SCHOOL, name="Oslo skole", pupils=500),),
    ),
    Municipality(
        id=DRAMMEN,
        org_no="938584629",
        name="Drammen kommune",
        population=100000,
        schools=(School(id=DRAMMEN_SCHOOL, name="Drammen skole", pupils=250),),
    ),
)

VENDORS = (
    Vendor(org_no=VENDOR, name="Example Forlag AS", products=(Product(PRODUCT, "Matematikk"),)),
    Vendor(org_no=OTHER_VENDOR, name="Annet Forlag AS", products=(Product("norsk", "Norsk"),)),
)


def pricing(**overrides: object) -> Pricing:
    """Active learners at 12.50 unless overridden."""
    base = Pricing(metric="active_learners", unit_price=Decimal("12.50"))
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def tiers(*pairs: tuple[int | None, str]) -> tuple[Tier, ...]:
    return tuple(Tier(up_to=up_to, unit_price=Decimal(price)) for up_to, price in pairs)


def licence(**overrides: object) -> Licence:
    """L-2026-001 of the contract: Bærum, all schools, 2026-08-01..2027-07-31, 25 % VAT."""
    base = Licence(
        id="L-2026-001",
        vendor=VENDOR,
        products=(PRODUCT,),
        buyers=(BAERUM,),
        schools=None,
        valid_from=date(2026, 8, 1),
        valid_to=date(2027, 7, 31),
        vat_rate=Decimal("0.25"),
        pricing=pricing(),
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def catalogue(*licences: Licence) -> Catalogue:
    return Catalogue(municipalities=MUNICIPALITIES, vendors=VENDORS, licences=licences)


SCHOOL_MUNICIPALITY = {
    BEKKESTUA: BAERUM,
    EIKSMARKA: BAERUM,
    OSLO_SCHOOL: OSLO_KOMMUNE,
    DRAMMEN_SCHOOL: DRAMMEN,
}


def utc(text: str) -> datetime:
    """An aware UTC instant from "2026-10-05T08:15:00Z"-style text."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def event(
    event_id: str,
    *,
    learner: str = "a",
    at: str = "2026-10-05T08:15:00Z",
    school: str = BEKKESTUA,
    licence_id: str = "L-2026-001",
    role: str = "pupil",
    product: str = PRODUCT,
    action: str = "open",
    item: str = "kap-3",
    quantity: int = 1,
    unit: str = "access",
) -> BillableEvent:
    return BillableEvent(
        event_id=event_id,
        licence_id=licence_id,
        municipality=SCHOOL_MUNICIPALITY[school],
        school=school,
        learner_hash=learner.encode(),
        role=role,
        product=product,
        action=action,
        item=item,
        quantity=quantity,
        unit=unit,
        occurred_at=utc(at),
    )
