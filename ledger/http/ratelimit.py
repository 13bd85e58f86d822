"""Requests per token: a token bucket each, so one client cannot starve the others."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Final

requests_per_second_default: Final = 100.0
burst_default: Final = 200
buckets_max: Final = 100_000  # one per token seen; bounded all the same


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self, requests_per_second: float = requests_per_second_default, burst: int = burst_default
    ) -> None:
        if requests_per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate = requests_per_second
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def retry_after_s(self, key: str, now: float | None = None) -> int:
        """0 when the request may go ahead (and is counted), else whole seconds to wait."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= buckets_max:
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
