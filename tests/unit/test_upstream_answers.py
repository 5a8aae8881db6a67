from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.builders import (
    alert24_config,
    alert24_events_config,
    alias_config,
    amwebhook_config,
    make_alert,
    make_payload,
    pd_config,
    status_page_config,
    template_config,
)
from tests.standins.upstream_answers import TABLE, AnswerCase, handler_for

# One config per dialect, and how many requests a successful delivery takes: a status
# page lists open incidents, then creates one and sets the component.
DIALECTS = {
    "events-v2": (pd_config(), 1),
    "alias": (alias_config(), 1),
    "alert24": (alert24_config(), 1),
    "events-v2 alert24": (alert24_events_config(), 1),
    "template": (template_config(), 1),
    "status-page": (status_page_config(), 3),
    "alertmanager-webhook": (amwebhook_config(), 1),
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("answer", TABLE, ids=lambda a: a.name)
def test_upstream_answer(
    dialect: str, answer: AnswerCase, make_client: Callable[..., TestClient]
) -> None:
    config, requests_when_delivered = DIALECTS[dialect]
    calls: list[httpx.Request] = []
    client = make_client(handler_for(answer, calls), config)
    # service=api names a status-page component; the other dialects ignore it
    response = client.post("/alerts/pd", json=make_payload(make_alert(service="api")))
    follow_ups = requests_when_delivered - 1 if answer.status == 200 else 0
    assert len(calls) == answer.attempts + follow_ups
    assert response.status_code == answer.status
    assert response.headers.get("Retry-After") == answer.retry_after_sent
    body: dict[str, Any] = response.json()
    result = {200: "delivered", 424: "rejected", 503: "failed"}[answer.status]
    assert [a["result"] for a in body["alerts"]] == [result]
    if answer.status != 200:
        assert body["alerts"][0]["detail"]


def test_a_503_keeps_the_wait_a_429_asked_for_when_a_later_attempt_times_out(
    make_client: Callable[..., TestClient],
) -> None:
    """429 with Retry-After: 1 (it fits the 2 s budget, so the adapter waits and tries again),
    then no answer: the webhook's 503 still says when to come back (before: no Retry-After,
    the last attempt's timeout had none)."""
    calls: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"status": "throttled"})
        raise httpx.ReadTimeout("timed out", request=request)

    client = make_client(upstream, pd_config())
    response = client.post("/alerts/pd", json=make_payload(make_alert(instance="a")))
    assert response.status_code == 503 and len(calls) == 4
    assert response.headers.get("Retry-After") == "1"


def test_the_retry_after_passed_on_is_the_longest_of_the_failed_and_capped(
    make_client: Callable[..., TestClient],
) -> None:
    waits = {"a": "30", "b": "86400", "c": None}

    def upstream(request: httpx.Request) -> httpx.Response:
        wait = waits[json.loads(request.content)["payload"]["custom_details"]["labels"]["instance"]]
        if wait is None:
            return httpx.Response(202, json={"status": "success"})
        return httpx.Response(429, headers={"Retry-After": wait}, json={"status": "throttled"})

    client = make_client(upstream, pd_config())
    alerts = [make_alert(instance=name) for name in waits]
    response = client.post("/alerts/pd", json=make_payload(*alerts))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "300"  # a day, capped (report.MAX_RETRY_AFTER)
    response = client.post("/alerts/pd", json=make_payload(alerts[0], alerts[2]))
    assert response.headers["Retry-After"] == "30"  # c was delivered: it asks for no wait
