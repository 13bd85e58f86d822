"""What `ledger verify` counts as damage: pure checks and the sentences that name it.

No SQL and no connections here: `sql.py` fetches, `run.py` sequences, and these
functions decide, so each rule can be tested on plain values.

Settlement digests are recomputed here with this module's own canonical JSON and
amount parsing (`canonical_json_text`, `document_digest`, `amount_ore`), not with
`ledger.domain.canonical` / `ledger.domain.money` that billing writes with. That is
deliberate, a pair assertion (docs/STYLE: "check one property with two independent
implementations on both sides of a boundary"): a change to the writing side's
serialisation or amount format cannot silently change what verify accepts, and
verify does not need the writing side's refusals (floats, more than two decimals) to
hold to read a document back. `tests/store/test_verify_pairs.py` shows the two
implementations agree on every document the writing side can produce.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.domain.catalogue_canonical import (
    canonical_catalogue_json,
    catalogue_from_canonical_json,
    catalogue_sha256,
)
from ledger.domain.catalogue_problems import CatalogueRejected
from ledger.domain.chain import DRAFT_FIELDS, GENESIS_HASH, EntryDraft, canonical_bytes, entry_hash
from ledger.domain.invariants import invariant

verify_damages_reported_max = 20  # damage lines a report carries (all are counted)
verify_hash_hex_shown = 16  # hex digits of a hash shown in a damage message

# The database functions verify relies on, as the migrations created them: sha256 of
# pg_proc.prosrc. A superuser who can change rows can also redefine these (for example
# to return the old bytes for a changed row), so verify checks them before trusting them.
EXPECTED_FUNCTION_SOURCES = {
    "ledger.encode_bytes(bytea)":
        "361d574b3efa2ddb12c4525da0f488b8ff4dd12e9d91f7ebc2fb2e4fb903978a",
    "ledger.encode_integer(bigint)":
        "9a50e313bb33dbeec1bab6487f7d8bc36ea48bf52b73559a2257ad0493916640",
    "ledger.encode_text(text)":
        "f56575fbce1d7bdba2223b438d39c775f3e26cbe2ec34521ca312d1efd5fadc8",
    "ledger.encode_timestamp(timestamp with time zone)":
        "bc4d9f2d15941546edcbaa9927a0c73da11b602148b037fd38e7be0e51dc43c1",
    "ledger.entry_bytes(ledger.entries)":
        "d84b38443c3df5e3ea64739e0920f4a8a743625f554073a8af62f6cc873adf35",
    "ledger.refuse_change()":
        "9cf387b2f137a7220668275d2be7cf6c0d4ac129b3a60f2f9f659dac90419c19",
}  # fmt: skip


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries_checked: int
    chains: int
    closings_checked: int
    settlements_checked: int
    damages_found: int
    first_damage: str | None  # one readable line naming the first damage; None when ok
    # The first `verify_damages_reported_max` damages, in order (for each segment of a
    # chain only its first: a change often breaks several checks of the same entries).
    damages: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChainExtent:
    chain: int
    seq_min: int
    seq_max: int


@dataclass(frozen=True, order=True)
class Segment:
    chain: int
    first_seq: int
    last_seq: int


@dataclass(frozen=True)
class Finding:
    """Something wrong at one entry, before it is described for people."""

    seq: int
    kind: str  # gap | link | hash
    stored: bytes = b""  # link: the prev_hash stored; hash: the hash stored
    expected: bytes = b""  # link: the previous entry's hash; hash: the hash computed
    gap_from_seq: int = 0  # gap: the first missing seq (the last is seq - 1, or last_seq)


@dataclass(frozen=True)
class SegmentResult:
    segment: Segment
    entries_checked: int
    damages_found: int
    first_damage: str | None


@dataclass(frozen=True)
class FunctionDefinition:
    """A function of schema `ledger` as pg_proc has it now."""

    source: str  # prosrc
    config: object  # proconfig: None unless someone added SET clauses
    security_definer: bool  # prosecdef


@dataclass(frozen=True)
class StoredCatalogue:
    version: int
    sha256: str
    document: str


@dataclass(frozen=True)
class CatalogueMarker:
    chain: int
    seq: int
    catalogue_version: int | None
    reference: str | None  # the sha256 the marker names


# ---------------------------------------------------------------------- entries


def plan_segments(extents: Sequence[ChainExtent], segment_entries: int) -> list[Segment]:
    """Every chain from seq 1 to its last seq, cut into segments of at most `segment_entries`."""
    invariant(segment_entries >= 1, "a segment must hold at least one entry")
    segments: list[Segment] = []
    for extent in extents:
        for first_seq in range(1, extent.seq_max + 1, segment_entries):
            last_seq = min(first_seq + segment_entries - 1, extent.seq_max)
            segments.append(Segment(extent.chain, first_seq, last_seq))
    return segments


def scan_segment(
    rows: Sequence[Sequence[Any]], segment: Segment, predecessor_hash: bytes
) -> tuple[int, list[Finding]]:
    """Check rows (seq, hash, prev_hash ‖ entry bytes) of one segment, in seq order.

    `predecessor_hash` is the hash of the entry before the segment (GENESIS_HASH before
    seq 1), or b"" when that entry is missing: then the previous segment ended in a gap
    and already counted it, so a gap at this segment's start is the same one. Returns
    the rows checked and every finding, in seq order. The hot loop of `ledger verify`:
    keep it to a comparison, a prefix test and one hash per row.
    """
    sha256 = hashlib.sha256
    findings: list[Finding] = []
    expected_seq = segment.first_seq
    previous_hash = predecessor_hash
    for seq, stored_hash, message in rows:
        if seq != expected_seq or not message.startswith(previous_hash):
            if seq != expected_seq:
                if previous_hash:  # else: the previous segment's gap, continued
                    findings.append(Finding(seq, "gap", gap_from_seq=expected_seq))
            else:
                stored_prev = bytes(message[: len(GENESIS_HASH)])
                findings.append(Finding(seq, "link", stored=stored_prev, expected=previous_hash))
        computed = sha256(message).digest()
        if computed != stored_hash:
            findings.append(Finding(seq, "hash", stored=bytes(stored_hash), expected=computed))
        previous_hash = stored_hash
        expected_seq = seq + 1
    if expected_seq <= segment.last_seq:
        findings.append(Finding(segment.last_seq + 1, "gap", gap_from_seq=expected_seq))
    return len(rows), findings


def summary_is_intact(
    segment: Segment, entries: int, hashes_match: bool, prev_hashes: bytes, hashes: bytes
) -> bool:
    """Whether the segment summary (`sql.SEGMENT_SUMMARY_QUERY`) proves the segment intact.

    False means: look row by row. The summary covers seqs max(first_seq - 1, 1) ..
    last_seq. Intact means: every one of those seqs is there (seq is the key within a
    chain, so the count says it), every row hashes to its stored hash, and each row's
    prev_hash is the hash of the row before it: the concatenated prev_hashes, shifted
    by one entry, equal the concatenated hashes.
    """
    size = len(GENESIS_HASH)
    first_fetched = max(segment.first_seq - 1, 1)
    expected_entries = segment.last_seq - first_fetched + 1
    if entries != expected_entries or not hashes_match:
        return False
    if len(prev_hashes) != entries * size or len(hashes) != entries * size:
        return False
    if segment.first_seq == 1 and prev_hashes[:size] != GENESIS_HASH:
        return False
    return prev_hashes[size:] == hashes[:-size]


def first_fetched_seq(segment: Segment) -> int:
    """Segments are read with the entry before them, for the link (none before seq 1)."""
    return max(segment.first_seq - 1, 1)


def split_predecessor(rows: Sequence[Any], segment: Segment) -> tuple[bytes, Sequence[Any]]:
    """The predecessor hash for `scan_segment` and the segment's own rows.

    `rows` are records (seq, hash, message) from `first_fetched_seq`, by name: the first
    is the entry before the segment when it exists.
    """
    predecessor_hash = GENESIS_HASH if segment.first_seq == 1 else b""
    if segment.first_seq > 1 and rows and rows[0]["seq"] == segment.first_seq - 1:
        predecessor_hash = bytes(rows[0]["hash"])
    if rows and rows[0]["seq"] < segment.first_seq:
        rows = rows[1:]
    return predecessor_hash, rows


def chain_problems(extents: Sequence[ChainExtent]) -> list[tuple[int, str]]:
    """Rows below seq 1, which no segment reads (the CHECK constraint was dropped)."""
    return [
        (
            extent.chain,
            f"chain {extent.chain}: it has rows at seq {extent.seq_min}, below 1;"
            " rows were inserted by hand",
        )
        for extent in extents
        if extent.seq_min < 1
    ]


def python_entry_hash(row: Mapping[str, Any], chain: int, seq: int) -> bytes:
    """The entry's hash computed by ledger/domain/chain.py from the row as stored."""
    draft = EntryDraft(**{name: row[name] for name in DRAFT_FIELDS})
    return entry_hash(bytes(row["prev_hash"]), canonical_bytes(chain, seq, draft))


