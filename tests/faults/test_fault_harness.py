"""The fast fault harness (issue 9): >= 20 SIGKILLs, broker and PostgreSQL restarts, paired and
joining workers, SIGTERM/SIGINT in every state, then byte equality with an uninterrupted replay.

Runs on its own private broker and PostgreSQL (a temporary LEDGER_HOME), never the shared ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.faults.harness import Config, outage_log_lines_max, run_harness, stop_within_s

pytestmark = pytest.mark.integration

states_checked = {"processing", "waiting_for_broker", "waiting_for_database", "rebalancing"}


# ~8 minutes on a busy 2-core machine (each SIGKILL costs a rebalance: the group waits out the
# dead member's 10 s session), so beyond the suite's default 600 s per test.
@pytest.mark.timeout(1500)
def test_the_ledger_survives_the_faults_and_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    report = run_harness(Config(seed=1, events=24_000, chunks=24, kills=20), tmp_path / "run")
    print(json.dumps(report.to_document(), indent=2))

    assert report.unexpected_exits == []
    assert report.kills >= 20
    assert report.pair_kills >= 1 and report.joins_while_held >= 1
    outages = {(o.service, o.how) for o in report.outages}
    assert outages == {
        ("kafka", "SIGTERM"),
        ("kafka", "SIGKILL"),
        ("postgres", "fast"),
        ("postgres", "immediate"),
    }
    for outage in report.outages:
        assert outage.worker_log_lines < outage_log_lines_max, outage
    for state in states_checked:
        signals = {c.signal for c in report.stop_checks if c.state == state and c.reached}
        assert signals == {"SIGTERM", "SIGINT"}, (state, report.stop_checks)
    for check in report.stop_checks:
        assert check.seconds < stop_within_s, check
        assert check.exit_code == 0, check

    assert report.verify_exit_code == 0
    assert report.replay_exit_code == 0
    assert report.events_sent == report.events_generated
    assert report.entries_compared >= report.events_sent
    assert report.entry_hashes_sha256 == report.reference_entry_hashes_sha256
    assert report.settled == ["2026-08", "2026-09", "2026-10"]
    assert report.settlement_files > 0
    assert report.settlement_files_differing == []
    assert report.equal
