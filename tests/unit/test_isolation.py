"""Per-alert isolation: whatever one alert holds, it fails alone, never the webhook.

The webhook answers 200 or 424 (503 only for what a retry can fix), names every alert's
outcome, and Alertmanager's re-post of the same group re-sends nothing that was delivered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from adapter.app import create_app
from adapter.config.document import Config
from adapter.payload import fingerprint
from adapter.transport import HttpxTransport
from tests.builders import (
    ALERT24_KEY,
    COMPONENTS,
    HOOK_TOKEN,
    PAGE,
    TOKEN,
    alert24_config,
    alert24_events_config,
    alias_config,
    amwebhook_config,
    config_from,
    make_alert,
    make_payload,
    pd_config,
    status_page_config,
)
from tests.builders import OPSGENIE_KEY as ALIAS_KEY
from tests.builders import STATUS_PAGE_KEY as PAGE_KEY
from tests.builders import status_page_standin as fake
from tests.harness.server import Server
from tests.standins.alert24 import IncidentsAPI
from tests.standins.amwebhook import InboundAlertmanager
from tests.standins.events import AlertsAPI
from tests.standins.pagecalm import Alert24StatusAPI, PageCalmAPI

# A template whose URL, headers and body all carry what the alert says.
TEMPLATE = {
    "name": "pd",
    "type": "template",
    "url": "https://incidents.test/api",
    "trigger": {
        "path": "/incidents/{{ alert.labels.service | urlquote }}",
        "headers": {
            "X-Service": "{{ alert.labels.service }}",
            "X-Summary": "{{ alert.annotations.summary }}",
        },
        "body": '{"key": {{ dedup_key | tojson }}, "summary": {{ alert.annotations.summary | tojson }},'
        ' "source": {{ alert.generatorURL | tojson }}}',
    },
    "resolve": {
        "method": "PUT",
        "path": "/incidents/{{ dedup_key | urlquote }}/resolve?team={{ alert.labels.team | urlquote }}",
        "headers": {"X-Team": "{{ alert.labels.team }}"},
    },
}


def _accept(request: httpx.Request) -> httpx.Response:
    return httpx.Response(202, json={"status": "success"})


def _with_receiver(doc: dict[str, Any], receiver: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "receivers": [receiver]}


# name -> (config, a fresh stand-in, whether a delivery is a chain of lookups: then a re-post
# repeats the lookup, and only its effects show whether anything was sent twice)
DIALECTS: dict[str, tuple[dict[str, Any], Callable[[], Callable[[httpx.Request], Any]], bool]] = {
    "events-v2": (pd_config(), lambda: _accept, False),
    "events-v2 alert24": (alert24_events_config(), lambda: _accept, False),
    "alias": (alias_config(), lambda: AlertsAPI(ALIAS_KEY), False),
    # A resolve looks the incident up first (a chain): the lookups again on a re-post.
    "alert24": (alert24_config(), lambda: IncidentsAPI(ALERT24_KEY), True),
    "alertmanager-webhook": (
        amwebhook_config(),
        lambda: InboundAlertmanager(bearer=HOOK_TOKEN),
        False,
    ),
    "template": (_with_receiver(pd_config(), TEMPLATE), lambda: _accept, False),
    "status-page statuspage": (status_page_config("statuspage"), lambda: fake("statuspage"), True),
    "status-page simple": (status_page_config("simple"), lambda: fake("simple"), True),
    "status-page pagecalm": (
        status_page_config("pagecalm"),
        lambda: PageCalmAPI(PAGE_KEY, PAGE, list(COMPONENTS.values())),
        False,
    ),
    "status-page alert24-status": (
        status_page_config("alert24-status"),
        lambda: Alert24StatusAPI(PAGE_KEY, ["svc-api", "svc-db"]),
        False,
    ),
    "log": (_with_receiver(pd_config(), {"name": "pd", "type": "log"}), lambda: _accept, False),
}

# Text of every kind: control characters (NUL, CR, LF, DEL, C1), other scripts, emoji,
# line and paragraph separators, and now and then something long.
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(
        st.sampled_from("\x00\x01\t\n\r\x0b\x1f\x7f\x85\u2028\u2029é漢🔥/..?#%&= "), max_size=20
    ),
    st.text(st.characters(max_codepoint=0x7F), min_size=300, max_size=3000),
)
label_names = st.one_of(
    st.sampled_from(["alertname", "instance", "service", "severity", "team", "customer_facing"]),
    st.text(min_size=1, max_size=20),
)


@st.composite
def hostile_alerts(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(st.dictionaries(label_names, hostile_text, max_size=6))
    if draw(st.booleans()):  # often enough a status page has a component for it
        labels |= {"service": draw(st.sampled_from(["api", "db"])), "customer_facing": "true"}
    annotations = draw(
        st.dictionaries(
            st.sampled_from(["summary", "description", "runbook_url", "other"]), hostile_text
        )
    )
    return {
        "status": draw(st.sampled_from(["firing", "resolved"])),
        "labels": labels,
        "annotations": annotations,
        "startsAt": draw(st.sampled_from(["2026-11-23T10:00:00Z", "", "not a time"])),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": draw(hostile_text),
    }


ISOLATION = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def adapter_for() -> Iterator[Callable[[str], tuple[TestClient, list[httpx.Request]]]]:
    """A running adapter for one dialect over a fresh stand-in that records each request."""
    opened: list[TestClient] = []

    def make(dialect: str) -> tuple[TestClient, list[httpx.Request]]:
        doc, standin, _ = DIALECTS[dialect]
        api = standin()
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> Any:
            seen.append(request)
            return api(request)

        doc = {k: v for k, v in doc.items() if k != "auth"}
        # Not a test of the deadline: room for a busy machine.
        doc["delivery"] = {"timeout": "30s", "attempt_timeout": "10s", "max_attempts": 2}
        client = TestClient(
            create_app(Config(**doc), transport=HttpxTransport(httpx.MockTransport(handler))),
            raise_server_exceptions=False,
        )
        client.__enter__()
        opened.append(client)
        return client, seen

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("dialect", DIALECTS)
@ISOLATION
@given(alerts=st.lists(hostile_alerts(), min_size=1, max_size=5))
def test_no_alert_fails_the_webhook_and_a_repost_resends_nothing_delivered(
    adapter_for: Callable[[str], tuple[TestClient, list[httpx.Request]]],
    dialect: str,
    alerts: list[dict[str, Any]],
) -> None:
    client, seen = adapter_for(dialect)
    chain = DIALECTS[dialect][2]
    body = make_payload(*alerts)
    first = client.post("/alerts/pd", json=body)
    assert first.status_code in (200, 424), first.text
    answer = first.json()
    assert answer["received"] == len(alerts) == len(answer["alerts"])
    named = {"delivered", "skipped", "filtered", "rejected"}
    assert all(a["result"] in named for a in answer["alerts"]), answer
    assert all(a["detail"] for a in answer["alerts"] if a["result"] == "rejected"), answer
    sent_first = len(seen)

    second = client.post("/alerts/pd", json=body)
    assert second.status_code == first.status_code, second.text
    resent = seen[sent_first:]
    not_delivered = sum(a["result"] == "rejected" for a in answer["alerts"])
    if chain:  # the lookups (and idempotent updates) again, but nothing created twice
        creates = [r for r in resent if r.method == "POST"]
        assert len(creates) <= not_delivered, [r.url for r in creates]
    else:
        assert len(resent) <= not_delivered, [r.url for r in resent]
        if not not_delivered and dialect != "log":  # a dry run logs again: it sends nothing
            assert second.json()["delivered"] == 0


# -- the cases the property test stands for, each as it was found ---------------------------


def _recorder() -> tuple[Starlette, list[str]]:
    seen: list[str] = []

    async def incidents(request: Request) -> JSONResponse:
        seen.append(request.headers.get("x-service", ""))
        return JSONResponse({"ok": True}, status_code=201)

    return Starlette(routes=[Route("/api/incidents", incidents, methods=["POST"])]), seen


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x0b", "\x1f", "\x7f"])
def test_a_control_character_in_a_templated_header_fails_that_alert_alone(
    char: str, tmp_path: Path
) -> None:
    """The production client (aiohttp) against a real server: 200 alerts, one with a control
    character in a label a header carries. It is rejected and named; the 199 go out once,
    and Alertmanager's re-posts send nothing again (before: 500, every time, re-sending)."""
    app, seen = _recorder()
    with Server(app) as server:
        receiver = {
            "name": "t",
            "type": "template",
            "url": server.url,
            "trigger": {
                "path": "/api/incidents",
                "headers": {"X-Service": "{{ alert.labels.service }}"},
                "body": '{"key": {{ dedup_key | tojson }}}',
            },
            "resolve": {"path": "/api/incidents", "body": '{"key": {{ dedup_key | tojson }}}'},
        }
        doc = {"auth": {"bearer_tokens": [TOKEN]}, "receivers": [receiver]}
        alerts = [make_alert(instance=f"i{n}", service="api") for n in range(200)]
        alerts[150]["labels"]["service"] = f"api{char}admin"
        payload = make_payload(*alerts, receiver="t")
        with TestClient(create_app(config_from(doc, tmp_path)), raise_server_exceptions=False) as c:
            c.headers["Authorization"] = f"Bearer {TOKEN}"
            answers = [c.post("/alerts/t", json=payload) for _ in range(3)]
    assert [a.status_code for a in answers] == [424, 424, 424]
    first = answers[0].json()
    assert (first["delivered"], first["rejected"]) == (199, 1)
    [bad] = [a for a in first["alerts"] if a["result"] == "rejected"]
    assert bad["fingerprint"] == fingerprint(alerts[150]["labels"])
    assert "X-Service" in bad["detail"] and "control character" in bad["detail"]
    assert char not in bad["detail"] and "admin" not in bad["detail"]  # the value is not shown
    assert answers[2].json()["skipped"] == 199
    assert len(seen) == 199