def short_hex(value: bytes) -> str:
    text = value.hex()
    return text if len(text) <= verify_hash_hex_shown else text[:verify_hash_hex_shown] + "…"


def entry_name(chain: int, seq: int, source_offset: int | None, event_id: str | None) -> str:
    """How a damage line names an entry; `source_offset` None when the row is gone."""
    if source_offset is None:
        return f"chain {chain} seq {seq}"
    event = f", event id {event_id}" if event_id is not None else ""
    return f"chain {chain} seq {seq} (source offset {source_offset}{event})"


def gap_message(chain: int, finding: Finding, next_seq: int | None, after: str) -> str:
    """A gap from `finding.gap_from_seq` up to the next entry that exists (`next_seq`)."""
    missing_to = next_seq - 1 if next_seq is not None else finding.seq - 1
    missing = (
        f"seq {finding.gap_from_seq}"
        if missing_to == finding.gap_from_seq
        else f"seqs {finding.gap_from_seq}..{missing_to}"
    )
    return (
        f"chain {chain}: {missing} missing before {after}; a row was deleted after it was written"
    )


def link_message(entry: str, finding: Finding) -> str:
    return (
        f"{entry}: prev_hash {short_hex(finding.stored)} is not the hash of seq"
        f" {finding.seq - 1} ({short_hex(finding.expected)});"
        " an entry was replaced or the chain was re-linked"
    )


