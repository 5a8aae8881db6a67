"""Storm safety: the rate budget, the delivery memo, and a 2,000-alert group through both."""

from __future__ import annotations

import asyncio
import bisect
import json
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from starlette.testclient import TestClient

from adapter.ratelimit import RateExhausted, RateWindow
from tests.builders import make_alert, make_payload, pd_config
from tests.standins.events import EventsAPI


def took(budget: RateWindow, priority: int = 0) -> bool:
    """take() hands out the slot's stamp: a time, which a test's clock may start at 0."""
    return budget.take(priority) is not None


def test_rate_window_counts_a_look_back_window_not_a_refilling_bucket() -> None:
    """PagerDuty: 'calculated over a 60 second window looking back from the current time'.
    A full window waits for its oldest send to age out; nothing refills on top of it."""
    now = [0.0]
    budget = RateWindow(requests=3, per=1.0, reserve=0, clock=lambda: now[0])

    async def take(n: int, wait: float) -> None:
        for _ in range(n):
            await budget.acquire(wait)

    asyncio.run(take(3, 0.0))  # a window's worth at once
    with pytest.raises(RateExhausted) as info:
        asyncio.run(take(1, 0.5))
    assert info.value.wait == pytest.approx(1.0)  # when the first send ages out
    now[0] = 0.6
    assert budget.expected_wait() == pytest.approx(0.4)
    now[0] = 1.0
    asyncio.run(take(3, 0.0))  # all three aged out together
    now[0] = 1.5
    assert not took(budget)  # a bucket would have refilled 1.5 by now
    spread = RateWindow(requests=3, per=1.0, reserve=0, clock=lambda: now[0])
    for at in (0.0, 0.4, 0.8):
        now[0] = at
        assert took(spread)
    now[0] = 1.0
    assert took(spread) and not took(spread)  # only the send at 0.0 has aged out
    assert spread.expected_wait() == pytest.approx(0.4)


def test_rate_window_with_burst_spreads_the_window() -> None:
    now = [0.0]
    budget = RateWindow(requests=10, per=1.0, burst=2, reserve=0, clock=lambda: now[0])
    assert took(budget) and took(budget) and not took(budget)  # 2 in any 0.2 s
    assert budget.expected_wait() == pytest.approx(0.2)
    sent = 2
    for step in range(1, 10):
        now[0] = step * 0.1
        sent += sum(took(budget) for _ in range(3))
    assert sent == 10  # 2 every 0.2 s: the window's 10 within its first second, not more


def test_rate_window_keeps_its_reserve_for_pages() -> None:
    """The last `reserve` of a window go to critical and error triggers only: a storm of
    warnings or resolves cannot keep a page waiting for the window to age out."""
    now = [0.0]
    critical, error, resolve, warning, info = range(5)
    budget = RateWindow(requests=10, per=60.0, reserve=2, clock=lambda: now[0])
    assert sum(took(budget, warning) for _ in range(20)) == 8
    assert not took(budget, resolve) and not took(budget, info)
    assert budget.expected_wait(warning) == pytest.approx(60.0)
    assert budget.expected_wait(critical) == 0.0
    assert took(budget, critical) and took(budget, error)
    assert not took(budget, critical)  # the window is full now, for everyone
    assert RateWindow(requests=120, per=60.0).low_windows[-1] == (108, 60.0)  # the default tenth


def test_a_page_waiting_for_the_window_goes_when_it_frees_not_when_the_warning_may() -> None:
    """A warning waits for the window below the reserve, a critical only for the window:
    the critical that queues after it is sent when its own slot comes, earlier."""
    budget = RateWindow(requests=2, per=1.0, reserve=1)
    critical, warning = 0, 3

    async def run() -> dict[str, float]:
        started = time.monotonic()
        assert took(budget, warning)  # t=0: the window's one slot below the reserve
        await asyncio.sleep(0.5)
        assert took(budget, critical)  # t=0.5: the reserve
        served: dict[str, float] = {}

        async def want(name: str, priority: int) -> None:
            await budget.acquire(5.0, priority)
            served[name] = time.monotonic() - started

        waiting = asyncio.create_task(want("warning", warning))  # due at 1.5: the 0.5 send ages
        await asyncio.sleep(0.05)
        await want("critical", critical)  # due at 1.0: the 0 send ages
        await waiting
        return served

    served = asyncio.run(run())
    assert 0.95 <= served["critical"] < 1.45 < 1.5 <= served["warning"]


