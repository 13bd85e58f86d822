"""The seeded site every browser test reads: if the seed went wrong, say so here first."""

from __future__ import annotations

from collections import Counter

from tests.browser.support import (
    MUNICIPALITY,
    OTHER_MUNICIPALITY,
    OTHER_VENDOR,
    PERIOD,
    VENDOR,
    Site,
)


async def test_the_seed_has_every_outcome_and_a_settlement_per_party(site: Site) -> None:
    outcomes = Counter((answer["status"], answer["reason"]) for answer in site.answers)
    assert outcomes == {
        ("accepted", None): 33,
        ("unlicensed", None): 3,
        ("duplicate", None): 1,
        ("rejected", "unknown_product"): 1,
    }
    assert set(site.settlements) == {
        f"{PERIOD}_{MUNICIPALITY}_{VENDOR}",
        f"{PERIOD}_{MUNICIPALITY}_{OTHER_VENDOR}",
        f"{PERIOD}_{OTHER_MUNICIPALITY}_{OTHER_VENDOR}",
    }
    assert not [line for line in site.server_log if "Traceback" in line]
