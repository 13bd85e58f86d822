"""Fuzzed catalogue files: refused with one line (exit 2), never a traceback, in bounded time
and memory; a valid catalogue still loads after them.

Most examples call the use case the command runs first (`read_catalogue_file`) in-process;
a few hostile files go through the real `ledger catalogue load`.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ledger.app.catalogue_load import CatalogueFileError, read_catalogue_file
from ledger.app.workspace import Workspace
from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_parse import catalogue_bytes_max
from tests.fuzz.conftest import count
from tests.integration.conftest import CATALOGUE, ledger_cli

examples = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "4")) * 25
fuzz_seed = int(os.environ.get("LEDGER_FUZZ_SEED", "20261203"))
# One file of at most ~1 MB (PyYAML reads ~1 MB/s, slower on a busy CI machine).
example_time_s_max = 20.0
process_rss_growth_bytes_max = 300 * 1024 * 1024  # over the whole test, for every example
cli_rss_bytes_max = 600 * 1024 * 1024  # the `ledger` process reading a hostile file
BASE: dict[str, Any] = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))

# ---------------------------------------------------------------------------------------
# Mutations of the valid test catalogue: (document, must be refused)

_paths = [
    ("municipalities", 0, "id"),
    ("municipalities", 0, "org_no"),
    ("municipalities", 0, "name"),
    ("municipalities", 0, "population"),
    ("municipalities", 0, "schools"),
    ("municipalities", 0, "schools", 0, "id"),
    ("municipalities", 0, "schools", 0, "pupils"),
    ("vendors", 0, "org_no"),
    ("vendors", 0, "products"),
    ("vendors", 0, "products", 0, "id"),
    ("licences", 0, "id"),
    ("licences", 0, "vendor"),
    ("licences", 0, "products"),
    ("licences", 0, "buyers"),
    ("licences", 0, "schools"),
    ("licences", 0, "valid_from"),
    ("licences", 0, "valid_to"),
    ("licences", 0, "vat_rate"),
    ("licences", 0, "pricing"),
    ("licences", 0, "pricing", "metric"),
    ("licences", 0, "pricing", "unit_price"),
    ("licences", 3, "pricing", "unit"),
]

odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(10**15, 10**40),
    st.floats(),
    st.text(max_size=30),
    st.text(max_size=10).map(lambda text: text * 30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.from_regex(r"[0-9]{9}", fullmatch=True),  # organisation-number shaped, check digit random
    st.sampled_from(["2026-02-30", "2026-13-01", "1e999999", "-1", "NaN", "0.0000000001", "all"]),
)


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[Any, str | None]:
    """A changed copy of the valid catalogue, and why it must be refused (None: it may load)."""
    document = copy.deepcopy(BASE)
    kind = draw(
        st.sampled_from(
            ["remove", "replace", "bad org_no", "duplicate id", "overlap", "huge", "unknown key"]
        )
    )
    path = draw(st.sampled_from(_paths))
    parent = _parent(document, path)
    if kind == "remove":
        del parent[path[-1]]
        return document, "a required field is missing"
    if kind == "replace":
        parent[path[-1]] = draw(odd_values)
        return document, None
    if kind == "bad org_no":
        valid = document["vendors"][0]["org_no"]
        last = (int(valid[-1]) + draw(st.integers(1, 9))) % 10
        document["vendors"][0]["org_no"] = valid[:-1] + str(last)
        return document, "the check digit is wrong"
    if kind == "duplicate id":
        section = draw(st.sampled_from(["municipalities", "vendors", "licences"]))
        document[section].append(copy.deepcopy(document[section][0]))
        return document, f"two {section} share an id"
    if kind == "overlap":
        # A second licence with another id: the same vendor, product, buyer and schools.
        twin = copy.deepcopy(document["licences"][0])
        twin["id"] = "L-TWIN"
        document["licences"].append(twin)
        return document, None  # CONTRACT: precedence decides; the file may be accepted
    if kind == "huge":
        target = draw(
            st.sampled_from(
                [
                    ("municipalities", 0, "population"),
                    ("municipalities", 0, "schools", 0, "pupils"),
                    ("licences", 0, "pricing", "unit_price"),
                    ("licences", 0, "vat_rate"),
                ]
            )
        )
        number = draw(st.integers(10**12, 10**60))
        text_form = draw(st.booleans())
        _parent(document, target)[target[-1]] = str(number) if text_form else number
        return document, "a number is beyond its limit"
    document[draw(st.sampled_from(["municipalities", "vendors", "licences"]))][0][
        draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in BASE))
    ] = draw(odd_values)
    return document, "an unknown field"


def _serialised(document: Any, form: str) -> bytes:
    if form == "json":
        return json.dumps(document, ensure_ascii=False, default=str).encode(
            "utf-8", "surrogatepass"
        )
    return yaml.safe_dump(document, allow_unicode=True).encode("utf-8", "surrogatepass")


@st.composite
def hostile_texts(draw: st.DrawFn) -> bytes:
    """Text that is not a catalogue at all, or a catalogue made to hurt the reader."""
    valid = CATALOGUE.read_bytes()
    choice = draw(
        st.sampled_from(
            ["bytes", "text", "invalid UTF-8", "cut", "deep", "laughs", "tags", "long line"]
        )
    )
    if choice == "bytes":
        return draw(st.binary(max_size=2000))
    if choice == "text":
        return draw(st.text(max_size=2000)).encode("utf-8", "surrogatepass")
    if choice == "invalid UTF-8":
        at = draw(st.integers(0, len(valid)))
        return valid[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + valid[at:]
    if choice == "cut":
        # Cut anywhere, then a NUL (YAML refuses it): a cut at a line end could otherwise
        # still be a valid, shorter catalogue.
        return valid[: draw(st.integers(0, len(valid)))] + b"\x00cut"
    if choice == "deep":
        depth = draw(st.integers(30, 20_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
        return f"municipalities: {opener * depth}1{closer * depth}\n".encode()
    if choice == "laughs":
        levels = draw(st.integers(2, 12))
        lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
        return ("\n".join(lines) + "\n").encode()
    if choice == "tags":
        tag = draw(
            st.sampled_from(
                [
                    "!!python/object/apply:os.system ['true']",
                    "!!python/name:os.system",
                    "!!binary AAAA",
                    "!!set {a, b}",
                    "!!timestamp 2026-02-30",
                    "!!int 1" + "0" * 5000,
                    "!!float nan",
                    "!custom x",
                ]
            )
        )
        return f"municipalities: {tag}\nvendors: []\nlicences: []\n".encode()
    length = draw(st.integers(10_000, 50_000))
    return b"municipalities: [" + b"'x'," * length + b"]\nvendors: []\nlicences: []\n"


def read_or_refuse(path: Path) -> Catalogue | str:
    """The use case's verdict: a catalogue, or the one-line reason the command would print."""
    started = time.monotonic()
    try:
        result: Catalogue | str = read_catalogue_file(path)
    except CatalogueFileError as error:
        result = str(error)
    elapsed = time.monotonic() - started
    assert elapsed < example_time_s_max, f"{path.name} took {elapsed:.1f} s"
    if isinstance(result, str):
        assert result.strip() and "\n" not in result, f"not one line: {result[:300]!r}"
    return result


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def test_fuzzed_catalogues_are_loaded_or_refused_with_one_line(tmp_path: Path) -> None:
    peak_before = _peak_rss_bytes()
    tried = 0

    @seed(fuzz_seed)
    @settings(max_examples=examples, database=None, suppress_health_check=list(HealthCheck))
    @given(mutated_documents(), st.sampled_from(["yaml", "json"]))
    def mutated(case: tuple[Any, str | None], form: str) -> None:
        nonlocal tried
        document, refusal = case
        path = tmp_path / f"catalogue.{form}"
        path.write_bytes(_serialised(document, form))
        result = read_or_refuse(path)
        tried += 1
        if refusal is not None:
            assert isinstance(result, str), f"accepted although {refusal}: {document}"

    @seed(fuzz_seed)
    @settings(max_examples=examples, database=None, suppress_health_check=list(HealthCheck))
    @given(hostile_texts())
    def hostile(content: bytes) -> None:
        nonlocal tried
        path = tmp_path / "hostile.yaml"
        path.write_bytes(content)
        result = read_or_refuse(path)
        tried += 1
        assert isinstance(result, str), "a hostile text loaded as a catalogue"

    try:
        mutated()
        hostile()
    finally:
        count("catalogue files (in-process)", tried)
    grown = _peak_rss_bytes() - peak_before
    assert grown < process_rss_growth_bytes_max, f"peak memory grew {grown:,} bytes"
    assert isinstance(read_or_refuse(CATALOGUE), Catalogue), "the valid catalogue still loads"