def test_a_send_counts_from_when_it_is_done_not_from_when_its_slot_was_handed_out() -> None:
    """The upstream counts a request when it arrives. A slow request counted from its slot
    would free the next window's slot early enough for a fast one to land in the same
    look-back window at the upstream."""
    now = [0.0]
    budget = RateWindow(requests=1, per=1.0, clock=lambda: now[0])
    stamp = budget.take()
    assert stamp == 0.0
    now[0] = 0.4  # answered 400 ms later
    budget.arrived(stamp)
    now[0] = 1.0
    assert not took(budget) and budget.expected_wait() == pytest.approx(0.4)
    now[0] = 1.4
    assert took(budget)


def test_a_waiter_is_refused_not_sent_when_the_loop_wakes_after_its_deadline() -> None:
    now = [0.0]
    budget = RateWindow(requests=1, per=0.2, clock=lambda: now[0])

    async def run() -> None:
        assert took(budget)
        waiter = asyncio.create_task(budget.acquire(0.3))  # its turn at 0.2 fits 0.3
        await asyncio.sleep(0)
        now[0] = 0.9  # the loop was busy meanwhile: the timer fires at 0.9
        with pytest.raises(RateExhausted):
            await waiter
        assert list(budget.sent) == [0.0]  # nothing was sent for it

    asyncio.run(run())


def test_a_reload_on_new_terms_keeps_one_budget_its_sends_and_its_waiters() -> None:
    """Webhooks in flight on the old receiver and new ones share one budget: no slot twice."""
    now = [0.0]
    old = RateWindow(requests=2, per=1.0, reserve=0, clock=lambda: now[0])

    async def run() -> None:
        assert took(old) and took(old)
        waiter = asyncio.create_task(old.acquire(5.0))
        await asyncio.sleep(0)
        new = RateWindow(requests=3, per=2.0, reserve=0, clock=lambda: now[0]).succeeding(old)
        assert new is old and old.terms == (3, 2.0, None, 0)
        assert list(old.sent) == [0.0, 0.0] and len(old.queue) == 1
        assert not waiter.done() and old.expected_wait(0) == pytest.approx(2.0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)

    asyncio.run(run())
    now[0] = 0.5
    assert took(old)  # the new terms' third slot
    assert not took(old)


def test_budget_waits_in_real_time_when_the_wait_fits() -> None:
    budget = RateWindow(requests=1, per=0.05)

    async def take_three() -> float:
        started = time.monotonic()
        for _ in range(3):
            await budget.acquire(1.0)
        return time.monotonic() - started

    assert 0.09 <= asyncio.run(take_three()) < 0.5  # two waits of 50 ms


def test_budget_serves_the_most_urgent_waiter_first_then_by_arrival() -> None:
    bucket = RateWindow(requests=1, per=0.02)  # a send every 20 ms

    async def run() -> list[str]:
        await bucket.acquire(0.0)  # the window is spent: everyone below waits
        served: list[str] = []

        async def want(name: str, priority: int) -> None:
            await bucket.acquire(10.0, priority)
            served.append(name)

        wanted = [("w1", 3), ("w2", 3), ("i", 4), ("c", 0), ("w3", 3), ("r", 2)]
        await asyncio.gather(*(want(name, priority) for name, priority in wanted))
        return served

    assert asyncio.run(run()) == ["c", "r", "w1", "w2", "w3", "i"]


