"""xAPI statements (KS-AVT profile) to usage events of CONTRACT section 3.

Norwegian vendors already send xAPI statements for learning analytics under the KS /
Udir profile "Aktivitetsdata for vurdering og tilpasset opplæring" (AVT, github.com/KS-AVT/avt):
a statement UUID, a Feide (Dataporten) account as actor, the school and school owner as
context activities typed `https://w3id.org/xapi/avt/activity-types/school` and
`…/school-owner` whose ids end in the organisation number (`https://data-nsr.udir.no/
enhet/974589648`), a verb, an activity and a timestamp. `statement_to_event` maps one such
statement to the record `event_from_record` reads; docs/xapi.md is the vendor's table.

The profile has no product and no role: a vendor states them in two context extensions of
ours (`product_extension`, `role_extension`). The vendor is never read from the statement:
it is the one the caller authenticated.

Privacy: the learner id (`actor.account.name`) is copied into the record and nowhere else;
no rejection detail echoes any value of the statement, so none can carry it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from ledger.domain.events import (
    EVENT_FIELDS,
    MALFORMED,
    ROLES,
    SCHEMA_VIOLATION,
    Rejection,
    detail_characters_max,
    format_instant,
    identifier_characters_max,
    learner_characters_max,
    occurred_at_characters_max,
    parse_rfc3339,
)
from ledger.domain.invariants import invariant
from ledger.domain.orgno import is_valid_org_no

# Limits. A request body is bounded by the HTTP layer; these bound what one statement may ask
# us to walk and what one request may carry (the same count as POST /v1/events, CONTRACT 7).
statements_per_request_max: Final = 10_000
context_activities_max: Final = 1_000  # over all four lists; AVT statements carry about ten
statement_id_characters_max: Final = 36  # the hyphenated UUID form

# The KS-AVT profile (avt.jsonld and its examples).
school_activity_type: Final = "https://w3id.org/xapi/avt/activity-types/school"
school_owner_activity_type: Final = "https://w3id.org/xapi/avt/activity-types/school-owner"
# Feide's identity service is still called Dataporten: the AVT examples use docs.dataporten.no;
# an earlier Norwegian draft (aktivitetsdata-go) and Feide's OpenID Connect issuer use
# auth.dataporten.no.
feide_home_pages: Final = frozenset({"https://auth.dataporten.no", "https://docs.dataporten.no"})
# Ours: the profile defines neither. Not resolvable; they only name the two values.
product_extension: Final = "urn:usage-ledger:xapi:product"
role_extension: Final = "urn:usage-ledger:xapi:role"

default_role: Final = "pupil"
# One statement is one use. result.duration is not turned into minutes: most AVT statements
# carry one (PT15S), and a per-access licence would then miss them.
event_quantity: Final = 1
event_unit: Final = "access"

_context_activity_lists: Final = ("parent", "grouping", "category", "other")
_voided_verb: Final = "http://adlnet.gov/expapi/verbs/voided"
_uuid: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII
)
_iri_scheme: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:", re.ASCII)
_control_character: Final = re.compile(r"[\x00-\x1f\x7f]")
# For the rare learner id that is a word of a detail ("invalid"). One that is part of this
# sentence too cannot be kept out of any English sentence; Feide ids never are.
withheld_detail: Final = (
    "the statement has invalid fields (details withheld: they would show the learner id)"
)

invariant(default_role in ROLES, "the default role is a role")
invariant(
    len(withheld_detail) <= detail_characters_max, "the withheld detail fits a rejection detail"
)


class StatementBodyError(ValueError):
    """The body is neither one statement nor an array of them; `detail` is one line."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class StatementBodyTooLarge(StatementBodyError):
    """More statements than one request may carry (HTTP 413, as for POST /v1/events)."""