def encodings_differ_message(entry: str, sql_bytes: int) -> str:
    """The stored hash is what Python computes, only SQL differs: a bug, not damage."""
    return (
        f"{entry}: ledger.entry_bytes (SQL) and ledger/domain/chain.py encode this row"
        f" differently ({sql_bytes} bytes from SQL); a bug in one of them, not damage"
    )


def hash_message(entry: str, finding: Finding) -> str:
    return (
        f"{entry}: hash mismatch: stored {short_hex(finding.stored)} computed"
        f" {short_hex(finding.expected)}; the row was changed after it was written"
    )


# ---------------------------------------------------------------------- closings


def parse_heads(heads_text: str) -> list[tuple[int, int, str]] | str:
    """A closing's heads as (chain, seq, hash hex), or what is wrong with them."""
    try:
        heads = json.loads(heads_text)
    except ValueError as error:
        return f"heads is not valid JSON ({error})"
    if canonical_json_text(heads) != heads_text:
        return "heads is not stored in canonical JSON form; it was rewritten"
    parsed: list[tuple[int, int, str]] = []
    if not isinstance(heads, list):
        return "heads is not a JSON list"
    for head in heads:
        if not (
            isinstance(head, dict)
            and set(head) == {"chain", "seq", "hash"}
            and type(head["chain"]) is int
            and type(head["seq"]) is int
            and isinstance(head["hash"], str)
        ):
            return f"head {head!r} is not {{chain, seq, hash}}"
        parsed.append((head["chain"], head["seq"], head["hash"]))
    return parsed