def test_a_critical_overtakes_waiting_warnings_and_bumps_the_one_that_no_longer_fits() -> None:
    """The critical is not refused for the warnings' sake; the warning its arrival pushes past
    its own deadline leaves at once with RateExhausted instead of holding a slot it cannot use."""
    now = [0.0]
    bucket = RateWindow(requests=1, per=0.1, clock=lambda: now[0])  # a send every 100 ms
    critical, warning = 0, 3

    async def run() -> None:
        assert took(bucket, warning)
        warnings = [asyncio.create_task(bucket.acquire(0.35, warning)) for _ in range(3)]
        await asyncio.sleep(0)  # turns at 0.1, 0.2 and 0.3 s: all fit
        assert len(bucket.queue) == 3
        with pytest.raises(RateExhausted) as info:
            await bucket.acquire(0.35, warning)  # a fourth: its turn, 0.4 s, does not
        assert info.value.wait == pytest.approx(0.4)
        assert bucket.expected_wait(critical) == pytest.approx(0.1)  # no warning counts
        page = asyncio.create_task(bucket.acquire(0.15, critical))
        with pytest.raises(RateExhausted):
            await warnings[2]  # pushed to 0.4 s: bumped at once
        assert [w.priority for w in bucket.queue] == [critical, warning, warning]
        assert not page.done() and not warnings[0].done()
        warnings[0].cancel()  # a webhook that gives up leaves the queue
        await asyncio.gather(warnings[0], return_exceptions=True)
        assert [w.priority for w in bucket.queue] == [critical, warning]
        assert not took(bucket, warning)  # a slot later: it goes to the critical, not to take()
        now[0] = 0.1
        assert not took(bucket, warning)
        for task in (page, warnings[1]):
            task.cancel()
        await asyncio.gather(page, warnings[1], return_exceptions=True)
        assert bucket.queue == []

    asyncio.run(run())


