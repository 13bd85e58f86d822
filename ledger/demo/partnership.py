"""Two school months of the partnership's usage, seeded and reproducible.

Pupils use the products during the Oslo school day (weekdays 08–15), a little at
weekends, almost not at all in the autumn holiday (week 40). Like real vendors, the
files also hold what a ledger must cope with: double clicks, whole events resent
(identical duplicates), September events that only arrive with October (late), and a
few bad events, at least one for every reason code of CONTRACT section 3.

Events are written per month and vendor as request bodies ready to post: gzip JSON
arrays of at most `events_per_file_max` events (the API's per-request limit).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import time
from bisect import bisect
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any, Final

import yaml

from ledger.demo.partnership_catalogue import (
    PRODUCTS,
    USAGE,
    VENDORS,
    catalogue_document,
    org_numbers,
    vendor_org_numbers,
)
from ledger.domain.events import REASON_CODES
from ledger.domain.periods import OSLO

PERIODS: Final = ("2026-09", "2026-10")
# What vendors send, in order. October's usage is sent while September is still being
# settled (as in real life, use goes on); September's late events and a conflicting
# resend come after September is closed, so they are settled as October adjustments.
LATE_PART: Final = "2026-10-late"
SEND_PARTS: Final = ("2026-09", "2026-10", LATE_PART)
first_day: Final = date(2026, 9, 1)
last_day: Final = date(2026, 10, 31)
autumn_holiday: Final = (date(2026, 9, 28), date(2026, 10, 2))  # week 40, all seven
events_per_file_max: Final = 10_000  # = POST /v1/events' limit
events_max: Final = 20_000_000  # bounded memory: every event is held before writing
school_day_start_hour: Final = 8
school_day_hours: Final = 7  # 08–15
# How busy each hour of the school day is (first lesson, before and after lunch).
school_hour_weights: Final = (0.10, 0.18, 0.18, 0.12, 0.15, 0.15, 0.12)
weekend_day_weight: Final = 0.03
holiday_day_weight: Final = 0.01
gzip_level: Final = 1  # files are read once, by the sender: speed over size
MANIFEST: Final = "manifest.json"
CATALOGUE: Final = "catalogue.yaml"


@dataclass(frozen=True)
class DemoSettings:
    seed: int = 1
    events: int = 1_000_000  # in all the files together
    duplicate_share: float = 0.02  # events resent identically
    late_share: float = 0.01  # September events that arrive with October
    double_click_share: float = 0.03  # of access events: a second click within seconds
    teacher_share: float = 0.05
    bad_per_reason: int = 3  # rejected events of each reason code

    def check(self) -> None:
        if not 100 <= self.events <= events_max:
            raise ValueError(f"events must be between 100 and {events_max}")
        for name in ("duplicate_share", "late_share", "double_click_share", "teacher_share"):
            if not 0 <= getattr(self, name) <= 0.5:
                raise ValueError(f"{name} must be between 0 and 0.5")
        if not 1 <= self.bad_per_reason <= 1000:
            raise ValueError("bad_per_reason must be between 1 and 1000")


@dataclass(frozen=True)
class EventFile:
    part: str  # one of SEND_PARTS: when it is sent
    vendor: str  # organisation number (the token to send it with)
    path: str  # relative to the demo folder
    events: int


@dataclass
class Counts:
    usage: int = 0  # distinct good events, double clicks included
    double_clicks: int = 0
    duplicates: int = 0
    late: int = 0
    bad: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.usage + self.duplicates + sum(self.bad.values())


@dataclass(frozen=True)
class Demo:
    """Everything generated, before it is written."""

    catalogue: dict[str, object]
    # (send part, vendor org_no) -> events in sending order (dicts, or junk for malformed)
    batches: dict[tuple[str, str], list[object]]
    counts: Counts


# An event before it becomes JSON: (vendor, event_id, product, school, learner, role,
# action, item, quantity, unit, occurred_at epoch seconds)
Row = tuple[str, str, str, str, str, str, str, str, int, str, int]


def day_weight(day: date) -> float:
    if autumn_holiday[0] <= day <= autumn_holiday[1]:
        return holiday_day_weight
    return 1.0 if day.weekday() < 5 else weekend_day_weight


def school_days() -> list[date]:
    return [first_day + timedelta(days=d) for d in range((last_day - first_day).days + 1)]


def _midnight_epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=OSLO).timestamp())


def rfc3339(epoch_s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


october_starts_epoch_s: Final = int(datetime(2026, 10, 1, tzinfo=OSLO).timestamp())


def period_of_epoch(epoch_s: int) -> str:
    """Which of the two demo months (Oslo) an instant falls in; a cheap compare, run per event."""
    return "2026-09" if epoch_s < october_starts_epoch_s else "2026-10"


def _document(row: Row) -> dict[str, object]:
    return {
        "event_id": row[1],
        "vendor": row[0],
        "product": row[2],
        "school": row[3],
        "learner": row[4],
        "role": row[5],
        "action": row[6],
        "item": row[7],
        "quantity": row[8],
        "unit": row[9],
        "occurred_at": rfc3339(row[10]),
    }


def municipality_documents(catalogue: dict[str, object]) -> list[dict[str, Any]]:
    municipalities = catalogue["municipalities"]
    if not isinstance(municipalities, list):
        raise TypeError("the catalogue's municipalities must be a list")
    return municipalities


class _Learners:
    """Pseudonymous learner ids, Feide-pairwise style: a vendor sees its own id per learner."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._ids: dict[tuple[str, str, int, bool], str] = {}

    def id(self, vendor: str, school: str, number: int, teacher: bool) -> str:
        key = (vendor, school, number, teacher)
        found = self._ids.get(key)
        if found is None:
            text = f"{self._seed}|{vendor}|{school}|{number}|{teacher}".encode()
            found = hashlib.blake2b(text, digest_size=12).hexdigest() + "@feide.no"
            self._ids[key] = found
        return found