def head_problems(
    name: str, heads: Sequence[tuple[int, int, str]], stored: Mapping[tuple[int, int], bytes]
) -> list[str]:
    """A closing's pinned heads against the entries' hashes now, by (chain, seq)."""
    problems: list[str] = []
    for chain, seq, hash_hex in heads:
        stored_hash = stored.get((chain, seq))
        if stored_hash is None:
            problems.append(
                f"{name}: the head of chain {chain} at seq {seq} does not exist;"
                " entries were deleted after the close"
            )
        elif stored_hash.hex() != hash_hex:
            problems.append(
                f"{name}: the head of chain {chain} at seq {seq} is"
                f" {hash_hex[:verify_hash_hex_shown]}…, the entry's hash is"
                f" {short_hex(stored_hash)}; entries up to it were rewritten"
            )
    return problems


# ---------------------------------------------------------------------- catalogues


def catalogue_problems(
    versions: Sequence[StoredCatalogue], markers: Sequence[CatalogueMarker]
) -> list[str]:
    """Each stored catalogue version hashes to its sha256, and every marker names it.

    Attribution and pricing read these documents, so a changed one would change bills
    without touching an entry.
    """
    problems: list[str] = []
    for stored in versions:
        name = f"catalogue version {stored.version}"
        document = stored.document.encode()
        try:
            catalogue = catalogue_from_canonical_json(document)
        except (CatalogueRejected, ValueError) as error:
            problems.append(f"{name}: the stored document is no longer a catalogue ({error})")
            continue
        if catalogue_sha256(catalogue) != stored.sha256:
            problems.append(f"{name}: the document does not hash to its sha256; it was changed")
        elif canonical_catalogue_json(catalogue) != document:
            problems.append(f"{name}: the document is not in canonical form; it was changed")
    sha256_by_version = {stored.version: stored.sha256 for stored in versions}
    for marker in markers:
        expected = (
            sha256_by_version.get(marker.catalogue_version)
            if marker.catalogue_version is not None
            else None
        )
        if expected is None or expected != marker.reference:
            problems.append(
                f"chain {marker.chain} seq {marker.seq}: catalogue marker for version"
                f" {marker.catalogue_version} does not match the stored catalogue version"
            )
    return problems


# ---------------------------------------------------------------------- settlements


def canonical_json_text(value: object) -> str:
    """Canonical JSON: keys sorted, separators "," and ":", non-ASCII as is (UTF-8)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def document_digest(document: dict[str, Any]) -> str:
    body = {key: value for key, value in document.items() if key != "digest"}
    return "sha256:" + hashlib.sha256(canonical_json_text(body).encode("utf-8")).hexdigest()


def amount_ore(amount: object) -> int | None:
    """A two-decimal amount string ("10150.00", "-12.50") as øre; None if it is not one."""
    if not isinstance(amount, str):
        return None
    try:
        ore = Decimal(amount) * 100
    except InvalidOperation:
        return None
    if not ore.is_finite() or ore != ore.to_integral_value():
        return None
    return int(ore)


def settlement_problem(
    key: tuple[str, str, str],
    close_id: str,
    closing_period: str | None,
    document_text: str,
    digest: str,
    lines_json: str | None,
) -> str | None:
    """What is wrong with one stored settlement, or None. `key` = (period, municipality, vendor)."""
    try:
        document = json.loads(document_text)
    except ValueError as error:
        return f"the document is not valid JSON ({error})"
    if not isinstance(document, dict):
        return "the document is not a JSON object"
    computed = document_digest(document)
    if digest != computed:
        return (
            f"digest column {digest} but the document hashes to {computed};"
            " the document or its digest was changed after it was issued"
        )
    if document.get("digest") != computed:
        return (
            f"the document's own digest {document.get('digest')!r} is not {computed};"
            " the document was changed after it was issued"
        )
    if canonical_json_text(document) != document_text:
        return "the document is not stored in canonical JSON form; it was rewritten"
    for name, value in zip(("period", "municipality", "vendor"), key, strict=True):
        if document.get(name) != value:
            return f"the document's {name} is {document.get(name)!r}, the row's is {value!r}"
    if closing_period is None:
        return f"close_id {close_id!r} names no closing"
    if closing_period != key[0]:
        return f"close_id {close_id!r} closes period {closing_period}, not {key[0]}"
    return lines_problem(document.get("lines"), json.loads(lines_json) if lines_json else [])


def lines_problem(document_lines: object, stored_lines: list[list[Any]]) -> str | None:
    """Compare the document's lines with the settlement_lines rows (in line_no order)."""
    if not isinstance(document_lines, list):
        return "the document has no list of lines"
    if len(document_lines) != len(stored_lines):
        return (
            f"the document has {len(document_lines)} lines,"
            f" settlement_lines has {len(stored_lines)}"
        )
    for number, (line, stored) in enumerate(zip(document_lines, stored_lines, strict=True), 1):
        line_no, licence, usage_period, quantity, stored_amount_ore, adjustment = stored
        if line_no != number:
            return f"settlement_lines has line_no {line_no} where line {number} belongs"
        if not isinstance(line, dict):
            return f"line {number} of the document is not an object"
        document_values = (
            line.get("licence"),
            line.get("usage_period"),
            line.get("quantity"),
            amount_ore(line.get("amount")),
            line.get("adjustment", adjustment),
        )
        stored_values = (licence, usage_period, quantity, stored_amount_ore, adjustment)
        if document_values != stored_values:
            return (
                f"line {number}: the document says (licence, usage_period, quantity,"
                f" amount_ore, adjustment) = {document_values},"
                f" settlement_lines says {stored_values}"
            )
    return None


