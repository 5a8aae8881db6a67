"""The store that replicas share (Redis, or Valkey): each receiver's rate window and the
delivery memo, so two adapters behind one Service keep the vendor's limit and deliver a
key's trigger or resolve once. Off unless the config has a `coordination:` block
(adapter/config/coordination.py); with none, nothing here runs and the hot path is as it was.
store.py is the client (Coordination) and its decisions; scripts.py the Lua each decision
runs in the store; windows.py a receiver's shared window as a replica knows it, and the
share it spends alone.

    await Coordination.start(settings, metrics) -> Coordination   never fails: down is a state
    await shared.acquire(name, window, priority, within) -> Ticket   a slot, or RateExhausted
    ticket.done()                                                 the request is done
    await shared.memo_claim(name, key, request, within) -> Claim   delivered before / ours / ...
    await shared.memo_done(name, key, request, delivered, ttl)
    await shared.aclose()

Each decision is one Lua script (EVALSHA), atomic in the store: no read-then-write between
replicas. The memo's claims asked for over a few turns of the event loop share one script
call (GATHER_TURNS), as its delivery records share one a quarter second: redis-py's cost per
command, not the network, was most of what the store cost a webhook. Times are the store's
(TIME), so the replicas' clocks never disagree about a window.

The rate window: a sorted set of send stamps per receiver, its key carrying a hash of the
rate terms (a reload that changes the limit starts clean), trimmed to the look-back `per`
and expiring after it. The script applies every window RateWindow applies (the limit, the
burst and, for all but pages, the limit less the reserve) and answers the wait until the
next slot when there is none; the replica sleeps that long (the less urgent a little
longer, so its own waiters keep their order) and asks again, or answers 503 with that wait
as Retry-After when it falls after the webhook's deadline, as a local window does.

The memo: per receiver and dedup key, the digest of the last request delivered, with
`memo_ttl`. Before sending, a replica claims the key for the request (a pending mark with
the webhook's deadline as its life); another replica holding the same request meanwhile
waits for the outcome instead of sending it too, and skips it once it is delivered.

When the store fails (refused, down, slower than `timeout`), every call that meets it
returns at once as "down"; from then on the replica spends 1/replicas of each limit in a
local window (seeded with what the store last said was sent) and keeps its own memo, with
no call to the store on the webhook's path, until the watcher, which asks the store every
CHECK_EVERY seconds, hears it again. Back up, the replica first writes the sends it made
alone into the store (and into a window the store lost, restarted empty, what it last
held), and for one more `per` takes from the shared window less the shares the other
replicas may still be spending alone (they write theirs when they come back), so the
shared window never lets through what the upstream would count over the limit.

The landing page's last deliveries: a list per receiver (LPUSH, LTRIM to RECENT, expiring
after a week), pushed in batches by a task so the webhook never waits for it.

The poll lease (adapter/poller.py): `await shared.lease(name, ttl)` takes the key, or extends
it for the replica that holds it, so one replica polls Alertmanager at a time.
"""

from adapter.coordination.store import (
    CHECK_EVERY,
    HISTORY_EVERY,
    VIEW_EVERY,
    Claim,
    Coordination,
    Ticket,
    rebuilt,
)
from adapter.coordination.windows import scaled

__all__ = [
    "CHECK_EVERY",
    "HISTORY_EVERY",
    "VIEW_EVERY",
    "Claim",
    "Coordination",
    "Ticket",
    "rebuilt",
    "scaled",
]
