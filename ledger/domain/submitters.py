"""The party that submitted a raw-log message, carried in one Kafka header.

The HTTP API marks what a vendor sends with its token's vendor (`vendor:<org_no>`);
the operator's own producers (`ledger ingest`, catalogue and close markers) mark theirs
`operator`. The stream checks an event against its submitter (`vendor_mismatch`), so
the header travels with the message into the raw log and its archives, and a replay
decides the same.

A message without the header (old logs, other producers) has no submitter and is
processed exactly as before submitters existed. A header that cannot be read (too long,
not one of the two forms, a bad organisation number, or the header given twice) counts
as no header at all, not as `operator`: claiming the operator sent it would be a false
record, and refusing the event would punish a vendor for a producer's fault. This opens
nothing: whoever can write a header to the raw log can just as well leave it out. The
guarantee comes from the API, which writes the header from the token it checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

from ledger.domain.invariants import invariant
from ledger.domain.orgno import is_valid_org_no

SUBMITTER_HEADER: Final = "ledger-submitter"
SubmitterKind = Literal["vendor", "operator"]
SUBMITTER_KINDS: Final[tuple[SubmitterKind, ...]] = get_args(SubmitterKind)
_vendor_prefix: Final = b"vendor:"
_operator_value: Final = b"operator"
# "vendor:" + 9 digits is 16 bytes; anything longer is not ours and is not even decoded.
submitter_header_bytes_max: Final = 32


@dataclass(frozen=True, slots=True)
class Submitter:
    """`vendor` with the vendor's organisation number, or `operator` (vendor None)."""

    kind: SubmitterKind
    vendor: str | None = None

    def __post_init__(self) -> None:
        invariant(self.kind in SUBMITTER_KINDS, f"unknown submitter kind {self.kind!r}")
        if self.kind == "vendor":
            invariant(
                is_valid_org_no(self.vendor),
                "a vendor submitter needs a valid organisation number",
            )
        else:
            invariant(self.vendor is None, "only a vendor submitter names a vendor")

    @property
    def header_name(self) -> str:
        return SUBMITTER_HEADER

    def header_value(self) -> bytes:
        if self.vendor is None:
            return _operator_value
        return _vendor_prefix + self.vendor.encode("ascii")

    def header(self) -> tuple[str, bytes]:
        """The (name, value) Kafka header that marks a message with this submitter."""
        return SUBMITTER_HEADER, self.header_value()


OPERATOR: Final = Submitter("operator")


def vendor_submitter(org_no: str) -> Submitter:
    return Submitter("vendor", org_no)


def parse_submitter(value: bytes | None) -> Submitter | None:
    """The submitter a header value names; None when absent or unreadable (see module doc).

    Strict: exactly `operator` or `vendor:` and a valid organisation number, no spaces,
    no other case, so that one submitter has one spelling in the log.
    """
    if not isinstance(value, bytes) or len(value) > submitter_header_bytes_max:
        return None  # also guards against producers that put text or null in a header
    if value == _operator_value:
        return OPERATOR
    if not value.startswith(_vendor_prefix):
        return None
    try:
        org_no = value[len(_vendor_prefix) :].decode("ascii")
    except UnicodeDecodeError:
        return None
    return vendor_submitter(org_no) if is_valid_org_no(org_no) else None


Headers = Iterable[tuple[str, bytes | None]] | Mapping[str, bytes | None]


def submitter_from_headers(headers: Headers | None) -> Submitter | None:
    """The submitter of a message's Kafka headers: a list of pairs (aiokafka) or a dict.

    The header given more than once is ambiguous, and counts as unreadable. The headers
    are bounded by the broker's message size.
    """
    if headers is None:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    values = [value for name, value in pairs if name == SUBMITTER_HEADER]
    if len(values) != 1:
        return None
    return parse_submitter(values[0])