def test_over_budget_answers_503_with_retry_after_at_once(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(doc=pd_config(rate_limit={"requests": 2, "per": "1m", "burst": 2}))
    started = time.monotonic()
    response = client.post(
        "/alerts/pd", json=make_payload(*[make_alert(instance=str(i)) for i in range(5)])
    )
    assert time.monotonic() - started < 1.0  # did not sit out the 2 s deadline
    assert response.status_code == 503
    body = response.json()
    assert (body["delivered"], body["failed"]) == (2, 3)
    assert 55 <= int(response.headers["Retry-After"]) <= 61  # when the first send ages out
    assert "rate budget" in next(a["detail"] for a in body["alerts"] if a["result"] == "failed")


def test_the_next_send_waits_a_window_from_the_last_ones_answer(
    make_client: Callable[..., TestClient],
) -> None:
    """One request a 500 ms window, an upstream that answers in 300 ms: the second alert
    goes a window after the first one's answer, not after its slot (0.8 s, not 0.5 s)."""
    arrivals: list[float] = []

    async def upstream(request: httpx.Request) -> httpx.Response:
        arrivals.append(time.monotonic())
        await asyncio.sleep(0.3)
        return httpx.Response(202)

    doc = pd_config(rate_limit={"requests": 1, "per": "500ms"})
    doc["delivery"] = {"timeout": "3s", "attempt_timeout": "1s", "concurrency": 2}
    client = make_client(upstream, doc)
    alerts = [make_alert(instance=f"h{i}") for i in range(2)]
    assert client.post("/alerts/pd", json=make_payload(*alerts)).status_code == 200
    assert len(arrivals) == 2 and arrivals[1] - arrivals[0] >= 0.78


class Arrivals:
    """A stand-in upstream that notes each request's arrival: (time, severity, source),
    and answers after `delay` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.seen: list[tuple[float, str, str]] = []
        self.delay = delay

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        payload = json.loads(request.content).get("payload", {})
        self.seen.append((time.monotonic(), payload.get("severity", ""), payload.get("source", "")))
        return httpx.Response(202)

    def sources(self) -> list[str]:
        return [source for _, _, source in self.seen]


def storm_of_warnings(size: int, critical_at: int) -> dict[str, object]:
    """kube-prometheus groups by namespace: one group, many warnings, one critical among them."""
    alerts = [
        make_alert(
            instance="the-critical" if i == critical_at else f"host-{i:04}",
            severity="critical" if i == critical_at else "warning",
            namespace="shop",
        )
        for i in range(size)
    ]
    return make_payload(
        *alerts, groupKey='{}:{namespace="shop"}', groupLabels={"namespace": "shop"}
    )


def test_storm_2000_alerts_exactly_once_within_budget(
    make_client: Callable[..., TestClient], record_property: Callable[[str, object], None]
) -> None:
    """2,000 alerts, one of them critical, a budget of 100 requests in any 500 ms, at most 10
    in any 50 ms (PagerDuty's 120 a minute, sped up 120x), and Alertmanager's behaviour:
    re-post the whole group after every 503. The critical goes first; the warnings that wait
    still get through, each once, as the budget allows."""
    sent: list[tuple[float, bytes]] = []

    async def upstream(request: httpx.Request) -> httpx.Response:
        sent.append((time.monotonic(), request.content))
        return httpx.Response(202)

    requests, per, burst = 100, 0.5, 10
    doc = pd_config(rate_limit={"requests": requests, "per": "500ms", "burst": burst})
    doc["delivery"] = {"timeout": "1s", "attempt_timeout": "500ms", "concurrency": 32}
    client = make_client(upstream, doc)
    payload = storm_of_warnings(2000, critical_at=1500)
    posts, skipped = 0, 0
    started = time.monotonic()
    while True:
        posts += 1
        response = client.post("/alerts/pd", json=payload)
        skipped += response.json()["skipped"]
        if response.status_code == 200:
            break
        assert response.status_code == 503 and posts < 200
        time.sleep(min(float(response.headers.get("Retry-After", "0")), 0.05))
    elapsed = time.monotonic() - started
    keys = [body for _, body in sent]
    assert len(keys) == 2000 and len(set(keys)) == 2000  # every alert exactly once
    assert next(i for i, key in enumerate(keys) if b'"the-critical"' in key) < 32
    times = [t for t, _ in sent]

    # Any 500 ms holds at most 100 (a refilling bucket would put 100 + 10 in it). 10 ms of
    # slack: an arrival is stamped after its send, later when the loop is busy parsing a
    # re-post. The bursts are exact in test_budget_with_burst_spreads_the_window.
    most = max(bisect.bisect_left(times, t + per - 0.01) - i for i, t in enumerate(times))
    assert most <= requests
    assert (len(times) - burst) / (times[-1] - times[0]) <= requests / per * 1.05
    record_property(
        "storm",
        {
            "requests_sent": len(sent),
            "skipped_by_memo": skipped,
            "posts": posts,
            "elapsed_s": round(elapsed, 1),
        },
    )
    print(
        f"storm: {len(sent)} requests sent, {skipped} skipped by the memo, {posts} posts, {elapsed:.1f} s"
    )


def waiting_for_budget(client: TestClient, priority: str) -> float:
    text = client.get("/metrics").text
    sample = f'incident_adapter_budget_waiting{{priority="{priority}",receiver="pd"}} '
    return float(next(line for line in text.splitlines() if line.startswith(sample)).split()[1])


# The storm tests' deadline: long, so a webhook that waited for the window would be plain;
# attempts long too: one cut by its timeout on a loaded machine is retried into a full window.
STORM_DEADLINE = {**pd_config(), "delivery": {"timeout": "30s", "attempt_timeout": "10s"}}


def test_a_storms_critical_goes_out_first_at_the_default_budget(
    make_client: Callable[..., TestClient],
) -> None:
    """2,000 warnings and one critical in one webhook, events-v2's default budget (120 in
    any minute, 12 of them kept for pages): the critical is among the first requests, not
    behind 1,234 warnings; the warnings spend the window down to the reserve, and what it
    cannot carry is answered 503 at once, with a Retry-After of when the window frees up."""
    upstream = Arrivals()
    # No rate_limit: the dialect's default. A deadline far above the work (2,000 alerts take
    # about a second on a busy core) so that sitting it out could not pass for being slow.
    client = make_client(upstream, STORM_DEADLINE)
    started = time.monotonic()
    response = client.post("/alerts/pd", json=storm_of_warnings(2000, critical_at=1234))
    assert time.monotonic() - started < 10  # did not sit out the 30 s deadline
    assert response.status_code == 503
    assert 55 <= int(response.headers["Retry-After"]) <= 61
    sources = upstream.sources()
    assert sources.index("the-critical") < 32  # the first the workers took (concurrency 32)
    assert len(sources) == 120 - 12  # the critical and 107 warnings; 12 kept for pages
    outcomes = {a["fingerprint"]: a for a in response.json()["alerts"]}
    assert sum(a["result"] == "delivered" for a in outcomes.values()) == len(sources)
    assert all("rate budget" in a["detail"] for a in outcomes.values() if a["result"] == "failed")
    assert waiting_for_budget(client, "warning") == 0  # nothing left waiting


def test_another_groups_critical_arriving_during_the_storm_goes_out_at_once(
    make_client: Callable[..., TestClient],
) -> None:
    """A critical of another group, posted while the storm's webhook is still sending, is
    sent at once from the reserve and answered 200; a warning of a third group is refused
    503 at once; and the upstream never sees more than 120 requests in the minute."""
    upstream = Arrivals(delay=0.05)  # slow enough that the storm is still in flight
    client = make_client(upstream, STORM_DEADLINE)
    storm_answer: list[tuple[float, httpx.Response]] = []

    def post_storm() -> None:
        response = client.post("/alerts/pd", json=storm_of_warnings(2000, critical_at=-1))
        storm_answer.append((time.monotonic(), response))

    storm = threading.Thread(target=post_storm)
    storm.start()
    while len(upstream.seen) < 32:  # the first round of the storm's 32 workers is done
        assert storm.is_alive(), "the storm's webhook answered before it had sent 32"
        time.sleep(0.005)

    def other_group(name: str, severity: str) -> dict[str, object]:
        return make_payload(
            make_alert(alertname=name, instance=f"{name}-host", severity=severity),
            groupKey=f'{{}}:{{alertname="{name}"}}',
            groupLabels={"alertname": name},
        )

    posted = time.monotonic()
    page = client.post("/alerts/pd", json=other_group("DatabaseDown", "critical"))
    paged = time.monotonic()
    storm.join()
    # "At once": not behind the storm's 2,000, which with a 30 s deadline would show as
    # seconds. The benchmark's S5 measures the figure (about 2 ms, against 1 s); a bound
    # of 1 s here failed on a loaded 2-core machine.
    assert page.status_code == 200 and paged - posted < 5.0
    ((answered, storm_response),) = storm_answer
    assert storm_response.status_code == 503 and "Retry-After" in storm_response.headers
    assert answered > posted  # the page did not wait for the storm's webhook
    late = client.post("/alerts/pd", json=other_group("DiskFilling", "warning"))
    assert late.status_code == 503 and int(late.headers["Retry-After"]) >= 55
    sources = upstream.sources()
    assert "DatabaseDown-host" in sources and "DiskFilling-host" not in sources
    # The warnings stop where the window holds 108 (pages count too), the page on top.
    assert 120 - 12 <= len(sources) <= 120 - 12 + 1
    assert waiting_for_budget(client, "warning") == waiting_for_budget(client, "critical") == 0


def test_storm_guard_aggregates_past_the_threshold_and_resolves_symmetrically(
    make_client: Callable[..., TestClient],
) -> None:
    """Against the stateful Events API fake: one incident for the storm, closed when it ends;
    an incident opened before the storm is still resolved one by one during it."""
    api = EventsAPI()

    def handler(request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)
        api.apply(event)
        return httpx.Response(202)

    doc = pd_config(storm_guard={"threshold": 3, "listed": 2}, rate_limit="off")
    client = make_client(handler, doc)
    before = make_alert(instance="early", severity="warning")
    assert client.post("/alerts/pd", json=make_payload(before)).status_code == 200
    assert len(api.open_keys()) == 1  # below the threshold: one by one (+ a no-op group resolve)

    storm = [
        make_alert(instance=f"h{i}", severity="critical" if i == 2 else "warning") for i in range(5)
    ]
    response = client.post(
        "/alerts/pd", json=make_payload(*storm, {**before, "status": "resolved"})
    )
    assert response.status_code == 200
    body = response.json()
    assert body["received"] == 6 and body["delivered"] == 6
    (storm_key,) = api.open_keys()  # the early incident resolved, one aggregate open
    incident = api.incidents[storm_key]
    assert incident.summary == "5 alerts firing in alertname=HighErrorRate (storm guard)"
    assert incident.severity == "critical"
    description = incident.payload["custom_details"]["annotations"]["description"]
    assert description.count("\n") == 2 and description.endswith("... and 3 more")

    calm = make_payload(*[{**a, "status": "resolved"} for a in storm[:4]], storm[4])
    assert client.post("/alerts/pd", json=calm).status_code == 200
    assert storm_key not in api.open_keys()  # below the threshold again: the aggregate resolves
    assert len(api.open_keys()) == 1  # h4 goes on as its own incident


def test_an_alert_is_only_delivered_when_every_request_for_it_is(
    make_client: Callable[..., TestClient],
) -> None:
    """The group resolve failing must fail the webhook (503), or the aggregate stays open."""

    def handler(request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)
        return httpx.Response(503 if event["dedup_key"].startswith("{}") else 202)

    client = make_client(handler, pd_config(storm_guard={"threshold": 3}, rate_limit="off"))
    response = client.post("/alerts/pd", json=make_payload(make_alert(instance="a")))
    assert response.status_code == 503
    assert [a["result"] for a in response.json()["alerts"]] == ["failed"]
