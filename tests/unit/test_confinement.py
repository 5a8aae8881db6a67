"""Requests stay where the config put them, and only web links leave the adapter.

Values from alerts are data in a URL: one path segment or one query value, never `/`, `..`,
`?` or `#`; every request of every dialect stays under its receiver's `url` (scheme, host,
port, path, query), or its alert is refused (424, `cannot render`) with nothing sent; both
transports send the URL as written. Links (generatorURL, runbook_url, externalURL) go out
only when they are http(s). adapter/urls.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from adapter.app import create_app
from adapter.config.receivers import ReceiverSettings
from adapter.events import AlertEvent, UpstreamRequest
from adapter.integrations.base import Integration
from adapter.payload import parse_payload
from adapter.pipeline import Receiver, plan
from adapter.transport import AiohttpTransport, HttpxTransport, Transport
from tests.builders import TOKEN, config_from, make_alert, make_payload
from tests.harness.server import Server
from tests.standins.echo import Echo

TRANSPORTS = ("aiohttp", "httpx")
HOSTILE_LINKS = (
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    " java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "vbscript:msgbox(1)",
    "//evil.example/x",
)


def _transport(kind: str) -> Transport | None:
    # None: the app's lifespan makes the production AiohttpTransport inside its loop.
    return None if kind == "aiohttp" else HttpxTransport()


@pytest.fixture
def echo() -> Iterator[tuple[Echo, Server]]:
    api = Echo(status=202)
    with Server(api) as server:
        yield api, server


Send = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@pytest.fixture(params=TRANSPORTS)
def send_through(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[dict[str, Any], dict[str, Any]], tuple[int, dict[str, Any]]]]:
    """POST a payload to an adapter (one receiver, `pd`) over a real transport."""
    clients: list[TestClient] = []
    transports: list[Transport | None] = []

    def send(receiver: dict[str, Any], payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        doc = {
            "auth": {"bearer_tokens": [TOKEN]},
            "delivery": {"timeout": "3s", "attempt_timeout": "1s", "max_attempts": 1},
            "receivers": [{"name": "pd", **receiver}],
        }
        transport = _transport(request.param)
        transports.append(transport)
        app = create_app(config_from(doc, tmp_path), transport=transport)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        answer = client.post(
            "/alerts/pd", json=payload, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        return answer.status_code, answer.json()

    yield send
    for client, transport in zip(clients, transports, strict=True):
        if transport is not None:  # the app closes only a transport it made itself
            client.portal.call(transport.aclose)
        client.__exit__(None, None, None)


def _template(url: str, path: str) -> dict[str, Any]:
    request = {"method": "POST", "path": path, "body": '{"key": {{ dedup_key | tojson }}}'}
    return {"type": "template", "url": url, "trigger": request, "resolve": request}


@pytest.mark.parametrize(
    ("service", "raw_path", "query"),
    [
        # the example: the client collapsed `..` and posted to /admin/delete
        ("../../../admin/delete", "/base/api/v1/incidents/..%2F..%2F..%2Fadmin%2Fdelete", ""),
        # no query parameters from a label
        ("x?token=a&admin=1", "/base/api/v1/incidents/x%3Ftoken%3Da%26admin%3D1", ""),
        ("x#frag", "/base/api/v1/incidents/x%23frag", ""),
        # a segment of exactly `..` or `.`: encoded, and sent as encoded (yarl would collapse
        # even %2E%2E without encoded=True)
        ("..", "/base/api/v1/incidents/%2E%2E", ""),
        (".", "/base/api/v1/incidents/%2E", ""),
    ],
)
def test_a_label_in_a_template_path_stays_one_segment(
    echo: tuple[Echo, Server],
    send_through: Callable[[dict[str, Any], dict[str, Any]], tuple[int, dict[str, Any]]],
    service: str,
    raw_path: str,
    query: str,
) -> None:
    """`/api/v1/incidents/{{ alert.labels.service }}` without `| urlquote`: still one segment."""
    api, server = echo
    receiver = _template(server.url + "/base", "/api/v1/incidents/{{ alert.labels.service }}")
    status, _ = send_through(receiver, make_payload(make_alert(service=service)))
    assert status == 200
    (got,) = api.requests
    assert (got.raw_path, got.query) == (raw_path, query)


def test_a_template_query_value_from_a_label_is_one_value(
    echo: tuple[Echo, Server],
    send_through: Callable[[dict[str, Any], dict[str, Any]], tuple[int, dict[str, Any]]],
) -> None:
    api, server = echo
    receiver = _template(server.url, "/api/incidents?service={{ alert.labels.service }}&v=1")
    status, _ = send_through(receiver, make_payload(make_alert(service="a&admin=1")))
    assert status == 200
    (got,) = api.requests
    assert (got.raw_path, got.query) == ("/api/incidents", "service=a%26admin%3D1&v=1")


def test_urlquote_in_a_url_template_is_not_encoded_twice(
    echo: tuple[Echo, Server],
    send_through: Callable[[dict[str, Any], dict[str, Any]], tuple[int, dict[str, Any]]],
) -> None:
    """Configs written with `| urlquote` (the docs' example) send what they sent before."""
    api, server = echo
    receiver = _template(server.url, "/api/{{ alert.labels.instance | urlquote }}")
    send_through(receiver, make_payload(make_alert(instance="a b/c")))
    (got,) = api.requests
    assert got.raw_path == "/api/a%20b%2Fc"


def test_alias_close_with_a_key_of_dot_dot_closes_that_alias(
    echo: tuple[Echo, Server],
    send_through: Callable[[dict[str, Any], dict[str, Any]], tuple[int, dict[str, Any]]],
) -> None:
    """A key of exactly `..` must not turn /v2/alerts/{alias}/close into /v2/close."""
    api, server = echo
    receiver = {
        "type": "alias",
        "url": server.url + "/v2/alerts",
        "api_key": "0pSg3n1e-key-0123456789",
        "dedup_key": {"strategy": "template", "template": "{{ labels.key }}"},
    }
    status, _ = send_through(receiver, make_payload(make_alert("resolved", key="..")))
    assert status == 200
    (got,) = api.requests
    assert (got.raw_path, got.query) == ("/v2/alerts/%2E%2E/close", "identifierType=alias")


def test_alert24s_alias_path_keeps_a_key_of_dot_dot_one_segment(
    echo: tuple[Echo, Server],
    send_through: Callable[[dict[str, Any], dict[str, Any]], tuple[int, dict[str, Any]]],
) -> None:
    """Alert24's old alias-path resolve: a key of `..` is `%2E%2E`, under the receiver's url,
    and both alerts of the group are delivered."""
    api, server = echo
    receiver = {
        "type": "alert24",
        "url": server.url + "/api/v1/incidents",
        "api_key": "a24-key-0123456789",
        "dedup_key": {"strategy": "template", "template": "{{ labels.key }}"},
        "resolve": {"by": "alias_path"},
    }
    payload = make_payload(make_alert("resolved", key=".."), make_alert("resolved", key="ok"))
    status, body = send_through(receiver, payload)
    assert status == 200, body
    assert sorted(r.raw_path for r in api.requests) == [
        "/api/v1/incidents/%2E%2E/resolve",
        "/api/v1/incidents/ok/resolve",
    ]


class _Careless(Integration[ReceiverSettings]):
    """A dialect that forgets to encode: the key pasted into the path as it is."""

    def render(self, event: AlertEvent) -> UpstreamRequest:
        url = getattr(self.settings, "url", "")
        return UpstreamRequest("POST", f"{url}/{event.dedup_key}/close", {}, b"{}")


@pytest.mark.parametrize(
    ("key", "refused"),
    # (A key adding a query, `x?admin=1`, is kept out by encoding, not by this check: a
    # dialect may add query parameters of its own, e.g. `?identifierType=alias`.)
    [("..", True), ("../admin", True), ("a/../../admin", True), ("ok", False)],
)
def test_a_request_outside_the_receivers_url_is_refused_without_sending(
    key: str, refused: bool, tmp_path: Path
) -> None:
    """The generic check after every render, for a dialect that forgets to encode: the
    alert is refused by name (nothing to send), the other alert of the group goes out."""
    doc = {
        "receivers": [
            {
                "name": "pd",
                "type": "alias",
                "url": "https://api.example.com/v2/alerts",
                "api_key": "0pSg3n1e-key-0123456789",
                "dedup_key": {"strategy": "template", "template": "{{ labels.key }}"},
            }
        ]
    }
    config = config_from(doc, tmp_path)
    receiver = Receiver.from_settings(config.receivers[0], config.delivery)
    receiver = replace(receiver, integration=_Careless(config.receivers[0]))
    payload = parse_payload(
        json.dumps(make_payload(make_alert(key=key), make_alert(key="fine"))).encode()
    )
    first, other = plan(receiver, payload).deliveries
    assert other.request is not None and other.request.url.endswith("/v2/alerts/fine/close")
    if refused:
        assert first.request is None
        assert first.error.startswith("cannot render: the request URL ")
        assert "is not under the receiver's url" in first.error
    else:
        assert first.request is not None and first.error == ""


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_both_transports_send_the_url_as_written(echo: tuple[Echo, Server], kind: str) -> None:
    api, server = echo

    async def run() -> None:
        transport: Transport = AiohttpTransport() if kind == "aiohttp" else HttpxTransport()
        try:
            for path in ("/a/%2E%2E/b", "/a/%2e/b", "/a/x%2Fy%3Fz", "/a/%C3%A9"):
                request = UpstreamRequest("POST", server.url + path + "?q=%2E%2E", {}, b"")
                assert (await transport.send(request, 2.0)).status == 202
        finally:
            await transport.aclose()

    asyncio.run(run())
    assert [(r.raw_path, r.query) for r in api.requests] == [
        ("/a/%2E%2E/b", "q=%2E%2E"),
        ("/a/%2e/b", "q=%2E%2E"),
        ("/a/x%2Fy%3Fz", "q=%2E%2E"),
        ("/a/%C3%A9", "q=%2E%2E"),
    ]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://h/base?k=1", None),
        ("https://h/base/x/close?k=1&identifierType=alias", None),
        ("https://h/base/%2E%2E/close?k=1", None),
        ("https://h/base/../admin?k=1", "a path segment is '.' or '..'"),
        ("https://h/base/./x?k=1", "a path segment is '.' or '..'"),
        ("https://h/basement?k=1", "its path is not under /base"),
        ("https://h/other?k=1", "its path is not under /base"),
        ("http://h/base?k=1", "it goes to http://h, not h"),
        ("https://evil/base?k=1", "it goes to https://evil, not h"),
        ("https://h:8443/base?k=1", "it goes to https://h, not h"),
        ("https://u:p@h/base?k=1", "it goes to https://h, not h"),
        ("https://h/base/x", "it drops the query of the receiver's url"),
        ("https://h/base/x?k=10", "it drops the query of the receiver's url"),
        ("https://h/base/x?k=1#f", "it holds a '#'"),
        ("https://h/base/a b?k=1", "it holds a character that is not percent-encoded"),
        ("https://h/base/a\\..\\b?k=1", "it holds a character that is not percent-encoded"),
        ("https://h/base/é?k=1", "it holds a character that is not percent-encoded"),
        ("https://h:x/base?k=1", "it is not a valid URL"),
    ],
)
def test_what_is_under_a_receivers_url(url: str, why: str | None) -> None:
    from adapter.urls import outside

    found = outside(url, "https://h/base?k=1")
    assert found == why if why is None else (found or "").startswith(why), found


