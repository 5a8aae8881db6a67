"""Around the app (adapter/edge.py): Prometheus' --web.external-url / --web.route-prefix, and
the web config's basic_auth_users and http_server_config (adapter/server.py's model)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from starlette.testclient import TestClient

from adapter.app import create_app
from adapter.cli.common import web_guards
from adapter.config.loader import ConfigError
from adapter.edge import Edge, WebPaths
from adapter.server import WebConfig, load_web_config
from adapter.transport import HttpxTransport
from tests.builders import ROUTING_KEY, TOKEN, config_from, make_payload, pd_config

PASSWORD = "web-config-password-SECRET"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()  # cost 4: a quick test
EXTERNAL = "https://ops.example.com/incident-adapter"

MakeEdge = Callable[..., TestClient]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def make_edge(tmp_path: Path) -> Iterator[MakeEdge]:
    """The adapter's app inside an Edge, over a fake upstream that records what it is sent."""
    clients: list[TestClient] = []

    def make(
        paths: WebPaths | None = None,
        web: dict[str, Any] | None = None,
        doc: dict[str, Any] | None = None,
        sent: list[httpx.Request] | None = None,
    ) -> TestClient:
        def accept(request: httpx.Request) -> httpx.Response:
            if sent is not None:
                sent.append(request)
            return httpx.Response(202, json={"status": "success"})

        app = create_app(
            config_from(doc or pd_config(), tmp_path),
            transport=HttpxTransport(httpx.MockTransport(accept)),
        )
        web_config = WebConfig.model_validate(web) if web is not None else None
        client = TestClient(Edge(app, paths, web_config), follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


# -- the flags ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("external", "prefix", "expected"),
    [
        (None, None, WebPaths("", "/")),
        (EXTERNAL + "/", None, WebPaths(EXTERNAL, "/incident-adapter")),
        ("https://ops.example.com", None, WebPaths("https://ops.example.com", "/")),
        (EXTERNAL, "/", WebPaths(EXTERNAL, "/")),  # a proxy that strips the path
        (None, "ia/", WebPaths("", "/ia")),
        ("http://h:9095/a/b/", "/c", WebPaths("http://h:9095/a/b", "/c")),
    ],
)
def test_the_route_prefix_defaults_to_the_external_urls_path(
    external: str | None, prefix: str | None, expected: WebPaths
) -> None:
    assert WebPaths.from_flags(external, prefix) == expected


@pytest.mark.parametrize(
    ("external", "prefix", "message"),
    [
        ("ops.example.com/x", None, "--web.external-url 'ops.example.com/x' must be an absolute"),
        ("ftp://h/x", None, "must be an absolute http(s) URL"),
        ("https://h/x?a=1", None, "must have no query or fragment"),
        (None, "/a?b", "--web.route-prefix '/a?b' must be a plain path"),
        ("https://user:pw-SECRET@h/x", None, "--web.external-url must not hold a user"),
    ],
)
def test_a_bad_flag_is_named(external: str | None, prefix: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=r".*") as raised:
        WebPaths.from_flags(external, prefix)
    assert message in str(raised.value)
    assert "SECRET" not in str(raised.value)


# -- the prefix -----------------------------------------------------------------------


def test_every_endpoint_is_served_under_the_prefix(make_edge: MakeEdge) -> None:
    sent: list[httpx.Request] = []
    client = make_edge(WebPaths.from_flags(EXTERNAL + "/", None), sent=sent)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    webhook = client.post("/incident-adapter/alerts/pd", json=make_payload(), headers=auth)
    assert webhook.status_code == 200, webhook.text
    assert len(sent) == 1
    routed = client.post("/incident-adapter/alerts", json=make_payload(), headers=auth)
    assert routed.status_code == 200
    for path in ("/-/healthy", "/-/ready", "/metrics", "/", "/docs"):
        assert client.get("/incident-adapter" + path).status_code == 200, path
    assert client.get("/incident-adapter").status_code == 200  # the page, without the slash
    landing = client.get("/incident-adapter/", headers={"Accept": "application/json"}).json()
    assert landing["receivers"]["pd"]["type"] == "events-v2"
    test = client.post("/incident-adapter/-/test/pd", json={}, headers=auth)
    assert test.json()["accepted"] is True
    reload = client.post("/incident-adapter/-/reload", headers=auth)
    assert reload.json()["status"] == "reloaded"
    assert client.get("/incident-adapter/alerts/pd").status_code == 405  # still the app's


