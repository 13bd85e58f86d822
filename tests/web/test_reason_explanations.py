"""A vendor reading the page in bokmål learns what to fix for every reason code there is."""

from __future__ import annotations

from ledger.domain.events import REASON_CODES, REASON_EXPLANATIONS
from ledger.http.web.i18n import REASON_EXPLANATIONS_NB, reason_explanation


def test_every_reason_code_is_explained_in_bokmal_and_english_is_the_domains() -> None:
    assert set(REASON_EXPLANATIONS_NB) == set(REASON_CODES)
    for code in REASON_CODES:
        english = REASON_EXPLANATIONS[code]
        assert reason_explanation("en", code, english) == english
        bokmal = reason_explanation("nb", code, english)
        assert bokmal.strip() and bokmal != english
    # A code a newer version wrote, unknown here, still says what the ledger said.
    assert reason_explanation("nb", "from_the_future", "as recorded") == "as recorded"
