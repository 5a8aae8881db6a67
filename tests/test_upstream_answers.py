from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import make_alert, make_payload, pd_config
from tests.test_alert24 import alert24_config, alert24_events_config
from tests.test_alertmanager_webhook import amwebhook_config
from tests.test_alias import alias_config
from tests.test_status_page import status_page_config
from tests.test_template import template_config
from tests.upstream_answers import TABLE, Answer, handler_for

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
    dialect: str, answer: Answer, make_client: Callable[..., TestClient]
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
