"""A token bucket per client (API key or address) for the API's write endpoints. In-process:
each API process limits on its own, so N processes allow up to N times the rate."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # who -> (tokens, last time)
        self._lock = threading.Lock()

    def wait(self, who: str) -> float:
        """Like ``take`` but takes nothing: 0 if ``who`` has a token left, else the seconds until
        it has one."""
        if self.capacity <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens = self._tokens(who, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _tokens(self, who: str, now: float) -> float:
        """``who``'s tokens at ``now``: what was left, refilled at the rate, at most the capacity
        (call with the lock held)."""
        tokens, last = self._buckets.get(who, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.rate)

    def take(self, who: str) -> float:
        """0 if the request may go ahead, else the seconds to wait before trying again."""
        if self.capacity <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens = self._tokens(who, now)
            if tokens >= 1.0:
                self._buckets[who] = (tokens - 1.0, now)
                return 0.0
            self._buckets[who] = (tokens, now)
            if len(self._buckets) > 10_000:  # forget idle clients
                full = [k for k, (t, ts) in self._buckets.items() if t + (now - ts) * self.rate >= self.capacity]
                for k in full:
                    del self._buckets[k]
            return (1.0 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
