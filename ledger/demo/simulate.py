"""Synthetic usage events for the demo, the tests and the benchmarks.

Deterministic for a seed. Pupils and teachers of the catalogue's schools use the
vendors' products during Oslo school hours; some clicks repeat within seconds (double
clicks) and some use is of products no licence covers (unlicensed).

    python -m ledger.demo.simulate examples/catalogue.yaml --period 2026-10 --events 1000 \
        --out events.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.domain.catalogue import Catalogue
from ledger.domain.catalogue_parse import load_catalogue_text
from ledger.domain.periods import OSLO, first_date, last_date

double_click_share = 0.05
teacher_share = 0.08
school_day_start_hour = 8
school_day_hours = 7


def generate_events(
    catalogue: Catalogue, *, period: str, count: int, seed: int = 1, id_prefix: str = "e"
) -> Iterator[dict[str, object]]:
    rng = random.Random(seed)
    schools = [(m, s) for m in catalogue.municipalities for s in m.schools]
    weights = [max(1, s.pupils) for _, s in schools]
    products = [(v.org_no, p.id) for v in catalogue.vendors for p in v.products]
    first, last = first_date(period), last_date(period)
    days = [first + timedelta(days=d) for d in range((last - first).days + 1)]
    school_days = [d for d in days if d.weekday() < 5] or days
    previous: dict[str, object] | None = None
    for number in range(count):
        if previous is not None and rng.random() < double_click_share:
            at = datetime.fromisoformat(str(previous["occurred_at"])) + timedelta(
                seconds=rng.randint(1, 40)
            )
            event = dict(
                previous,
                event_id=f"{id_prefix}-{seed}-{number}",
                occurred_at=at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            )
        else:
            _, school = rng.choices(schools, weights)[0]
            vendor, product = rng.choice(products)
            teacher = rng.random() < teacher_share
            learner = rng.randrange(max(1, school.pupils // (10 if teacher else 1)))
            day = rng.choice(school_days)
            local = datetime(day.year, day.month, day.day, school_day_start_hour, tzinfo=OSLO)
            at = local + timedelta(seconds=rng.randrange(school_day_hours * 3600))
            event = {
                "event_id": f"{id_prefix}-{seed}-{number}",
                "vendor": vendor,
                "product": product,
                "school": school.id,
                "learner": f"feide:{'t' if teacher else 'p'}-{school.id}-{learner}",
                "role": "teacher" if teacher else "pupil",
                "action": rng.choice(["open", "open", "open", "complete"]),
                "item": f"kap-{rng.randint(1, 12)}",
                "quantity": 1,
                "unit": "access",
                "occurred_at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            }
        previous = event
        yield event


def write_json_lines(events: Iterator[dict[str, object]], path: Path) -> int:
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalogue", type=Path)
    parser.add_argument("--period", required=True)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--id-prefix", default="e")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    catalogue = load_catalogue_text(args.catalogue.read_text(encoding="utf-8"))
    events = generate_events(
        catalogue, period=args.period, count=args.events, seed=args.seed, id_prefix=args.id_prefix
    )
    written = write_json_lines(events, args.out)
    print(f"wrote {written} events to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