def statements_from_body(parsed_json: object) -> list[object]:
    """The statements of a parsed xAPI POST body: one statement object, or an array of them.

    The elements of an array are not checked here: each is answered on its own by
    `statement_to_event`, so one bad statement does not refuse its neighbours.
    """
    if isinstance(parsed_json, Mapping):
        return [parsed_json]
    if isinstance(parsed_json, list):
        if len(parsed_json) > statements_per_request_max:
            raise StatementBodyTooLarge(
                f"the body has {len(parsed_json)} statements; at most "
                f"{statements_per_request_max} allowed per request"
            )
        return list(parsed_json)
    raise StatementBodyError(
        "the body must be one xAPI statement (a JSON object) or a JSON array of statements"
    )


def statement_to_event(statement: object, vendor: str) -> dict[str, object] | Rejection:
    """One xAPI statement to a usage event record (the fields of EVENT_FIELDS), or why not.

    Not a JSON object → `malformed`; anything the mapping needs missing, of the wrong type,
    too long or ill-formed → `schema_violation`, every problem listed on one line. Values
    too long for the ledger are refused, never cut: a cut id could merge two items.
    """
    invariant(
        isinstance(vendor, str) and 0 < len(vendor) <= identifier_characters_max,
        "the vendor of a statement comes from its token and is a valid identifier",
    )
    if not isinstance(statement, Mapping):
        return Rejection(MALFORMED, "a statement must be a JSON object")
    reading = _Reading()
    event_id = _event_id(reading, statement)
    learner = _learner(reading, statement)
    action = _action(reading, statement)
    item = _item(reading, statement)
    occurred_at = _occurred_at(reading, statement)
    context = reading.mapping(
        statement, "context", "context", required=True, hint="it names the product and school"
    )
    extensions = reading.mapping(
        context, "extensions", "context.extensions", required=True, hint="it names the product"
    )
    product = reading.text(
        extensions,
        product_extension,
        f"context.extensions[{product_extension}]",
        required=True,
        hint="set it to your product id in the catalogue",
    )
    role = _role(reading, extensions)
    school = _school(reading, context)
    if reading.problems:
        detail = _detail("; ".join(reading.problems), _raw_learner(statement))
        return Rejection(SCHEMA_VIOLATION, detail)
    record: dict[str, object] = {
        "event_id": event_id,
        "vendor": vendor,
        "product": product,
        "school": school,
        "learner": learner,
        "role": role,
        "action": action,
        "item": item,
        "quantity": event_quantity,
        "unit": event_unit,
        "occurred_at": occurred_at,
    }
    invariant(
        tuple(record) == EVENT_FIELDS and all(value is not None for value in record.values()),
        "a statement without problems fills every usage event field",
    )
    return record


# ---------------------------------------------------------------------------------------
# The fields


def _event_id(reading: _Reading, statement: Mapping[str, object]) -> str | None:
    """The statement id, lowercased: the same UUID in either case is the same event."""
    text = reading.text(
        statement,
        "id",
        "id",
        required=True,
        limit=statement_id_characters_max,
        hint="every statement needs its own UUID, reused only when it is sent again",
    )
    if text is None:
        return None
    if _uuid.fullmatch(text) is None:
        reading.problems.append(
            "id must be a UUID in the hyphenated form (8-4-4-4-12 hexadecimal digits)"
        )
        return None
    return text.lower()


def _learner(reading: _Reading, statement: Mapping[str, object]) -> str | None:
    actor = reading.mapping(statement, "actor", "actor", required=True)
    object_type = reading.text(actor, "objectType", "actor.objectType", required=False)
    if object_type is not None and object_type != "Agent":
        reading.problems.append("actor.objectType must be Agent: usage is one learner's")
        return None
    account = reading.mapping(
        actor, "account", "actor.account", required=True, hint="the actor must be a Feide account"
    )
    home_page = reading.text(account, "homePage", "actor.account.homePage", required=True)
    if home_page is not None and home_page.rstrip("/") not in feide_home_pages:
        reading.problems.append(
            "actor.account.homePage must be a Feide account's: "
            + " or ".join(sorted(feide_home_pages))
        )
    return reading.text(
        account, "name", "actor.account.name", required=True, limit=learner_characters_max
    )