def _usage_rows(
    settings: DemoSettings, catalogue: dict[str, object], count: int
) -> tuple[list[Row], int]:
    """`count` distinct events (double clicks among them), and how many are double clicks."""
    rng = random.Random(f"usage-{settings.seed}")
    vendors = vendor_org_numbers()
    products = {p.id: p for p in PRODUCTS}
    municipalities = {str(m["id"]): m for m in municipality_documents(catalogue)}
    schools_of = {
        m_id: [(str(s["id"]), int(s["pupils"])) for s in m["schools"]]
        for m_id, m in municipalities.items()
    }
    school_cum = {m: list(accumulate(p for _, p in s)) for m, s in schools_of.items()}
    # (product, municipality) weighted by the municipality's pupils × the product's share
    plans = [(u.product, m) for u in USAGE for m in u.municipalities]
    plan_weights = [
        u.share * sum(p for _, p in schools_of[m]) for u in USAGE for m in u.municipalities
    ]
    days = school_days()
    day_starts = [_midnight_epoch(d) for d in days]
    day_cum = list(accumulate(day_weight(d) for d in days))
    hour_cum = list(accumulate(school_hour_weights))
    learners = _Learners(settings.seed)
    picked_plans = rng.choices(plans, plan_weights, k=count)
    picked_days = rng.choices(range(len(days)), cum_weights=day_cum, k=count)
    numbers = {vendor: 0 for vendor in vendors.values()}
    rows: list[Row] = []
    double_clicks = 0
    random_ = rng.random
    for (product_id, municipality), day_index in zip(picked_plans, picked_days, strict=True):
        if len(rows) >= count:
            break
        product = products[product_id]
        vendor = vendors[product.vendor]
        cum = school_cum[municipality]
        school, pupils = schools_of[municipality][bisect(cum, random_() * cum[-1])]
        teacher = random_() < settings.teacher_share
        number = int(random_() * (max(1, pupils // 12) if teacher else pupils))
        day = days[day_index]
        if day.weekday() < 5:
            hour = bisect(hour_cum, random_() * hour_cum[-1])
            second = (school_day_start_hour + hour) * 3600 + int(random_() * 3600)
        else:
            second = 10 * 3600 + int(random_() * 10 * 3600)
        numbers[vendor] += 1
        row: Row = (
            vendor,
            f"{product.vendor}-{numbers[vendor]:08d}",
            product.id,
            school,
            learners.id(vendor, school, number, teacher),
            "teacher" if teacher else "pupil",
            product.actions[int(random_() * len(product.actions))],
            f"kap-{1 + int(random_() * 12)}",
            1 + int(random_() * product.quantity_max),
            product.unit,
            day_starts[day_index] + second,
        )
        rows.append(row)
        if product.unit == "access" and random_() < settings.double_click_share:
            numbers[vendor] += 1
            double_clicks += 1
            event_id = f"{product.vendor}-{numbers[vendor]:08d}"
            later_s = row[10] + 1 + int(random_() * 20)
            rows.append((vendor, event_id, *row[2:10], later_s))
    return rows[:count], double_clicks


def _fresh_bad(good: dict[str, object], number: int) -> Callable[..., dict[str, object]]:
    """Copies of `good` with a new event id per bad event: each refused for one reason only."""

    def fresh(code: str, **changes: object) -> dict[str, object]:
        return dict(good, event_id=f"{good['event_id']}-x{number}-{code}", **changes)

    return fresh


def _bad_events(
    settings: DemoSettings, rows: Sequence[Row], vendors: dict[str, str]
) -> dict[str, list[tuple[str, str, object]]]:
    """reason code -> [(send part, vendor org_no, the event)]: each is refused for it."""
    rng = random.Random(f"bad-{settings.seed}")
    unknown_school = next(org_numbers("96", 900_000))
    registered = [vendors[v.key] for v in VENDORS if v.registered]
    unregistered = next(vendors[v.key] for v in VENDORS if not v.registered)
    september = [row for row in rows if period_of_epoch(row[10]) == "2026-09"]
    bad: dict[str, list[tuple[str, str, object]]] = {code: [] for code in REASON_CODES}
    for number in range(settings.bad_per_reason):
        row = rng.choice(september)
        good = _document(row)
        vendor = row[0]
        other = next(v for v in registered if v != vendor)
        fresh = _fresh_bad(good, number)
        sep = "2026-09"
        bad["malformed"].append((sep, vendor, f"{vendor};{good['event_id']};broken export line"))
        bad["schema_violation"].append((sep, vendor, fresh("sv", role="elev")))
        bad["vendor_mismatch"].append((sep, vendor, fresh("vm", vendor=other)))
        bad["unknown_vendor"].append((sep, unregistered, fresh("uv", vendor=unregistered)))
        bad["unknown_product"].append((sep, vendor, fresh("up", product="ukjent-produkt")))
        bad["unknown_school"].append((sep, vendor, fresh("us", school=unknown_school)))
        bad["invalid_quantity"].append((sep, vendor, fresh("iq", quantity=0)))
        bad["occurred_in_future"].append(
            (sep, vendor, fresh("of", occurred_at="2030-09-15T08:00:00Z"))
        )
        # the same id as an event accepted in September, with a different item: sent later
        bad["conflicting_duplicate"].append((LATE_PART, vendor, dict(good, item="kap-99")))
    return bad


def generate(settings: DemoSettings) -> Demo:
    settings.check()
    catalogue = catalogue_document(settings.seed)
    vendors = vendor_org_numbers()
    bad_total = settings.bad_per_reason * len(REASON_CODES)
    duplicates = round(settings.events * settings.duplicate_share)
    rows, double_clicks = _usage_rows(settings, catalogue, settings.events - duplicates - bad_total)
    rng = random.Random(f"send-{settings.seed}")
    bad = _bad_events(settings, rows, vendors)
    conflicted = {
        str(event["event_id"])
        for _, _, event in bad["conflicting_duplicate"]
        if isinstance(event, dict)
    }
    # Sending order: by time within a part; a resent event shortly after its original.
    keyed: list[tuple[str, str, float, Row]] = []
    counts = Counts(usage=len(rows), double_clicks=0)
    for row in rows:
        period = period_of_epoch(row[10])
        sent_with = period
        if period == "2026-09" and row[1] not in conflicted and rng.random() < settings.late_share:
            sent_with, counts.late = LATE_PART, counts.late + 1
            keyed.append((sent_with, row[0], float(row[10]), row))
        else:
            keyed.append((sent_with, row[0], float(row[10]), row))
    for index in rng.sample(range(len(keyed)), duplicates):
        sent_with, vendor, order, row = keyed[index]
        keyed.append((sent_with, vendor, order + 60 + rng.random() * 3600, row))
    counts.duplicates = duplicates
    counts.double_clicks = double_clicks
    keyed.sort(key=lambda k: (k[0], k[1], k[2]))
    batches: dict[tuple[str, str], list[object]] = {}
    for sent_with, vendor, _, row in keyed:
        batches.setdefault((sent_with, vendor), []).append(_document(row))
    for code, events in bad.items():
        counts.bad[code] = len(events)
        for sent_with, vendor, event in events:
            batch = batches.setdefault((sent_with, vendor), [])
            batch.insert(rng.randrange(len(batch) + 1), event)
    return Demo(catalogue, batches, counts)


def write_demo(
    demo: Demo, settings: DemoSettings, out: Path, progress: Callable[[int], None] | None = None
) -> list[EventFile]:
    """The catalogue, one folder of request bodies per month and vendor, and the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    (out / CATALOGUE).write_text(
        "# The partnership demo catalogue (ledger demo generate)\n"
        + yaml.safe_dump(demo.catalogue, allow_unicode=True, sort_keys=False, width=100),
        encoding="utf-8",
    )
    files: list[EventFile] = []
    for (part, vendor), events in sorted(demo.batches.items()):
        folder = out / "events" / part / vendor
        folder.mkdir(parents=True, exist_ok=True)
        for number, start in enumerate(range(0, len(events), events_per_file_max), start=1):
            chunk = events[start : start + events_per_file_max]
            body = json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode()
            path = folder / f"{number:04d}.json.gz"
            path.write_bytes(gzip.compress(body, gzip_level, mtime=0))
            files.append(EventFile(part, vendor, str(path.relative_to(out)), len(chunk)))
            if progress is not None:
                progress(len(chunk))
    manifest = {
        "settings": asdict(settings),
        "periods": list(PERIODS),
        "parts": list(SEND_PARTS),
        "catalogue": CATALOGUE,
        "vendors": [
            {"org_no": org_no, "key": v.key, "name": v.name, "registered": v.registered}
            for v in VENDORS
            for key, org_no in vendor_org_numbers().items()
            if key == v.key
        ],
        "municipalities": [str(m["id"]) for m in municipality_documents(demo.catalogue)],
        "counts": {**asdict(demo.counts), "total": demo.counts.total},
        "files": [asdict(f) for f in files],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return files


def read_manifest(folder: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return document


def occurred_utc(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["occurred_at"])).astimezone(UTC)
