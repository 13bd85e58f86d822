"""Every word the pages use exists in both languages, so no user ever sees a raw key."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest

from ledger.domain.tokens import SCOPES
from ledger.http.web import i18n
from ledger.http.web.i18n import EN, NB, MissingText, text

WEB = Path(str(files("ledger.http.web")))
# t("key") in templates; text(language, "key") and PageError(status, "key") in Python.
_TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([^"']+)["']\s*\)""")
_PYTHON_KEY = re.compile(r"""(?:\btext\(\s*\w+\s*,\s*|PageError\(\s*\d+\s*,\s*)["']([^"']+)["']""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for template in (WEB / "templates").glob("*.html"):
        keys |= set(_TEMPLATE_KEY.findall(template.read_text(encoding="utf-8")))
    for module in WEB.glob("*.py"):
        keys |= set(_PYTHON_KEY.findall(module.read_text(encoding="utf-8")))
    keys |= {f"scope.{scope}" for scope in SCOPES}  # t("scope." ~ principal.scope)
    return keys


def test_both_languages_have_the_same_keys_and_no_empty_text() -> None:
    assert set(NB) == set(EN)
    assert all(value.strip() for value in (*NB.values(), *EN.values()))


def test_every_key_the_pages_use_exists() -> None:
    keys = used_keys()
    assert len(keys) > 50  # the scan found the templates' keys
    assert keys - set(NB) == set()


def test_a_missing_key_fails_loudly() -> None:
    with pytest.raises(MissingText):
        text("nb", "no.such.key")
    assert i18n.language_of("en") == "en"
    assert i18n.language_of("xx") == i18n.language_of(None) == "nb"