def _action(reading: _Reading, statement: Mapping[str, object]) -> str | None:
    """The last segment of verb.id: `…/verbs/answered` → `answered`.

    The IRI, not `verb.display`: display is a language map ("besvarte", "answered") that
    may change between sends of the same statement, and the billing rule for `access`
    groups events by action.
    """
    verb = reading.mapping(statement, "verb", "verb", required=True)
    verb_id = reading.text(verb, "id", "verb.id", required=True, limit=None)
    if verb_id is None:
        return None
    if verb_id == _voided_verb:
        reading.problems.append(
            "voiding statements are not taken: recorded usage is never withdrawn"
        )
        return None
    if _iri_scheme.match(verb_id) is None:
        reading.problems.append(
            "verb.id must be an IRI (for example http://adlnet.gov/expapi/verbs/launched)"
        )
        return None
    segment = re.split(r"[/#]", verb_id)[-1]
    return reading.checked(segment, "the last segment of verb.id", identifier_characters_max)


def _item(reading: _Reading, statement: Mapping[str, object]) -> str | None:
    activity = reading.mapping(statement, "object", "object", required=True)
    object_type = reading.text(activity, "objectType", "object.objectType", required=False)
    if object_type is not None and object_type != "Activity":
        reading.problems.append("object.objectType must be Activity: usage is of learning material")
        return None
    item = reading.text(activity, "id", "object.id", required=True)
    if item is not None and _iri_scheme.match(item) is None:
        reading.problems.append("object.id must be an IRI (for example https://…/task/123)")
        return None
    return item


def _occurred_at(reading: _Reading, statement: Mapping[str, object]) -> str | None:
    """statement.timestamp as an instant in UTC: the time of use, not the time it was stored."""
    text = reading.text(
        statement,
        "timestamp",
        "timestamp",
        required=True,
        limit=occurred_at_characters_max,
        hint="send when the learner acted, with an offset",
    )
    if text is None:
        return None
    parsed = parse_rfc3339(text)
    if isinstance(parsed, str):
        reading.problems.append(f"timestamp {parsed}")
        return None
    return format_instant(parsed)


def _role(reading: _Reading, extensions: Mapping[str, object] | None) -> str | None:
    if extensions is None or extensions.get(role_extension) is None:
        return default_role
    role = reading.text(extensions, role_extension, f"context.extensions[{role_extension}]")
    if role is not None and role not in ROLES:
        reading.problems.append(
            f"context.extensions[{role_extension}] must be " + " or ".join(ROLES)
        )
        return None
    return role


def _school(reading: _Reading, context: Mapping[str, object] | None) -> str | None:
    """The school of the AVT school activity; the school owner, if sent, must be well formed.

    The catalogue decides whether the school is known (unknown_school, by the worker); the
    owner is not compared with it: the catalogue already knows each school's municipality.
    """
    activities = _context_activities(reading, context)
    if activities is None:
        return None
    schools: set[str] = set()
    school_activities = 0
    for path, activity in activities:
        definition = activity.get("definition")
        kind = definition.get("type") if isinstance(definition, Mapping) else None
        if kind == school_activity_type:
            school_activities += 1
            org_no = _org_no(reading, activity, path, "school")
            if org_no is not None:
                schools.add(org_no)
        elif kind == school_owner_activity_type:
            _org_no(reading, activity, path, "school owner")
    if len(schools) > 1:
        reading.problems.append(
            "the context names more than one school: send one statement per school"
        )
        return None
    if school_activities == 0:
        reading.problems.append(
            "context.contextActivities has no school: add an activity of type "
            f"{school_activity_type} whose id ends in the school's organisation number"
        )
    return schools.pop() if len(schools) == 1 else None


