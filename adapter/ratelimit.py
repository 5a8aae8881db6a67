"""A token bucket that says, before waiting, whether the wait fits the deadline.

aiolimiter and friends answer "is there capacity now?" or simply wait; the adapter needs
the expected wait first: a request whose turn comes after the webhook's deadline is not
sent but answered 503 at once, with a Retry-After computed from the budget.
A token is taken when the request is about to go out, not when its turn was promised, so
a stalled event loop that wakes many waiters late cannot send a backlog in one burst: the
upstream sees the budget, not just the bookkeeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class OverBudget(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"rate budget exhausted for the next {wait:.1f}s")
        self.wait = wait


class TokenBucket:
    def __init__(
        self, requests: int, per: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = requests / per  # tokens a second
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.updated = clock()
        self.waiting = 0

    def _refill(self) -> float:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return now

    def expected_wait(self) -> float:
        """Seconds until a new request would get a token, counting those already waiting."""
        self._refill()
        return max(0.0, (1 + self.waiting - self.tokens) / self.rate)

    async def acquire(self, budget: float) -> None:
        """Take a token, waiting up to `budget` seconds; OverBudget if it will not come in time."""
        start = self._refill()
        while self.tokens < 1:
            wait = self.expected_wait()
            if self.clock() - start + wait > budget:
                raise OverBudget(wait)
            self.waiting += 1
            try:
                await asyncio.sleep((1 - self.tokens) / self.rate)
            finally:
                self.waiting -= 1
            self._refill()
        self.tokens -= 1
