"""Avro single-object encoding for every message of the raw log and the rejected topic.

A message is `C3 01` + the writer schema's 8-byte little-endian CRC-64-AVRO (Rabin)
fingerprint of its parsing canonical form + the schemaless Avro body. The fingerprint
tells a reader which schema wrote the body, so schemas can evolve: a message is always
decoded with the schema that wrote it and resolved (Avro schema resolution) to the
newest version of the same name that this code knows.

Schemas are the `.avsc` files beside this module, one per version:
`<snake_name>.v<N>.avsc` holding the record `no.ledger.<Name>`. Adding a version is
adding a file; old files stay forever, because the log keeps old messages forever.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

SCHEMA_DIRECTORY: Final = Path(__file__).resolve().parent
NAMESPACE: Final = "no.ledger"
USAGE_EVENT: Final = "no.ledger.UsageEvent"
RAW_SUBMISSION: Final = "no.ledger.RawSubmission"
CATALOGUE_MARKER: Final = "no.ledger.CatalogueMarker"
CLOSE_MARKER: Final = "no.ledger.CloseMarker"
REJECTED_EVENT: Final = "no.ledger.RejectedEvent"

SINGLE_OBJECT_MAGIC: Final = b"\xc3\x01"
fingerprint_bytes: Final = 8
header_bytes: Final = len(SINGLE_OBJECT_MAGIC) + fingerprint_bytes
message_bytes_max: Final = 8 * 1024 * 1024  # the raw topic's max.message.bytes
schema_files_max: Final = 1000  # per directory; a guard against pointing at the wrong folder

_file_name: Final = re.compile(r"(?P<stem>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc")

# Everything fastavro raises on a body that does not match its writer schema:
# short reads, bad varints and union indexes, invalid UTF-8.
_body_errors: Final = (
    EOFError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    MemoryError,
    UnicodeDecodeError,
)


# Why a message cannot be decoded. The codec imports nothing of the ledger, so it has its own
# failure kinds; the processing fold maps them to the reason codes vendors read.
DecodeFailure = Literal["unreadable", "unknown_schema"]
UNREADABLE: Final[DecodeFailure] = "unreadable"  # not single-object encoded, or a corrupt body
UNKNOWN_SCHEMA: Final[DecodeFailure] = "unknown_schema"  # a fingerprint or version we do not know


class SchemaDefinitionError(AssertionError):
    """A shipped `.avsc` file breaks the codec's own rules: a bug, never bad input."""


