"""xAPI statements (KS-AVT profile) to usage events: what a vendor's statement becomes, and
what is refused. The worked example is the one in docs/xapi.md."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ledger.domain.events import (
    EVENT_FIELDS,
    Rejection,
    UsageEvent,
    event_from_record,
    identifier_characters_max,
    learner_characters_max,
)
from ledger.domain.orgno import org_no_check_digit
from ledger.domain.xapi import (
    StatementBodyError,
    StatementBodyTooLarge,
    product_extension,
    role_extension,
    school_activity_type,
    school_owner_activity_type,
    statement_to_event,
    statements_from_body,
    statements_per_request_max,
    withheld_detail,
)

VENDOR = "987654325"
LEARNER = "76a7a061-3c55-430d-8ee0-6f82ec42501f"
STATEMENT_ID = "A0DBAE37-C87A-4965-B09B-C25D6A997EAC"


def statement() -> dict[str, Any]:
    """An AVT example statement (KS-AVT/avt, eksempel 1, statement 2) with our product."""
    return {
        "id": STATEMENT_ID,
        "timestamp": "2026-10-05T10:15:00+02:00",
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://docs.dataporten.no", "name": LEARNER},
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/answered",
            "display": {"en-US": "answered", "nb-NO": "besvarte"},
        },
        "object": {
            "objectType": "Activity",
            "id": "https://oppgaver.example.no/matte-1-7/task/123456",
            "definition": {
                "name": {"nb-NO": "Oppgave 23"},
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
            },
        },
        "result": {"duration": "PT62S", "success": False, "score": {"raw": 0.0}},
        "context": {
            "platform": "Example Forlag: Matematikk 1-7",
            "language": "nb-NO",
            "extensions": {product_extension: "matte-1-7"},
            "contextActivities": {
                "grouping": [
                    {
                        "objectType": "Activity",
                        "id": "http://data.udir.no/kl06/K15170",
                        "definition": {
                            "type": "https://w3id.org/xapi/avt/activity-types/competence-objective"
                        },
                    },
                    {
                        "objectType": "Activity",
                        "id": "https://data-nsr.udir.no/enhet/935478715",
                        "definition": {
                            "name": {"nb-NO": "Bærum kommune"},
                            "type": school_owner_activity_type,
                        },
                    },
                    {
                        "objectType": "Activity",
                        "id": "https://data-nsr.udir.no/enhet/974626993",
                        "definition": {
                            "name": {"nb-NO": "Bekkestua skole"},
                            "type": school_activity_type,
                        },
                    },
                ]
            },
        },
    }


def mapped(value: object) -> dict[str, object]:
    result = statement_to_event(value, VENDOR)
    assert isinstance(result, dict), result
    return result


def refused(value: object) -> Rejection:
    result = statement_to_event(value, VENDOR)
    assert isinstance(result, Rejection), result
    assert_safe(result, LEARNER)
    return result


def assert_safe(rejection: Rejection, learner: str) -> None:
    """One line, and the learner id only where no sentence could avoid it (an empty id is in
    every text, and shows nothing)."""
    assert "\n" not in rejection.detail
    if learner and learner in rejection.detail:
        assert rejection.detail == withheld_detail
        assert learner in withheld_detail


def set_at(document: dict[str, Any], path: str, value: object) -> None:
    """Replace the value at a dotted path (list indexes as numbers); None deletes the key."""
    *parents, last = path.split(".")
    target: Any = document
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is None:
        target.pop(last, None)
    else:
        target[last] = value


def changed(path: str, value: object) -> dict[str, Any]:
    """The example with the value at a dotted path replaced (None deletes the key)."""
    document = statement()
    set_at(document, path, value)
    return document


GROUPING = "context.contextActivities.grouping"


# ---------------------------------------------------------------------------------------
# The worked example


def test_the_worked_example_field_by_field() -> None:
    assert mapped(statement()) == {
        "event_id": "a0dbae37-c87a-4965-b09b-c25d6a997eac",  # statement id, lowercase
        "vendor": VENDOR,  # the token's, never the statement's
        "product": "matte-1-7",  # context.extensions[product_extension]
        "school": "974626993",  # the activity of AVT type school
        "learner": LEARNER,  # actor.account.name
        "role": "pupil",  # no role extension
        "action": "answered",  # last segment of verb.id
        "item": "https://oppgaver.example.no/matte-1-7/task/123456",  # object.id
        "quantity": 1,
        "unit": "access",  # result.duration does not change the unit
        "occurred_at": "2026-10-05T08:15:00Z",  # timestamp as a UTC instant
    }


def test_the_record_has_exactly_the_event_fields_and_the_ledger_accepts_it() -> None:
    record = mapped(statement())
    assert tuple(record) == EVENT_FIELDS
    event = event_from_record(record)
    assert isinstance(event, UsageEvent), event
    assert event.to_record() == record


def test_the_example_in_the_documentation_maps_as_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "xapi.md").read_text("utf-8")
    blocks = text.split("```json\n")[1:]
    documented_statement, documented_event = (block.split("```")[0] for block in blocks[:2])
    assert mapped(json.loads(documented_statement)) == json.loads(documented_event)


def test_a_teacher_is_said_by_the_role_extension() -> None:
    document = changed(f"context.extensions.{role_extension}", "teacher")
    assert mapped(document)["role"] == "teacher"
    document = changed(f"context.extensions.{role_extension}", "pupil")
    assert mapped(document)["role"] == "pupil"


def test_the_vendor_is_the_callers_whatever_the_statement_says() -> None:
    document = statement()
    document["authority"] = {"account": {"homePage": "https://x.example", "name": "987654333"}}
    document["context"]["extensions"]["vendor"] = "987654333"
    assert mapped(document)["vendor"] == VENDOR
    other = statement_to_event(statement(), "987654333")
    assert isinstance(other, dict)
    assert other["vendor"] == "987654333"


@pytest.mark.parametrize(
    ("verb", "action"),
    [
        ("http://adlnet.gov/expapi/verbs/launched", "launched"),
        ("http://adlnet.gov/expapi/verbs/completed", "completed"),
        ("https://w3id.org/xapi/adl/verbs/logged-in", "logged-in"),
        ("http://activitystrea.ms/schema/1.0/open", "open"),
        ("https://example.no/verbs#viewed", "viewed"),
    ],
)
def test_the_action_is_the_last_segment_of_the_verb_id(verb: str, action: str) -> None:
    assert mapped(changed("verb.id", verb))["action"] == action


def test_the_verb_display_does_not_matter() -> None:
    assert mapped(changed("verb.display", {"nn-NO": "svara"})) == mapped(statement())
    assert mapped(changed("verb.display", None)) == mapped(statement())


@pytest.mark.parametrize(
    "organisation_id",
    [
        "https://data-nsr.udir.no/enhet/974626993",
        "https://data-nsr.udir.no/v3/enhet/974626993/",
        "http://data.brreg.no/enhetsregisteret/enhet/974626993",
        "urn:example:orgno:974626993",
    ],
)
def test_the_school_is_the_organisation_number_its_id_ends_in(organisation_id: str) -> None:
    assert mapped(changed(f"{GROUPING}.2.id", organisation_id))["school"] == "974626993"


def test_the_school_may_be_in_any_context_activity_list_or_alone() -> None:
    document = statement()
    school = document["context"]["contextActivities"]["grouping"].pop()
    document["context"]["contextActivities"]["other"] = school  # one activity, not an array
    assert mapped(document) == mapped(statement())


def test_the_school_owner_is_optional_and_never_the_school() -> None:
    document = statement()
    del document["context"]["contextActivities"]["grouping"][1]
    assert mapped(document) == mapped(statement())


def test_the_same_school_twice_is_one_school() -> None:
    document = statement()
    grouping = document["context"]["contextActivities"]["grouping"]
    grouping.append(copy.deepcopy(grouping[2]))
    assert mapped(document)["school"] == "974626993"


@pytest.mark.parametrize("home_page", ["https://auth.dataporten.no", "https://docs.dataporten.no/"])
def test_feide_home_pages(home_page: str) -> None:
    assert mapped(changed("actor.account.homePage", home_page))["learner"] == LEARNER


@pytest.mark.parametrize(
    ("timestamp", "occurred_at"),
    [
        ("2026-10-05T08:15:00Z", "2026-10-05T08:15:00Z"),
        ("2026-10-05T08:15:00.000Z", "2026-10-05T08:15:00Z"),
        ("2026-10-05T08:15:00.123456789-00:00", "2026-10-05T08:15:00.123456Z"),
    ],
)
def test_the_timestamp_becomes_a_utc_instant(timestamp: str, occurred_at: str) -> None:
    assert mapped(changed("timestamp", timestamp))["occurred_at"] == occurred_at


def test_objecttype_may_be_left_out_as_xapi_allows() -> None:
    document = changed("actor.objectType", None)
    document["object"].pop("objectType")
    assert mapped(document) == mapped(statement())


# ---------------------------------------------------------------------------------------
# Duplicates: the statement id is the event id


def test_the_same_statement_id_in_another_case_is_the_same_event() -> None:
    lower = mapped(changed("id", STATEMENT_ID.lower()))
    assert lower == mapped(statement())


def test_a_reused_statement_id_with_changed_content_keeps_the_event_id() -> None:
    """So the worker, which deduplicates by (vendor, event_id) and content, answers
    conflicting_duplicate."""
    original = mapped(statement())
    for path, value in [
        ("verb.id", "http://adlnet.gov/expapi/verbs/completed"),
        ("object.id", "https://oppgaver.example.no/matte-1-7/task/999"),
        ("timestamp", "2026-10-05T10:16:00+02:00"),
        (f"{GROUPING}.2.id", "https://data-nsr.udir.no/enhet/974627019"),
    ]:
        again = mapped(changed(path, value))
        assert again["event_id"] == original["event_id"]
        assert again != original


def test_a_resend_with_only_unmapped_fields_corrected_is_the_same_record() -> None:
    """AVT asks vendors to reuse the statement id for corrections (a fagkart tag, a score):
    such a resend is the same event, ignored as a duplicate rather than refused."""
    document = changed("result.score", {"raw": 3.0})
    document["context"]["contextActivities"]["grouping"][0]["id"] = "http://data.udir.no/kl06/K1"
    assert mapped(document) == mapped(statement())
    assert mapped(changed("timestamp", "2026-10-05T08:15:00Z")) == mapped(statement())


# ---------------------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize("value", [[statement()], "statement", 42, None])
def test_a_statement_that_is_not_an_object_is_malformed(value: object) -> None:
    assert refused(value).reason_code == "malformed"


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        ("id", None, "id is missing"),
        ("id", "e-000001", "id must be a UUID"),
        ("id", "{a0dbae37-c87a-4965-b09b-c25d6a997eac}", "id has 38 characters"),
        ("id", "a0dbae37c87a4965b09bc25d6a997eac", "id must be a UUID"),
        ("id", 12, "id must be a string"),
        ("actor", None, "actor is missing"),
        ("actor.objectType", "Group", "actor.objectType must be Agent"),
        ("actor.account", None, "actor.account is missing: the actor must be a Feide account"),
        ("actor.account", "feide", "actor.account must be an object"),
        ("actor.account.homePage", "https://lms.example.no", "must be a Feide account's"),
        ("actor.account.homePage", None, "actor.account.homePage is missing"),
        ("actor.account.name", None, "actor.account.name is missing"),
        ("actor.account.name", "", "actor.account.name must not be empty"),
        (
            "actor.account.name",
            "x" * (learner_characters_max + 1),
            f"actor.account.name has {learner_characters_max + 1} characters",
        ),
        ("verb", None, "verb is missing"),
        ("verb.id", None, "verb.id is missing"),
        ("verb.id", "answered", "verb.id must be an IRI"),
        ("verb.id", "http://adlnet.gov/expapi/verbs/", "the last segment of verb.id"),
        (
            "verb.id",
            "https://example.no/verbs/" + "v" * (identifier_characters_max + 1),
            "the last segment of verb.id has 129 characters; at most 128 allowed",
        ),
        ("verb.id", "http://adlnet.gov/expapi/verbs/voided", "voiding statements are not taken"),
        ("object", None, "object is missing"),
        ("object.objectType", "StatementRef", "object.objectType must be Activity"),
        ("object.id", None, "object.id is missing"),
        ("object.id", "kap-3", "object.id must be an IRI"),
        (
            "object.id",
            "https://example.no/" + "i" * identifier_characters_max,
            "object.id has 147 characters; at most 128 allowed",
        ),
        ("object.id", "https://example.no/a\tb", "object.id must not contain control characters"),
        ("timestamp", None, "timestamp is missing"),
        ("timestamp", "2026-10-05T08:15:00", "timestamp has no offset"),
        ("timestamp", "last tuesday", "timestamp is not an RFC 3339 time"),
        ("timestamp", "2026-10-05T08:15:00Z" + " " * 60, "timestamp has 80 characters"),
        ("context", None, "context is missing"),
        ("context.extensions", None, "context.extensions is missing"),
        (f"context.extensions.{product_extension}", None, "set it to your product id"),
        (f"context.extensions.{product_extension}", ["matte-1-7"], "must be a string"),
        (
            f"context.extensions.{product_extension}",
            "p" * (identifier_characters_max + 1),
            "has 129 characters",
        ),
        (f"context.extensions.{role_extension}", "elev", "must be pupil or teacher"),
        ("context.contextActivities", None, "context.contextActivities is missing"),
        (f"{GROUPING}.2", None, "context.contextActivities has no school"),
        (f"{GROUPING}.2.definition.type", "https://example.no/school", "has no school"),
        (f"{GROUPING}.2.id", "https://data-nsr.udir.no/enhet/974626994", "check digit"),
        (f"{GROUPING}.2.id", "https://data-nsr.udir.no/enhet/97462699", "organisation number"),
        (f"{GROUPING}.2.id", None, f"{GROUPING}[2].id is missing"),
        (f"{GROUPING}.1.id", "https://data-nsr.udir.no/enhet/3201", "school owner's organisation"),
        (f"{GROUPING}.1", "not an activity", f"{GROUPING}[1] must be an object"),
        (GROUPING, "school", f"{GROUPING} must be an array of activities"),
    ],
)
def test_schema_violation(path: str, value: object, detail: str) -> None:
    if path == f"{GROUPING}.2" and value is None:
        document = statement()
        document["context"]["contextActivities"]["grouping"].pop()
    else:
        document = changed(path, value)
    rejection = refused(document)
    assert rejection.reason_code == "schema_violation"
    assert detail in rejection.detail


def test_two_different_schools_are_refused() -> None:
    document = statement()
    grouping = document["context"]["contextActivities"]["grouping"]
    other = copy.deepcopy(grouping[2])
    other["id"] = "https://data-nsr.udir.no/enhet/974627019"
    grouping.append(other)
    assert "more than one school" in refused(document).detail


def test_every_problem_is_listed_on_one_line() -> None:
    document = changed("id", "nope")
    document["timestamp"] = "soon"
    document["verb"]["id"] = "answered"
    rejection = refused(document)
    for expected in ("id must be a UUID", "verb.id", "timestamp"):
        assert expected in rejection.detail


def test_too_many_context_activities_are_refused() -> None:
    document = statement()
    document["context"]["contextActivities"]["other"] = [{"id": "https://x.no/a"}] * 1001
    assert "more than 1000 activities" in refused(document).detail


def test_a_detail_never_shows_the_learner_id_even_by_coincidence() -> None:
    # The learner id "must be" is words of the detail: the detail is withheld whole.
    document = changed("actor.account.name", "must be")
    document["id"] = "nope"
    rejection = refused(document)
    assert rejection.detail == withheld_detail
    assert "must be" not in rejection.detail


# ---------------------------------------------------------------------------------------
# The body: one statement or an array


def test_a_body_of_one_statement_is_a_list_of_one() -> None:
    assert statements_from_body(statement()) == [statement()]


def test_a_body_array_is_its_statements_each_answered_alone() -> None:
    assert statements_from_body([statement(), 42]) == [statement(), 42]
    assert statements_from_body([]) == []


@pytest.mark.parametrize("body", ["text", 42, None, True, 1.5])
def test_other_bodies_are_refused(body: object) -> None:
    with pytest.raises(StatementBodyError) as raised:
        statements_from_body(body)
    assert "one xAPI statement" in raised.value.detail
    assert not isinstance(raised.value, StatementBodyTooLarge)


def test_a_body_with_too_many_statements_is_too_large() -> None:
    assert len(statements_from_body([{}] * statements_per_request_max)) == (
        statements_per_request_max
    )
    with pytest.raises(StatementBodyTooLarge):
        statements_from_body([{}] * (statements_per_request_max + 1))


# ---------------------------------------------------------------------------------------
# Properties

_earliest = datetime(1900, 1, 2)
_latest = datetime(9999, 12, 30)


def org_numbers() -> st.SearchStrategy[str]:
    def with_check_digit(first_eight: str) -> str:
        check = org_no_check_digit(first_eight)
        return "" if check is None else first_eight + str(check)

    eight = st.text("0123456789", min_size=8, max_size=8)
    return eight.map(with_check_digit).filter(bool)


# Any text the ledger keeps: no control characters, no lone surrogates.
identifier_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=40
)
iri_tail = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=40)
timestamps = st.tuples(
    st.datetimes(min_value=_earliest, max_value=_latest),
    st.sampled_from(["Z", "+02:00", "-09:30", "+00:00", "-00:00"]),
).map(lambda pair: pair[0].isoformat() + pair[1])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    """KS-AVT statements with every mapped value drawn."""
    document = statement()
    statement_id = str(draw(st.uuids()))
    document["id"] = statement_id.upper() if draw(st.booleans()) else statement_id
    document["actor"]["account"]["name"] = draw(identifier_text)
    document["verb"]["id"] = "https://example.no/verbs/" + draw(iri_tail)
    document["object"]["id"] = "https://example.no/items/" + draw(iri_tail)
    document["timestamp"] = draw(timestamps)
    document["context"]["extensions"][product_extension] = draw(identifier_text)
    role = draw(st.sampled_from([None, "pupil", "teacher"]))
    if role is not None:
        document["context"]["extensions"][role_extension] = role
    grouping = document["context"]["contextActivities"]["grouping"]
    grouping[1]["id"] = "https://data-nsr.udir.no/enhet/" + draw(org_numbers())
    grouping[2]["id"] = "https://data-nsr.udir.no/enhet/" + draw(org_numbers())
    if draw(st.booleans()):
        del grouping[1]  # the school owner is optional
    return document


@given(statements())
@settings(max_examples=300)
def test_a_statement_maps_deterministically_to_a_record_the_ledger_accepts(
    document: dict[str, Any],
) -> None:
    first = mapped(document)
    assert first == mapped(copy.deepcopy(document))
    assert tuple(first) == EVENT_FIELDS
    event = event_from_record(first)
    assert isinstance(event, UsageEvent), event
    assert event.to_record() == first
    assert event.learner == document["actor"]["account"]["name"]
    assert event.event_id == document["id"].lower()
    assert event.vendor == VENDOR


MUTABLE_PATHS = (
    "id",
    "actor",
    "actor.objectType",
    "actor.account",
    "actor.account.name",
    "actor.account.homePage",
    "verb",
    "verb.id",
    "object",
    "object.objectType",
    "object.id",
    "timestamp",
    "context",
    "context.extensions",
    f"context.extensions.{product_extension}",
    f"context.extensions.{role_extension}",
    "context.contextActivities",
    GROUPING,
    f"{GROUPING}.1",
    f"{GROUPING}.1.id",
    f"{GROUPING}.1.definition",
    f"{GROUPING}.1.definition.type",
)


@given(statements(), st.sampled_from(MUTABLE_PATHS), json_values)
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_whatever_a_vendor_sends_maps_to_an_accepted_record_or_a_safe_rejection(
    document: dict[str, Any], path: str, value: object
) -> None:
    """No crash; a record the ledger accepts, or a one-line schema_violation that never
    shows the learner id."""
    set_at(document, path, value)
    actor = document.get("actor")
    account = actor.get("account") if isinstance(actor, dict) else None
    learner = account.get("name") if isinstance(account, dict) else None
    result = statement_to_event(document, VENDOR)
    assert result == statement_to_event(copy.deepcopy(document), VENDOR)
    if isinstance(result, Rejection):
        assert result.reason_code == "schema_violation"
        assert "\n" not in result.detail
        if isinstance(learner, str):  # what is left of it after the change
            assert_safe(result, learner)
        return
    assert tuple(result) == EVENT_FIELDS
    assert isinstance(event_from_record(result), UsageEvent)


FIELD_OF_PATH = {
    "actor.account.name": "learner",
    "verb.id": "action",
    "object.id": "item",
    "timestamp": "occurred_at",
    f"context.extensions.{product_extension}": "product",
    f"context.extensions.{role_extension}": "role",
    f"{GROUPING}.-1.id": "school",
}


@st.composite
def changes_of_one_mapped_value(draw: st.DrawFn) -> tuple[str, object]:
    path = draw(st.sampled_from(sorted(FIELD_OF_PATH)))
    values: dict[str, st.SearchStrategy[object]] = {
        "actor.account.name": identifier_text,
        "verb.id": iri_tail.map(lambda tail: "https://example.no/verbs/" + tail),
        "object.id": iri_tail.map(lambda tail: "https://example.no/items/" + tail),
        "timestamp": timestamps,
        f"context.extensions.{product_extension}": identifier_text,
        f"context.extensions.{role_extension}": st.sampled_from(["pupil", "teacher"]),
        f"{GROUPING}.-1.id": org_numbers().map(lambda number: "https://nsr.example/" + number),
    }
    return path, draw(values[path])


@given(statements(), changes_of_one_mapped_value())
@settings(max_examples=300)
def test_a_reused_statement_id_with_other_content_is_the_same_event_id_in_another_record(
    document: dict[str, Any], change: tuple[str, object]
) -> None:
    """The worker refuses the second as conflicting_duplicate: it has the first's
    (vendor, event_id) and other content."""
    original = mapped(document)
    path, value = change
    set_at(document, path, value)
    again = mapped(document)
    field = FIELD_OF_PATH[path]
    assume(again[field] != original[field])  # not the same value written otherwise
    assert again["event_id"] == original["event_id"]
    assert again != original
    assert {name for name in EVENT_FIELDS if again[name] != original[name]} == {field}


def test_the_readme_worked_example_maps_to_the_event_it_shows() -> None:
    """README's xAPI example is checked like docs/xapi.md's: the two must not drift."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### xAPI statements") :]
    statement_text, event_text = re.findall(r"```json\n(.*?)```", section, re.S)[:2]
    mapped = statement_to_event(json.loads(statement_text), "987654325")
    assert mapped == json.loads(event_text)
