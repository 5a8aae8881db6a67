"""Day-2 operations: reload (POST /-/reload, SIGHUP), and the landing page."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from adapter.app import create_app
from adapter.config.loader import load_config
from adapter.transport import HttpxTransport
from tests.builders import ROUTING_KEY, TOKEN, make_alert, make_payload, pd_config
from tests.harness.adapter import AdapterProcess
from tests.harness.server import Server
from tests.standins.events import EventsAPI


def client_for(path: Path, registry: CollectorRegistry) -> TestClient:
    transport = HttpxTransport(httpx.MockTransport(lambda r: httpx.Response(202)))
    app = create_app(
        load_config(path), transport=transport, registry=registry, config_path=str(path)
    )
    return TestClient(app)


def test_reload_picks_up_new_receivers_and_rotated_tokens(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    doc = pd_config()
    doc["auth"] = {"bearer_tokens_file": str(tokens)}
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(doc))
    registry = CollectorRegistry()
    old, new = {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Bearer rotated-token"}
    with client_for(config, registry) as client:
        assert client.post("/alerts/second", json=make_payload(), headers=old).status_code == 404
        doc["receivers"].append({"name": "second", "type": "log"})
        config.write_text(yaml.safe_dump(doc))
        tokens.write_text("rotated-token\n")  # the Secret was replaced: the file changes
        assert client.post("/-/reload", headers=new).status_code == 401  # not yet reloaded
        response = client.post("/-/reload", headers=old)
        assert response.status_code == 200 and response.json()["receivers"] == ["pd", "second"]
        assert client.post("/alerts/second", json=make_payload(), headers=new).status_code == 200
        assert client.post("/alerts/pd", json=make_payload(), headers=old).status_code == 401
    assert registry.get_sample_value("incident_adapter_config_last_reload_successful") == 1
    # the new receiver's series exist at 0 too
    assert (
        registry.get_sample_value(
            "incident_adapter_events_total",
            {"receiver": "second", "action": "resolve", "outcome": "failed"},
        )
        == 0
    )


def test_a_bad_config_is_refused_and_the_old_one_keeps_serving(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(pd_config()))
    registry = CollectorRegistry()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with client_for(config, registry) as client:
        before = registry.get_sample_value(
            "incident_adapter_config_last_reload_success_timestamp_seconds"
        )
        config.write_text(
            yaml.safe_dump(pd_config(severity={"default": "urgent"}, routing_key_file="/nope"))
        )
        response = client.post("/-/reload", headers=headers)
        assert response.status_code == 400
        assert any("severity.default" in p for p in response.json()["problems"])
        assert ROUTING_KEY not in response.text
        assert client.post("/alerts/pd", json=make_payload(), headers=headers).status_code == 200
    assert registry.get_sample_value("incident_adapter_config_last_reload_successful") == 0
    after = registry.get_sample_value(
        "incident_adapter_config_last_reload_success_timestamp_seconds"
    )
    assert before is not None and after == before


def test_a_reload_does_not_refill_a_spent_rate_budget(tmp_path: Path) -> None:
    """PagerDuty counts requests per routing key whatever the adapter reloads: a reload in
    a storm must not hand out a second minute's worth at once."""
    sent: list[bytes] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(202)

    config = tmp_path / "c.yml"
    doc = pd_config(rate_limit={"requests": 2, "per": "1h"})
    config.write_text(yaml.safe_dump(doc))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    app = create_app(
        load_config(config),
        transport=HttpxTransport(httpx.MockTransport(upstream)),
        registry=CollectorRegistry(),
        config_path=str(config),
    )

    def post(instance: str) -> httpx.Response:
        alert = make_alert(instance=instance, severity="critical")
        return client.post("/alerts/pd", json=make_payload(alert), headers=headers)

    with TestClient(app) as client:
        assert [post("a").status_code, post("b").status_code] == [200, 200]
        assert post("c").status_code == 503  # the hour's two are spent

        def reload(rate_limit: object) -> None:
            doc["receivers"][0]["rate_limit"] = rate_limit
            config.write_text(yaml.safe_dump(doc))
            assert client.post("/-/reload", headers=headers).status_code == 200

        reload({"requests": 2, "per": "1h"})  # the same terms: the same budget
        answer = post("c")
        assert answer.status_code == 503 and int(answer.headers["retry-after"]) > 60
        reload({"requests": 3, "per": "1h"})  # new terms count what was sent: one more
        assert [post("c").status_code, post("d").status_code] == [200, 503]
        reload("off")  # turning the budget off is the operator's explicit say-so
        assert post("d").status_code == 200
    assert len(sent) == 4