def test_outside_the_prefix_only_probes_and_the_scrape_answer(make_edge: MakeEdge) -> None:
    sent: list[httpx.Request] = []
    client = make_edge(WebPaths.from_flags(None, "/incident-adapter"), sent=sent)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/-/healthy").json() == {"status": "healthy"}
    assert client.get("/-/ready").json() == {"status": "ready"}
    assert "incident_adapter_build_info" in client.get("/metrics").text
    missed = client.post("/alerts/pd", json=make_payload(), headers=auth)
    assert missed.status_code == 404
    assert "route prefix" in missed.json()["error"]
    assert sent == []
    assert client.get("/docs").status_code == 404
    assert client.get("/incident-adapterX/-/healthy").status_code == 404
    root = client.get("/")
    assert (root.status_code, root.headers["location"]) == (302, "/incident-adapter/")


def test_the_root_redirects_to_the_external_url(make_edge: MakeEdge) -> None:
    client = make_edge(WebPaths.from_flags(EXTERNAL, None))
    assert client.get("/").headers["location"] == EXTERNAL + "/"


def test_the_pages_links_and_forms_start_with_the_external_url(make_edge: MakeEdge) -> None:
    client = make_edge(WebPaths.from_flags(EXTERNAL + "/", None))
    page = client.get("/incident-adapter/").text
    for path in ("/metrics", "/-/healthy", "/-/ready", "/docs"):
        assert f'href="{EXTERNAL}{path}"' in page
    assert f'action="{EXTERNAL}/-/test/pd"' in page
    assert 'href="/' not in page and 'action="/' not in page
    result = client.post(
        "/incident-adapter/-/test/pd",
        data={"token": TOKEN, "resolve_after": "0"},
    ).text
    assert f'href="{EXTERNAL}/"' in result and f'action="{EXTERNAL}/-/test/pd"' in result
    refused = client.post("/incident-adapter/-/test/pd", data={"token": "wrong"})
    assert refused.status_code == 401 and f'href="{EXTERNAL}/"' in refused.text


def test_without_an_external_url_links_start_with_the_prefix(make_edge: MakeEdge) -> None:
    page = make_edge(WebPaths.from_flags(None, "/ia")).get("/ia/").text
    assert 'href="/ia/metrics"' in page and 'action="/ia/-/test/pd"' in page
    plain = make_edge().get("/").text  # no flags: as before
    assert 'href="/metrics"' in plain and 'action="/-/test/pd"' in plain


# -- the web config -------------------------------------------------------------------


def web_problem(tmp_path: Path, text: str) -> str:
    path = tmp_path / "web.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=r".*") as raised:
        load_web_config(str(path))
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("basic_auth_users:\n  alice: plain-SECRET\n", "user 'alice': the value is not a bcrypt"),
        (f"basic_auth_users:\n  alice: '{HASH[:-1]}'\n", "user 'alice': the value is not a bcrypt"),
        (
            "http_server_config:\n  headers:\n    X-Powered-By: me\n",
            "header 'X-Powered-By' cannot be set; these can: Strict-Transport-Security",
        ),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            "header X-Frame-Options: 'allow' is not one of 'deny', 'sameorigin'",
        ),
        (
            "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n",
            "X-Content-Type-Options: 'sniff' is not one of 'nosniff'",
        ),
        ("http_server_config:\n  http2: true\n", "http_server_config.http2: Value error, the"),
        ("http_server_config:\n  http3: false\n", "http_server_config.http3: Extra inputs"),
        ("rate_limit:\n  interval: 1s\n", "rate_limit: Extra inputs are not permitted"),
    ],
)
def test_a_web_config_part_that_cannot_be_honoured_is_an_error(
    tmp_path: Path, text: str, expected: str
) -> None:
    problem = web_problem(tmp_path, text)
    assert expected in problem
    assert "plain-SECRET" not in problem and HASH[:-1] not in problem


def test_http2_false_and_the_settable_headers_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(
        "http_server_config:\n  http2: false\n  headers:\n"
        "    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
        f"basic_auth_users:\n  alice: '{HASH}'\n  bob: '{HASH.replace('$2b$', '$2y$')}'\n"
    )
    web = load_web_config(str(path))
    assert sorted(web.basic_auth_users) == ["alice", "bob"]
    assert HASH not in repr(web)  # a hash prints as <secret>


