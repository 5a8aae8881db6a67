"""A token bucket that serves the most urgent waiter first and says, before waiting, whether
the wait fits the deadline.

    bucket.take(priority) -> bool                  a token now, if no one at least as urgent waits
    await bucket.acquire(budget, priority)         a token within `budget` seconds, or OverBudget
    new.succeeding(old) -> TokenBucket             what a reload installs: spent stays spent

aiolimiter and friends answer "is there capacity now?" or simply wait; the adapter needs
the expected wait first: a request whose turn comes after the webhook's deadline is not
sent but answered 503 at once, with a Retry-After computed from the budget.

Waiters queue by priority (0 is the most urgent; PRIORITIES names the adapter's classes),
then by arrival. A request's turn counts only the waiters at least as urgent as it, so a
critical is never refused because warnings queued first; the warnings it overtakes are
pushed back, and one whose turn now falls after its own deadline leaves the queue at once
with OverBudget (its webhook answers 503 and Alertmanager re-posts it later) instead of
holding a slot it cannot use in time.

A token is taken when it is handed to a waiter, which sends at once, not when its turn
was promised: a stalled event loop that wakes late hands out only the tokens that have
accumulated (at most the burst), so the upstream sees the budget, not just the bookkeeping.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# The order in which requests waiting for a receiver's budget are served, most urgent first:
# a new critical or error page; then resolves, because an open incident keeps escalating
# and paging until its resolve arrives, and a resolve never opens anything new; then
# warnings and info, which usually page no one. docs/storms.md says more.
PRIORITIES = ("critical", "error", "resolve", "warning", "info")

# Float slack when comparing a turn with the deadline it was admitted for.
_EPSILON = 1e-6


class OverBudget(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"rate budget exhausted for the next {wait:.1f}s")
        self.wait = wait


@dataclass(eq=False, slots=True)
class _Waiter:
    priority: int
    arrival: int
    deadline: float  # on the bucket's clock
    granted: asyncio.Future[None] = field(repr=False)

    def __lt__(self, other: _Waiter) -> bool:
        return (self.priority, self.arrival) < (other.priority, other.arrival)


class TokenBucket:
    def __init__(
        self, requests: int, per: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = requests / per  # tokens a second
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.updated = clock()
        self.queue: list[_Waiter] = []  # sorted: most urgent, then earliest, first
        self._arrivals = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def succeeding(self, before: TokenBucket | None) -> TokenBucket:
        """The bucket a reload installs in place of `before`: `before` itself when the terms
        are the same (its waiters keep their places), else this one holding no more tokens
        than `before` has left. A reload never refills a budget that has been spent."""
        if before is None:
            return self
        if (before.rate, before.burst) == (self.rate, self.burst):
            return before
        before._refill()
        self._refill()
        self.tokens = min(self.tokens, before.tokens)
        return self

    def _refill(self) -> float:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return now

    def _ahead(self, priority: float) -> int:
        """Waiters served before a new request of this priority: those at least as urgent."""
        return sum(1 for w in self.queue if w.priority <= priority)

    def _turn(self, position: int) -> float:
        """Seconds until the token for the waiter at `position` (0: next) is there."""
        return max(0.0, (position + 1 - self.tokens) / self.rate)

    def expected_wait(self, priority: float = math.inf) -> float:
        """Seconds until a new request of this priority would get a token (by default: of
        the lowest, behind everyone waiting)."""
        self._refill()
        return self._turn(self._ahead(priority))

    def take(self, priority: int = 0) -> bool:
        """A token now, if one is there and no one at least as urgent is waiting for it."""
        now = self._refill()
        if self.tokens < 1 or self._ahead(priority):
            return False
        self.tokens -= 1
        if self.queue:  # it went to a more urgent request than those waiting
            self._bump(now)
        return True

    async def acquire(self, budget: float, priority: int = 0) -> None:
        """Take a token, waiting up to `budget` seconds; OverBudget if it will not come in
        time, at once or later, when more urgent requests push this one past `budget`."""
        if self.take(priority):
            return
        now = self._refill()
        wait = self._turn(self._ahead(priority))
        if wait > budget:
            raise OverBudget(wait)
        loop = asyncio.get_running_loop()
        waiter = _Waiter(priority, next(self._arrivals), now + budget, loop.create_future())
        bisect.insort(self.queue, waiter)
        self._bump(now)
        self._schedule()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            granted = waiter.granted
            if granted.done() and not granted.cancelled() and granted.exception() is None:
                # Handed a token, then cancelled before sending: give it to the next one.
                self.tokens = min(self.burst, self.tokens + 1)
            elif waiter in self.queue:
                self.queue.remove(waiter)
            self._schedule()
            raise

    def _bump(self, now: float) -> None:
        """Send away each waiter whose turn now falls after its deadline (more urgent ones
        were queued ahead of it); the ones behind it move up."""
        kept: list[_Waiter] = []
        for waiter in self.queue:
            if waiter.granted.done():  # cancelled; its task removes it
                continue
            turn = self._turn(len(kept))
            if now + turn > waiter.deadline + _EPSILON:
                waiter.granted.set_exception(OverBudget(turn))
            else:
                kept.append(waiter)
        self.queue[:] = kept

    def _schedule(self) -> None:
        """Arm the one timer that hands out the next token, if anyone waits for it."""
        if self._timer is None and self.queue:
            self._refill()
            delay = max(0.0, (1 - self.tokens) / self.rate)
            self._timer = asyncio.get_running_loop().call_later(delay, self._release)

    def _release(self) -> None:
        self._timer = None
        self._refill()
        while self.queue and self.tokens >= 1:
            waiter = self.queue.pop(0)
            if waiter.granted.done():  # cancelled meanwhile
                continue
            self.tokens -= 1
            waiter.granted.set_result(None)
        self._schedule()