class UndecodableMessage(Exception):
    """A message that is not a known Avro single-object encoded record."""

    def __init__(self, kind: DecodeFailure, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: DecodeFailure = kind
        self.detail = detail


class UnencodableRecord(ValueError):
    """A record that does not fit the writer schema: a bug in the caller, or input that
    should have been wrapped in a RawSubmission."""


@dataclass(frozen=True)
class SchemaVersion:
    full_name: str  # e.g. no.ledger.UsageEvent
    version: int
    fingerprint: bytes  # 8 bytes, little-endian CRC-64-AVRO, as on the wire
    canonical_form: str
    parsed: dict[str, Any]  # fastavro parsed schema
    path: Path

    @property
    def header(self) -> bytes:
        return SINGLE_OBJECT_MAGIC + self.fingerprint


def schema_fingerprint(schema: str | dict[str, Any]) -> bytes:
    """CRC-64-AVRO fingerprint of a schema's parsing canonical form, little-endian bytes.

    fastavro returns the hex of the 8 bytes in wire order (little-endian), so
    `bytes.fromhex` gives the header bytes directly; `test_codec` checks this against
    the Avro specification's test vector.
    """
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def load_schema_version(path: Path) -> SchemaVersion:
    match = _file_name.fullmatch(path.name)
    if match is None:
        raise SchemaDefinitionError(f"{path.name}: schema files are named <name>.v<N>.avsc")
    schema = json.loads(path.read_text(encoding="utf-8"))
    parsed = fastavro.parse_schema(schema)
    if not isinstance(schema, dict) or not isinstance(parsed, dict):
        raise SchemaDefinitionError(f"{path.name}: a message schema must be a record")
    full_name = str(parsed["name"])
    _require(
        parsed["type"] == "record" and _snake_case(full_name.rsplit(".", 1)[-1]) == match["stem"],
        f"{path.name}: file name does not match record {full_name}",
    )
    return SchemaVersion(
        full_name=full_name,
        version=int(match["version"]),
        fingerprint=schema_fingerprint(schema),
        canonical_form=to_parsing_canonical_form(schema),
        parsed=parsed,
        path=path,
    )


class SchemaRegistry:
    """Every writer schema this code knows, by fingerprint; the newest version per name."""

    def __init__(self, directories: Iterable[Path] = (SCHEMA_DIRECTORY,)) -> None:
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        self._by_name: dict[str, dict[int, SchemaVersion]] = {}
        for directory in directories:
            paths = sorted(directory.glob("*.avsc"))
            _require(len(paths) <= schema_files_max, f"{directory}: too many schema files")
            for path in paths:
                self._add(load_schema_version(path))
        self._latest: dict[str, SchemaVersion] = {
            name: versions[max(versions)] for name, versions in self._by_name.items()
        }

    def _add(self, schema: SchemaVersion) -> None:
        versions = self._by_name.setdefault(schema.full_name, {})
        _require(
            schema.version not in versions,
            f"{schema.full_name} v{schema.version} is defined twice ({schema.path})",
        )
        other = self._by_fingerprint.get(schema.fingerprint)
        _require(
            other is None,
            f"{schema.path} has the same canonical form as {other and other.path}",
        )
        versions[schema.version] = schema
        self._by_fingerprint[schema.fingerprint] = schema

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_name))

    def latest(self, schema_name: str) -> SchemaVersion:
        return self._latest[self._full_name(schema_name)]

    def version(self, schema_name: str, version: int) -> SchemaVersion:
        return self._by_name[self._full_name(schema_name)][version]

    def by_fingerprint(self, fingerprint_wire: bytes) -> SchemaVersion | None:
        return self._by_fingerprint.get(fingerprint_wire)

    def encode(
        self, schema_name: str, record: Mapping[str, object], version: int | None = None
    ) -> bytes:
        """Single-object encoding with the newest version of the schema (or `version`).

        Refuses records with fields the schema lacks or missing fields without a default,
        so nothing is silently dropped or invented. (fastavro's `strict=True` would also
        refuse a missing field that has a default; `strict_allow_default` alone is right.)
        """
        schema = self.latest(schema_name) if version is None else self.version(schema_name, version)
        buffer = io.BytesIO()
        buffer.write(schema.header)
        try:
            fastavro.schemaless_writer(
                buffer, schema.parsed, record, strict=False, strict_allow_default=True
            )
        except (ValueError, TypeError, OverflowError, KeyError, AttributeError) as error:
            raise UnencodableRecord(
                f"record does not fit {schema.full_name} v{schema.version}: {error}"
            ) from error
        return buffer.getvalue()

    def decode(self, data: bytes, reader_version: int | None = None) -> tuple[str, dict[str, Any]]:
        """(schema full name, record), resolved to the newest known version of that name
        (or `reader_version`). Raises `UndecodableMessage` for anything else."""
        writer = self._writer_of(data)
        reader = (
            self._latest[writer.full_name]
            if reader_version is None
            else self._by_name[writer.full_name].get(reader_version)
        )
        if reader is None:
            raise UndecodableMessage(
                UNKNOWN_SCHEMA, f"{writer.full_name} has no version {reader_version}"
            )
        body = io.BytesIO(data)
        body.seek(header_bytes)
        try:
            record = fastavro.schemaless_reader(
                body, writer.parsed, None if reader is writer else reader.parsed
            )
        except _body_errors as error:
            raise UndecodableMessage(
                UNREADABLE,
                f"the {writer.full_name} v{writer.version} body cannot be read "
                f"({type(error).__name__}): truncated or corrupt",
            ) from error
        if body.tell() != len(data):
            raise UndecodableMessage(
                UNREADABLE,
                f"{len(data) - body.tell()} bytes follow the {writer.full_name} record",
            )
        if not isinstance(record, dict):
            raise UndecodableMessage(UNREADABLE, f"the {writer.full_name} body is not a record")
        return writer.full_name, record

    def _writer_of(self, data: bytes) -> SchemaVersion:
        if len(data) > message_bytes_max:
            raise UndecodableMessage(
                UNREADABLE, f"the message is {len(data)} bytes; at most {message_bytes_max}"
            )
        if len(data) < header_bytes or data[:2] != SINGLE_OBJECT_MAGIC:
            raise UndecodableMessage(
                UNREADABLE,
                "not an Avro single-object encoded message (it must start with C3 01 and an "
                "8-byte schema fingerprint)",
            )
        writer = self._by_fingerprint.get(bytes(data[2:header_bytes]))
        if writer is None:
            raise UndecodableMessage(
                UNKNOWN_SCHEMA,
                f"the message was written with an unknown schema (fingerprint "
                f"{bytes(data[2:header_bytes]).hex()}): use a published no.ledger schema",
            )
        return writer

    def _full_name(self, schema_name: str) -> str:
        full_name = schema_name if "." in schema_name else f"{NAMESPACE}.{schema_name}"
        if full_name not in self._by_name:
            raise UnencodableRecord(f"no schema named {schema_name}")
        return full_name


@cache
def default_registry() -> SchemaRegistry:
    """The schemas shipped in this package, loaded once."""
    return SchemaRegistry()


def encode(schema_name: str, record: Mapping[str, object]) -> bytes:
    """Single-object encoding with the newest shipped version of `schema_name`
    ("no.ledger.UsageEvent" or just "UsageEvent")."""
    return default_registry().encode(schema_name, record)


def decode(data: bytes) -> tuple[str, dict[str, Any]]:
    """(schema full name, record) of a single-object encoded message, resolved to the
    newest shipped version; `UndecodableMessage` when that is not possible."""
    return default_registry().decode(data)


def _require(condition: bool, message: str) -> None:
    """The codec's own `invariant` (it imports nothing of the ledger; kept under `python -O`)."""
    if not condition:
        raise SchemaDefinitionError(message)


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
