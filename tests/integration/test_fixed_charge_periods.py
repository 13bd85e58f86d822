"""CONTRACT 4: a month with a `fixed_per_pupil` charge is a period with usage.

A licence charging per pupil from August, and events only in September: settling
September first is refused, naming August, whose fixed charges would otherwise never
be invoiced; settling August then September works, and August has the charge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from ledger.app.settle import EARLIER_PERIOD_OPEN, SettleRefused
from ledger.app.settle_run import settle
from ledger.app.workspace import Workspace, stream_target
from tests.integration.conftest import CATALOGUE, event, load_catalogue, send_events

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
FIXED_LICENCE = {
    "id": "L-FIXED",
    "vendor": "987654325",
    "products": ["norsk-1-7"],
    "buyers": ["3201"],
    "schools": "all",
    "valid_from": "2026-08-01",
    "valid_to": "2027-07-31",
    "vat_rate": "0.25",
    "pricing": {"metric": "fixed_per_pupil", "unit_price": "1.25"},
}
BAERUM_PUPILS = 420 + 380  # Bekkestua and Eikeli in the test catalogue


def catalogue_with_fixed_licence(tmp_path: Path) -> Path:
    document = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    document["licences"].append(FIXED_LICENCE)
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


async def test_a_month_with_fixed_charges_must_be_settled_before_the_next(
    workspace: Workspace, tmp_path: Path
) -> None:
    await load_catalogue(workspace, catalogue_with_fixed_licence(tmp_path))
    await send_events(
        workspace,
        [event(f"e-{n}", occurred_at=f"2026-09-{n + 1:02d}T08:00:00Z") for n in range(3)],
    )
    target = stream_target(workspace)

    with pytest.raises(SettleRefused) as refused:
        await settle(workspace, target, "2026-09", NOW, dry_run=False)
    assert refused.value.code == EARLIER_PERIOD_OPEN
    assert "2026-08" in str(refused.value) and "fixed per-pupil" in str(refused.value)
    with pytest.raises(SettleRefused) as refused_later:
        await settle(workspace, target, "2026-10", NOW, dry_run=True)
    assert refused_later.value.code == EARLIER_PERIOD_OPEN
    assert "2026-08" in str(refused_later.value)

    august = await settle(workspace, target, "2026-08", NOW, dry_run=False)
    assert [
        (line.licence, line.quantity, line.amount_ore, line.usage_period)
        for s in august
        for line in s.lines
    ] == [("L-FIXED", BAERUM_PUPILS, 100_000, "2026-08")]  # 800 pupils x 1.25 NOK

    # September has both its events and its own fixed charge; October is then open.
    september = await settle(workspace, target, "2026-09", NOW, dry_run=False)
    september_licences = sorted(line.licence for s in september for line in s.lines)
    assert "L-FIXED" in september_licences and len(september_licences) > 1
    with pytest.raises(SettleRefused) as refused_november:
        await settle(workspace, target, "2026-11", NOW, dry_run=True)
    assert "2026-10" in str(refused_november.value)
