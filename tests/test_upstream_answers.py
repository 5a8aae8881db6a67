from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import make_payload, pd_config
from tests.test_alias import alias_config
from tests.test_template import template_config
from tests.upstream_answers import TABLE, Answer, handler_for

# One config per dialect; each later dialect adds its line here.
DIALECTS = {"events-v2": pd_config(), "alias": alias_config(), "template": template_config()}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("answer", TABLE, ids=lambda a: a.name)
def test_upstream_answer(
    dialect: str, answer: Answer, make_client: Callable[..., TestClient]
) -> None:
    calls: list[httpx.Request] = []
    client = make_client(handler_for(answer, calls), DIALECTS[dialect])
    response = client.post("/alerts/pd", json=make_payload())
    assert len(calls) == answer.attempts
    assert response.status_code == answer.status
    assert response.headers.get("Retry-After") == answer.retry_after_sent
    body: dict[str, Any] = response.json()
    result = {200: "delivered", 424: "rejected", 503: "failed"}[answer.status]
    assert [a["result"] for a in body["alerts"]] == [result]
    if answer.status != 200:
        assert body["alerts"][0]["detail"]
