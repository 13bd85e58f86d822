"""`ledger ingest FILE` with fuzzed JSON Lines and Avro files: never a traceback; a file it
cannot read at all is one line and exit 2; every line it can read reaches the raw log and
ends as one entry, the valid ones accepted, the rest rejected with a contract reason code.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ledger.app.feed import ingest_file
from ledger.app.workspace import Workspace
from ledger.domain.events import REASON_CODES
from streams.ingest import IngestFileError, read_submissions
from tests.fuzz.conftest import count
from tests.fuzz.messages import TEMPLATES, field_text, learner_ids, record_of
from tests.integration.conftest import ledger_cli, load_catalogue, process, query

examples = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "4")) * 50
fuzz_seed = int(os.environ.get("LEDGER_FUZZ_SEED", "20261203"))
megabyte = 1024 * 1024

USAGE_SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "UsageEvent",
        "fields": [
            {"name": name, "type": "long" if name == "quantity" else "string"}
            for name in record_of(TEMPLATES[0], "x")
        ],
    }
)


@st.composite
def valid_lines(draw: st.DrawFn) -> dict[str, Any]:
    template = draw(st.sampled_from(TEMPLATES))
    return record_of(template, "", learner=draw(learner_ids), item=draw(field_text))


bad_lines = st.one_of(
    st.binary(max_size=300).filter(lambda line: b"\n" not in line and line.strip()),
    st.integers(2, 50_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(4301, 20_000).map(lambda digits: b'{"quantity": ' + b"9" * digits + b"}"),
    st.sampled_from(
        [
            b'{"quantity": NaN}',
            b'{"event_id": "\\ud800", "vendor": "987654325"}',
            b'{"event_id": "a", "event_id": "b"}',
            b"[1, 2, 3]",
            b'"just a string"',
            b"null",
            b'{"event_id": "e", "vendor": "987654325", "quantity": "one"}',
            b"\xff\xfe\x00{",
        ]
    ),
    st.builds(
        lambda record, field, size: json.dumps({**record, field: "x" * size}).encode(),
        valid_lines(),
        st.sampled_from(["item", "event_id", "learner"]),
        st.integers(129, 2 * megabyte),
    ),
    st.builds(
        lambda record, field, value: json.dumps({**record, field: value}).encode(),
        valid_lines(),
        st.sampled_from(sorted(record_of(TEMPLATES[0], "x"))),
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.lists(st.integers()),
    ),
)


def avro_file(records: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    fastavro.writer(buffer, USAGE_SCHEMA, records, sync_interval=200)
    return buffer.getvalue()


@st.composite
def avro_files(draw: st.DrawFn) -> bytes:
    records = [
        {**record, "event_id": f"a-{i}"}
        for i, record in enumerate(draw(st.lists(valid_lines(), max_size=20)))
    ]
    whole = avro_file(records)
    damage = draw(st.sampled_from(["none", "cut", "flip", "other schema"]))
    if damage == "cut":
        return whole[: draw(st.integers(4, len(whole)))]
    if damage == "flip":
        at = draw(st.integers(4, len(whole) - 1))
        return whole[:at] + bytes([whole[at] ^ draw(st.integers(1, 255))]) + whole[at + 1 :]
    if damage == "other schema":
        buffer = io.BytesIO()
        fastavro.writer(
            buffer, fastavro.parse_schema({"type": "map", "values": "double"}), [{"a": 1.5}]
        )
        return buffer.getvalue()
    return whole


def read_all(path: Path) -> int | str:
    """How many submissions the file gives, or the one line the command would print."""
    try:
        return sum(1 for _ in read_submissions(path))
    except IngestFileError as error:
        message = str(error)
        assert message.strip() and "\n" not in message, message
        return message


def test_fuzzed_files_are_read_or_refused_in_one_line(tmp_path: Path) -> None:
    tried = 0

    @seed(fuzz_seed)
    @settings(max_examples=examples, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(valid_lines().map(lambda r: json.dumps(r).encode()) | bad_lines, max_size=20))
    def json_lines(lines: list[bytes]) -> None:
        nonlocal tried
        path = tmp_path / "events.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        tried += 1
        # Every line that is not blank is sent: nothing a vendor sends is dropped.
        assert read_all(path) == sum(1 for line in lines if line.strip())

    @seed(fuzz_seed)
    @settings(max_examples=examples, database=None, suppress_health_check=list(HealthCheck))
    @given(avro_files())
    def avro(content: bytes) -> None:
        nonlocal tried
        path = tmp_path / "events.avro"
        path.write_bytes(content)
        tried += 1
        read_all(path)

    try:
        json_lines()
        avro()
    finally:
        count("ingest files (in-process)", tried)


@pytest.mark.integration
async def test_fuzzed_lines_reach_the_ledger_with_their_outcomes(
    workspace: Workspace, tmp_path: Path
) -> None:
    await load_catalogue(workspace)
    drawn: list[list[bytes]] = []

    @seed(fuzz_seed)
    @settings(max_examples=3, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(bad_lines, min_size=30, max_size=30))
    def collect(lines: list[bytes]) -> None:
        drawn.append(lines)

    collect()
    valid = [
        json.dumps(record_of(template, f"ok-{i}", learner=f"lrn-ingest-{i}")).encode()
        for i, template in enumerate(TEMPLATES * 3)
    ]
    bad = [line for lines in drawn for line in lines]
    lines = [line for pair in zip(valid, bad[: len(valid)], strict=False) for line in pair]
    lines += bad[len(valid) :]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    sent = await ingest_file(workspace, path)
    assert sent == len(lines)
    await process(workspace)
    rows = await query(
        workspace,
        "SELECT event_id, status, reason_code, licence_id, reason_detail FROM ledger.entries"
        " WHERE kind = 'event'",
    )
    count("ingested lines", len(lines))
    assert len(rows) == len(lines), "one entry per line sent"
    accepted = {r.event_id: r.licence_id for r in rows if r.status == "accepted"}
    assert accepted == {f"ok-{i}": t.licence for i, t in enumerate(TEMPLATES * 3)}
    refused = [r for r in rows if r.status == "rejected"]
    assert len(refused) == len(bad)
    for row in refused:
        assert row.reason_code in REASON_CODES
        assert row.reason_detail and "\n" not in row.reason_detail


CLI_FILES: dict[str, tuple[bytes, int]] = {
    "garbage.jsonl": (b"\x00\xff" * 1000 + b"\n[[[[\n" + b"9" * 5000 + b"\n", 0),
    "deep.jsonl": (b"[" * 100_000 + b"]" * 100_000 + b"\n", 0),
    "cut.avro": (avro_file([record_of(TEMPLATES[0], f"c-{i}") for i in range(500)])[:-50], 2),
    "header-only.avro": (b"Obj\x01\x00\x00", 2),
}


@pytest.mark.integration
def test_the_command_never_shows_a_traceback(workspace: Workspace, tmp_path: Path) -> None:
    for name, (content, exit_code) in CLI_FILES.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = ledger_cli("ingest", str(path), "--workspace", workspace.name, check=False)
        assert "Traceback" not in result.stderr, f"{name}: {result.stderr}"
        assert result.returncode == exit_code, f"{name}: {result.returncode} {result.stderr}"
        if exit_code == 2:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("ledger: "), result.stderr
    missing = ledger_cli(
        "ingest", str(tmp_path / "no-such"), "--workspace", workspace.name, check=False
    )
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    count("ingest files (ledger ingest)", len(CLI_FILES) + 1)
    processed = ledger_cli("process", "--until-idle", "--workspace", workspace.name)
    assert "Traceback" not in processed.stderr
