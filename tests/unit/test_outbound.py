"""Outbound security per receiver: TLS to the upstream (CA, client certificate, skip-verify),
proxy, extra headers from files; through the real aiohttp transport, and TLS and the proxy
through the httpx one too."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from adapter.app import create_app
from adapter.config.loader import ConfigError, load_config
from adapter.transport import HttpxTransport, Transport
from tests.builders import ROUTING_KEY, TOKEN, make_payload, pd_config
from tests.harness.certs import make_cert
from tests.harness.server import Server
from tests.standins.events import EventsAPI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_cert("ca", None, directory, ca=True)
    make_cert("upstream", ca, directory)
    make_cert("adapter", ca, directory)
    return directory


def adapter_for(tmp_path: Path, transport: Transport | None = None, **receiver: Any) -> TestClient:
    path = tmp_path / "c.yml"
    doc = pd_config(rate_limit="off", **receiver)
    # Not about the deadline: TLS handshakes on a busy machine get all the time they need.
    doc["delivery"] = {"timeout": "30s", "attempt_timeout": "10s", "max_attempts": 4}
    path.write_text(yaml.safe_dump(doc))
    # No transport given: aiohttp, as in production.
    client = TestClient(create_app(load_config(path), transport=transport))
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


def close(client: TestClient, transport: Transport | None) -> None:
    """A transport the test made is the test's to close (the app closes only its own), on
    the loop its connections live on."""
    if transport is not None:
        assert client.portal is not None
        client.portal.call(transport.aclose)


@pytest.fixture
def tls_upstream(pki: Path) -> Iterator[tuple[EventsAPI, Server]]:
    """The Events API stand-in over HTTPS, requiring a client certificate from our CA."""
    api = EventsAPI()
    options = {
        "ssl_certfile": str(pki / "upstream.crt"),
        "ssl_keyfile": str(pki / "upstream.key"),
        "ssl_ca_certs": str(pki / "ca.crt"),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }
    with Server(api.app(), **options) as server:
        yield api, server


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
def test_mutual_tls_to_the_upstream(
    tmp_path: Path, pki: Path, tls_upstream: tuple[EventsAPI, Server], client: str
) -> None:
    api, server = tls_upstream
    tls = {
        "ca_file": str(pki / "ca.crt"),
        "cert_file": str(pki / "adapter.crt"),
        "key_file": str(pki / "adapter.key"),
    }
    transport = HttpxTransport() if client == "httpx" else None
    with adapter_for(
        tmp_path, transport, url=server.url + "/v2/enqueue", http_config={"tls_config": tls}
    ) as adapter:
        assert adapter.post("/alerts/pd", json=make_payload()).status_code == 200
        close(adapter, transport)
    assert len(api.open_keys()) == 1


@pytest.mark.parametrize("missing", ["ca_file", "cert_file"])
def test_without_the_ca_or_the_client_certificate_nothing_is_sent(
    tmp_path: Path, pki: Path, tls_upstream: tuple[EventsAPI, Server], missing: str
) -> None:
    api, server = tls_upstream
    tls = {
        "ca_file": str(pki / "ca.crt"),
        "cert_file": str(pki / "adapter.crt"),
        "key_file": str(pki / "adapter.key"),
    }
    del tls[missing]
    if missing == "cert_file":
        del tls["key_file"]
    with adapter_for(
        tmp_path, url=server.url + "/v2/enqueue", http_config={"tls_config": tls}
    ) as client:
        response = client.post("/alerts/pd", json=make_payload())
    assert response.status_code == 503  # a TLS failure may be a rotation in progress: retryable
    assert api.events == []


def test_insecure_skip_verify_works_and_warns(tmp_path: Path, pki: Path) -> None:
    api = EventsAPI()
    options = {"ssl_certfile": str(pki / "upstream.crt"), "ssl_keyfile": str(pki / "upstream.key")}
    with (
        Server(api.app(), **options) as server,
        capture_logs() as logs,
        adapter_for(
            tmp_path,
            url=server.url + "/v2/enqueue",
            http_config={"tls_config": {"insecure_skip_verify": True}},
        ) as client,
    ):
        assert client.post("/alerts/pd", json=make_payload()).status_code == 200
    assert len(api.open_keys()) == 1
    assert any(e["event"] == "config.insecure_skip_verify" and e["receiver"] == "pd" for e in logs)


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
def test_proxy_url_is_used(tmp_path: Path, client: str) -> None:
    """The upstream's host does not resolve; only a request sent through the proxy arrives."""
    api = EventsAPI()  # serves absolute-form requests as a forward proxy would pass them on
    transport = HttpxTransport() if client == "httpx" else None
    with (
        Server(api.app()) as proxy,
        adapter_for(
            tmp_path,
            transport,
            url="http://events.pagerduty.invalid/v2/enqueue",
            http_config={"proxy_url": proxy.url},
        ) as adapter,
    ):
        assert adapter.post("/alerts/pd", json=make_payload()).status_code == 200
        close(adapter, transport)
    assert len(api.open_keys()) == 1


def test_headers_from_files_are_sent_and_never_shown(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []
    api = EventsAPI()
    original = api.enqueue

    async def recording(request: Any) -> Any:
        seen.append(dict(request.headers))
        return await original(request)

    api.enqueue = recording  # type: ignore[method-assign]
    (tmp_path / "org-key").write_text("org-key-SECRET-123\n")
    http = {"headers": {"X-Team": "sre"}, "header_files": {"X-Org-Key": str(tmp_path / "org-key")}}
    with (
        Server(api.app()) as server,
        capture_logs() as logs,
        adapter_for(tmp_path, url=server.url + "/v2/enqueue", http_config=http) as client,
    ):
        response = client.post("/alerts/pd", json=make_payload())
    assert response.status_code == 200
    assert seen[0]["x-team"] == "sre" and seen[0]["x-org-key"] == "org-key-SECRET-123"
    config = load_config(tmp_path / "c.yml")
    assert "org-key-SECRET-123" in config.secret_values()  # so render and logs scrub it
    for text in (response.text, json.dumps(logs, default=str), repr(config)):
        assert "org-key-SECRET-123" not in text and ROUTING_KEY not in text


def test_bad_http_config_is_a_config_error(tmp_path: Path, pki: Path) -> None:
    path = tmp_path / "c.yml"
    (tmp_path / "garbage.pem").write_text("not a certificate")
    doc = pd_config(
        http_config={
            "tls_config": {
                "ca_file": str(tmp_path / "garbage.pem"),
                "cert_file": str(pki / "adapter.crt"),
            },
            "proxy_url": "socks5://x",
        }
    )
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = "\n".join(info.value.problems)
    assert "receivers[0].http_config.tls_config: cert_file and key_file go together" in problems
    assert "receivers[0].http_config.proxy_url: proxy_url must be an http(s) URL" in problems


def test_the_environments_proxy_is_read_once_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY / NO_PROXY apply as users of Prometheus tools expect, without trust_env."""
    api = EventsAPI()
    with Server(api.app()) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "bypassed.invalid")
        with adapter_for(tmp_path, url="http://events.pagerduty.invalid/v2/enqueue") as client:
            assert client.post("/alerts/pd", json=make_payload()).status_code == 200
        assert len(api.open_keys()) == 1
        with adapter_for(tmp_path, url="http://bypassed.invalid/v2/enqueue") as client:
            assert (
                client.post("/alerts/pd", json=make_payload()).status_code == 503
            )  # no proxy: DNS fails
