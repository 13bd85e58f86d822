"""verify_ledger recomputes every chain, closing and settlement, and names the first damage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ledger.domain.chain import GENESIS_HASH, chain_entries
from ledger.store.append import ENTRY_COLUMNS, append_entries, entry_record
from ledger.store.engine import create_ledger_engine
from ledger.store.migrate import migrate
from ledger.store.verify import Finding, Segment, rules, run, verify_ledger
from tests.store import event_drafts, superuser

pytestmark = pytest.mark.integration

CHAIN_LENGTHS = {0: 10, 1: 12, 2: 6}
SETTLEMENT_KEY = ("2026-10", "3201", "987654325")


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def settlement_document(lines: list[dict[str, Any]]) -> tuple[str, str]:
    """(canonical document with its digest, digest) the way CONTRACT 6 defines them."""
    body = {
        "period": "2026-10", "municipality": "3201", "vendor": "987654325", "currency": "NOK",
        "lines": lines, "subtotal": "10112.50", "vat": "2528.13", "total": "12640.63",
        "unlicensed": {"events": 3, "learners": 2}, "close_id": "close-2026-10",
    }  # fmt: skip
    digest = "sha256:" + hashlib.sha256(canonical(body).encode()).hexdigest()
    return canonical({**body, "digest": digest}), digest


LINES = [
    {"licence": "L-2026-001", "metric": "active_learners", "usage_period": "2026-10",
     "quantity": 812, "amount": "10150.00", "vat_rate": "0.25", "cap_applied": False,
     "adjustment": False},
    {"licence": "L-2026-001", "metric": "active_learners", "usage_period": "2026-09",
     "quantity": -3, "amount": "-37.50", "vat_rate": "0.25", "cap_applied": False,
     "adjustment": True},
]  # fmt: skip


async def write_ledger(database_url: str) -> None:
    engine = create_ledger_engine(database_url)
    try:
        for chain, length in CHAIN_LENGTHS.items():
            half = length // 2
            for first_offset, count in ((0, half), (half, length - half)):
                async with engine.begin() as connection:
                    await append_entries(
                        connection, chain, event_drafts(first_offset, count, chain=chain)
                    )
    finally:
        await engine.dispose()
    async with superuser(database_url) as connection:
        heads = await connection.fetch(
            "SELECT DISTINCT ON (chain) chain, seq, hash FROM ledger.entries"
            " ORDER BY chain, seq DESC"
        )
        heads_json = canonical(
            [{"chain": row["chain"], "seq": row["seq"], "hash": row["hash"].hex()} for row in heads]
        )
        document, digest = settlement_document(LINES)
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO ledger.closings VALUES ('close-2026-10', '2026-10', now(), 1, $1)",
                heads_json,
            )
            await connection.execute(
                "INSERT INTO ledger.settlements VALUES ($1, $2, $3, 'close-2026-10', $4, $5)",
                *SETTLEMENT_KEY,
                document,
                digest,
            )
            await connection.executemany(
                "INSERT INTO ledger.settlement_lines VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [
                    (*SETTLEMENT_KEY, 1, "L-2026-001", "2026-10", 812, 1_015_000, False),
                    (*SETTLEMENT_KEY, 2, "L-2026-001", "2026-09", -3, -3_750, True),
                ],
            )


@pytest.fixture
async def ledger_url(fresh_database_url: str) -> AsyncIterator[str]:
    await migrate(fresh_database_url)
    await write_ledger(fresh_database_url)
    yield fresh_database_url


async def as_superuser_without_triggers(database_url: str, *statements: str) -> None:
    """What an attacker with superuser rights does: triggers off, change, triggers on."""
    async with superuser(database_url) as connection, connection.transaction():
        for table in ("entries", "settlements", "settlement_lines", "closings"):
            await connection.execute(f"ALTER TABLE ledger.{table} DISABLE TRIGGER ALL")
        for statement in statements:
            await connection.execute(statement)
        for table in ("entries", "settlements", "settlement_lines", "closings"):
            await connection.execute(f"ALTER TABLE ledger.{table} ENABLE TRIGGER ALL")


@pytest.fixture
def concurrently(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify on several connections, in segments of 4 entries, however small the ledger."""
    monkeypatch.setattr(run, "verify_in_process_entries_max", 0)
    monkeypatch.setattr(run, "verify_segment_entries", 4)
    monkeypatch.setattr(run, "verify_connections_per_core", 3)


