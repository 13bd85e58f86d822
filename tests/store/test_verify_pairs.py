"""Verify's own canonical JSON and amount parsing agree with the ones settlements are written with.

`ledger.store.verify.rules` re-implements them on purpose (a pair assertion: see its
docstring); these properties show the two implementations give the same bytes, digests
and øre for everything the writing side (`ledger.domain.canonical`, `ledger.domain.money`)
can produce.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.canonical import canonical_json, document_digest
from ledger.domain.money import format_ore, parse_amount
from ledger.store.verify import rules

# JSON values as settlement documents hold them: no floats (money is a string).
json_scalars = st.none() | st.booleans() | st.integers() | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
documents = st.dictionaries(st.text(max_size=8), json_values, max_size=8)


@given(json_values)
def test_canonical_json_is_the_same_bytes(value: object) -> None:
    assert rules.canonical_json_text(value).encode("utf-8") == canonical_json(value)


@given(documents, st.text())
def test_document_digests_agree(document: dict[str, object], digest: str) -> None:
    assert rules.document_digest(document) == document_digest(document)
    with_digest = {**document, "digest": digest}  # the digest key never counts
    assert rules.document_digest(with_digest) == document_digest(with_digest)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_amounts_written_read_back_as_the_same_ore(ore: int) -> None:
    text = format_ore(ore)
    assert rules.amount_ore(text) == parse_amount(text) == ore


@given(st.from_regex(r"-?[0-9]{1,15}(\.[0-9]{1,2})?", fullmatch=True))
def test_every_amount_the_writing_side_accepts_parses_the_same(text: str) -> None:
    assert rules.amount_ore(text) == parse_amount(text)
