"""API bearer tokens: who a token speaks for, and how it is written and checked.

A token is `lk_<token id>_<secret>`. The id is public (it is what `ledger tokens list`
shows and `revoke` takes); the secret is 32 random bytes that are shown once and
stored only as their SHA-256. A plain hash suffices (no slow password hash): the
secret has 256 bits of entropy, so there is nothing to guess from its hash.

Scopes are the three parties of the brief plus the operator:
- `vendor` (subject: the vendor's organisation number) sends usage and reads its own;
- `municipality` (subject: the kommunenummer) reads its settlements and usage;
- `auditor` (subject: a name) reads everything, changes nothing;
- `admin` (subject: a name) loads catalogues and settles periods.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from ledger.domain.orgno import is_valid_org_no

Scope = Literal["vendor", "municipality", "auditor", "admin"]
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)

token_prefix: Final = "lk"
token_id_hex_characters: Final = 12  # 48 bits: unique among the tokens one ledger issues
secret_bytes: Final = 32
token_characters_max: Final = 100  # anything longer is not one of ours: refuse before hashing
subject_characters_max: Final = 80

_token_text: Final = re.compile(
    rf"{token_prefix}_([0-9a-f]{{{token_id_hex_characters}}})_([A-Za-z0-9_-]{{43}})", re.ASCII
)
_municipality_id: Final = re.compile(r"[0-9]{4}", re.ASCII)
_name: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]*", re.ASCII)


class TokenSubjectError(ValueError):
    """The subject does not fit the scope (e.g. a vendor token for a bad org number)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The party a request speaks for, after its token was checked."""

    token_id: str
    scope: Scope
    subject: str

    @property
    def label(self) -> str:
        """For logs and rate limits: never the secret."""
        return f"{self.scope}:{self.subject}"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token as stored: the secret's hash only."""

    token_id: str
    scope: Scope
    subject: str
    secret_sha256: bytes
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def principal_at(self, now: datetime) -> Principal | None:
        """The principal while the token is valid at `now`; None once revoked or expired."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return None
        if self.expires_at is not None and self.expires_at <= now:
            return None
        return Principal(self.token_id, self.scope, self.subject)


def checked_subject(scope: Scope, subject: str) -> str:
    """The subject when it is well formed for its scope."""
    if scope == "vendor" and not is_valid_org_no(subject):
        raise TokenSubjectError(
            f"vendor {subject!r} is not an organisation number (9 digits, mod-11 check digit)"
        )
    if scope == "municipality" and not _municipality_id.fullmatch(subject):
        raise TokenSubjectError(f"municipality {subject!r} is not a kommunenummer (4 digits)")
    if scope in ("auditor", "admin") and not (
        len(subject) <= subject_characters_max and _name.fullmatch(subject)
    ):
        raise TokenSubjectError(
            f"name {subject[:subject_characters_max]!r} is not allowed: letters, digits,"
            f" space . _ @ -, at most {subject_characters_max} characters"
        )
    return subject


def format_token(token_id: str, secret: str) -> str:
    return f"{token_prefix}_{token_id}_{secret}"


def parse_token(text: str) -> tuple[str, str] | None:
    """(token id, secret) of a well-formed token, else None."""
    if len(text) > token_characters_max:
        return None
    match = _token_text.fullmatch(text)
    return (match.group(1), match.group(2)) if match else None


def secret_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def secret_matches(secret: str, stored_sha256: bytes) -> bool:
    """Constant time: a timing difference must not tell how much of a guess was right."""
    return hmac.compare_digest(secret_digest(secret), stored_sha256)