def test_path_segment_and_join() -> None:
    from adapter.urls import join, path_segment

    assert [path_segment(v) for v in ("..", ".", "...", "a/b", "?#&=", "é")] == [
        "%2E%2E",
        "%2E",
        "...",
        "a%2Fb",
        "%3F%23%26%3D",
        "%C3%A9",
    ]
    # a path appended to a url with a query lands before the query, not inside it
    assert join("https://h/api?k=1", "/x/close", "t=alias") == "https://h/api/x/close?k=1&t=alias"
    assert join("https://h/api/", "/x") == "https://h/api/x"


@pytest.mark.parametrize("link", HOSTILE_LINKS)
def test_only_http_links_are_web_links(link: str) -> None:
    from adapter.urls import web_link

    assert web_link(link) is None
    assert web_link(" https://runbooks.example/x?y=1#z ") == "https://runbooks.example/x?y=1#z"
    assert web_link("HTTP://prometheus:9090/graph") == "HTTP://prometheus:9090/graph"


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://user:pw@am:9093/prefix?token=abc#frag", "https://am:9093/prefix"),
        ("http://am0:9093?token=abc", "http://am0:9093"),
        ("http://[::1]:9093/", "http://[::1]:9093/"),
        ("http://AM.example", "http://am.example"),
        ("not a url", ""),
        ("http://am:99999", ""),  # a bad port: nothing rather than a guess
    ],
)
def test_a_public_url_keeps_nothing_that_can_carry_a_secret(url: str, public: str) -> None:
    from adapter.urls import public_url

    assert public_url(url) == public