def _context_activities(
    reading: _Reading, context: Mapping[str, object] | None
) -> list[tuple[str, Mapping[str, object]]] | None:
    lists = reading.mapping(
        context, "contextActivities", "context.contextActivities", required=True
    )
    if lists is None:
        return None
    found: list[tuple[str, Mapping[str, object]]] = []
    for name in _context_activity_lists:
        value = lists.get(name)
        path = f"context.contextActivities.{name}"
        # xAPI allows one Activity in place of an array of them.
        entries: Sequence[object] = [value] if isinstance(value, Mapping) else ()
        if isinstance(value, list):
            entries = value
        elif value is not None and not isinstance(value, Mapping):
            reading.problems.append(f"{path} must be an array of activities")
        if len(found) + len(entries) > context_activities_max:
            reading.problems.append(
                f"context.contextActivities has more than {context_activities_max} activities"
            )
            return None
        for index, entry in enumerate(entries):
            if isinstance(entry, Mapping):
                found.append((f"{path}[{index}]", entry))
            else:
                reading.problems.append(f"{path}[{index}] must be an object")
    return found


def _org_no(reading: _Reading, activity: Mapping[str, object], path: str, what: str) -> str | None:
    """The organisation number an AVT organisation activity's id ends in.

    Any IRI whose last segment is the number is taken: data-nsr.udir.no/enhet/N (AVT),
    data-nsr.udir.no/v3/enhet/N, data.brreg.no/enhetsregisteret/enhet/N alike.
    """
    activity_id = reading.text(activity, "id", f"{path}.id", limit=None)
    if activity_id is None:
        return None
    org_no = re.split(r"[/:]", activity_id.rstrip("/"))[-1]
    if not is_valid_org_no(org_no):
        reading.problems.append(
            f"{path}.id must end in the {what}'s organisation number "
            "(9 digits with a valid check digit)"
        )
        return None
    return org_no


# ---------------------------------------------------------------------------------------
# Reading JSON with every problem listed


class _Reading:
    """Reads values out of nested JSON objects, collecting a problem for each bad one.

    Problems name the JSON path and the rule, never the value (which could be the learner id).
    """

    def __init__(self) -> None:
        self.problems: list[str] = []

    def mapping(
        self,
        parent: Mapping[str, object] | None,
        key: str,
        path: str,
        *,
        required: bool,
        hint: str = "",
    ) -> Mapping[str, object] | None:
        if parent is None:
            return None  # the parent's own problem was already listed
        value = parent.get(key)
        if value is None:
            if required:
                self.problems.append(_with_hint(f"{path} is missing", hint))
            return None
        if not isinstance(value, Mapping):
            self.problems.append(f"{path} must be an object")
            return None
        return value

    def text(
        self,
        parent: Mapping[str, object] | None,
        key: str,
        path: str,
        *,
        required: bool = True,
        limit: int | None = identifier_characters_max,
        hint: str = "",
    ) -> str | None:
        if parent is None:
            return None
        value = parent.get(key)
        if value is None:
            if required:
                self.problems.append(_with_hint(f"{path} is missing", hint))
            return None
        if not isinstance(value, str):
            self.problems.append(f"{path} must be a string")
            return None
        return self.checked(value, path, limit)

    def checked(self, value: str, path: str, limit: int | None) -> str | None:
        if not value:
            self.problems.append(f"{path} must not be empty")
            return None
        if limit is not None and len(value) > limit:
            self.problems.append(f"{path} has {len(value)} characters; at most {limit} allowed")
            return None
        if _control_character.search(value) is not None:
            self.problems.append(f"{path} must not contain control characters")
            return None
        return value


def _raw_learner(statement: Mapping[str, object]) -> str | None:
    """actor.account.name as sent, valid or not: what a detail must never show."""
    actor = statement.get("actor")
    account = actor.get("account") if isinstance(actor, Mapping) else None
    name = account.get("name") if isinstance(account, Mapping) else None
    return name if isinstance(name, str) else None


def _with_hint(text: str, hint: str) -> str:
    return f"{text}: {hint}" if hint else text


def _detail(text: str, learner: str | None) -> str:
    """One bounded line; withheld whole if it happens to contain the learner id anyway."""
    if len(text) > detail_characters_max:
        text = text[: detail_characters_max - 1] + "…"
    if learner and learner in text:
        return withheld_detail
    return text