def test_landing_page_shows_receivers_and_their_last_answers(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    doc = pd_config()
    doc["receivers"].append({"name": "dry", "type": "log"})
    config.write_text(yaml.safe_dump(doc))
    with client_for(config, CollectorRegistry()) as client:
        client.post("/alerts/pd", json=make_payload(), headers={"Authorization": f"Bearer {TOKEN}"})
        page = client.get("/")
        assert page.headers["content-type"].startswith("text/html")
        assert "<td>pd</td><td>events-v2</td><td>20" in page.text  # a last success time
        assert "<td>dry</td><td>log</td><td>never</td><td>never</td>" in page.text
        assert 'href="/metrics"' in page.text and 'href="/docs"' in page.text
        assert ROUTING_KEY not in page.text and TOKEN not in page.text
        state = client.get("/", headers={"Accept": "application/json"}).json()
        assert state["receivers"]["pd"]["type"] == "events-v2"
        assert state["receivers"]["pd"]["last_success"] is not None
        assert state["receivers"]["dry"]["last_failure"] is None
        docs = client.get("/docs")
        assert docs.status_code == 200 and "# incident-adapter" in docs.text


def test_sighup_reloads_a_running_process(tmp_path: Path) -> None:
    doc: dict[str, Any] = {"receivers": [{"name": "one", "type": "log"}]}
    adapter = AdapterProcess(tmp_path, doc)
    with adapter:
        doc["receivers"].append({"name": "two", "type": "log"})
        adapter.config.write_text(yaml.safe_dump(doc))
        assert adapter.proc is not None
        adapter.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60  # a ceiling for a busy machine, not an expectation
        payload = make_payload(receiver="two")
        while httpx.post(adapter.url + "/alerts/two", json=payload).status_code != 200:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.05)
        proc = adapter.proc
    assert proc.returncode == 0
    assert "config.reloaded" in [e.get("event") for e in adapter.events()]


def test_replacing_the_token_file_rotates_tokens_without_a_reload(tmp_path: Path) -> None:
    """As Kubernetes does with a mounted Secret: the file changes, nobody signals."""
    tokens = tmp_path / "tokens"
    tokens.write_text("first-token\n")
    doc = pd_config()
    doc["auth"] = {"bearer_tokens_file": str(tokens)}
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(doc))
    transport = HttpxTransport(httpx.MockTransport(lambda r: httpx.Response(202)))
    app = create_app(load_config(config), transport=transport, token_poll=0.05)

    def status(token: str) -> int:
        return client.post(
            "/alerts/pd", json=make_payload(), headers={"Authorization": f"Bearer {token}"}
        ).status_code

    def until(done: Callable[[], bool], content: str, what: str) -> None:
        """Write `content` until `done`: each write is a change, whenever the poller first
        looked (no fixed sleep that a busy machine outlasts)."""
        deadline = time.monotonic() + 60
        while not done():
            assert time.monotonic() < deadline, what
            tokens.write_text(content)
            time.sleep(0.05)

    with TestClient(app) as client:
        assert status("first-token") == 200
        # rotation: old and new side by side
        until(lambda: status("second-token") == 200, "first-token\nsecond-token\n", "not accepted")
        assert status("first-token") == 200
        with capture_logs() as logs:  # a half-written file keeps the tokens in force
            until(lambda: any(e["event"] == "auth.tokens_unreadable" for e in logs), "", "not seen")
            assert status("second-token") == 200
        until(lambda: status("first-token") == 401, "second-token\n", "the old one not retired")