def test_httpx_refuses_what_aiohttp_refuses_and_sends_what_it_sends(
    make_client: Callable[..., TestClient],
) -> None:
    """Over httpx (tests, or anyone's choice): a non-ASCII label in a header goes out as
    UTF-8 as aiohttp sends it (before: UnicodeEncodeError, a 500); a NUL is refused, not sent."""
    seen: list[bytes] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.raw[[k for k, _ in request.headers.raw].index(b"X-Service")][1])
        return httpx.Response(201)

    doc = _with_receiver(
        pd_config(), {**TEMPLATE, "trigger": {**TEMPLATE["trigger"], "path": "/x"}}
    )
    client = make_client(upstream, doc)
    good = make_alert(instance="a", service="Zürich-漢")
    bad = make_alert(instance="b", service="api\x00")
    response = client.post("/alerts/pd", json=make_payload(good, bad))
    assert response.status_code == 424
    results = [a["result"] for a in response.json()["alerts"]]
    assert results == ["delivered", "rejected"]
    assert seen == ["Zürich-漢".encode()]


class _Flaky:
    """An injected transport whose client raises something no layer expects, for one key."""

    def __init__(self, breaks: str) -> None:
        self.breaks = breaks
        self.sent: list[str] = []
        self.inner = HttpxTransport(httpx.MockTransport(_accept))

    async def send(self, request: Any, timeout: float, options: Any = None) -> Any:
        key = json.loads(request.body)["dedup_key"]
        if key == self.breaks:
            raise RuntimeError("the client's own bug")
        self.sent.append(key)
        return await self.inner.send(request, timeout, options)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_an_unexpected_exception_while_sending_fails_that_alert_alone(tmp_path: Path) -> None:
    """Failed (retryable: it may be of the moment), named, logged; the others delivered once."""
    alerts = [make_alert(instance=f"i{n}") for n in range(5)]
    payload = make_payload(*alerts)
    keys = [fingerprint(a["labels"]) for a in alerts]  # the dedup keys
    transport = _Flaky(keys[2])
    app = create_app(config_from(pd_config(), tmp_path), transport=transport)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        first = client.post("/alerts/pd", json=payload)
        second = client.post("/alerts/pd", json=payload)
    assert first.status_code == second.status_code == 503
    outcome = first.json()["alerts"][2]
    assert outcome["result"] == "failed" and "RuntimeError" in outcome["detail"]
    assert "bug" not in outcome["detail"]
    assert sorted(transport.sent) == sorted(keys[:2] + keys[3:])  # once each, not again


def test_alerts_without_labels_are_each_rejected_not_merged_into_one_incident(
    make_client: Callable[..., TestClient],
) -> None:
    """Three label-less alerts used to share one key: one trigger sent, three "delivered".
    Alertmanager never sends such an alert; each is rejected and named, the rest go out."""
    sent: list[dict[str, Any]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(202, json={"status": "success"})

    client = make_client(upstream)
    bare = {"status": "firing", "labels": {}, "annotations": {"summary": "no labels"}}
    response = client.post(
        "/alerts/pd", json=make_payload(bare, bare, make_alert(instance="a"), bare)
    )
    assert response.status_code == 424
    answer = response.json()
    assert (answer["delivered"], answer["rejected"]) == (1, 3)
    rejected = [a for a in answer["alerts"] if a["result"] == "rejected"]
    assert all("no labels" in a["detail"] and a["dedup_key"] == "" for a in rejected)
    assert len(sent) == 1 and sent[0]["payload"]["custom_details"]["labels"]["instance"] == "a"
