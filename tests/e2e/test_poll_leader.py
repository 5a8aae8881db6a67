"""One replica polls Alertmanager at a time when they share a store: two in-process
"replicas" (each its own Poller, store client and MockTransport Alertmanager answering the
same alerts) against one real redis-server, and one upstream stand-in counting what both
send. The leader stopped, the other takes over within the lease; the store gone, both poll
(each acts: an acknowledge per replica, harmless), the store back, one again."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from adapter.config.coordination import CoordinationSettings
from adapter.coordination import Coordination
from adapter.delivery import Deliverer
from adapter.metrics import Metrics
from adapter.mutes import lease_for
from adapter.poller import Poller
from adapter.state import State
from adapter.transport import HttpxTransport
from tests.builders import api_alert, config_from, poller_config, silenced
from tests.harness.redis import RedisServer

INTERVAL = 1.0  # poller_config()'s poll_interval
TTL = lease_for(["http://am0:9093", "http://am1:9093"], INTERVAL, INTERVAL)[1]


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


class Replica:
    """A Poller with its own Alertmanager stand-in, store client and metrics."""

    def __init__(self, state: State, poller: Poller, registry: CollectorRegistry) -> None:
        self.state, self.poller, self.registry = state, poller, registry
        self.asked = 0
        self.task: asyncio.Task[None] | None = None

    def leader(self) -> float | None:
        return self.registry.get_sample_value("incident_adapter_alertmanager_poll_leader")

    def start(self) -> None:
        self.poller = Poller(self.state, self.state.transport)  # type: ignore[arg-type]
        self.task = asyncio.create_task(self.poller.run())

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


async def until(check: Callable[[], Any], timeout: float, what: str) -> float:
    """Seconds until `check` holds; AssertionError after `timeout`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def test_one_replica_polls_and_another_takes_over(redis: RedisServer, tmp_path: Path) -> None:
    alerts: list[dict[str, Any]] = []
    sent: list[tuple[str, str]] = []  # (action, key) the upstream got, from either replica
    coordination = CoordinationSettings.model_validate(
        redis.settings(timeout="1s")  # a loaded machine's stall must not read as "down"
    )
    # A short window: a replica that falls back sends pages only for one `per` (it cannot
    # know what the other was granted a moment before); an acknowledge then waits 2 s.
    loaded = config_from(poller_config(rate_limit={"requests": 120, "per": "2s"}), tmp_path)
    replicas: list[Replica] = []
    muted, firing = silenced("Down", receivers=("team",)), api_alert("Down", receivers=("team",))

    def actions(action: str) -> int:
        return sum(1 for a, _ in sent if a == action)

    async def replica() -> Replica:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.host.startswith("am"):
                me.asked += 1
                return httpx.Response(200, json=alerts)
            event = json.loads(request.content)
            sent.append((event["event_action"], event["dedup_key"]))
            return httpx.Response(202, json={"status": "success"})

        registry = CollectorRegistry()
        metrics = Metrics(registry, [r.name for r in loaded.receivers])
        transport = HttpxTransport(httpx.MockTransport(handler))
        state = State(loaded, transport, metrics, None)
        state.deliverer = Deliverer(transport, metrics)
        state.deliverer.shared = await Coordination.start(coordination, metrics)
        me = Replica(state, Poller(state, transport), registry)
        return me

    async def main() -> None:
        a, b = await replica(), await replica()
        replicas.extend((a, b))
        alerts[:] = [muted]
        a.start()
        b.start()
        # One acknowledge for the silence, from the one replica that polls.
        await until(lambda: actions("acknowledge") == 1, 15, "the acknowledge")
        await asyncio.sleep(2.5 * INTERVAL)
        assert actions("acknowledge") == 1
        assert sorted([a.leader(), b.leader()]) == [0.0, 1.0]
        leader, other = (a, b) if a.leader() == 1.0 else (b, a)
        assert other.asked == 0, "the replica without the lease asked Alertmanager"
        # The unmute: one resolve and one trigger, not one per replica.
        alerts[:] = [firing]
        await until(lambda: actions("trigger") == 1, 15, "the trigger after the unmute")
        await asyncio.sleep(2.5 * INTERVAL)
        assert sent == [("acknowledge", "fp-Down"), ("resolve", "fp-Down"), ("trigger", "fp-Down")]

        # The leader stops (the lease is no longer extended): the other takes over.
        alerts[:] = [muted]
        await until(lambda: actions("acknowledge") == 2, 15, "the second acknowledge")
        await leader.stop()
        took = await until(lambda: other.leader() == 1.0, TTL + 15, "the takeover")
        assert took <= TTL + 4 * INTERVAL, f"took {took:.1f}s over a {TTL:g}s lease"
        await until(lambda: other.asked > 0, 15, "the new leader's poll")
        # From a baseline poll: it sees the mute (its acknowledge, if sent, is harmless),
        # and acts on the unmute that follows, once.
        await asyncio.sleep(1.5 * INTERVAL)
        alerts[:] = [firing]
        await until(lambda: actions("trigger") == 2, 15, "the trigger after the takeover")
        await asyncio.sleep(2.5 * INTERVAL)
        assert (actions("resolve"), actions("trigger")) == (2, 2)

        # The stopped replica comes back: the lease is held, so it does not poll.
        leader.start()
        asked = leader.asked
        await asyncio.sleep(2.5 * INTERVAL)
        assert leader.leader() == 0.0 and leader.asked == asked

        # The store goes: both poll and act on their own (a duplicate acknowledge).
        alerts[:] = [muted]
        await asyncio.to_thread(redis.stop)
        await until(lambda: a.leader() == b.leader() == 1.0, 15, "both to poll")
        asked_a, asked_b = a.asked, b.asked
        await until(lambda: a.asked > asked_a and b.asked > asked_b, 15, "both to ask")
        await until(lambda: actions("acknowledge") >= 4, 15, "an acknowledge from each")

        # The store is back: one polls again.
        await asyncio.to_thread(redis.start)
        await until(lambda: {a.leader(), b.leader()} == {0.0, 1.0}, 20, "one leader again")
        follower = a if a.leader() == 0.0 else b
        asked = follower.asked
        await asyncio.sleep(2.5 * INTERVAL)
        assert follower.leader() == 0.0 and follower.asked == asked

        for r in (a, b):
            await r.stop()
            assert r.state.deliverer is not None and r.state.deliverer.shared is not None
            await r.state.deliverer.shared.aclose()
            await r.state.transport.aclose()  # type: ignore[union-attr]

    asyncio.run(main())