async def test_an_intact_ledger_verifies(ledger_url: str) -> None:
    progress: list[tuple[int, int]] = []
    report = await verify_ledger(
        ledger_url, progress=lambda done, total: progress.append((done, total))
    )
    assert report.first_damage is None
    assert report.ok
    assert report.entries_checked == sum(CHAIN_LENGTHS.values())
    assert report.chains == len(CHAIN_LENGTHS)
    assert (report.closings_checked, report.settlements_checked, report.damages_found) == (1, 1, 0)
    assert progress[-1] == (28, 28)


@pytest.mark.usefixtures("concurrently")
async def test_an_intact_ledger_verifies_on_several_connections(ledger_url: str) -> None:
    progress: list[tuple[int, int]] = []
    report = await verify_ledger(
        ledger_url, progress=lambda done, total: progress.append((done, total))
    )
    assert report.ok, report.first_damage
    assert report.entries_checked == 28
    assert len(progress) == 3 + 3 + 2  # segments of 4 seqs: 10, 12 and 6 entries
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert progress[-1] == (28, 28)


@pytest.mark.usefixtures("concurrently")
async def test_an_intact_ledger_is_proved_by_the_fast_path_alone(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's encoding and SHA-256 agree with the write path on every segment."""

    def exact_path(*_: object) -> None:
        raise AssertionError("an intact segment was read row by row")

    monkeypatch.setattr(run, "scan_segment", exact_path)
    report = await verify_ledger(ledger_url)
    assert report.ok, report.first_damage
    assert report.entries_checked == sum(CHAIN_LENGTHS.values())


async def test_a_changed_column_is_found_even_with_triggers_disabled(ledger_url: str) -> None:
    await as_superuser_without_triggers(
        ledger_url, "UPDATE ledger.entries SET quantity = 50 WHERE chain = 1 AND seq = 5"
    )
    report = await verify_ledger(ledger_url)
    assert not report.ok
    assert report.damages_found == 1
    assert report.first_damage is not None
    assert report.first_damage.startswith(
        "chain 1 seq 5 (source offset 4, event id e-1-000004): hash mismatch: stored "
    )
    assert report.first_damage.endswith("; the row was changed after it was written")


@pytest.mark.parametrize("where", ["one connection", "several connections"])
async def test_the_first_of_several_damages_is_named(
    ledger_url: str, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "several connections":
        monkeypatch.setattr(run, "verify_in_process_entries_max", 0)
        monkeypatch.setattr(run, "verify_segment_entries", 4)
        monkeypatch.setattr(run, "verify_connections_per_core", 3)
    await as_superuser_without_triggers(
        ledger_url,
        "UPDATE ledger.entries SET school = 'x' WHERE chain = 2 AND seq = 1",
        "UPDATE ledger.entries SET occurred_at = occurred_at + interval '1 microsecond'"
        " WHERE chain = 1 AND seq = 9",
        "UPDATE ledger.entries SET learner_hash = NULL WHERE chain = 1 AND seq = 5",
    )
    report = await verify_ledger(ledger_url)
    assert report.damages_found == 3
    assert report.first_damage is not None
    assert report.first_damage.startswith("chain 1 seq 5 (source offset 4, event id e-1-000004)")


async def test_a_deleted_row_leaves_a_gap(ledger_url: str) -> None:
    await as_superuser_without_triggers(
        ledger_url, "DELETE FROM ledger.entries WHERE chain = 0 AND seq = 7"
    )
    report = await verify_ledger(ledger_url)
    assert not report.ok
    assert report.first_damage == (
        "chain 0: seq 7 missing before chain 0 seq 8 (source offset 7, event id e-0-000007);"
        " a row was deleted after it was written"
    )


@pytest.mark.usefixtures("concurrently")
async def test_a_gap_across_segments_is_one_damage(ledger_url: str) -> None:
    # Segments of 4: seqs 3..6 span the boundary between 1..4 and 5..8.
    await as_superuser_without_triggers(
        ledger_url, "DELETE FROM ledger.entries WHERE chain = 1 AND seq BETWEEN 3 AND 6"
    )
    report = await verify_ledger(ledger_url)
    assert report.damages_found == 1
    assert report.first_damage == (
        "chain 1: seqs 3..6 missing before chain 1 seq 7 (source offset 6, event id e-1-000006);"
        " a row was deleted after it was written"
    )


async def test_a_replaced_row_with_a_recomputed_hash_breaks_the_next_link(
    ledger_url: str,
) -> None:
    async with superuser(ledger_url) as connection:
        row = await connection.fetchrow("SELECT * FROM ledger.entries WHERE chain = 1 AND seq = 5")
    assert row is not None
    values = dict(row)
    values["quantity"] = 99
    forged = chain_entries(1, 4, bytes(row["prev_hash"]), [verify_draft(values)])[0]
    await as_superuser_without_triggers(
        ledger_url,
        f"UPDATE ledger.entries SET quantity = 99, hash = '\\x{forged.hash.hex()}'"
        " WHERE chain = 1 AND seq = 5",
    )
    report = await verify_ledger(ledger_url)
    assert report.damages_found == 1  # the closing pins seq 12, whose hash is unchanged
    assert report.first_damage is not None
    assert report.first_damage.startswith(
        "chain 1 seq 6 (source offset 5, event id e-1-000005): prev_hash "
    )
    assert "is not the hash of seq 5" in report.first_damage


async def test_a_rewritten_tail_is_caught_by_the_closing(ledger_url: str) -> None:
    # The attacker changes seq 5 and recomputes every hash after it: the chain is
    # consistent again, but no longer ends where the closing pinned it.
    async with superuser(ledger_url) as connection:
        rows = await connection.fetch(
            "SELECT * FROM ledger.entries WHERE chain = 1 AND seq >= 4 ORDER BY seq"
        )
    drafts = [verify_draft(dict(row)) for row in rows[1:]]
    drafts[0] = type(drafts[0])(**{**draft_fields(drafts[0]), "quantity": 99})
    forged = chain_entries(1, 4, bytes(rows[0]["hash"]), drafts)
    await as_superuser_without_triggers(
        ledger_url,
        "DELETE FROM ledger.entries WHERE chain = 1 AND seq >= 5",
    )
    async with superuser(ledger_url) as connection:
        await connection.copy_records_to_table(
            "entries",
            schema_name="ledger",
            columns=ENTRY_COLUMNS,
            records=[entry_record(entry) for entry in forged],
        )
    report = await verify_ledger(ledger_url)
    assert report.damages_found == 1
    assert report.first_damage is not None
    assert report.first_damage.startswith(
        "closing close-2026-10 (period 2026-10): the head of chain 1 at seq 12 is "
    )


async def test_a_deleted_tail_is_caught_by_the_closing(ledger_url: str) -> None:
    # Deleting the last entries leaves no gap; only the closing remembers them.
    await as_superuser_without_triggers(
        ledger_url, "DELETE FROM ledger.entries WHERE chain = 2 AND seq >= 5"
    )
    report = await verify_ledger(ledger_url)
    assert report.entries_checked == 26
    assert report.first_damage == (
        "closing close-2026-10 (period 2026-10): the head of chain 2 at seq 6 does not exist;"
        " entries were deleted after the close"
    )


async def test_an_empty_ledger_verifies(fresh_database_url: str) -> None:
    await migrate(fresh_database_url)
    report = await verify_ledger(fresh_database_url)
    assert report == rules.VerifyReport(
        ok=True, entries_checked=0, chains=0, closings_checked=0, settlements_checked=0,
        damages_found=0, first_damage=None, damages=(),
    )  # fmt: skip


async def test_a_changed_settlement_document_is_found(ledger_url: str) -> None:
    changed = [dict(LINES[0], amount="1.00"), LINES[1]]
    document, _ = settlement_document(changed)
    await as_superuser_without_triggers(
        ledger_url, f"UPDATE ledger.settlements SET document = '{document}'"
    )
    report = await verify_ledger(ledger_url)
    assert report.damages_found == 1
    assert report.first_damage is not None
    assert report.first_damage.startswith(
        "settlement 2026-10/3201/987654325: digest column sha256:"
    )
    assert "the document or its digest was changed after it was issued" in report.first_damage


async def test_a_consistently_rewritten_settlement_still_disagrees_with_its_lines(
    ledger_url: str,
) -> None:
    document, digest = settlement_document([dict(LINES[0], amount="1.00"), LINES[1]])
    await as_superuser_without_triggers(
        ledger_url,
        f"UPDATE ledger.settlements SET document = '{document}', digest = '{digest}'",
    )
    report = await verify_ledger(ledger_url)
    assert report.first_damage == (
        "settlement 2026-10/3201/987654325: line 1: the document says (licence, usage_period,"
        " quantity, amount_ore, adjustment) = ('L-2026-001', '2026-10', 812, 100, False),"
        " settlement_lines says ('L-2026-001', '2026-10', 812, 1015000, False)"
    )


async def test_a_deleted_settlement_leaves_orphan_lines(ledger_url: str) -> None:
    await as_superuser_without_triggers(ledger_url, "DELETE FROM ledger.settlements")
    report = await verify_ledger(ledger_url)
    assert report.settlements_checked == 0
    assert report.first_damage == (
        "settlement line 2026-10/3201/987654325 #1 belongs to no settlement;"
        " the settlement was deleted"
    )


async def test_a_redefined_encoding_function_is_reported_first(ledger_url: str) -> None:
    async with superuser(ledger_url) as connection:
        await connection.execute(
            "CREATE OR REPLACE FUNCTION ledger.encode_text(v text) RETURNS bytea"
            " LANGUAGE sql STABLE AS $$ SELECT '\\x00'::bytea $$"
        )
    report = await verify_ledger(ledger_url)
    assert report.first_damage == (
        "function ledger.encode_text(text) was redefined after the migration;"
        " the checks that use it cannot be trusted"
    )


def draft_fields(draft: Any) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in ENTRY_COLUMNS[2:-2]}


def verify_draft(row: dict[str, Any]) -> Any:
    from ledger.domain.chain import EntryDraft

    return EntryDraft(**{name: row[name] for name in ENTRY_COLUMNS[2:-2]})


# ------------------------------------------------------------------ pure parts


def test_scan_segment_names_gaps_links_and_hashes() -> None:
    def row(seq: int, prev: bytes, body: bytes) -> tuple[int, bytes, bytes]:
        message = prev + body
        return seq, hashlib.sha256(message).digest(), message

    first = row(1, GENESIS_HASH, b"a")
    second = row(2, first[1], b"b")
    fourth = row(4, b"\x07" * 32, b"d")
    tampered = (5, fourth[1], fourth[1] + b"e")  # stored hash is not the message's
    checked, findings = rules.scan_segment(
        [first, second, fourth, tampered], Segment(0, 1, 6), GENESIS_HASH
    )
    assert checked == 4
    assert [(finding.seq, finding.kind) for finding in findings] == [
        (4, "gap"),
        (5, "hash"),
        (7, "gap"),
    ]
    assert findings[0] == Finding(4, "gap", gap_from_seq=3)
    assert findings[2].gap_from_seq == 6
    _, intact = rules.scan_segment([first, second], Segment(0, 1, 2), GENESIS_HASH)
    assert intact == []
    _, relinked = rules.scan_segment(
        [first, row(2, b"\x01" * 32, b"b")], Segment(0, 1, 2), GENESIS_HASH
    )
    assert [finding.kind for finding in relinked] == ["link"]


def test_a_summary_proves_a_segment_intact_only_when_everything_lines_up() -> None:
    """The fast path's verdict; anything short of all of it sends the segment row by row."""
    hashes = [hashlib.sha256(bytes([seq])).digest() for seq in range(1, 7)]  # seqs 1..6
    prevs = [GENESIS_HASH, *hashes[:-1]]

    def intact(segment: Segment, first: int, entries: int | None = None, **change: Any) -> bool:
        own_prevs, own_hashes = (
            prevs[first - 1 : segment.last_seq],
            hashes[first - 1 : segment.last_seq],
        )
        arguments: dict[str, Any] = {
            "entries": len(own_hashes) if entries is None else entries,
            "hashes_match": True,
            "prev_hashes": b"".join(own_prevs),
            "hashes": b"".join(own_hashes),
        } | change
        return rules.summary_is_intact(segment, **arguments)

    assert intact(Segment(0, 1, 3), first=1)
    assert intact(Segment(0, 4, 6), first=3)  # with its predecessor, seq 3
    assert not intact(Segment(0, 4, 6), first=4)  # the predecessor is missing
    assert not intact(Segment(0, 1, 3), first=1, entries=2)  # a gap
    assert not intact(Segment(0, 1, 3), first=1, hashes_match=False)
    relinked = b"".join([prevs[0], b"\x01" * 32, prevs[2]])
    assert not intact(Segment(0, 1, 3), first=1, prev_hashes=relinked)
    not_genesis = b"".join([b"\x02" * 32, *prevs[1:3]])
    assert not intact(Segment(0, 1, 3), first=1, prev_hashes=not_genesis)
    assert not intact(Segment(0, 1, 3), first=1, hashes=b"".join(hashes[:2]))  # a NULL hash


@pytest.mark.parametrize(
    ("amount", "ore"),
    [("10150.00", 1_015_000), ("-12.50", -1250), ("0.00", 0), ("1.005", None), ("x", None),
     (12, None), ("NaN", None)],
)  # fmt: skip
def test_amount_ore(amount: object, ore: int | None) -> None:
    assert rules.amount_ore(amount) == ore


def test_settlement_problems_without_a_database() -> None:
    document, digest = settlement_document(LINES)
    lines = json.dumps([[1, "L-2026-001", "2026-10", 812, 1_015_000, False],
                        [2, "L-2026-001", "2026-09", -3, -3_750, True]])  # fmt: skip
    assert rules.settlement_problem(SETTLEMENT_KEY, "c", "2026-10", document, digest, lines) is None
    assert rules.settlement_problem(SETTLEMENT_KEY, "c", "2026-10", "{", digest, lines) == (
        "the document is not valid JSON (Expecting property name enclosed in double quotes:"
        " line 1 column 2 (char 1))"
    )
    spaced = json.dumps(json.loads(document), sort_keys=True)
    assert "canonical JSON" in str(
        rules.settlement_problem(SETTLEMENT_KEY, "c", "2026-10", spaced, digest, lines)
    )
    assert rules.settlement_problem(SETTLEMENT_KEY, "c", None, document, digest, lines) == (
        "close_id 'c' names no closing"
    )
    other = ("2026-11", "3201", "987654325")
    assert rules.settlement_problem(other, "c", "2026-11", document, digest, lines) == (
        "the document's period is '2026-10', the row's is '2026-11'"
    )
    assert rules.settlement_problem(SETTLEMENT_KEY, "c", "2026-10", document, digest, None) == (
        "the document has 2 lines, settlement_lines has 0"
    )


def test_parse_heads() -> None:
    assert rules.parse_heads('[{"chain":0,"hash":"ab","seq":3}]') == [(0, 3, "ab")]
    assert rules.parse_heads('[{"chain": 0, "hash": "ab", "seq": 3}]') == (
        "heads is not stored in canonical JSON form; it was rewritten"
    )
    assert "is not {chain, seq, hash}" in str(rules.parse_heads('[{"chain":0,"seq":3}]'))
