"""Rate limits, in memory (per instance): a token bucket per connection for frames, and a
sliding window per client address for new chats, mail-form submissions and survey answers.

Behind a reverse proxy, ``client_address`` reads ``X-Forwarded-For`` only when the
``trust_forwarded_for`` setting says so (otherwise anyone could pick their own address).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from aiohttp import web


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; ``take`` says whether one was there."""

    __slots__ = ("rate", "burst", "tokens", "stamp", "now")

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.now = rate, float(burst), now
        self.tokens, self.stamp = float(burst), now()

    def take(self) -> bool:
        t = self.now()
        self.tokens = min(self.burst, self.tokens + (t - self.stamp) * self.rate)
        self.stamp = t
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class WindowLimiter:
    """At most ``limit`` hits per key within ``window`` seconds."""

    def __init__(self, limit: int, window: float, now: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.limit, self.window, self.now, self.max_keys = limit, window, now, max_keys
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> bool:
        """Count a hit; False (and not counted) when the key is over its limit."""
        t = self.now()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._prune(t)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= t - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(t)
        return True

    def retry_after(self, key: str) -> float:
        hits = self._hits.get(key)
        if not hits:
            return 0.0
        return max(0.0, hits[0] + self.window - self.now())

    def reset(self) -> None:
        self._hits.clear()

    def _prune(self, t: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= t - self.window]:
            del self._hits[key]


def client_address(request: web.Request, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            # The last address is the one the trusted proxy saw; earlier ones are the
            # client's own claims.
            return forwarded.split(",")[-1].strip()[:64]
    return (request.remote or "unknown")[:64]