def test_web_config_basic_auth_guards_every_endpoint(make_edge: MakeEdge) -> None:
    doc = pd_config()
    del doc["auth"]
    sent: list[httpx.Request] = []
    client = make_edge(web={"basic_auth_users": {"alertmanager": HASH}}, doc=doc, sent=sent)
    payload = make_payload()
    for headers in (
        {},
        basic("alertmanager", "wrong"),
        basic("mallory", PASSWORD),
        {"Authorization": f"Bearer {PASSWORD}"},
        {"Authorization": "Basic not-base64!"},
    ):
        refused = client.post("/alerts/pd", json=payload, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["www-authenticate"] == 'Basic realm="incident-adapter"'
        assert client.get("/metrics", headers=headers).status_code == 401
        assert client.get("/-/healthy", headers=headers).status_code == 401
    assert sent == []
    good = basic("alertmanager", PASSWORD)
    assert client.post("/alerts/pd", json=payload, headers=good).status_code == 200
    assert len(sent) == 1 and sent[0].read().count(ROUTING_KEY.encode()) == 1
    assert "incident_adapter_build_info" in client.get("/metrics", headers=good).text
    assert client.get("/-/healthy", headers=good).status_code == 200


def test_a_verified_credential_does_not_pay_bcrypt_again(make_edge: MakeEdge) -> None:
    """A cost of 12 takes a good fraction of a second; once verified, the answer is cached."""
    slow = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    client = make_edge(web={"basic_auth_users": {"prometheus": slow}})
    good = basic("prometheus", PASSWORD)
    started = time.perf_counter()
    assert client.get("/-/healthy", headers=good).status_code == 200
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(10):
        assert client.get("/-/healthy", headers=good).status_code == 200
    assert time.perf_counter() - started < first


def test_failed_guesses_never_push_a_users_credential_out_of_the_cache() -> None:
    """Only credentials that passed are kept: a flood of wrong passwords and unknown users
    (more than the cache holds) leaves the user's own verdict cached, each guess refused."""
    from adapter.edge import CACHE_SIZE, BasicAuthUsers

    fast = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4))
    users = BasicAuthUsers({"prometheus": fast})
    good = basic("prometheus", PASSWORD)["Authorization"]

    async def go() -> list[bool]:
        verdicts = [await users.allows(good)]
        for n in range(CACHE_SIZE + 20):
            verdicts.append(await users.allows(basic("prometheus", f"guess-{n}")["Authorization"]))
            verdicts.append(await users.allows(basic(f"nobody-{n}", PASSWORD)["Authorization"]))
        verdicts.append(await users.allows(good))
        return verdicts

    verdicts = asyncio.run(go())
    assert verdicts[0] and verdicts[-1] and not any(verdicts[1:-1])
    assert list(users._verdicts.values()) == [True]  # the one that passed, nothing else


def test_the_configured_headers_are_on_every_response(make_edge: MakeEdge) -> None:
    headers = {"X-Frame-Options": "deny", "Content-Security-Policy": "default-src 'self'"}
    client = make_edge(
        WebPaths.from_flags(None, "/ia"),
        web={"http_server_config": {"headers": headers}, "basic_auth_users": {"am": HASH}},
        doc={k: v for k, v in pd_config().items() if k != "auth"},
    )
    answers = [
        client.get("/ia/"),  # 401: no credential
        client.get("/ia/", headers=basic("am", PASSWORD)),
        client.post("/ia/alerts/pd", json=make_payload(), headers=basic("am", PASSWORD)),
        client.get("/nowhere", headers=basic("am", PASSWORD)),  # 404 outside the prefix
    ]
    assert [a.status_code for a in answers] == [401, 200, 200, 404]
    for answer in answers:
        assert answer.headers["x-frame-options"] == "deny"
        assert answer.headers["content-security-policy"] == "default-src 'self'"


def test_web_config_basic_auth_and_the_configs_own_credentials_are_one_or_the_other(
    tmp_path: Path,
) -> None:
    web = WebConfig.model_validate({"basic_auth_users": {"am": HASH}})
    assert web_guards(web, auth_enabled=False, source="c.yml") is True
    assert web_guards(None, auth_enabled=True, source="c.yml") is False
    with pytest.raises(ConfigError) as raised:
        web_guards(web, auth_enabled=True, source="c.yml")
    assert "keep one of the two" in str(raised.value)


def test_without_flags_or_web_config_the_app_is_served_as_it_is(tmp_path: Path) -> None:
    app = create_app(config_from(pd_config(), tmp_path))
    assert Edge.around(app, WebPaths(), None) is app
    assert Edge.around(app, WebPaths(), WebConfig()) is app
    assert isinstance(Edge.around(app, WebPaths.from_flags(None, "/x"), None), Edge)
    headers = WebConfig.model_validate(
        {"http_server_config": {"headers": {"X-XSS-Protection": "0"}}}
    )
    assert isinstance(Edge.around(app, WebPaths(), headers), Edge)
