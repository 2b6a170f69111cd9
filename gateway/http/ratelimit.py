"""Token buckets in memory, one per key or client address.

Per process: each `atende serve` process counts on its own, so N processes behind a load
balancer allow up to N times the configured rate. Good enough to stop a runaway client;
a shared limit would need the database or a proxy in front.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable

# Buckets idle long enough to be full again are dropped once this many exist.
_PRUNE_ABOVE = 10_000


class TokenBucketLimiter:
    """`per_minute` requests a minute on average, `burst` at once; 0 per minute: no limit."""

    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def take(self, key: Hashable) -> int | None:
        """Spend one token; None if allowed, else the whole seconds until one is back."""
        if self._rate <= 0:
            return None
        now = self._clock()
        tokens, then = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > _PRUNE_ABOVE:
                self._prune(now)
            return None
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self._rate))

    def _prune(self, now: float) -> None:
        full_after = self._burst / self._rate
        self._buckets = {
            key: (tokens, then)
            for key, (tokens, then) in self._buckets.items()
            if now - then < full_after
        }
