"""`ledger demo generate`: the partnership's catalogue and two months of usage, to files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger.demo.partnership import Counts, DemoSettings, EventFile, generate, write_demo

__all__ = ["DemoSettings", "Generated", "demo_settings", "generate_demo"]


@dataclass(frozen=True)
class Generated:
    counts: Counts
    files: list[EventFile]
    catalogue: Path


def demo_settings(seed: int, events: int) -> DemoSettings:
    """Settings for `events` in all; ValueError says what is out of bounds."""
    settings = DemoSettings(seed=seed, events=events)
    settings.check()
    return settings


def generate_demo(
    settings: DemoSettings,
    out: Path,
    *,
    on_generated: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Generated:
    """Generate (seeded, so the same settings give the same files) and write to `out`.

    `on_generated` hears the number of events once they are made; `progress` then hears
    each file's events as it is written.
    """
    demo = generate(settings)
    if on_generated is not None:
        on_generated(demo.counts.total)
    files = write_demo(demo, settings, out, progress)
    return Generated(demo.counts, files, out / "catalogue.yaml")