def test_a_reload_that_would_fail_at_start_keeps_the_old_config_and_says_why(
    tmp_path: Path,
) -> None:
    """An empty basic-auth password passed the load and failed setting up (a bare 500); a
    short token passes the load and fails the checks of a listener off loopback. Both are
    refused the same way: JSON naming the path, the log line, the metric, the old config."""
    config = tmp_path / "c.yml"
    doc = pd_config()
    config.write_text(yaml.safe_dump(doc))
    registry = CollectorRegistry()
    transport = HttpxTransport(httpx.MockTransport(lambda r: httpx.Response(202)))
    app = create_app(
        load_config(config),
        transport=transport,
        registry=registry,
        config_path=str(config),
        listen_host="0.0.0.0",
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    refused = [
        ({"basic_auth": {"username": "am", "password": ""}}, "auth.basic_auth.password: "),
        ({"bearer_tokens": ["short-SECRET"]}, "auth.bearer_tokens[0]: shorter than 16"),
    ]
    with TestClient(app) as client:
        for auth, problem in refused:
            config.write_text(yaml.safe_dump({**doc, "auth": auth}))
            with capture_logs() as logs:
                response = client.post("/-/reload", headers=headers)
            assert response.status_code == 400
            body = response.json()
            assert body["error"] == "config not reloaded; the old one stays"
            assert any(p.startswith(problem) for p in body["problems"]), body
            assert "SECRET" not in response.text and "Traceback" not in response.text
            (failed,) = [e for e in logs if e["event"] == "config.reload_failed"]
            assert any(p.startswith(problem) for p in failed["problems"])
            assert "SECRET" not in repr(logs)
            assert registry.get_sample_value("incident_adapter_config_last_reload_successful") == 0
            # the old credential and receivers still serve
            assert (
                client.post("/alerts/pd", json=make_payload(), headers=headers).status_code == 200
            )


def test_sighup_with_a_config_that_cannot_start_is_a_failed_reload(tmp_path: Path) -> None:
    """Before, SIGHUP with `password: ""` raised past the reload: no config.reload_failed,
    the metric stayed 1."""
    doc = pd_config()
    adapter = AdapterProcess(tmp_path, {**doc, "receivers": [{"name": "one", "type": "log"}]})
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with adapter:
        adapter.config.write_text(
            yaml.safe_dump(
                {
                    "auth": {"basic_auth": {"username": "am", "password": ""}},
                    "receivers": [{"name": "one", "type": "log"}],
                }
            )
        )
        assert adapter.proc is not None
        adapter.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60  # a ceiling for a busy machine, not an expectation
        while "config.reload_failed" not in [e.get("event") for e in adapter.events()]:
            assert time.monotonic() < deadline, "SIGHUP's failure was not reported"
            time.sleep(0.05)
        metrics = httpx.get(adapter.url + "/metrics").text
        assert "incident_adapter_config_last_reload_successful 0.0" in metrics
        payload = make_payload(receiver="one")
        assert (
            httpx.post(adapter.url + "/alerts/one", json=payload, headers=headers).status_code
            == 200
        )
    (failed,) = [e for e in adapter.events() if e.get("event") == "config.reload_failed"]
    assert failed["problems"] == ["auth.basic_auth.password: must not be empty or only whitespace"]


def test_a_receiver_removed_by_a_reload_leaves_no_series_behind(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    doc = pd_config()
    doc["receivers"].append({"name": "gone", "type": "log"})
    config.write_text(yaml.safe_dump(doc))
    registry = CollectorRegistry()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with client_for(config, registry) as client:
        payload = make_payload(receiver="gone")
        assert client.post("/alerts/gone", json=payload, headers=headers).status_code == 200
        assert 'receiver="gone"' in client.get("/metrics").text
        doc["receivers"].pop()
        config.write_text(yaml.safe_dump(doc))
        assert client.post("/-/reload", headers=headers).status_code == 200
        text = client.get("/metrics").text
        assert 'receiver="gone"' not in text
        assert 'incident_adapter_webhook_requests_total{code="200",receiver="pd"} 0.0' in text
        # and back: its series start again at 0
        doc["receivers"].append({"name": "gone", "type": "log"})
        config.write_text(yaml.safe_dump(doc))
        assert client.post("/-/reload", headers=headers).status_code == 200
        assert 'incident_adapter_webhook_requests_total{code="200",receiver="gone"} 0.0' in (
            client.get("/metrics").text
        )


def test_sigterm_never_cuts_a_webhook_inside_a_deadline_longer_than_20s(tmp_path: Path) -> None:
    """The grace after SIGTERM was a fixed 20 s: a webhook with a 30 s delivery.timeout was
    cut with uvicorn's plain-text 500. It now follows the longest delivery.timeout."""
    api = EventsAPI()
    api.delay = 22  # past the old 20 s grace, well inside the 30 s deadline
    with Server(api.app()) as upstream:
        doc = pd_config(url=upstream.url + "/v2/enqueue", rate_limit="off")
        doc["delivery"] = {"timeout": "30s", "attempt_timeout": "29s", "max_attempts": 1}
        adapter = AdapterProcess(tmp_path, doc, "--log.level=debug").start()
        answers: list[httpx.Response] = []
        headers = {"Authorization": f"Bearer {TOKEN}"}
        inflight = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    adapter.url + "/alerts/pd", json=make_payload(), headers=headers, timeout=60
                )
            )
        )
        inflight.start()
        deadline = time.monotonic() + 30  # a ceiling for a busy machine
        while not any(e.get("event") == "webhook.received" for e in adapter.events()):
            assert time.monotonic() < deadline, "the webhook never arrived"
            time.sleep(0.02)
        assert adapter.proc is not None
        adapter.proc.terminate()
        time.sleep(1)
        try:  # draining: not ready (or no longer accepting at all)
            ready = httpx.get(adapter.url + "/-/ready", timeout=5).status_code
        except httpx.TransportError:
            ready = 503
        assert ready == 503
        inflight.join(timeout=60)
        code = adapter.proc.wait(timeout=60)
    (answer,) = answers
    assert answer.status_code == 200, answer.text
    assert answer.json()["delivered"] == 1
    assert len(api.open_keys()) == 1
    assert code == 0


def test_a_rotation_to_a_short_token_off_loopback_is_refused(tmp_path: Path) -> None:
    """The rotation path checks what the start checks: the old tokens stay in force."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    doc = pd_config()
    doc["auth"] = {"bearer_tokens_file": str(tokens)}
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(doc))
    transport = HttpxTransport(httpx.MockTransport(lambda r: httpx.Response(202)))
    app = create_app(
        load_config(config), transport=transport, token_poll=0.05, listen_host="0.0.0.0"
    )
    with TestClient(app) as client, capture_logs() as logs:
        deadline = time.monotonic() + 60  # a ceiling for a busy machine
        while not any(e["event"] == "auth.tokens_refused" for e in logs):
            assert time.monotonic() < deadline, "the short token was not refused"
            tokens.write_text("short-SECRET\n")  # each write a change, whenever the poll looked
            time.sleep(0.05)
        for token, status in ((TOKEN, 200), ("short-SECRET", 401)):
            headers = {"Authorization": f"Bearer {token}"}
            assert (
                client.post("/alerts/pd", json=make_payload(), headers=headers).status_code
                == status
            )
    assert "short-SECRET" not in repr(logs)
