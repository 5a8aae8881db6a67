from __future__ import annotations

import asyncio
import base64
import gc
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from adapter.logs import LineWriter, UTCTimestamp
from adapter.server import GC_YOUNG_THRESHOLD, JoinedWrites, bounded_protocol, settled
from tests.builders import ROUTING_KEY, TOKEN, fixture, make_alert, make_payload, pd_config

MakeClient = Callable[..., TestClient]


def test_health_ready_and_metrics_need_no_token(make_client: MakeClient) -> None:
    client = make_client()
    del client.headers["Authorization"]
    assert client.get("/-/healthy").status_code == 200
    assert client.get("/-/ready").json() == {"status": "ready"}
    metrics = client.get("/metrics").text
    # series exist at 0 for every configured receiver before any webhook
    assert (
        'incident_adapter_events_total{action="trigger",outcome="delivered",receiver="pd"} 0.0'
        in metrics
    )
    assert 'incident_adapter_webhook_requests_total{code="503",receiver="pd"} 0.0' in metrics
    assert "incident_adapter_build_info{" in metrics
    assert "incident_adapter_config_last_reload_successful 1.0" in metrics


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong",
        f"Bearer {TOKEN}x",
        f"Basic {base64.b64encode(b'u:' + TOKEN.encode()).decode()}",
        "Bearer",
        TOKEN,
    ],
)
def test_wrong_or_missing_credential_is_401_with_a_challenge(
    make_client: MakeClient, authorization: str | None
) -> None:
    calls: list[httpx.Request] = []
    client = make_client(lambda r: calls.append(r) or httpx.Response(202))
    del client.headers["Authorization"]
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post("/alerts/pd", json=make_payload(), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {"error": "missing or wrong credential"}
    assert calls == []


def test_any_of_several_tokens_is_accepted(make_client: MakeClient) -> None:
    doc = pd_config()
    doc["auth"] = {"bearer_tokens": ["old-token", TOKEN]}
    client = make_client(doc=doc)
    for token in ("old-token", TOKEN):
        assert (
            client.post(
                "/alerts/pd", json=make_payload(), headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )


def test_basic_auth_as_an_option(make_client: MakeClient) -> None:
    doc = pd_config()
    doc["auth"] = {"basic_auth": {"username": "am", "password": "hunter2-SECRET"}}
    client = make_client(doc=doc)
    good = base64.b64encode(b"am:hunter2-SECRET").decode()
    bad = base64.b64encode(b"am:hunter3").decode()
    assert (
        client.post(
            "/alerts/pd", json=make_payload(), headers={"Authorization": f"Basic {good}"}
        ).status_code
        == 200
    )
    response = client.post(
        "/alerts/pd", json=make_payload(), headers={"Authorization": f"Basic {bad}"}
    )
    assert (
        response.status_code == 401
        and response.headers["WWW-Authenticate"] == 'Basic realm="incident-adapter"'
    )


def test_edge_refusals_each_with_a_json_reason(make_client: MakeClient) -> None:
    doc = pd_config()
    doc["limits"] = {"max_body_bytes": 2048}
    client = make_client(doc=doc)
    cases = [
        (client.post("/alerts/nope", json=make_payload()), 404, "no receiver named 'nope'"),
        (
            client.post(
                "/alerts/pd",
                content=json.dumps(make_payload()),
                headers={"Content-Type": "text/plain"},
            ),
            415,
            "application/json",
        ),
        (
            client.post("/alerts/pd", content=b"{", headers={"Content-Type": "application/json"}),
            400,
            "malformed JSON",
        ),
        (client.post("/alerts/pd", json=[1]), 400, "JSON object"),
        (
            client.post("/alerts/pd", json={**make_payload(), "version": "3"}),
            400,
            "unknown payload version",
        ),
        (client.post("/alerts/pd", json={"version": "4"}), 422, "alerts: Field required"),
        (
            client.post(
                "/alerts/pd", json=make_payload(*[make_alert(instance=str(i)) for i in range(40)])
            ),
            413,
            "max_body_bytes",
        ),
        (
            client.post("/alerts", json=make_payload(receiver="other")),
            404,
            "no receiver named 'other'",
        ),
    ]
    for response, status, words in cases:
        assert response.status_code == status, (status, response.text)
        assert words in response.json()["error"]


def test_body_limit_is_enforced_while_streaming(make_client: MakeClient) -> None:
    """A chunked body without Content-Length is cut off at the limit, not read whole."""
    doc = pd_config()
    doc["limits"] = {"max_body_bytes": 4096}
    client = make_client(doc=doc)

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b" " * 1024

    response = client.post(
        "/alerts/pd", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_routing_by_the_payloads_receiver_field_with_alertmanagers_escaping(
    make_client: MakeClient,
) -> None:
    doc = pd_config()
    doc["receivers"][0]["name"] = "web.hook"
    client = make_client(doc=doc)
    response = client.post("/alerts", json=make_payload(receiver="web\\.hook"))
    assert response.status_code == 200 and response.json()["receiver"] == "web.hook"
    assert client.post("/alerts", json=make_payload(receiver="web.hook")).status_code == 200


def test_real_alertmanager_payload_mixed_group(make_client: MakeClient) -> None:
    """Captured from Alertmanager 0.25: a firing group holding a resolved alert."""
    sent: list[dict[str, object]] = []
    client = make_client(lambda r: sent.append(json.loads(r.content)) or httpx.Response(202))
    payload = fixture("am025_mixed.json")
    response = client.post("/alerts/pd", json=payload)
    assert response.status_code == 200
    by_key = {e["dedup_key"]: e["event_action"] for e in sent}
    expected = {
        a["fingerprint"]: ("trigger" if a["status"] == "firing" else "resolve")
        for a in payload["alerts"]
    }
    assert by_key == expected and "resolve" in by_key.values() and "trigger" in by_key.values()


def test_response_counts_and_outcomes(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        source = (
            json.loads(request.content)["payload"]["source"]
            if b'"trigger"' in request.content
            else ""
        )
        return httpx.Response(400 if source == "bad" else 202)

    doc = pd_config(matchers=['team="db"'])
    client = make_client(handler, doc)
    payload = make_payload(
        make_alert(instance="good", team="db"),
        make_alert(instance="bad", team="db"),
        make_alert(instance="x", team="web"),
    )
    response = client.post("/alerts/pd", json=payload)
    assert response.status_code == 424
    body = response.json()
    assert (
        body["received"],
        body["delivered"],
        body["rejected"],
        body["filtered"],
        body["failed"],
    ) == (3, 1, 1, 1, 0)
    assert sorted(a["result"] for a in body["alerts"]) == ["delivered", "filtered", "rejected"]


def test_retryable_failure_wins_over_permanent_one(make_client: MakeClient) -> None:
    """One alert 503, another 400: AM must retry (503), or the first is lost."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503 if b'"a"' in request.content else 400)

    client = make_client(handler)
    response = client.post(
        "/alerts/pd", json=make_payload(make_alert(instance="a"), make_alert(instance="b"))
    )
    assert response.status_code == 503


def test_answer_within_the_deadline_when_the_upstream_hangs(make_client: MakeClient) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(202)

    doc = pd_config()
    doc["delivery"] = {"timeout": "1500ms", "attempt_timeout": "1s", "max_attempts": 4}
    client = make_client(hang, doc)
    started = time.monotonic()
    response = client.post(
        "/alerts/pd", json=make_payload(make_alert(instance="a"), make_alert(instance="b"))
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    # The budget is 1.5 s and the upstream hangs for 30: answered at the deadline, not after the
    # hang (10 s leaves a busy machine all the room it needs and still tells the two apart).
    assert elapsed < 10.0
    assert {a["result"] for a in response.json()["alerts"]} == {"failed"}


def test_a_200_alert_group_is_delivered_concurrently(make_client: MakeClient) -> None:
    """Bounded concurrency: many requests in flight at once, never more than the bound.
    Counted, not timed: a busy machine is slower, not less concurrent."""
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return httpx.Response(202)

    doc = pd_config(rate_limit="off")
    doc["delivery"] = {"timeout": "60s", "concurrency": 32}  # sequential would take 10 s
    client = make_client(slow, doc)
    payload = make_payload(*[make_alert(instance=f"host-{i}") for i in range(200)])
    response = client.post("/alerts/pd", json=payload)
    assert response.status_code == 200 and response.json()["delivered"] == 200
    assert 8 <= peak <= 32


def test_no_configured_secret_appears_in_logs_responses_or_metrics(
    tmp_path: Path, make_client: MakeClient
) -> None:
    """A hostile upstream echoes the routing key in its error; nothing of it gets out."""

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad key {ROUTING_KEY} in {request.content.decode()}")

    (tmp_path / "tokens").write_text(f"{TOKEN}\nsecond-token-SECRET\n")
    doc = pd_config()
    doc["auth"] = {
        "bearer_tokens_file": str(tmp_path / "tokens"),
        "basic_auth": {"username": "u", "password": "basic-pw-SECRET"},
    }
    with capture_logs() as logs:
        client = make_client(echo, doc)
        texts = [
            client.post("/alerts/pd", json=make_payload()).text,
            client.post(
                "/alerts/pd",
                json=make_payload(),
                headers={"Authorization": "Bearer second-token-SECRE"},
            ).text,
            client.post("/-/reload").text,
            client.get("/metrics").text,
            client.get("/").text,
        ]
    texts.extend(json.dumps(entry, default=str) for entry in logs)
    assert any("event.failed" in t for t in texts)  # the failure was logged ...
    for secret in (ROUTING_KEY, TOKEN, "second-token-SECRET", "basic-pw-SECRET"):
        for text in texts:
            assert secret not in text  # ... without the secret


def test_logs_carry_stable_event_names_and_context(make_client: MakeClient) -> None:
    with capture_logs() as logs:
        client = make_client()
        client.post("/alerts/pd", json=make_payload())
    names = [e["event"] for e in logs]
    assert "webhook.received" in names and "event.delivered" in names
    delivered = next(e for e in logs if e["event"] == "event.delivered")
    assert delivered["receiver"] == "pd" and delivered["dedup_key"] and delivered["fingerprint"]
    assert delivered["group_key"] == make_payload()["groupKey"]


def test_log_timestamps_are_iso_utc_with_microseconds() -> None:
    stamp = UTCTimestamp()
    slack = timedelta(milliseconds=1)
    before = datetime.now(UTC)
    first = stamp(None, "info", {})["timestamp"]
    again = stamp(None, "info", {})["timestamp"]  # most likely from the cached second
    after = datetime.now(UTC)
    for text in (first, again):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text), text
        assert before - slack <= datetime.fromisoformat(text) <= after + slack


class _Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def flush(self) -> None:
        pass


def test_log_lines_of_one_loop_turn_are_one_write_in_order() -> None:
    file = _Recording()
    writer = LineWriter(file)

    async def main() -> None:
        writer.msg(b'{"event":"a"}')
        writer.msg(b'{"event":"b"}')
        assert file.writes == []  # not before the turn ends
        await asyncio.sleep(0)
        assert file.writes == [b'{"event":"a"}\n{"event":"b"}\n']
        writer.msg(b'{"event":"c"}')
        await asyncio.sleep(0)

    asyncio.run(main())
    assert file.writes[1:] == [b'{"event":"c"}\n']
    writer.msg(b'{"event":"d"}')  # no loop: at once
    assert file.writes[2:] == [b'{"event":"d"}\n']


class _Transport(_Recording):
    """A connection's transport as uvicorn uses it, recording what goes out."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True
        self.writes.append(b"<close>")

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_a_response_head_and_body_go_out_as_one_write() -> None:
    transport = _Transport()

    async def main() -> None:
        joined = JoinedWrites(transport, asyncio.get_running_loop())
        joined.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert transport.writes == []  # the head waits for the body
        joined.write(b"{}")
        assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
        # a head whose body does not come in the same turn (a streamed response) still goes
        joined.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        await asyncio.sleep(0)
        assert transport.writes[1:] == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]
        # what waits goes before the connection closes (uvicorn's 400, the adapter's 431)
        joined.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        joined.close()
        assert transport.writes[2:] == [b"HTTP/1.1 400 Bad Request\r\n\r\n", b"<close>"]
        assert joined.is_closing() and joined.get_extra_info("peername") == "info:peername"
        joined.write(b"late")  # after close: held, then dropped, as a closed transport would
        await asyncio.sleep(0)
        assert transport.writes[-1] == b"<close>"

    asyncio.run(main())


def test_the_server_answers_a_request_with_one_write() -> None:
    import uvicorn
    from uvicorn.server import ServerState

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b'{"status":"success"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", b"20")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    transport = _Transport()
    transport.get_extra_info = lambda name, default=None: default  # type: ignore[method-assign]

    async def main() -> None:
        config = uvicorn.Config(app, http=bounded_protocol(16384), log_config=None, lifespan="off")
        config.load()
        protocol = config.http_protocol_class(
            config=config, server_state=ServerState(), app_state={}
        )
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(b"GET /x HTTP/1.1\r\nHost: adapter\r\n\r\n")
        for _ in range(10):
            await asyncio.sleep(0)
        protocol.connection_lost(None)

    asyncio.run(main())
    sent = [w for w in transport.writes if w != b"<close>"]
    assert len(sent) == 1, sent  # uvicorn writes a head, then a body: here they go as one
    head, body = sent[0].split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b'{"status":"success"}'


def test_a_log_line_waiting_for_its_turn_is_written_when_the_process_exits() -> None:
    code = (
        "import asyncio, sys, structlog\n"
        "from adapter import logs\n"
        "logs.configure('info', 'json')\n"
        "async def main():\n"
        "    structlog.get_logger('t').info('last.words', n=1)\n"
        "    sys.exit(3)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 3
    (line,) = done.stderr.decode().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "last.words" and entry["level"] == "info" and entry["n"] == 1


def test_once_started_the_collector_leaves_the_startup_heap_alone() -> None:
    before = gc.get_threshold()
    try:
        settled()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_metrics_count_webhooks_events_and_truncation(make_client: MakeClient) -> None:
    registry = CollectorRegistry()
    client = make_client(registry=registry)
    client.post(
        "/alerts/pd",
        json=make_payload(
            make_alert(instance="a"), make_alert("resolved", instance="b"), truncatedAlerts=7
        ),
    )
    value = registry.get_sample_value
    assert value("incident_adapter_webhook_requests_total", {"receiver": "pd", "code": "200"}) == 1
    assert (
        value(
            "incident_adapter_events_total",
            {"receiver": "pd", "action": "trigger", "outcome": "delivered"},
        )
        == 1
    )
    assert (
        value(
            "incident_adapter_events_total",
            {"receiver": "pd", "action": "resolve", "outcome": "delivered"},
        )
        == 1
    )
    assert value("incident_adapter_truncated_alerts_total", {"receiver": "pd"}) == 7
    assert (
        value("incident_adapter_upstream_responses_total", {"receiver": "pd", "code_class": "2xx"})
        == 2
    )
    assert value("incident_adapter_alerts_per_webhook_count", {"receiver": "pd"}) == 1


def test_retries_are_counted(make_client: MakeClient) -> None:
    registry = CollectorRegistry()
    answers = iter([503, 503, 202])
    client = make_client(lambda r: httpx.Response(next(answers)), registry=registry)
    assert client.post("/alerts/pd", json=make_payload()).status_code == 200
    assert registry.get_sample_value("incident_adapter_retries_total", {"receiver": "pd"}) == 2


def test_a_retried_delivery_leaves_no_reference_cycle_behind(make_client: MakeClient) -> None:
    """What a webhook made is freed by reference counting once it is answered, retried or
    not: the running process collects cycles rarely (server.settled), so a cycle per retry
    held each retried webhook, its payload and its bodies, and RSS grew with every retry
    (the soak under faults). Every event here fails its first attempt: a 503, or for every
    fourth a hang past the attempt timeout."""
    first_attempts: list[bytes] = []

    async def fail_first(request: httpx.Request) -> httpx.Response:
        if request.content in first_attempts:
            return httpx.Response(202, json={"status": "success"})
        first_attempts.append(request.content)
        if len(first_attempts) % 4 == 0:
            await asyncio.sleep(5)  # cut at the attempt timeout
        return httpx.Response(503)

    doc = pd_config(rate_limit="off")  # 60 events at once: the default budget would refuse
    doc["delivery"] = {"timeout": "30s", "attempt_timeout": "100ms", "max_attempts": 2}
    client = make_client(fail_first, doc)
    client.post("/alerts/pd", json=make_payload())  # warm: what the first webhook loads
    gc.collect()
    gc.disable()
    try:
        for n in range(30):
            alerts = [make_alert(instance=f"h{n}-{i}") for i in range(1 + n % 3)]
            assert client.post("/alerts/pd", json=make_payload(*alerts)).status_code == 200
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
    finally:
        gc.set_debug(0)
        gc.enable()
    garbage, gc.garbage[:] = list(gc.garbage), []
    assert len(first_attempts) == 1 + 60  # every event failed once (and the warm-up)
    # The adapter's own objects (payload, alerts, events, deliveries, requests): before, each
    # retried event left ~65 objects in a cycle with tenacity's retry state, these among them.
    held = Counter(
        type(o).__qualname__ for o in garbage if type(o).__module__.startswith("adapter.")
    )
    assert not held, held


def test_the_webhook_paths_answer_other_methods_and_deeper_paths_like_any_route(
    make_client: MakeClient,
) -> None:
    """The webhook is called ahead of Starlette's router (adapter/app.py): only a POST to
    /alerts or /alerts/NAME reaches it; anything else on those paths is Starlette's."""
    calls: list[httpx.Request] = []
    client = make_client(lambda r: calls.append(r) or httpx.Response(202))
    for path in ("/alerts", "/alerts/pd"):
        response = client.get(path)
        assert response.status_code == 405, path
        assert response.headers["allow"] == "POST"
    assert client.post("/alerts/pd/more", json=make_payload()).status_code == 404
    assert client.post("/alertsx", json=make_payload()).status_code == 404
    assert calls == []
    response = client.post("/alerts/pd", json=make_payload())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert len(calls) == 1


def test_an_unexpected_error_while_sending_fails_that_alert_and_the_next_webhook_works(
    make_client: MakeClient,
) -> None:
    """A bug below the adapter while sending one alert fails that alert (retryable: 503),
    logged as event.error without a secret, never the webhook (a 500, issue 20)."""
    broken = {"on": True}

    def upstream(request: httpx.Request) -> httpx.Response:
        if broken["on"]:
            raise RuntimeError(f"a bug below the adapter, echoing {ROUTING_KEY}")
        return httpx.Response(202)

    registry = CollectorRegistry()
    client = make_client(upstream, registry=registry)
    with capture_logs() as logs:
        response = client.post("/alerts/pd", json=make_payload())
    assert response.status_code == 503
    [alert] = response.json()["alerts"]
    assert alert["result"] == "failed" and "RuntimeError" in alert["detail"]
    assert [line["event"] for line in logs if line["log_level"] == "error"] == ["event.error"]
    assert ROUTING_KEY not in json.dumps(logs, default=str) + response.text
    counted = registry.get_sample_value(
        "incident_adapter_webhook_requests_total", {"receiver": "pd", "code": "503"}
    )
    assert counted == 1
    broken["on"] = False
    assert client.post("/alerts/pd", json=make_payload()).status_code == 200


def test_bearer_with_nothing_after_it_never_passes() -> None:
    """Even an authenticator handed an empty token (the config refuses one) lets no empty
    credential through."""
    from adapter.auth import Authenticator
    from adapter.config.web import AuthSettings
    from adapter.secrets import Secret

    auth = Authenticator(AuthSettings.model_construct(bearer_tokens=[Secret("")]))
    assert auth.enabled
    for header in ("Bearer", "Bearer ", "Bearer   ", "bearer \t", "Basic", "Basic "):
        assert not auth.allows(header), header


def test_landing_page_and_metrics_can_be_put_behind_the_credential(
    make_client: MakeClient,
) -> None:
    """auth.protect: [landing, metrics]; health and readiness never need a token (a kubelet
    sends none)."""
    doc = pd_config()
    doc["auth"]["protect"] = ["landing", "metrics"]
    client = make_client(doc=doc)
    token = client.headers.pop("Authorization")
    for path in ("/", "/metrics"):
        refused = client.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.json() == {"error": "missing or wrong credential"}
        assert "pd" not in refused.text
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers={"Authorization": token}).status_code == 200, path
    as_json = client.get("/", headers={"Accept": "application/json"})
    assert as_json.status_code == 401
    assert client.get("/-/healthy").status_code == 200
    assert client.get("/-/ready").status_code == 200
    # only what is named: metrics alone leaves the page open
    doc["auth"]["protect"] = ["metrics"]
    client = make_client(doc=doc)
    del client.headers["Authorization"]
    assert client.get("/").status_code == 200
    assert client.get("/metrics").status_code == 401


def test_protect_without_a_credential_is_a_config_error(tmp_path: Path) -> None:
    from adapter.config.loader import ConfigError, load_config

    doc = pd_config()
    doc["auth"] = {"protect": ["metrics"]}
    (tmp_path / "c.yml").write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "c.yml")
    assert info.value.problems == [
        "auth: protect needs a credential to check: set bearer_tokens_file, bearer_tokens or "
        "basic_auth"
    ]
    doc["auth"] = {"bearer_tokens": [TOKEN], "protect": ["health"]}
    (tmp_path / "c.yml").write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "c.yml")
    assert info.value.problems[0].startswith("auth.protect[0]: ")
