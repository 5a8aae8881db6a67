"""What this process delivered lately, so Alertmanager's retries re-send only what failed.

Alertmanager re-posts the whole group after a 503; the memo remembers, per receiver and
dedup key, the last request delivered (its action and a digest of its content) for
`delivery.memo_ttl`, and an event identical to it is skipped. It is an optimisation only: a
restart or another replica costs a duplicate send, which the stable dedup key makes harmless
(except for an API with no lookup, such as PageCalm's drafts: docs/pagecalm.md). A key whose
state changed (trigger -> resolve -> trigger) is always sent again.

Bounds, each receiver on its own (so a flood on one receiver never evicts another's):

    memo_ttl            an entry expires this long after its delivery and is dropped: on
                        the receiver's next lookup or delivery, and by a sweep of every
                        receiver at most every SWEEP_EVERY seconds
    memo_max_entries    past it, the receiver's oldest entries are dropped first
    memo_max_bytes      the same, counting each entry's estimated size (ENTRY_BYTES + key)

A dropped entry costs at most one duplicate send of its event, on Alertmanager's next retry.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from adapter.events import UpstreamRequest

# An entry's memory besides its key's characters (tracemalloc over 100,000 entries): the
# ordered dict's slot and link, the key's str header, the (digest, expiry) tuple with its
# int and float. An estimate: the bound in bytes is only as exact as this.
ENTRY_BYTES = 256
# Receivers that nobody posts to still lose their expired entries this often.
SWEEP_EVERY = 30.0


class MemoSettings(Protocol):
    """A receiver's memo settings (adapter/config/receivers.py DeliverySettings)."""

    @property
    def memo_ttl(self) -> float: ...
    @property
    def memo_max_entries(self) -> int: ...
    @property
    def memo_max_bytes(self) -> int: ...


def digest(request: UpstreamRequest) -> int:
    """Python's own hash (64-bit, per process, like the memo): taking a changed request for
    the one delivered before needs two requests of one key to collide, ~1 in 2**64, and it
    costs a fraction of a cryptographic digest."""
    identity = request.body if request.memo_identity is None else request.memo_identity
    return hash((request.method, request.url, identity))


def entry_bytes(key: str) -> int:
    return ENTRY_BYTES + len(key)


class ReceiverMemo:
    """One receiver's entries, oldest delivery first: dedup key -> (digest, expires at)."""

    __slots__ = ("bytes", "entries", "expire_at")

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self.bytes = 0
        # When the oldest entry expires (or earlier): no need to look before then.
        self.expire_at = float("-inf")

    def __len__(self) -> int:
        return len(self.entries)

    def drop_oldest(self) -> None:
        key, _ = self.entries.popitem(last=False)
        self.bytes -= entry_bytes(key)

    def expire(self, now: float) -> None:
        """Drop the expired entries. Entries expire in the order they were delivered (one
        receiver, one ttl), so they are at the front; after a reload that shortened the ttl,
        an entry may wait behind an older one made under the longer ttl."""
        entries = self.entries
        while entries:
            key = next(iter(entries))
            expires = entries[key][1]
            if expires > now:
                self.expire_at = expires
                return
            del entries[key]
            self.bytes -= entry_bytes(key)
        self.expire_at = float("inf")


class DeliveryMemo:
    def __init__(self) -> None:
        self._receivers: dict[str, ReceiverMemo] = {}
        self._swept = float("-inf")

    def delivered(self, receiver: str, key: str, request: UpstreamRequest, now: float) -> bool:
        memo = self._receivers.get(receiver)
        if memo is None:
            return False
        entry = memo.entries.get(key)
        if entry is None:
            return False
        if entry[1] <= now:
            memo.expire(now)
            return False
        return entry[0] == digest(request)

    def forget(self, receiver: str, key: str) -> None:
        """The key's state changed by a request the memo does not keep (a chain): what it
        held for the key no longer stands, so the next event of the key is sent."""
        memo = self._receivers.get(receiver)
        if memo is not None and memo.entries.pop(key, None) is not None:
            memo.bytes -= entry_bytes(key)

    def record(
        self, receiver: str, key: str, request: UpstreamRequest, now: float, bounds: MemoSettings
    ) -> None:
        memo = self._receivers.get(receiver)
        if memo is None:
            memo = self._receivers[receiver] = ReceiverMemo()
        entries = memo.entries
        expires = now + bounds.memo_ttl
        if key in entries:
            entries.move_to_end(key)
        else:
            memo.bytes += ENTRY_BYTES + len(key)
            if expires < memo.expire_at:  # the first entry, or one under a shorter ttl
                memo.expire_at = expires
        entries[key] = (digest(request), expires)
        if now >= memo.expire_at:
            memo.expire(now)
        # Past a bound, this receiver's oldest go first: never another receiver's.
        while len(entries) > bounds.memo_max_entries or memo.bytes > bounds.memo_max_bytes:
            memo.drop_oldest()
        if now - self._swept >= SWEEP_EVERY:
            self.sweep(now)

    def sweep(self, now: float) -> None:
        """Drop every receiver's expired entries, and the receivers left with none (one a
        reload removed, one nobody posts to any more)."""
        self._swept = now
        for name, memo in list(self._receivers.items()):
            memo.expire(now)
            if not memo.entries:
                del self._receivers[name]

    def size(self, receiver: str) -> tuple[int, int]:
        """(entries, estimated bytes) held for a receiver."""
        memo = self._receivers.get(receiver)
        return (len(memo), memo.bytes) if memo is not None else (0, 0)