# -- links, dialect by dialect ---------------------------------------------------------------


def _rendered(tmp_path: Path, receiver: dict[str, Any], link: str) -> list[UpstreamRequest]:
    """What a receiver renders for an alert whose every link is `link`, and its follow-ups
    as they go when nothing is open yet."""
    doc = {"auth": {"bearer_tokens": [TOKEN]}, "receivers": [{"name": "pd", **receiver}]}
    config = config_from(doc, tmp_path)
    rx = Receiver.from_settings(config.receivers[0], config.delivery)
    alert = make_alert(
        service="api",
        severity="critical",
        annotations={"summary": "s", "runbook_url": link, "description": "d"},
    )
    alert["generatorURL"] = link
    payload = make_payload(alert, externalURL=link)
    requests = []
    for delivery in plan(rx, parse_payload(json.dumps(payload).encode())).deliveries:
        request = delivery.request
        assert request is not None, delivery.error
        while request is not None:
            requests.append(request)
            request = request.then(b"{}") if request.then else None
    return requests


DIALECTS: dict[str, dict[str, Any]] = {
    "events-v2": {"type": "events-v2", "url": "https://events.test/v2/enqueue", "routing_key": "k"},
    "alias": {"type": "alias", "url": "https://og.test/v2/alerts", "api_key": "k"},
    "status-page": {
        "type": "status-page",
        "flavor": "simple",
        "url": "https://status.test/api/v1",
        "api_key": "k",
        "page_id": "p1",
        "components": {"api": "c1"},
        "publish": True,
    },
    "status-page-text": {
        "type": "status-page",
        "flavor": "pagecalm",
        "url": "https://pagecalm.test/api/v1",
        "api_key": "k",
        "page_id": "p1",
        "components": {"api": "c1"},
    },
    "template": _template("https://incidents.test", "/api")
    | {
        "trigger": {
            "path": "/api",
            "body": '{"links": [{{ alert.generatorURL | tojson }}, {{ external_url | tojson }},'
            " {{ alert.annotations.runbook_url | tojson }}]}",
        }
    },
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("link", HOSTILE_LINKS[:4])
def test_no_dialect_sends_a_link_that_is_not_http(tmp_path: Path, dialect: str, link: str) -> None:
    sent = _rendered(tmp_path, DIALECTS[dialect], link)
    assert sent
    for request in sent:
        body = json.loads(request.body) if request.body else {}
        # custom details carry the alert's annotations as data (text, not a link)
        body.get("payload", {}).pop("custom_details", None)
        text = json.dumps(body).lower()
        assert "script:" not in text and "data:" not in text, text


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_every_dialect_still_sends_its_http_links(tmp_path: Path, dialect: str) -> None:
    """The filter takes out what is not a web link, not the links (the check above could
    pass by dropping everything)."""
    link = "https://runbooks.example/api?x=1"
    sent = _rendered(tmp_path, DIALECTS[dialect], link)
    assert any(link in r.body.decode() or json.dumps(link) in r.body.decode() for r in sent)


def test_events_v2_links_and_client_url(tmp_path: Path) -> None:
    (bad,) = _rendered(tmp_path, DIALECTS["events-v2"], "javascript:alert(1)")
    body = json.loads(bad.body)
    assert "links" not in body and "client_url" not in body
    (good,) = _rendered(tmp_path, DIALECTS["events-v2"], "http://prometheus:9090/graph")
    body = json.loads(good.body)
    assert [link["href"] for link in body["links"]] == ["http://prometheus:9090/graph"] * 2
    assert body["client_url"] == "http://prometheus:9090/graph"


def test_an_id_from_the_apis_own_answer_stays_one_segment(tmp_path: Path) -> None:
    """A status page's listing names the incident to resolve; an id of `..` from it must
    not turn `incidents/{id}` into the page's root."""
    doc = {
        "auth": {"bearer_tokens": [TOKEN]},
        "receivers": [{"name": "pd", **DIALECTS["status-page"]}],
    }
    config = config_from(doc, tmp_path)
    rx = Receiver.from_settings(config.receivers[0], config.delivery)
    resolved = make_alert("resolved", service="api", severity="critical")
    payload = parse_payload(json.dumps(make_payload(resolved)).encode())
    (delivery,) = plan(rx, payload).deliveries
    listing = delivery.request
    assert listing is not None and listing.then is not None
    key = delivery.events[0].dedup_key
    marker = {"dedup_key": key, "component": "c1", "status": "major_outage"}
    answer = {
        "incidents": [
            {"id": "..", "status": "investigating", "metadata": {"incident_adapter": marker}}
        ]
    }
    resolve = listing.then(json.dumps(answer).encode())
    assert resolve is not None
    assert resolve.method == "PATCH"
    assert resolve.url == "https://status.test/api/v1/incidents/%2E%2E"


def test_a_follow_up_is_checked_when_it_is_derived() -> None:
    from adapter.events import RenderError
    from adapter.integrations.base import confined

    def elsewhere(_: bytes) -> UpstreamRequest:
        return UpstreamRequest("PATCH", "https://h/other/1", {}, b"")

    first = UpstreamRequest("GET", "https://h/base/list", {}, b"", then=elsewhere)
    checked = confined(first, "https://h/base")
    assert checked.then is not None
    with pytest.raises(RenderError, match="its path is not under /base"):
        checked.then(b"{}")
