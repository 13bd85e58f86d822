"""xAPI statements (KS-AVT) through the API: mapped, billed, deduplicated by statement id."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.http.conftest import VENDOR, Api

pytestmark = pytest.mark.integration


def documented_example() -> dict[str, Any]:
    """The statement of docs/xapi.md's worked example, so the doc and the API cannot drift."""
    text = (REPO_ROOT / "docs" / "xapi.md").read_text()
    block = re.search(r"`stmt.json`:\s*```json\n(.*?)```", text, re.S)
    assert block is not None
    statement: dict[str, Any] = json.loads(block.group(1))
    return statement


async def test_statements_become_billed_events_deduplicated_by_id(api: Api, worker: None) -> None:
    headers = await api.headers("vendor", VENDOR)
    statement = documented_example()
    same_use_resent = copy.deepcopy(statement)
    same_use_resent["result"]["success"] = True  # a field the mapping does not read
    changed = copy.deepcopy(statement)
    changed["verb"]["id"] = "http://adlnet.gov/expapi/verbs/completed"
    no_school = copy.deepcopy(statement)
    no_school["id"] = "b0dbae37-c87a-4965-b09b-c25d6a997eac"
    no_school["context"]["contextActivities"]["grouping"].pop()

    answer = await api.client.post(
        "/v1/xapi/statements?wait=30",
        json=[statement, same_use_resent, changed, no_school],
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    events = answer.json()["events"]
    assert events[0]["event_id"] == "a0dbae37-c87a-4965-b09b-c25d6a997eac"
    assert (events[0]["status"], events[0]["licence"]) == ("accepted", "L-SCHOOL")
    assert events[1]["status"] == "duplicate"
    assert (events[2]["status"], events[2]["reason"]) == ("rejected", "conflicting_duplicate")
    assert (events[3]["status"], events[3]["reason"]) == ("rejected", "schema_violation")

    lookup = await api.client.get(
        "/v1/events/a0dbae37-c87a-4965-b09b-c25d6a997eac", headers=headers
    )
    assert lookup.json()["status"] == "accepted"

    # One statement object (not an array) is accepted too; a non-JSON body is refused whole.
    single = await api.client.post("/v1/xapi/statements", json=statement, headers=headers)
    assert single.json()["received"] == 1
    broken = await api.client.post(
        "/v1/xapi/statements",
        content=b"[{",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert (broken.status_code, broken.json()["error"]) == (400, "malformed")
