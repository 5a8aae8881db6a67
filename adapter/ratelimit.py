"""A receiver's rate window (RateWindow): at most `requests` in any `per` seconds, looking
back from now, with the most urgent waiter served first and the expected wait known before waiting.

    window.take(priority) -> stamp | None          a slot now, if no one at least as urgent waits
    await window.acquire(wait, priority) -> stamp  a slot within `wait` seconds, or RateExhausted
    window.arrived(stamp)                          the request is done: count it from now
    new.succeeding(old) -> RateWindow              what a reload installs: spent stays spent

Why a look-back window and not a token bucket: PagerDuty counts "over a 60 second window
looking back from the current time" (120 per routing key), and Statuspage counts a minute's
requests the same way. A bucket that starts full and refills at the rate lets a storm send a
whole window's worth at once and then the rate on top: twice the limit in the first minute,
and the second half answered 429, a critical among them. Here a request is sent only when
fewer than `requests` were sent in the last `per`; with `burst`, also fewer than `burst` in
the last `per * burst / requests` (the same rate, in smaller bursts).

The last `reserve` requests of the `per` window are kept for pages: a `critical` or `error`
trigger may use them, a resolve, warning or info may not (the `burst` window, if set, is
everyone's alike). A storm of warnings spends the window down to the reserve and waits; a
critical of another group arriving a second later still finds a slot at once, where a full
window would have kept it waiting for the oldest request to age out (up to `per`).

aiolimiter and friends answer "is there capacity now?" or simply wait; the adapter needs
the expected wait first: a request whose turn comes after the webhook's deadline is not
sent but answered 503 at once, with a Retry-After computed from the window.

Waiters queue by priority (0 is the most urgent; PRIORITIES names the adapter's classes),
then by arrival. A request's turn counts only the waiters at least as urgent as it, so a
critical is never refused because warnings queued first; the warnings it overtakes are
pushed back, and one whose turn now falls after its own deadline leaves the queue at once
with RateExhausted (its webhook answers 503 and Alertmanager re-posts it later) instead of
holding a slot it cannot use in time.

A slot is taken when it is handed to a waiter, which sends at once, not when its turn was
promised, and a waiter whose deadline passed while the loop was busy is refused, not sent.
The upstream counts a request when it arrives, which is some time after the slot was
handed out; so when the request is done (answered, failed, timed out) its stamp moves to
that moment (`arrived`), and the slot it frees a window later cannot bring a faster request
into the same look-back window at the upstream.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# The order in which requests waiting for a receiver's rate window are served, most urgent first:
# a new critical or error page; then resolves, because an open incident keeps escalating
# and paging until its resolve arrives, and a resolve never opens anything new; then
# warnings and info, which usually page no one. docs/explanation/storms.md says more.
PRIORITIES = ("critical", "error", "resolve", "warning", "info")
# Ranks below this one (critical, error: pages) may use a window's reserve.
PAGES = PRIORITIES.index("resolve")

# Float slack when comparing a turn with the deadline it was admitted for.
_EPSILON = 1e-6


def default_reserve(requests: int) -> int:
    """A tenth of the window for pages: 12 of PagerDuty's 120, 6 of Statuspage's 60."""
    return requests // 10


class RateExhausted(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"rate budget exhausted for the next {wait:.1f}s")
        self.wait = wait


@dataclass(eq=False, slots=True)
class _Waiter:
    priority: int
    arrival: int
    deadline: float  # on the window's clock
    granted: asyncio.Future[None] = field(repr=False)
    sent_at: float | None = None  # when it was handed its slot

    def __lt__(self, other: _Waiter) -> bool:
        return (self.priority, self.arrival) < (other.priority, other.arrival)


class RateWindow:
    def __init__(
        self,
        requests: int,
        per: float,
        burst: int | None = None,
        reserve: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.terms = (requests, per, burst, reserve)
        reserve = default_reserve(requests) if reserve is None else reserve
        # (at most this many, in any window of this many seconds): for every request...
        self.windows: tuple[tuple[int, float], ...] = ((requests, per),)
        if burst is not None and burst < requests:
            self.windows += ((burst, per * burst / requests),)
        # ... and for those that may not use the reserve.
        self.low_windows = self.windows + (((requests - reserve, per),) if reserve else ())
        self.sent: deque[float] = deque(maxlen=requests)  # send times, oldest first
        self._forgot = False  # whether sends older than `sent` were dropped from it
        self.clock = clock
        self.queue: list[_Waiter] = []  # sorted: most urgent, then earliest, first
        self._arrivals = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def succeeding(self, before: RateWindow | None) -> RateWindow:
        """The window a reload installs in place of `before`: `before` itself, on this one's
        terms if they changed. Its sends still count and its waiters keep their places, and
        webhooks still in flight on the old receiver share it: a reload never grants a
        window's worth again, nor the same slot twice."""
        if before is None:
            return self
        if before.terms != self.terms:
            before._adopt(self)
        return before

    def _adopt(self, terms: RateWindow) -> None:
        history = list(self.sent)
        wanted = terms.sent.maxlen or 0
        if self._forgot and history and wanted > len(history):
            # Older sends were forgotten: count them as at the oldest one kept (never fewer).
            history = [history[0]] * (wanted - len(history)) + history
        self._forgot = self._forgot or len(history) > wanted
        self.terms, self.windows, self.low_windows = terms.terms, terms.windows, terms.low_windows
        self.sent = deque(history, maxlen=wanted)
        if self.queue:
            self._bump(self.clock())
            self._schedule()

    def seed(self, stamps: list[float]) -> None:
        """Count sends made elsewhere (other replicas, by a shared store's last word) as sent
        at these times: a window that takes over from a shared one starts where it stood."""
        for stamp in sorted(stamps):
            self._stamp(stamp)
        self.sent = deque(sorted(self.sent), maxlen=self.sent.maxlen)

    def _stamp(self, now: float) -> None:
        self._forgot = self._forgot or len(self.sent) == self.sent.maxlen
        self.sent.append(now)

    def _slot(self, sent: list[float] | deque[float], after: float, priority: float) -> float:
        """The earliest time from `after` at which a request of this priority may follow the
        ones in `sent`: each window's limit-th latest send has aged out by then."""
        at = after
        for limit, span in self.low_windows if priority >= PAGES else self.windows:
            if len(sent) >= limit:
                at = max(at, sent[-limit] + span)
        return at

    def _ahead(self, priority: float) -> list[_Waiter]:
        """Waiters served before a new request of this priority: those at least as urgent."""
        return [w for w in self.queue if w.priority <= priority and not w.granted.done()]

    def _turn(self, priority: float, now: float) -> float:
        """Seconds until a new request of this priority would be sent, behind those ahead."""
        sent = list(self.sent)
        at = now
        for waiter in self._ahead(priority):
            at = self._slot(sent, at, waiter.priority)
            sent.append(at)
        return self._slot(sent, at, priority) - now

    def expected_wait(self, priority: float = math.inf) -> float:
        """Seconds until a new request of this priority would be sent (by default: of the
        lowest, behind everyone waiting)."""
        return self._turn(priority, self.clock())

    def take(self, priority: int = 0) -> float | None:
        """A slot now, if there is one and no one at least as urgent is waiting for it: its
        stamp, for `arrived`."""
        now = self.clock()
        if self._slot(self.sent, now, priority) > now or self._ahead(priority):
            return None
        self._stamp(now)
        if self.queue:  # it went to a more urgent request than those waiting
            self._bump(now)
        return now

    def arrived(self, stamp: float) -> None:
        """The request sent at `stamp` is done: the upstream has counted it, no earlier than
        now, so it counts from now. (All stamps are in the past: now goes last.)"""
        try:
            self.sent.remove(stamp)
        except ValueError:  # a window's worth of sends since: it no longer counts anyway
            return
        now = self.clock()
        self.sent.append(now)
        if self.queue:  # the window frees up later than the waiters were promised
            self._bump(now)
            self._schedule()

    async def acquire(self, within: float, priority: int = 0) -> float:
        """Take a slot, waiting up to `within` seconds: its stamp, for `arrived`. RateExhausted
        if it will not come in time, at once or later, when more urgent requests push this
        one past `within`."""
        if (stamp := self.take(priority)) is not None:
            return stamp
        now = self.clock()
        wait = self._turn(priority, now)
        if wait > within:
            raise RateExhausted(wait)
        loop = asyncio.get_running_loop()
        waiter = _Waiter(priority, next(self._arrivals), now + within, loop.create_future())
        bisect.insort(self.queue, waiter)
        self._bump(now)
        self._schedule()
        try:
            await waiter.granted
            assert waiter.sent_at is not None
            return waiter.sent_at
        except asyncio.CancelledError:
            if waiter.sent_at is not None:
                # Handed a slot, then cancelled before sending: the request never went.
                with contextlib.suppress(ValueError):
                    self.sent.remove(waiter.sent_at)
            elif waiter in self.queue:
                self.queue.remove(waiter)
            self._schedule()
            raise

    def _bump(self, now: float) -> None:
        """Send away each waiter whose turn now falls after its deadline (more urgent ones
        were queued ahead of it); the ones behind it move up."""
        sent = list(self.sent)
        at = now
        kept: list[_Waiter] = []
        for waiter in self.queue:
            if waiter.granted.done():  # cancelled; its task removes it
                continue
            turn = self._slot(sent, at, waiter.priority)
            if turn > waiter.deadline + _EPSILON:
                waiter.granted.set_exception(RateExhausted(turn - now))
            else:
                kept.append(waiter)
                sent.append(turn)
                at = turn
        self.queue[:] = kept

    def _schedule(self) -> None:
        """Arm the one timer that hands out the next slot, for the first waiter. Armed anew
        each time: a page that joins behind nothing more urgent may be due before the
        warning the timer was armed for (the reserve is open to it)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if ahead := self._ahead(math.inf):
            now = self.clock()
            delay = self._slot(self.sent, now, ahead[0].priority) - now
            # uvloop's timers count whole milliseconds: a millisecond more never wakes early.
            delay = delay + 0.001 if delay > 0 else 0.0
            self._timer = asyncio.get_running_loop().call_later(delay, self._release)

    def _release(self) -> None:
        self._timer = None
        now = self.clock()
        while self.queue:
            waiter = self.queue[0]
            if waiter.granted.done():  # cancelled meanwhile
                self.queue.pop(0)
                continue
            if now > waiter.deadline + _EPSILON:  # the loop woke late: too late to send
                self.queue.pop(0)
                waiter.granted.set_exception(RateExhausted(self._turn(waiter.priority, now)))
                continue
            if self._slot(self.sent, now, waiter.priority) > now:
                break
            self.queue.pop(0)
            self._stamp(now)
            waiter.sent_at = now
            waiter.granted.set_result(None)
        self._schedule()
