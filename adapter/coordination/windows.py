"""A receiver's shared rate window as one replica knows it (SharedRate), the window a replica
spends alone while the store is down (scaled), and the limits the RATE script applies
(pairs). Pure: no I/O; adapter/coordination/store.py decides with them."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from adapter.ratelimit import RateWindow, default_reserve


def scaled(window: RateWindow, replicas: int) -> RateWindow:
    """The window one replica spends while the store is down: 1/replicas of each limit
    (requests, burst, reserve), at least 1 request."""
    requests, per, burst, reserve = window.terms
    share = max(1, requests // replicas)
    reserve = default_reserve(requests) if reserve is None else reserve
    reserve = min(reserve // replicas, share - 1)
    burst = None if burst is None else max(1, burst // replicas)
    return RateWindow(share, per, burst, reserve, clock=window.clock)


@dataclass(eq=False, slots=True)
class SharedRate:
    """One receiver's shared window, as this replica knows it."""

    key: bytes
    terms: tuple[Any, ...]
    per_ms: int
    windows: list[int]  # (limit, span ms) pairs, flattened, for every priority
    low_windows: list[int]  # the same for those that may not use the reserve
    rejoin_windows: list[int]  # while rejoining: less what other replicas may send unseen
    rejoin_low_windows: list[int]
    fallback: RateWindow
    # Its own sends while falling back, oldest first, each under its ticket's number: trimmed
    # to the look-back `per` at each send, so a long outage keeps at most what its share lets
    # through, and a ticket's arrival moves its own entry in O(1).
    alone: OrderedDict[int, float] = field(default_factory=OrderedDict)
    last_count: int = 0  # sends in the window at the store's last answer
    last_at: float = -math.inf  # when (the replica's clock)
    # What the replica counted as the shared window's when it fell back (the replica's
    # clock): written into a store that comes back empty.
    seen: list[float] = field(default_factory=list)
    rejoin_until: float = -math.inf  # local window (and records) until then

    def trim(self, now: float) -> float:
        """Drop the sends made alone that no longer count at `now`, oldest first, stopping
        at the first that still counts (O(dropped)): the look-back's start."""
        alone, since = self.alone, now - self.per_ms / 1000
        while alone and next(iter(alone.values())) <= since:
            alone.popitem(last=False)
        return since

    def recent(self, now: float) -> list[float]:
        """The sends made alone that still count at `now`."""
        since = self.trim(now)
        return [stamp for stamp in self.alone.values() if stamp > since]


def pairs(windows: tuple[tuple[int, float], ...], replicas: int = 1) -> list[int]:
    """The windows for the script; with `replicas`, each limit less the shares that the
    other replicas, still falling back, may spend without the store seeing it."""
    out = []
    for limit, span in windows:
        unseen = (replicas - 1) * max(1, limit // replicas)
        out += [max(1, limit - unseen), round(span * 1000)]
    return out
