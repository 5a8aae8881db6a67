"""Faults: a random mix of upstream failures, Alertmanager's retries, and the final state.

The network is faked (an injected transport) so every kind of fault can be dealt at will;
the incident state is the stand-in's, which behaves like the Events API.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from tests.builders import TOKEN, make_alert, make_payload, pd_config
from tests.harness.adapter import AdapterProcess
from tests.harness.server import Server
from tests.standins.events import EventsAPI

FAULTS = ("ok", "500", "503", "429", "slow-after-apply", "slow", "reset", "refused")


def test_random_fault_mix_ends_in_exactly_the_right_state(
    make_client: Callable[..., TestClient], record_property: Callable[[str, object], None]
) -> None:
    rng = random.Random(20261123)
    api = EventsAPI()
    dealt: Counter[str] = Counter()

    async def flaky(request: httpx.Request) -> httpx.Response:
        fault = rng.choices(FAULTS, weights=(50, 8, 8, 8, 6, 6, 7, 7))[0]
        dealt[fault] += 1
        event = json.loads(request.content)
        if fault == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if fault == "reset":
            raise httpx.ReadError("connection reset by peer", request=request)
        if fault in ("500", "503"):
            return httpx.Response(int(fault))
        if fault == "429":
            return httpx.Response(429, headers={"Retry-After": "0"})
        if fault == "slow-after-apply":  # processed upstream, but the answer comes too late
            api.apply(event)
            await asyncio.sleep(1)
        if fault == "slow":
            await asyncio.sleep(1)
        api.apply(event)
        return httpx.Response(202)

    doc = pd_config(rate_limit="off")
    doc["delivery"] = {"timeout": "2s", "attempt_timeout": "200ms", "max_attempts": 3}
    client = make_client(flaky, doc)
    # 40 groups over 6 rounds: alerts come, go and come back, as Alertmanager would send them.
    truth: dict[tuple[int, int], str] = {}
    posts = answered_503 = 0
    for _ in range(6):
        for group in range(40):
            alerts = []
            for host in range(rng.randint(1, 6)):
                status = rng.choice(["firing", "firing", "resolved"])
                truth[(group, host)] = status
                alerts.append(make_alert(status, alertname=f"Group{group}", instance=f"h{host}"))
            payload = make_payload(*alerts, groupKey=f'{{}}:{{alertname="Group{group}"}}')
            for _attempt in range(30):  # Alertmanager: re-post the whole group until a 2xx
                posts += 1
                response = client.post("/alerts/pd", json=payload)
                if response.status_code == 200:
                    break
                assert response.status_code == 503, response.text
                answered_503 += 1
            else:
                pytest.fail("a group never got through")
    # Every alert's last known status is the incident's status; nothing else exists.
    expected_open = {k for k, s in truth.items() if s == "firing"}
    by_key = {
        (
            int(i.payload["custom_details"]["labels"]["alertname"][5:]),
            int(i.payload["custom_details"]["labels"]["instance"][1:]),
        ): i
        for i in api.incidents.values()
    }
    assert len(by_key) == len(api.incidents)  # one incident per alert, never two
    assert {k for k, i in by_key.items() if i.status == "triggered"} == expected_open
    assert {k for k, i in by_key.items() if i.status == "resolved"} <= {
        k for k, s in truth.items() if s == "resolved"
    }
    faults = sum(v for k, v in dealt.items() if k != "ok")
    assert faults > 100 and answered_503 > 0
    figures = {
        "faults_injected": faults,
        "by_kind": dict(dealt),
        "upstream_requests": sum(dealt.values()),
        "webhook_posts": posts,
        "answered_503": answered_503,
        "incidents_checked": len(by_key),
    }
    record_property("faults", figures)
    print("faults:", figures)


def test_alertmanager_ha_pair_sends_the_same_group_to_two_adapters_at_once(tmp_path: Path) -> None:
    """Two Alertmanager replicas each notify; two adapter processes deliver concurrently."""
    api = EventsAPI()
    with Server(api.app()) as upstream:
        doc = pd_config(url=upstream.url + "/v2/enqueue", rate_limit="off")
        # About two senders at once, not the deadline: a budget a busy machine does not spend.
        doc["delivery"] = {"timeout": "30s", "attempt_timeout": "10s", "max_attempts": 4}
        one, two = AdapterProcess(tmp_path, doc), AdapterProcess(tmp_path, doc)
        with one, two:
            payload = make_payload(
                *[make_alert(instance=f"h{i}", severity="critical") for i in range(20)]
            )
            answers: list[int] = []

            def send(adapter: AdapterProcess) -> None:
                headers = {"Authorization": f"Bearer {TOKEN}"}
                answers.append(
                    httpx.post(
                        adapter.url + "/alerts/pd", json=payload, headers=headers, timeout=60
                    ).status_code
                )

            threads = [threading.Thread(target=send, args=(a,)) for a in (one, two)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert answers == [200, 200]
        assert len(api.incidents) == 20 and len(api.open_keys()) == 20  # one incident per alert
        assert (
            sum(i.triggers for i in api.incidents.values()) == 40
        )  # both sent; the key deduplicated


def test_sigterm_finishes_in_flight_webhooks_and_exits_0(tmp_path: Path) -> None:
    api = EventsAPI()
    api.delay = 1.5
    with Server(api.app()) as upstream:
        doc = pd_config(url=upstream.url + "/v2/enqueue", rate_limit="off")
        doc["delivery"] = {"timeout": "8s", "attempt_timeout": "5s"}
        adapter = AdapterProcess(tmp_path, doc, "--log.level=debug").start()
        answers: list[int] = []
        headers = {"Authorization": f"Bearer {TOKEN}"}
        inflight = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    adapter.url + "/alerts/pd", json=make_payload(), headers=headers, timeout=20
                ).status_code
            )
        )
        inflight.start()
        deadline = time.monotonic() + 30  # a ceiling for a busy machine
        while not any(e.get("event") == "webhook.received" for e in adapter.events()):
            assert time.monotonic() < deadline, "the webhook never arrived"
            time.sleep(0.02)
        assert adapter.proc is not None
        adapter.proc.terminate()
        try:  # not ready from the first moment: a 503, or no longer accepting at all
            ready = httpx.get(adapter.url + "/-/ready", timeout=5).status_code
        except httpx.TransportError:
            ready = 503
        assert ready == 503
        inflight.join(timeout=20)
        code = adapter.proc.wait(timeout=30)
    assert answers == [200], "the in-flight webhook was answered"
    assert len(api.open_keys()) == 1, "and its event delivered"
    assert code == 0


def test_uvicorn_grace_is_below_kubernetes_grace() -> None:
    from adapter.server import GRACEFUL_SECONDS

    deployment = next(
        d
        for d in yaml.safe_load_all(Path("deploy/kubernetes/base/deployment.yaml").read_text())
        if d
    )
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > GRACEFUL_SECONDS
