"""The shared store against a real redis-server: the Lua scripts' decisions (two "replicas"
are two Coordination clients of one server, in one process, on one clock), the fallback
when the server goes away and the way back, and a password that never shows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_py
import structlog
from prometheus_client import CollectorRegistry

from adapter.config.coordination import CoordinationSettings
from adapter.coordination import (
    CHECK_EVERY,
    HISTORY_EVERY,
    Claim,
    Coordination,
    rebuilt,
    scaled,
)
from adapter.delivery import Deliverer
from adapter.events import UpstreamRequest, Verdict
from adapter.metrics import Metrics
from adapter.payload import parse_payload
from adapter.pipeline import plan, receivers_from
from adapter.ratelimit import PRIORITIES, RateExhausted, RateWindow
from adapter.transport import HttpxTransport
from tests.builders import config_from, make_alert, make_payload, pd_config
from tests.harness.process import wait_for
from tests.harness.redis import RedisServer

CRITICAL, WARNING = PRIORITIES.index("critical"), PRIORITIES.index("warning")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


def settings(server: RedisServer, replicas: int = 2, **redis: Any) -> CoordinationSettings:
    return CoordinationSettings.model_validate(server.settings(**redis) | {"replicas": replicas})


def up(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("incident_adapter_coordination_up")


def in_any_window(stamps: list[float], per: float) -> int:
    """The most stamps in any `per` seconds."""
    stamps = sorted(stamps)
    return max(
        (sum(1 for s in stamps[i:] if s < first + per) for i, first in enumerate(stamps)), default=0
    )


def test_two_replicas_never_exceed_the_limit_together(redis: RedisServer) -> None:
    """60 takers spread over two replicas, a limit of 10 in any 2 s (reserve 2): at most 10
    in any 2 s are granted, the pages among them first. (A 1 s timeout: a loaded machine's
    loop stalls must not make a replica fall back here.)"""
    granted: list[tuple[float, int]] = []
    refused: list[int] = []

    async def main() -> None:
        replicas = [
            await Coordination.start(
                settings(redis, timeout="1s"), Metrics(CollectorRegistry(), [])
            )
            for _ in range(2)
        ]
        window = RateWindow(10, 2.0, reserve=2)

        async def taker(i: int) -> None:
            shared = replicas[i % 2]
            priority = CRITICAL if i % 10 == 0 else WARNING
            try:
                ticket = await shared.acquire("pd", window, priority, 3.0)
            except RateExhausted:
                refused.append(priority)
                return
            assert ticket.granted_at is not None  # the store's clock: no loop lag in it
            granted.append((ticket.granted_at, priority))
            await ticket.arrived()

        with structlog.testing.capture_logs() as logs:
            await asyncio.gather(*(taker(i) for i in range(60)))
        assert not logs, "the store was taken for down: the grants were not all shared ones"
        for shared in replicas:
            assert shared.up
            await shared.aclose()

    asyncio.run(main())
    assert in_any_window([t for t, _ in granted], 2.0) <= 10
    assert len(granted) >= 10  # the window was spent, not refused wholesale
    assert CRITICAL not in refused, "a page was refused while warnings went out"
    assert len(granted) + len(refused) == 60


def test_the_reserve_is_kept_for_pages_across_replicas(redis: RedisServer) -> None:
    async def main() -> None:
        a, b = [
            await Coordination.start(settings(redis), Metrics(CollectorRegistry(), []))
            for _ in range(2)
        ]
        window = RateWindow(10, 30.0, reserve=3)
        for shared in (a, b, a, b, a, b, a):  # 7 warnings, shared between the two
            await shared.acquire("pd", window, WARNING, 0.0)
        with pytest.raises(RateExhausted) as refused:  # the warning that would take the reserve
            await b.acquire("pd", window, WARNING, 0.5)
        assert 25 < refused.value.wait <= 30.5  # Retry-After: until the first ages out
        for shared in (b, a, b):  # the reserve: three pages, at once, on either replica
            await shared.acquire("pd", window, CRITICAL, 0.0)
        with pytest.raises(RateExhausted):
            await a.acquire("pd", window, CRITICAL, 0.0)
        key = a._rate("pd", window).key
        ttl = await a.client.pttl(key)
        assert 0 < ttl <= 30_000  # the window's key expires once nothing in it counts
        # New terms (a reload that changed the limit): a new key, a clean window.
        await a.acquire("pd", RateWindow(11, 30.0, reserve=3), WARNING, 0.0)
        assert a._rate("pd", RateWindow(11, 30.0, reserve=3)).key != key
        await a.aclose()
        await b.aclose()

    asyncio.run(main())


def test_the_memo_lets_one_replica_deliver(redis: RedisServer) -> None:
    trigger = UpstreamRequest("POST", "http://pd/v2/enqueue", {}, b'{"event_action":"trigger"}')
    resolve = UpstreamRequest("POST", "http://pd/v2/enqueue", {}, b'{"event_action":"resolve"}')

    async def main() -> None:
        a, b = [
            await Coordination.start(settings(redis), Metrics(CollectorRegistry(), []))
            for _ in range(2)
        ]
        claim, mark = await a.memo_claim("pd", "k1", trigger, 5.0)
        assert claim is Claim.SEND

        async def deliver_later() -> None:
            await asyncio.sleep(0.3)
            await a.memo_done("pd", "k1", trigger, mark, True, 60.0)

        # b holds the same request while a sends it: b waits for a's outcome, then skips.
        later = asyncio.create_task(deliver_later())
        assert (await b.memo_claim("pd", "k1", trigger, 5.0))[0] is Claim.DELIVERED
        await later
        # The key's state changes: the resolve is sent (once).
        claim, mark = await b.memo_claim("pd", "k1", resolve, 5.0)
        assert claim is Claim.SEND
        # Within the deadline and still pending: the other answers BUSY (a 503, re-sent later).
        assert (await a.memo_claim("pd", "k1", resolve, 0.2))[0] is Claim.BUSY
        await b.memo_done("pd", "k1", resolve, mark, False, 60.0)  # failed: released
        assert (await a.memo_claim("pd", "k1", resolve, 1.0))[0] is Claim.SEND
        await a.aclose()
        await b.aclose()

    asyncio.run(main())


def test_concurrent_claims_share_one_script_and_one_replica_wins_each_key(
    redis: RedisServer,
) -> None:
    """Claims asked for at once (concurrent webhooks, a webhook's deliveries) go to the store
    as one script for a few turns of the loop, counted by the store itself (INFO commandstats): far
    fewer calls than claims. Still one replica sends each key, the same key twice in one
    batch is decided in order, and a store that is gone answers every waiter LOCAL within
    the timeout."""
    trigger = UpstreamRequest("POST", "http://pd/v2/enqueue", {}, b'{"event_action":"trigger"}')

    async def evalsha_calls(shared: Coordination) -> int:
        stats = await shared.client.info("commandstats")
        return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))

    async def main() -> None:
        a, b = [
            await Coordination.start(
                settings(redis, timeout="1s"), Metrics(CollectorRegistry(), [])
            )
            for _ in range(2)
        ]
        await a.memo_claim("pd", "warm", trigger, 1.0)  # the script loaded: no NOSCRIPT below
        await a.client.config_resetstat()
        keys = [f"k{i}" for i in range(100)]
        claims = await asyncio.gather(*(a.memo_claim("pd", k, trigger, 1.0) for k in keys))
        assert [c for c, _ in claims] == [Claim.SEND] * 100
        assert await evalsha_calls(a) == 1  # 100 claims, one script
        for key, (_, mark) in zip(keys, claims, strict=True):
            await a.memo_done("pd", key, trigger, mark, False, 60.0)  # released

        # Webhooks that arrive together reach their claims over the next few turns of the
        # loop, not in one: claims asked in consecutive turns still share a script.
        async def after_turns(turns: int, key: str) -> tuple[Claim, bytes]:
            for _ in range(turns):
                await asyncio.sleep(0)
            return await a.memo_claim("pd", key, trigger, 1.0)

        await a.client.config_resetstat()
        staggered = await asyncio.gather(*(after_turns(i % 3, f"s{i}") for i in range(30)))
        assert [c for c, _ in staggered] == [Claim.SEND] * 30
        assert await evalsha_calls(a) == 1

        # Two replicas at once, each claiming every key (and one key twice): one sender each.
        await a.client.config_resetstat()
        asked = [(shared, k) for k in [*keys, "k0"] for shared in (a, b)]
        answers = await asyncio.gather(
            *(shared.memo_claim("pd", k, trigger, 0.2) for shared, k in asked)
        )
        senders: dict[str, int] = {}
        for (_, key), (claim, _) in zip(asked, answers, strict=True):
            assert claim in (Claim.SEND, Claim.BUSY)
            senders[key] = senders.get(key, 0) + (claim is Claim.SEND)
        assert senders == dict.fromkeys(keys, 1)
        # Two batches, then the losers' polls (every BUSY_POLL until 0.2 s: ~300 more
        # claims), batched too, if not all in one turn (their timers fire a little apart).
        assert await evalsha_calls(a) < len(asked) / 5

        redis.stop()
        started = time.monotonic()
        with structlog.testing.capture_logs():
            down = await asyncio.gather(*(b.memo_claim("pd", k, trigger, 5.0) for k in keys))
        assert time.monotonic() - started < 2.0  # the timeout (1 s), not the 5 s deadline
        assert {c for c, _ in down} == {Claim.LOCAL}
        await a.aclose()
        await b.aclose()

    asyncio.run(main())


def test_concurrent_rate_decisions_share_one_script_in_the_order_asked(
    redis: RedisServer,
) -> None:
    """30 requests asking for a slot at once in a window of 20 a minute: one script for all
    of them (INFO commandstats), the first 20 asked are granted, in order, and the others
    are refused with the wait rather than let through."""

    async def main() -> tuple[list[int], list[int], int]:
        shared = await Coordination.start(
            settings(redis, timeout="1s"), Metrics(CollectorRegistry(), [])
        )
        window = RateWindow(20, 60.0, reserve=0)
        warm = await shared.acquire("warm", window, WARNING, 1.0)  # the script loaded
        warm.done()
        await asyncio.sleep(0.05)
        await shared.client.config_resetstat()
        granted: list[int] = []
        refused: list[int] = []

        async def taker(i: int) -> None:
            try:
                await shared.acquire("pd", window, WARNING, 0.5)
            except RateExhausted as exc:
                assert exc.wait > 50  # the window's turn, a minute on
                refused.append(i)
                return
            granted.append(i)

        await asyncio.gather(*(taker(i) for i in range(30)))
        stats = await shared.client.info("commandstats")
        calls = int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
        await shared.aclose()
        return granted, refused, calls

    granted, refused, calls = asyncio.run(main())
    assert sorted(granted) == list(range(20)) and sorted(refused) == list(range(20, 30))
    assert calls == 1


def test_falls_back_at_once_when_the_store_goes_and_comes_back(redis: RedisServer) -> None:
    """Stopped: the next decision falls back within the timeout to a local window of half the
    limit, coordination_up 0; started again: shared again within a few checks, up 1."""
    registry = CollectorRegistry()

    async def main() -> None:
        shared = await Coordination.start(settings(redis), Metrics(registry, []))
        window = RateWindow(10, 4.0, reserve=2)
        assert up(registry) == 1.0
        for _ in range(3):
            await shared.acquire("pd", window, WARNING, 0.0)
        redis.stop()
        with structlog.testing.capture_logs() as logs:
            started = time.monotonic()
            ticket = await shared.acquire("pd", window, CRITICAL, 0.0)
            assert time.monotonic() - started < 1.0  # the timeout (100ms), not a hang
            await ticket.arrived()
            assert not shared.up and up(registry) == 0.0
            # Half of 10 (5, reserve 1). What the other replica was granted since the last
            # answer cannot be known: counted as if it had filled the share to its reserve
            # (4, sent now; more than the 3 the store last counted), so pages only, 1 here.
            taken = 1
            while True:
                try:
                    await shared.acquire("pd", window, CRITICAL, 0.0)
                except RateExhausted:
                    break
                taken += 1
            assert taken == 1
            redis.start()
            await asyncio.to_thread(
                wait_for, lambda: shared.up, 10 * CHECK_EVERY, "the store to be shared again"
            )
        assert up(registry) == 1.0
        assert [e["event"] for e in logs if e["event"].startswith("coordination.")] == [
            "coordination.down",
            "coordination.up",
        ]
        # Rejoining: the sends made alone are in the store.
        count = await shared.client.zcard(shared._rate("pd", window).key)
        assert count >= 2
        await shared.aclose()

    asyncio.run(main())


async def taken_alone(shared: Coordination, window: RateWindow, priority: int) -> int:
    """How many slots the replica takes at once, fallen back."""
    taken = 0
    while True:
        try:
            await shared.acquire("pd", window, priority, 0.0)
        except RateExhausted:
            return taken
        taken += 1


@pytest.mark.parametrize("looked", [False, True], ids=["stale", "after-a-look"])
def test_a_replica_whose_view_is_old_never_spends_what_another_just_sent(
    redis: RedisServer, looked: bool
) -> None:
    """One replica fills the shared window (its memo claims won every webhook, say); the
    other has not asked the store since. Redis stops: together they send nothing a warning
    would, and pages only within the reserve, over what the upstream already counts.
    Before, the replica with the old view spent its whole share at once (26 of 20)."""
    registry = CollectorRegistry()

    async def main() -> tuple[int, int]:
        busy = await Coordination.start(settings(redis), Metrics(registry, []))
        idle = await Coordination.start(settings(redis), Metrics(CollectorRegistry(), []))
        window = RateWindow(20, 10.0, reserve=4)
        idle.track({"pd": window})  # as the app does: it knows the receiver's window
        for _ in range(16):
            (await busy.acquire("pd", window, WARNING, 0.0)).done()
        pages = 0
        if looked:  # the pages too: the window is full
            for _ in range(4):
                (await busy.acquire("pd", window, CRITICAL, 0.0)).done()
            pages = 4
            await idle.check()  # the watcher's look (every CHECK_EVERY): 20 in the window
        redis.stop()
        alone = 0
        for shared in (busy, idle):
            with contextlib.suppress(RateExhausted):  # the call that finds the store gone
                await shared.acquire("pd", window, CRITICAL, 0.0)
                alone += 1
            assert not shared.up
            warnings = await taken_alone(shared, window, WARNING)
            assert warnings == 0, "a warning went alone within a window of the outage"
            alone += await taken_alone(shared, window, CRITICAL)
        await busy.aclose()
        await idle.aclose()
        return 16 + pages, alone

    counted, alone = asyncio.run(main())
    assert counted + alone <= 20, f"{counted} counted upstream, {alone} more sent alone"


def test_a_refused_password_falls_back_and_never_shows(tmp_path: Path) -> None:
    password = "s3cret-redis-Pa55"
    (tmp_path / "password").write_text("not-the-password\n")
    registry = CollectorRegistry()
    with RedisServer(tmp_path, password=password) as server:

        async def main() -> list[dict[str, Any]]:
            with structlog.testing.capture_logs() as logs:
                wrong = settings(server, password_file=str(tmp_path / "password"))
                shared = await Coordination.start(wrong, Metrics(registry, []))
                assert not shared.up  # not fatal: it falls back
                window = RateWindow(20, 10.0, reserve=2)
                await shared.acquire("pd", window, CRITICAL, 0.0)  # a fallback slot (a page)
                await shared.aclose()
                (tmp_path / "password").write_text(password + "\n")
                right = settings(server, password_file=str(tmp_path / "password"))
                shared = await Coordination.start(right, Metrics(CollectorRegistry(), []))
                assert shared.up
                assert "<secret>" in repr(right) and password not in repr(right)
                await shared.aclose()
            return logs

        logs = asyncio.run(main())
    assert up(registry) == 0.0
    assert any(e["event"] == "coordination.down" for e in logs)
    shown = repr(logs) + "".join(str(m) for m in registry.collect())
    assert password not in shown and "not-the-password" not in shown


def test_the_fallback_share_is_a_replica_share_of_each_limit() -> None:
    share = scaled(RateWindow(120, 60.0, burst=20, reserve=12), 2)
    assert share.terms == (60, 60.0, 10, 6)
    assert scaled(RateWindow(1, 60.0), 3).terms[0] == 1  # at least one


def test_a_reload_rebuilds_the_client_only_when_its_settings_change(redis: RedisServer) -> None:
    async def main() -> None:
        metrics = Metrics(CollectorRegistry(), [])
        first = await rebuilt(None, settings(redis), metrics)
        assert first is not None and first.up
        assert await rebuilt(first, settings(redis), metrics) is first
        second = await rebuilt(first, settings(redis, key_prefix="other"), metrics)
        assert second is not None and second is not first and second.up
        assert first._watcher is not None and first._watcher.done()  # the old one is closed
        assert await rebuilt(second, None, metrics) is None  # the block removed: no store

    asyncio.run(main())


def test_a_reload_stops_the_look_at_a_receiver_it_took_away(redis: RedisServer) -> None:
    """The watcher looks at every receiver's shared window ten times a second; a reload that
    removes a receiver (or turns its budget off) ends the look at it, seen by the store
    itself (MONITOR): the keys of the watcher's script."""

    async def looked_at(shared: Coordination) -> list[str]:
        async with shared.client.monitor() as monitor:
            await shared.check()  # the watcher's look, at once
            while True:
                command = (await monitor.next_command())["command"].split()
                if command[0] == "EVALSHA":
                    return [key.rsplit(":", 2)[1] for key in command[3 : 3 + int(command[2])]]

    async def main() -> None:
        metrics = Metrics(CollectorRegistry(), [])
        windows = {"pd": RateWindow(120, 60.0), "og": RateWindow(10, 1.0)}
        shared = await rebuilt(None, settings(redis), metrics, windows)
        assert shared is not None and sorted(await looked_at(shared)) == ["og", "pd"]
        assert await rebuilt(shared, settings(redis), metrics, {"pd": windows["pd"]}) is shared
        assert await looked_at(shared) == ["pd"]
        await shared.aclose()

    asyncio.run(main())


def test_the_fallback_window_keeps_only_what_still_counts(redis: RedisServer) -> None:
    """A long outage at the share's full rate: the sends the replica made alone (which it
    writes into the store when it is back) are trimmed to the look-back as it goes, never
    more than the share lets through in one `per`, however long the store stays away."""

    async def main() -> None:
        shared = await Coordination.start(settings(redis), Metrics(CollectorRegistry(), []))
        window = RateWindow(20, 0.2)  # alone, at 1/2: 10 in any 0.2 s
        redis.stop()
        sent, most = 0, 0
        with structlog.testing.capture_logs():
            end = time.monotonic() + 1.2
            while time.monotonic() < end:
                ticket = await shared.acquire("pd", window, CRITICAL, 1.0)
                await ticket.arrived()
                sent += 1
                most = max(most, len(shared._rate("pd", window).alone))
            assert not shared.up
            await shared.aclose()
        assert sent >= 30  # several windows' worth went out alone
        assert most <= 10 + 1  # one window's worth (and the one just granted)

    asyncio.run(main())


def test_a_record_never_overwrites_another_replicas_claim(redis: RedisServer) -> None:
    """a's claim runs out (here: the key forgotten) and b claims the key for the next state
    before a's delivery record reaches the store: the record leaves b's claim alone, so a
    third claim of b's request still waits for b. Where nothing holds the key any more, the
    record is written."""
    trigger = UpstreamRequest("POST", "http://pd/v2/enqueue", {}, b'{"event_action":"trigger"}')
    resolve = UpstreamRequest("POST", "http://pd/v2/enqueue", {}, b'{"event_action":"resolve"}')

    async def main() -> None:
        a, b = [
            await Coordination.start(settings(redis), Metrics(CollectorRegistry(), []))
            for _ in range(2)
        ]
        taken, mark = await a.memo_claim("pd", "k1", trigger, 5.0)
        assert taken is Claim.SEND
        await b.memo_forget("pd", "k1")  # as when a's pending mark runs out
        assert (await b.memo_claim("pd", "k1", resolve, 5.0))[0] is Claim.SEND
        await a.memo_done("pd", "k1", trigger, mark, True, 60.0)
        # k2: a's mark ran out and no one claimed the key since: a's record is written.
        taken, mark = await a.memo_claim("pd", "k2", trigger, 5.0)
        await b.memo_forget("pd", "k2")
        await a.memo_done("pd", "k2", trigger, mark, True, 60.0)
        await a.aclose()  # the records go to the store
        assert (await b.memo_claim("pd", "k1", resolve, 0.2))[0] is Claim.BUSY
        assert (await b.memo_claim("pd", "k2", trigger, 0.2))[0] is Claim.DELIVERED
        await b.aclose()

    asyncio.run(main())


def test_a_claim_given_up_releases_its_mark(redis: RedisServer) -> None:
    """A webhook that gives up (its deadline, its client gone) while its claim is on the way
    to the store: the key it was claimed for is free again at once, not when the mark runs
    out (the deadline and a second), so another replica sends the request now."""
    trigger = UpstreamRequest("POST", "http://pd/v2/enqueue", {}, b'{"event_action":"trigger"}')

    async def main() -> None:
        a, b = [
            await Coordination.start(settings(redis), Metrics(CollectorRegistry(), []))
            for _ in range(2)
        ]
        asking = asyncio.create_task(a.memo_claim("pd", "k1", trigger, 5.0))
        await asyncio.sleep(0)  # the claim is in this turn's batch
        asking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asking
        assert (await b.memo_claim("pd", "k1", trigger, 1.0))[0] is Claim.SEND
        await a.aclose()
        await b.aclose()

    asyncio.run(main())


def test_a_closed_client_first_lands_the_records_on_their_way(redis: RedisServer) -> None:
    """A reload replaces the client while a batch of delivery records is on its way to a
    slow store (here: paused): closing waits for it (within the store's timeout), so a
    fresh client sees the request delivered rather than a claim that lingers until its
    deadline."""
    trigger = UpstreamRequest("POST", "http://pd/v2/enqueue", {}, b'{"event_action":"trigger"}')

    async def main() -> None:
        a, b = [
            await Coordination.start(
                settings(redis, timeout="2s"), Metrics(CollectorRegistry(), [])
            )
            for _ in range(2)
        ]
        taken, mark = await a.memo_claim("pd", "k1", trigger, 5.0)
        assert taken is Claim.SEND
        await a.memo_done("pd", "k1", trigger, mark, True, 60.0)  # the batch goes in 0.25 s
        await b.client.client_pause(800)  # the store answers no one for 0.8 s
        await asyncio.sleep(HISTORY_EVERY + 0.15)  # the batch has gone, and waits
        await a.aclose()
        assert (await b.memo_claim("pd", "k1", trigger, 0.2))[0] is Claim.DELIVERED
        await b.aclose()

    asyncio.run(main())


def test_a_delivered_request_stays_delivered_when_the_store_is_slow_at_the_deadline(
    tmp_path: Path, redis: RedisServer
) -> None:
    """The upstream answered 2xx; telling the store the request is done must not make the
    webhook wait, or a deadline falling meanwhile reports it undelivered (503) and
    Alertmanager sends it again. Here the store stops answering (paused) as the upstream
    answers, for longer than the webhook has left."""
    doc = pd_config(
        rate_limit={"requests": 100, "per": "1m"},
        delivery={"timeout": "1s", "attempt_timeout": "500ms", "max_attempts": 1},
    )
    loaded = config_from(doc, tmp_path)
    answered: list[str] = []
    pauser = redis_py.Redis.from_url(redis.url)

    def upstream(request: httpx.Request) -> httpx.Response:
        if not answered:
            pauser.client_pause(2500)  # each call of the store now waits 2.5 s
        answered.append(json.loads(request.content)["dedup_key"])
        return httpx.Response(202, json={"status": "success"})

    async def main() -> list[Verdict]:
        metrics = Metrics(CollectorRegistry(), [r.name for r in loaded.receivers])
        transport = HttpxTransport(httpx.MockTransport(upstream))
        deliverer = Deliverer(transport, metrics)
        deliverer.shared = await Coordination.start(settings(redis, timeout="3s"), metrics)
        (receiver,) = receivers_from(loaded.receivers, loaded.delivery).values()
        alerts = [make_alert(instance=f"i{n}") for n in range(2)]
        deliveries = plan(receiver, parse_payload(json.dumps(make_payload(*alerts)).encode()))
        deadline = asyncio.get_running_loop().time() + receiver.delivery.timeout
        results = await deliverer.deliver(receiver, deliveries.deliveries, deadline)
        await deliverer.shared.aclose()
        await transport.aclose()
        return [r.verdict for r in results]

    verdicts = asyncio.run(main())
    assert answered, "nothing reached the upstream"
    # What the upstream took is reported delivered; what the paused store held back is not.
    assert verdicts.count(Verdict.DELIVERED) == len(answered), (verdicts, answered)


def test_a_check_that_ends_after_close_leaves_the_client_down(redis: RedisServer) -> None:
    """A stop must not be undone by the store's watcher: its cancel can come out of a
    check's own timeout as a TimeoutError (Python 3.11) and be taken for a slow store, so
    a check may still run, and finish, after aclose. The store answers it (redis-py
    reconnects a closed client on demand), yet the client stays down: no decision goes to
    it, and no `coordination.up` in a stopping replica's log."""

    async def main() -> None:
        registry = CollectorRegistry()
        shared = await Coordination.start(settings(redis), Metrics(registry, []))
        assert shared.up and up(registry) == 1
        await shared.aclose()
        assert shared._watcher is not None and shared._watcher.done()
        with structlog.testing.capture_logs() as logs:
            await shared.check()  # what a watcher that lost its cancel would do next
        assert not shared.up, "a closed client came back up"
        assert not [e for e in logs if e["event"] == "coordination.up"], logs
        await shared.client.aclose()

    asyncio.run(main())
