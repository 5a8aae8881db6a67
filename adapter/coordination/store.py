"""The store's client (Coordination): the rate decisions, the memo's claims and records,
the landing page's last deliveries, the poll lease, and falling back when the store fails.
adapter/coordination/__init__.py says how it works; the scripts are in scripts.py."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import urlsplit

import structlog

from adapter.config.coordination import CoordinationSettings
from adapter.coordination.scripts import (
    ARRIVED,
    CLAIM,
    HISTORY,
    LEASE,
    RATE,
    RECORD,
    RELEASE,
    SEED,
    VIEW,
)
from adapter.coordination.windows import SharedRate, pairs, scaled
from adapter.events import UpstreamRequest
from adapter.metrics import Metrics
from adapter.ratelimit import PAGES, RateExhausted, RateWindow
from adapter.secrets import scrub

log = structlog.get_logger("adapter.coordination")

CHECK_EVERY = 1.0  # seconds between the watcher's checks of a store that is down
# seconds between its looks at the shared windows while up: what another replica was granted
# in the moment before the store went is what a replica falling back cannot know, so the
# moment is kept short (a script of one trim and count per receiver: ~0.1 ms of the store's)
VIEW_EVERY = 0.1
POLL_MAX = 1.0  # the longest a waiter sleeps before asking the store again
ORDER_STEP = 0.002  # a less urgent waiter asks this much later per rank
BUSY_POLL = 0.05  # while another replica delivers the same request
RECENT = 50  # deliveries kept per receiver, as adapter/activity.py keeps
HISTORY_EVERY = 0.25  # seconds: the last deliveries go to the store in one batch this often
HISTORY_LIFE = 7 * 24 * 3600 * 1000  # ms: a receiver nobody posts to any more is forgotten
# A batch of claims or rate decisions goes once a turn of the event loop adds none to it, or
# after this many turns that did: the webhooks that arrived together in one turn reach their
# claim over the next few, and one round trip for all of them is what keeps the store's cost
# a webhook small (S1: 14 claims a script, not 5). A turn is microseconds when idle.
GATHER_TURNS = 3

T = TypeVar("T")


class _Down(Exception):
    """The store did not answer in time, or refused: the replica falls back."""


class Claim(Enum):
    SEND = "send"  # claimed: this replica sends it
    DELIVERED = "delivered"  # delivered before (by any replica): skip it
    BUSY = "busy"  # another replica was still sending it at the deadline
    LOCAL = "local"  # the store is down: the replica's own memo decides


def shared_digest(request: UpstreamRequest) -> bytes:
    """adapter/memo.py's digest, the same for every replica (Python's hash is per process)."""
    identity = request.body if request.memo_identity is None else request.memo_identity
    hashed = hashlib.blake2b(digest_size=16)
    hashed.update(request.method.encode())
    hashed.update(b"\0")
    hashed.update(request.url.encode())
    hashed.update(b"\0")
    hashed.update(identity)
    return hashed.hexdigest().encode()


@dataclass(eq=False, slots=True)
class Ticket:
    """A slot taken: `done()` when the request is done."""

    shared: Coordination
    rate: SharedRate
    member: bytes | None  # in the store
    stamp: float | None = None  # in the local window
    window: RateWindow | None = field(default=None, repr=False)
    granted_at: float | None = None  # the store's clock, seconds: when it granted the slot
    alone: int | None = None  # its entry in the rate's sends made alone

    def done(self) -> None:
        """The request is done: the local windows count it from now at once; the store hears
        of it in a task of this client's (aclose waits for it). The caller never waits for
        the store: a deadline falling during that round trip would cut a delivered request
        and report it undelivered."""
        self._local()
        if self.member is not None:
            self.shared._arrival(self.rate.key, self.member, self.rate.per_ms)

    async def arrived(self) -> None:
        """done(), waiting for the store."""
        self._local()
        if self.member is not None:
            await self._stored()

    def _local(self) -> None:
        if self.window is not None and self.stamp is not None:
            self.window.arrived(self.stamp)
        if self.alone is None and self.member is not None and not self.shared.up:
            # granted by the store, done while it is away: a send made alone from now
            self.alone = next(self.shared._members)
            self.rate.fallback.seed([self.shared.loop.time()])
        if self.alone is not None:  # the upstream counts it from now: so does the store later
            alone = self.rate.alone
            alone.pop(self.alone, None)
            alone[self.alone] = self.shared.loop.time()  # (the latest: the order holds)

    async def _stored(self) -> None:
        with contextlib.suppress(_Down):
            await self.shared._call(
                "rate", self.shared._arrived, [self.rate.key], [self.member, self.rate.per_ms]
            )


def _tell_all(answers: Iterable[asyncio.Future[Any]], exc: BaseException) -> None:
    """A batch failed: every waiter still waiting hears it (_Down: each falls back)."""
    for answer in answers:
        if not answer.done():
            answer.set_exception(_Down() if isinstance(exc, _Down) else exc)


class Coordination:
    def __init__(self, settings: CoordinationSettings, metrics: Metrics) -> None:
        redis = settings.redis
        self.settings = settings
        self.timeout = redis.timeout
        self.replicas = settings.replicas
        self.prefix = redis.key_prefix.encode()
        secret = redis.secret()
        self._secrets = settings.secret_values()
        tls = redis.tls_config
        options: dict[str, Any] = {}
        if redis.url.startswith("rediss://"):
            options = {
                "ssl": True,
                "ssl_ca_certs": str(tls.ca_file) if tls and tls.ca_file else None,
                "ssl_certfile": str(tls.cert_file) if tls and tls.cert_file else None,
                "ssl_keyfile": str(tls.key_file) if tls and tls.key_file else None,
                "ssl_cert_reqs": "none" if tls and tls.insecure_skip_verify else "required",
                "ssl_check_hostname": not (tls and tls.insecure_skip_verify),
            }
        # Imported here, not with the module: redis-py takes ~0.1-0.3 s to import, which a
        # replica without a store (the default) must not pay at start.
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError

        self._failures: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
        try:  # redis-py 6.4+ asks each new connection for maintenance notifications, which
            # Redis 7 does not know: a refused command and a log line per connection
            from redis.maint_notifications import MaintNotificationsConfig

            options["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
        except ImportError:
            pass
        host, port = _host_port(redis.url)
        self.where = f"{host}:{port}/{redis.database}"  # for logs: never the password
        self.client = Redis(
            host=host,
            port=port,
            db=redis.database,
            username=redis.username,
            password=secret.reveal() if secret is not None else None,
            socket_timeout=redis.timeout,
            socket_connect_timeout=redis.timeout,
            retry=Retry(NoBackoff(), 0),  # no retry inside a decision: past it, fall back
            health_check_interval=0,
            **options,
        )
        self._rate_script = self.client.register_script(RATE)
        self._arrived = self.client.register_script(ARRIVED)
        self._seed = self.client.register_script(SEED)
        self._view = self.client.register_script(VIEW)
        self._claim = self.client.register_script(CLAIM)
        self._release = self.client.register_script(RELEASE)
        self._record = self.client.register_script(RECORD)
        self._history = self.client.register_script(HISTORY)
        self._pushes: set[asyncio.Task[None]] = set()
        # last deliveries not yet in the store, as JSON arrays' items: encoded when they go,
        # so only the RECENT that survive the batch are (a storm's webhook pays nothing)
        self._gathered: dict[str, list[list[Any]]] = {}
        self._flush_armed = False
        # memo deliveries not yet written: (key, digest, the claim's mark, life in ms)
        self._records: list[tuple[bytes, bytes, bytes, int]] = []
        self._claims: list[tuple[bytes, bytes, bytes, int, asyncio.Future[int]]] = []
        self._decisions: list[tuple[bytes, list[Any], asyncio.Future[list[int]]]] = []
        self._arrivals: tuple[list[bytes], list[Any]] = ([], [])  # this turn's, for ARRIVED
        self.up_gauge, seconds = metrics.coordination()
        self._seconds = {op: seconds.labels(op) for op in ("rate", "memo", "storm", "history")}
        self.up = False
        self.up_gauge.set(0)
        self._rates: dict[str, SharedRate] = {}
        self._replica = os.urandom(6).hex().encode()
        self._members = itertools.count()
        self._watcher: asyncio.Task[None] | None = None
        self._closed = False  # aclose began: the watcher ends, even if its cancel is lost
        self.loop = asyncio.get_running_loop()
        self._lease = self.client.register_script(LEASE)  # the poll lease (adapter/poller.py)
        self._seconds["lease"] = seconds.labels("lease")

    @classmethod
    async def start(cls, settings: CoordinationSettings, metrics: Metrics) -> Coordination:
        """The store's client, up if the store answers now, else falling back (not fatal:
        the watcher keeps asking)."""
        shared = cls(settings, metrics)
        await shared.check()
        if not shared.up:
            log.warning("coordination.down", store=shared.where, reason="unreachable at start")
        shared._watcher = asyncio.create_task(shared._watch())
        return shared

    async def aclose(self) -> None:
        # What is gathered still goes (a stopping replica's last deliveries, the memo's
        # records), and what is on its way to the store (a batch, a claim's release) lands
        # first, within twice the store's timeout (each call takes at most one, and a batch
        # has the records' call before the pages'); then webhooks still in flight on this
        # client (a reload replaced it) fall back quietly: no log, and the gauge is the new
        # client's.
        end = self.loop.time() + 2 * self.timeout
        while self.up and (self._records or self._gathered or self._pushes):
            if self._records or self._gathered:
                self._flush()
            left = end - self.loop.time()
            if left <= 0:
                break
            await asyncio.wait(set(self._pushes), timeout=left)
        self.up = False
        self._closed = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        with contextlib.suppress(Exception):
            await self.client.aclose()

    # -- up and down --------------------------------------------------------------------

    async def _watch(self) -> None:
        # Not `while True`: a cancel that lands as a check's own timeout expires comes out of
        # asyncio.timeout as TimeoutError (Python 3.11), which the check takes for a slow
        # store; the watcher would then rejoin and look on after aclose, and a stop would
        # wait for it for good.
        while not self._closed:
            await asyncio.sleep(VIEW_EVERY if self.up and self._rates else CHECK_EVERY)
            if self._closed:
                return
            try:
                await self.check()
            except Exception as exc:  # a bug must not end the checks: the replica would
                # stay falling back for good
                error = scrub(f"{type(exc).__name__}: {exc}", self._secrets)[:200]
                log.error("coordination.check_failed", error=error)

    async def check(self) -> None:
        """Ask the store (up, each rate window's count); going back up, write what was
        sent alone first."""
        rates = list(self._rates.values())
        counts: list[int] = []
        try:
            async with asyncio.timeout(self.timeout):
                if self.up and rates:
                    counts = await self._view(
                        keys=[r.key for r in rates], args=[r.per_ms for r in rates]
                    )
                else:
                    await self.client.ping()
        except self._failures as exc:
            self._fall_back(exc)
            return
        if self.up:
            now = self.loop.time()
            for rate, count in zip(rates, counts, strict=False):  # (none: a PING)
                if now > rate.last_at:
                    rate.last_count, rate.last_at = int(count), now
            return
        now = self.loop.time()
        try:
            for rate in self._rates.values():
                per = rate.per_ms / 1000
                sends = rate.recent(now)
                seen = sorted((s for s in rate.seen if now - s < per), reverse=True)
                if sends or seen:
                    args: list[Any] = [rate.per_ms, len(seen)]
                    args += [max(0, round((now - stamp) * 1000)) for stamp in seen]
                    for stamp in sends:
                        args += [self._member(), max(0, round((now - stamp) * 1000))]
                    async with asyncio.timeout(self.timeout * 4):
                        await self._seed(keys=[rate.key], args=args)
                rate.rejoin_until = now + rate.per_ms / 1000
                rate.seen = []
        except self._failures as exc:
            self._fall_back(exc)
            return
        if self._closed:  # closed meanwhile: this client stays down
            return
        self.up = True
        self.up_gauge.set(1)
        log.info("coordination.up", store=self.where)

    def _fall_back(self, exc: BaseException) -> None:
        if not self.up:
            return
        self.up = False
        self.up_gauge.set(0)
        now = self.loop.time()
        for rate in self._rates.values():
            rate.fallback = self._fallback_for(rate, now)
        reason = "no answer in time" if isinstance(exc, TimeoutError) else type(exc).__name__
        detail = scrub(str(exc), self._secrets)[:200]
        log.warning("coordination.down", store=self.where, reason=reason, error=detail)

    def _fallback_for(self, rate: SharedRate, now: float) -> RateWindow:
        """A local window at 1/replicas, counting what the store last said was sent as sent
        at that moment (it was sent no later), so falling back never adds a window's worth
        to the one the upstream is still counting. What the other replicas were granted
        since then cannot be known (a burst a moment before the store went): the window
        counts as if they had filled it to its reserve, sent now. So for one `per` each
        replica sends pages only, within its share of the reserve (less what it knows was
        sent): together, never past the limit."""
        per = rate.per_ms / 1000
        window = scaled(RateWindow(*rate.terms), self.replicas)
        known = rate.last_count if now - rate.last_at < per else 0
        unknown = 0
        if self.replicas > 1:
            share, _, _, reserve = window.terms
            unknown = share - (reserve or 0)
        # the most of the two at any moment: the unknown, newer, then what was known beyond
        rate.seen = [now] * unknown + [rate.last_at] * max(0, known - unknown)
        window.seed(rate.recent(now) + rate.seen)  # an earlier fall back's sends still count
        return window

    async def _call(
        self,
        operation: str,
        script: Callable[..., Awaitable[T]],
        keys: list[bytes],
        args: list[Any],
    ) -> T:
        """One script in the store, within the timeout; _Down when it fails (and from then
        on the replica falls back)."""
        if not self.up:
            raise _Down
        started = self.loop.time()
        try:
            async with asyncio.timeout(self.timeout):
                return await script(keys=keys, args=args)
        except self._failures as exc:
            self._fall_back(exc)
            raise _Down from None
        finally:
            self._seconds[operation].observe(self.loop.time() - started)

    def _member(self) -> bytes:
        return b"%s:%d" % (self._replica, next(self._members))

    # -- the rate window ----------------------------------------------------------------

    def _rate(self, name: str, window: RateWindow) -> SharedRate:
        rate = self._rates.get(name)
        if rate is not None and rate.terms == window.terms:
            return rate
        terms = window.terms
        hashed = hashlib.blake2b(repr(terms).encode(), digest_size=6).hexdigest()
        rate = SharedRate(
            key=b"%s:rate:%s:%s" % (self.prefix, name.encode(), hashed.encode()),
            terms=terms,
            per_ms=round(terms[1] * 1000),
            windows=pairs(window.windows),
            low_windows=pairs(window.low_windows),
            rejoin_windows=pairs(window.windows, self.replicas),
            rejoin_low_windows=pairs(window.low_windows, self.replicas),
            fallback=scaled(window, self.replicas),
        )
        if not self.up:  # a window first met while the store is down
            rate.fallback = self._fallback_for(rate, self.loop.time())
        self._rates[name] = rate
        return rate

    def track(self, windows: dict[str, RateWindow]) -> None:
        """Know every receiver's window from the start (and after a reload), not from its
        first send: the watcher's look keeps its count, so a replica that has sent nothing
        yet falls back knowing what the others sent. A receiver a reload took away (or
        whose budget it turned off) is no longer looked at."""
        for name in [name for name in self._rates if name not in windows]:
            del self._rates[name]
        for name, window in windows.items():
            self._rate(name, window)

    async def acquire(self, name: str, window: RateWindow, priority: int, within: float) -> Ticket:
        """A slot in the receiver's shared window within `within` seconds (the store's, or
        while it is down or rejoining the local one at 1/replicas), or RateExhausted with
        the wait."""
        rate = self._rate(name, window)
        loop = self.loop
        end = loop.time() + within
        while True:
            now = loop.time()
            if not self.up:
                return await self._acquire_alone(rate, priority, end)
            if now < rate.rejoin_until:  # other replicas may still be spending on their own
                windows = rate.rejoin_low_windows if priority >= PAGES else rate.rejoin_windows
            else:
                windows = rate.low_windows if priority >= PAGES else rate.windows
            member = self._member()
            try:
                granted, wait_ms, count = await self._decide(rate, member, windows)
            except _Down:
                continue  # now falling back
            now = loop.time()
            rate.last_count, rate.last_at = int(count), now
            if granted:  # (then wait_ms is the store's time of the grant, in ms)
                return Ticket(self, rate, member, granted_at=int(wait_ms) / 1000)
            wait = int(wait_ms) / 1000 + 0.001
            if now + wait > end:
                raise RateExhausted(wait)
            await asyncio.sleep(min(wait + ORDER_STEP * priority, POLL_MAX))

    async def _decide(self, rate: SharedRate, member: bytes, windows: list[int]) -> list[int]:
        """One rate decision, sent with every decision asked for in the same few turns of
        the event loop as one script (as the memo's claims, GATHER_TURNS): one redis-py
        command, not one a request. In the order asked: a replica's waiters keep their
        order."""
        answer: asyncio.Future[list[int]] = self.loop.create_future()
        self._decisions.append(
            (rate.key, [member, rate.per_ms, len(windows) // 2, *windows], answer)
        )
        if len(self._decisions) == 1:
            self._gather(self._decisions, self._decision_batch)
        return await answer

    async def _decision_batch(self) -> None:
        decisions, self._decisions = self._decisions, []
        args: list[Any] = []
        for _, these, _ in decisions:
            args += these
        try:
            out = await self._call("rate", self._rate_script, [d[0] for d in decisions], args)
        except BaseException as exc:
            _tell_all((answer for *_, answer in decisions), exc)
            if isinstance(exc, _Down):
                return
            raise
        for i, (_, _, answer) in enumerate(decisions):
            if not answer.done():  # a waiter given up: its slot counts, as a send that failed
                answer.set_result([int(v) for v in out[3 * i : 3 * i + 3]])

    async def _acquire_alone(self, rate: SharedRate, priority: int, end: float) -> Ticket:
        window = rate.fallback
        stamp = window.take(priority)
        if stamp is None:
            stamp = await window.acquire(end - self.loop.time(), priority)
        rate.trim(self.loop.time())  # what no longer counts goes: the window stays bounded
        entry = next(self._members)
        rate.alone[entry] = stamp
        return Ticket(self, rate, None, stamp, window, alone=entry)

    # -- the memo -----------------------------------------------------------------------

    def _memo_key(self, name: str, key: str) -> bytes:
        return b"%s:memo:%s:%s" % (self.prefix, name.encode(), key.encode())

    async def memo_claim(
        self, name: str, key: str, request: UpstreamRequest, within: float
    ) -> tuple[Claim, bytes]:
        """Whether to send the request: (what to do, the pending mark to release)."""
        loop = self.loop
        end = loop.time() + within
        digest = shared_digest(request)
        mark = b"p:%s:%s" % (digest, self._member())
        entry = self._memo_key(name, key)
        while True:
            life = max(1, round((end - loop.time()) * 1000) + 1000)
            try:
                code = await self._claim_one(entry, digest, mark, life)
            except _Down:
                return Claim.LOCAL, mark
            if code == 0:
                return Claim.SEND, mark
            if code == 1:
                return Claim.DELIVERED, mark
            if loop.time() + BUSY_POLL > end:
                return Claim.BUSY, mark
            await asyncio.sleep(BUSY_POLL)

    async def _claim_one(self, entry: bytes, digest: bytes, mark: bytes, life: int) -> int:
        """One key's claim, sent with every claim asked for in the same few turns of the
        event loop as one script (GATHER_TURNS): redis-py's cost per command (a connection
        from the pool, the command packed, its answer parsed) is most of what the store
        costs a webhook, and a shared round trip is still one round trip."""
        answer: asyncio.Future[int] = self.loop.create_future()
        self._claims.append((entry, digest, mark, life, answer))
        if len(self._claims) == 1:  # the first of a batch
            self._gather(self._claims, self._claim_batch)
        try:
            return await answer
        except asyncio.CancelledError:
            # The caller gave up (its webhook's deadline) after the store had answered: if
            # the key was claimed for it, no one sends it now, so its mark goes at once, not
            # when it runs out. (Given up before the answer: the batch releases it.)
            answered = answer.done() and not answer.cancelled() and answer.exception() is None
            if answered and answer.result() == 0:
                self._spawn(self._release_mark(entry, mark))
            raise

    def _arrival(self, key: bytes, member: bytes, per_ms: int) -> None:
        """A request is done: its slot counts from now. The arrivals of one turn of the event
        loop go as one script at the next (as the memo's claims), in a task: no webhook
        waits for it."""
        keys, args = self._arrivals
        keys.append(key)
        args += (member, per_ms)
        if len(keys) == 1:
            self._spawn(self._arrival_batch())

    async def _arrival_batch(self) -> None:
        (keys, args), self._arrivals = self._arrivals, ([], [])
        with contextlib.suppress(_Down):
            await self._call("rate", self._arrived, keys, args)

    def _gather(
        self,
        pending: list[Any],
        batch: Callable[[], Coroutine[Any, Any, None]],
        seen: int = 0,
        turns: int = 0,
    ) -> None:
        """Start `batch`, which takes what is `pending`, after the first turn of the event
        loop that added nothing to it, or after GATHER_TURNS turns."""
        if len(pending) > seen and turns <= GATHER_TURNS:
            self.loop.call_soon(self._gather, pending, batch, len(pending), turns + 1)
        else:
            self._spawn(batch())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """A task of this client's: aclose waits for it."""
        task = self.loop.create_task(work)
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def _release_mark(self, entry: bytes, mark: bytes) -> None:
        with contextlib.suppress(_Down):
            await self._call("memo", self._release, [entry], [mark])

    async def _claim_batch(self) -> None:
        claims, self._claims = self._claims, []
        args: list[Any] = []
        for _, digest, mark, life, _ in claims:
            args += (digest, mark, life)
        try:
            codes = await self._call("memo", self._claim, [c[0] for c in claims], args)
        except BaseException as exc:
            _tell_all((answer for *_, answer in claims), exc)
            if isinstance(exc, _Down):
                return
            raise
        given_up = []
        for i, (entry, _, mark, _, answer) in enumerate(claims):
            code = codes[i] - 48  # b"0"[0] == 48
            if answer.cancelled():  # its webhook's deadline: if claimed, no one sends it
                if code == 0:
                    given_up.append((entry, mark))
            elif not answer.done():
                answer.set_result(code)
        for entry, mark in given_up:  # their marks go now, not when they run out
            await self._release_mark(entry, mark)

    async def memo_done(
        self,
        name: str,
        key: str,
        request: UpstreamRequest,
        mark: bytes,
        delivered: bool,
        ttl: float,
    ) -> None:
        """After sending: delivered, the digest stays for `ttl`; else the claim is released.
        A delivery is written with the next batch (HISTORY_EVERY), not awaited: until then
        the claim's pending mark, which lives past the deadline, holds the key, and a replica
        holding the same request waits for the record instead of sending it."""
        entry = self._memo_key(name, key)
        if delivered:
            digest = mark.split(b":", 2)[1]  # the claim's mark carries it: p:digest:member
            self._records.append((entry, digest, mark, max(1, round(ttl * 1000))))
            self._arm()
            return
        await self._release_mark(entry, mark)

    async def memo_forget(self, name: str, key: str) -> None:
        with contextlib.suppress(_Down):
            await self._call("memo", self._delete, [self._memo_key(name, key)], [])

    # -- the landing page's last deliveries ---------------------------------------------

    def history_push(self, name: str, when: float, outcomes: Iterable[Any]) -> None:
        """Add a webhook's outcomes to the receiver's shared last deliveries, without making
        the webhook wait for it: gathered for HISTORY_EVERY seconds, then one script per
        receiver (lost while the store is down, as the page is only a view)."""
        if not self.up:
            return
        entries = [
            [when, o.fingerprint, o.dedup_key, o.action, o.result, o.status, o.detail, o.alertname]
            for o in outcomes
        ]
        if not entries:
            return
        gathered = self._gathered.setdefault(name, [])
        gathered += entries
        del gathered[:-RECENT]
        self._arm()

    def _arm(self) -> None:
        if not self._flush_armed:
            self._flush_armed = True
            self.loop.call_later(HISTORY_EVERY, self._flush)

    def _flush(self) -> None:
        self._flush_armed = False
        gathered, self._gathered = self._gathered, {}
        records, self._records = self._records, []
        self._spawn(self._push(gathered, records))

    async def _push(
        self, gathered: dict[str, list[list[Any]]], records: list[tuple[bytes, bytes, bytes, int]]
    ) -> None:
        if records:  # the memo's deliveries: one round trip for the batch
            args: list[Any] = []
            for _, digest, mark, ttl_ms in records:
                args += (digest, mark, ttl_ms)
            with contextlib.suppress(_Down):
                await self._call("memo", self._record, [r[0] for r in records], args)
        for name, entries in gathered.items():
            key = b"%s:history:%s" % (self.prefix, name.encode())
            encoded = [json.dumps(entry) for entry in entries]
            with contextlib.suppress(_Down):
                await self._call("history", self._history, [key], [RECENT, HISTORY_LIFE, *encoded])

    async def history(
        self, names: Iterable[str]
    ) -> dict[str, list[tuple[float, list[Any]]]] | None:
        """Each receiver's shared last deliveries, oldest first, each (when, the fields of
        its adapter/report.py AlertOutcome); None while the store is down."""
        names = list(names)
        if not self.up or not names:
            return None
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.lrange(b"%s:history:%s" % (self.prefix, name.encode()), 0, RECENT - 1)
        try:
            answers = await self._call("history", _run_pipeline(pipe), [], [])
        except _Down:
            return None
        out: dict[str, list[tuple[float, list[Any]]]] = {}
        for name, entries in zip(names, answers, strict=True):
            recent = []
            for raw in reversed(entries):
                when, *fields = json.loads(raw)
                recent.append((when, fields))
            out[name] = recent
        return out

    async def _delete(self, keys: list[bytes], args: list[Any]) -> Any:
        return await self.client.delete(keys[0])

    # -- the poll lease -----------------------------------------------------------------

    async def lease(self, name: str, ttl: float) -> bool | None:
        """Take or keep the lease `name` for `ttl` seconds: True while this replica holds it
        (taken now, or extended: only its holder extends it), False while another does, None
        while the store is down (then every replica acts on its own)."""
        key = b"%s:lease:%s" % (self.prefix, name.encode())
        try:
            held = await self._call(
                "lease", self._lease, [key], [self._replica, max(1, round(ttl * 1000))]
            )
        except _Down:
            return None
        return bool(held)

    async def release_lease(self, name: str) -> None:
        """Give the lease `name` up if this replica holds it: on a clean stop, so another
        replica takes over at its next poll rather than when the lease runs out."""
        key = b"%s:lease:%s" % (self.prefix, name.encode())
        with contextlib.suppress(_Down):
            await self._call("lease", self._release, [key], [self._replica])


def _run_pipeline(pipe: Any) -> Callable[..., Awaitable[Any]]:
    async def run(keys: list[bytes], args: list[Any]) -> Any:
        return await pipe.execute()

    return run


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "localhost", parts.port or 6379


async def rebuilt(
    before: Coordination | None,
    settings: CoordinationSettings | None,
    metrics: Metrics,
    windows: dict[str, RateWindow] | None = None,
) -> Coordination | None:
    """What a reload installs: `before` when its settings did not change, else a new client
    (and the old one closed); either knowing the receivers' rate `windows`."""
    if before is not None and before.settings == settings:
        shared: Coordination | None = before
    else:
        shared = await Coordination.start(settings, metrics) if settings is not None else None
        if before is not None:
            await before.aclose()
            if shared is None:
                before.up_gauge.set(0)
    if shared is not None:
        shared.track(windows or {})
    return shared