HOSTILE_FILES: dict[str, bytes] = {
    "billion-laughs.yaml": (
        b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n".encode()
            for i in range(9)
        )
    ),
    "deep.yaml": b"municipalities: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "deep.json": b'{"municipalities": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "huge.yaml": b"municipalities: []\n" + b"# padding\n" * (catalogue_bytes_max // 10 + 1),
    "not-utf8.yaml": CATALOGUE.read_bytes().replace(b"B\xc3\xa6rum", b"B\xe6rum"),
    "long-number.yaml": CATALOGUE.read_bytes().replace(b"130000", b"1" * 5000),
    "no-such-day.yaml": CATALOGUE.read_bytes().replace(b'"2026-08-01"', b"2026-02-30", 1),
    "python-tag.yaml": b"municipalities: !!python/object/apply:os.system ['true']\n",
}


@pytest.mark.integration
def test_the_command_refuses_hostile_files_in_one_line_then_loads_a_valid_one(
    tmp_path: Path, workspace: Workspace
) -> None:
    for name, content in HOSTILE_FILES.items():
        path = tmp_path / name
        path.write_bytes(content)
        started = time.monotonic()
        result = ledger_cli(
            "catalogue", "load", str(path), "--workspace", workspace.name, check=False, timeout=60
        )
        elapsed = time.monotonic() - started
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, f"{name}: exit {result.returncode}\n{result.stderr}"
        assert len(lines) == 1 and lines[0].startswith("ledger: "), f"{name}: {result.stderr}"
        assert "Traceback" not in result.stderr
        assert elapsed < 30, f"{name} took {elapsed:.0f} s"
    count("catalogue files (ledger catalogue load)", len(HOSTILE_FILES))
    children_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    assert children_rss < cli_rss_bytes_max, f"a `ledger` process peaked at {children_rss:,} B"

    ledger_cli("catalogue", "load", str(CATALOGUE), "--workspace", workspace.name)
    count("catalogue files (ledger catalogue load)")