def test_a_clean_stop_gives_the_lease_up(redis: RedisServer, tmp_path: Path) -> None:
    """A replica that stops cleanly (a rolling update) releases the poll lease at once, so
    another polls at its next turn rather than after the lease's life. Asked of the store
    by a second client right after the stop: before, the lease stayed held for its ttl."""
    coordination = CoordinationSettings.model_validate(redis.settings(timeout="1s"))
    # A short window: a replica that falls back sends pages only for one `per` (it cannot
    # know what the other was granted a moment before); an acknowledge then waits 2 s.
    loaded = config_from(poller_config(rate_limit={"requests": 120, "per": "2s"}), tmp_path)
    settings = loaded.alertmanager
    assert settings is not None
    name, ttl = lease_for(settings.urls, settings.poll_interval, settings.poll_timeout)

    async def main() -> tuple[bool | None, bool | None]:
        metrics = Metrics(CollectorRegistry(), [r.name for r in loaded.receivers])
        transport = HttpxTransport(httpx.MockTransport(lambda _: httpx.Response(200, json=[])))
        state = State(loaded, transport, metrics, None)
        state.deliverer = Deliverer(transport, metrics)
        state.deliverer.shared = await Coordination.start(coordination, metrics)
        replica = Replica(state, Poller(state, transport), CollectorRegistry())
        replica.start()
        other = await Coordination.start(coordination, Metrics(CollectorRegistry(), []))
        try:
            await until(lambda: replica.poller.leader is True, 15, "the lease")
            held = await other.lease(name, ttl)  # False: the replica holds it
            await replica.stop()
            await replica.poller.stop()
            free = await other.lease(name, ttl)  # True: given up, taken by `other` now
            return held, free
        finally:
            await state.deliverer.shared.aclose()
            await other.aclose()
            await transport.aclose()

    assert asyncio.run(main()) == (False, True)


def test_a_poll_longer_than_the_lease_keeps_it(redis: RedisServer, tmp_path: Path) -> None:
    """A poll whose acknowledge takes longer than the lease's life (an upstream this slow,
    or mute events waiting in the rate window): the leader extends the lease while it
    polls, so a second client asking for it late in that poll is refused, not handed it."""
    coordination = CoordinationSettings.model_validate(redis.settings(timeout="1s"))
    slow = {"timeout": f"{TTL + 4:g}s", "attempt_timeout": f"{TTL + 3:g}s", "max_attempts": 1}
    loaded = config_from(poller_config(delivery=slow), tmp_path)
    settings = loaded.alertmanager
    assert settings is not None
    name, ttl = lease_for(settings.urls, settings.poll_interval, settings.poll_timeout)
    assert ttl == TTL
    sending = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host.startswith("am"):
            return httpx.Response(200, json=[silenced("Down", receivers=("team",))])
        sending.set()
        await asyncio.sleep(TTL + 1.5)  # the acknowledge: longer than the lease
        return httpx.Response(202, json={"status": "success"})

    async def main() -> bool | None:
        metrics = Metrics(CollectorRegistry(), [r.name for r in loaded.receivers])
        transport = HttpxTransport(httpx.MockTransport(handler))
        state = State(loaded, transport, metrics, None)
        state.deliverer = Deliverer(transport, metrics)
        state.deliverer.shared = await Coordination.start(coordination, metrics)
        replica = Replica(state, Poller(state, transport), CollectorRegistry())
        other = await Coordination.start(coordination, Metrics(CollectorRegistry(), []))
        try:
            replica.start()
            await asyncio.wait_for(sending.wait(), 15)  # the poll holds the lease: it sends
            await asyncio.sleep(TTL + 0.5)  # past the lease's life, the send still on its way
            return await other.lease(name, ttl)
        finally:
            await replica.stop()
            await state.deliverer.shared.aclose()
            await other.aclose()
            await transport.aclose()

    assert asyncio.run(main()) is False  # still the leader's