def orphan_line_problem(period: str, municipality: str, vendor: str, line_no: int) -> str:
    return (
        f"settlement line {period}/{municipality}/{vendor}"
        f" #{line_no} belongs to no settlement; the settlement was deleted"
    )


# ---------------------------------------------------------------------- functions


def function_problems(found: Mapping[str, FunctionDefinition]) -> list[str]:
    """The database functions verify relies on are still the migrations' own."""
    problems: list[str] = []
    for signature, expected in EXPECTED_FUNCTION_SOURCES.items():
        definition = found.get(signature)
        if definition is None:
            problems.append(f"function {signature} is missing; the schema was altered")
            continue
        source_sha256 = hashlib.sha256(definition.source.encode("utf-8")).hexdigest()
        if (
            source_sha256 != expected
            or definition.config is not None
            or definition.security_definer
        ):
            problems.append(
                f"function {signature} was redefined after the migration;"
                " the checks that use it cannot be trusted"
            )
    return problems


# ---------------------------------------------------------------------- the report


@dataclass(frozen=True)
class RunResults:
    """Everything a run found, before it is ordered into a report."""

    function_problems: list[str]
    extents: Sequence[ChainExtent]
    segment_results: Sequence[SegmentResult]
    closings_checked: int
    closing_problems: list[str]
    catalogue_problems: list[str]
    settlements_checked: int
    settlement_problems: list[str]


def build_report(found: RunResults) -> VerifyReport:
    """The report names the first damage: the lowest (chain, seq) among entries, else the
    first closing, else the first catalogue, else the first settlement (functions first of
    all, since every other check relies on them)."""
    chain_level = chain_problems(found.extents)
    results = found.segment_results
    # In (chain, seq) order: rows below seq 1 come before a chain's segments.
    ordered_entry_problems = sorted(
        [(chain, 0, message) for chain, message in chain_level]
        + [
            (result.segment.chain, result.segment.first_seq, result.first_damage)
            for result in results
            if result.first_damage is not None
        ]
    )
    problems = (
        found.function_problems
        + [message for _, _, message in ordered_entry_problems]
        + found.closing_problems
        + found.catalogue_problems
        + found.settlement_problems
    )
    damages_found = (
        len(found.function_problems)
        + sum(result.damages_found for result in results)
        + len(chain_level)
        + len(found.closing_problems)
        + len(found.catalogue_problems)
        + len(found.settlement_problems)
    )
    return VerifyReport(
        ok=damages_found == 0,
        entries_checked=sum(result.entries_checked for result in results),
        chains=len(found.extents),
        closings_checked=found.closings_checked,
        settlements_checked=found.settlements_checked,
        damages_found=damages_found,
        first_damage=problems[0] if problems else None,
        damages=tuple(problems[:verify_damages_reported_max]),
    )
