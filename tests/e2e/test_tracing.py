"""Tracing end to end: the adapter as a real process exports its spans over OTLP (HTTP and
gRPC) to a collector stand-in (tests/standins/otlp.py). A webhook with Alertmanager's
`traceparent` becomes a server span in that trace, with a client span per upstream request
under it; the upstream request carries the trace on; log lines carry its ids; no secret is
in anything exported."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.builders import ROUTING_KEY, TOKEN, make_alert, make_payload, pd_config
from tests.harness.adapter import AdapterProcess
from tests.harness.process import wait_for
from tests.harness.server import Server
from tests.harness.system import require_extra
from tests.standins.echo import Echo

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
HEADER_SECRET = "otlp-tenant-token-SECRET-0042"


@pytest.fixture(autouse=True)
def _extra() -> None:
    require_extra("opentelemetry.sdk", "tracing")
    require_extra("opentelemetry.proto", "tracing")
    require_extra("grpc", "tracing")


@contextlib.contextmanager
def collector(client_type: str) -> Iterator[tuple[Any, str]]:
    """A collector stand-in for `client_type`: (its Collector, the endpoint as host:port)."""
    from tests.standins.otlp import Collector, GrpcReceiver

    spans = Collector()
    if client_type == "http":
        with Server(spans) as server:
            yield spans, f"127.0.0.1:{server.port}"
    else:
        with GrpcReceiver(spans) as receiver:
            yield spans, receiver.endpoint


def traced_config(upstream: str, endpoint: str, client_type: str) -> dict[str, Any]:
    doc = pd_config(url=f"{upstream}/v2/enqueue")
    doc["tracing"] = {
        "client_type": client_type,
        "endpoint": endpoint,
        "insecure": True,
        "headers": {"X-Scope-OrgID": HEADER_SECRET},
        "compression": "gzip",
    }
    return doc


@pytest.mark.parametrize("client_type", ["http", "grpc"])
def test_a_webhook_continues_alertmanagers_trace(tmp_path: Path, client_type: str) -> None:
    upstream = Echo(status=202)
    with collector(client_type) as (spans, endpoint), Server(upstream) as api:
        doc = traced_config(api.url, endpoint, client_type)
        with AdapterProcess(tmp_path, doc) as adapter:
            payload = make_payload(
                make_alert(severity="critical"), make_alert(instance="db-02", severity="warning")
            )
            answer = httpx.post(
                f"{adapter.url}/alerts/pd",
                json=payload,
                headers={
                    "Authorization": f"Bearer {TOKEN}",
                    "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
                },
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            # The batch goes within a second or so; a busy machine may take longer.
            wait_for(lambda: len(spans.of_kind("client")) >= 2, 30, "the client spans")
            wait_for(lambda: spans.of_kind("server"), 30, "the server span")

    (server,) = spans.of_kind("server")
    assert server.name == "POST /alerts/{receiver}"
    assert (server.trace_id, server.parent_span_id) == (TRACE_ID, CALLER_SPAN)
    assert server.service == "incident-adapter"
    assert server.attributes["incident_adapter.receiver"] == "pd"
    assert server.attributes["incident_adapter.alerts"] == 2
    assert server.attributes["http.response.status_code"] == 200
    assert not server.error

    clients = spans.of_kind("client")
    assert len(clients) == 2
    for client in clients:
        assert (client.trace_id, client.parent_span_id) == (TRACE_ID, server.span_id)
        assert client.name == "POST events-v2"
        attributes = client.attributes
        assert attributes["incident_adapter.dialect"] == "events-v2"
        assert attributes["incident_adapter.receiver"] == "pd"
        assert attributes["incident_adapter.action"] == "trigger"
        assert attributes["incident_adapter.dedup_key"]
        assert attributes["http.response.status_code"] == 202
        assert attributes["incident_adapter.attempts"] == 1
        assert attributes["incident_adapter.verdict"] == "delivered"
        assert attributes["server.address"] == "127.0.0.1"

    # The upstream requests carried the trace on, each with its client span as the parent.
    sent = {r.headers["traceparent"] for r in upstream.requests}
    assert sent == {f"00-{TRACE_ID}-{c.span_id}-01" for c in clients}

    # The collector's headers arrived; no secret is in what was exported.
    assert all(h.get("x-scope-orgid") == HEADER_SECRET for h in spans.headers)
    exported = b"".join(spans.exports)
    for secret in (ROUTING_KEY, TOKEN, HEADER_SECRET):
        assert secret.encode() not in exported

    # The log lines of the webhook carry its trace.
    delivered = [e for e in adapter.events() if e.get("event") == "event.delivered"]
    assert len(delivered) == 2
    assert all(e["trace_id"] == TRACE_ID for e in delivered)
    assert {e["span_id"] for e in delivered} == {server.span_id}
    log = adapter.log.read_text()
    assert HEADER_SECRET not in log


def test_unsampled_caller_and_zero_fraction_export_nothing(tmp_path: Path) -> None:
    """Alertmanager's sampling: a parent that did not sample, and sampling_fraction 0 for
    traces the adapter would start: no spans, no trace ids in the log. A failing upstream's
    span, sampled by the caller, says so."""
    upstream = Echo(status=400)
    with collector("http") as (spans, endpoint), Server(upstream) as api:
        doc = traced_config(api.url, endpoint, "http")
        with AdapterProcess(tmp_path, doc) as adapter:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            for headers in ({"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-00"}, {}):
                answer = httpx.post(
                    f"{adapter.url}/alerts/pd",
                    json=make_payload(make_alert()),
                    headers=auth | headers,
                    timeout=30,
                )
                assert answer.status_code == 424, answer.text
            sampled = "1" * 32
            answer = httpx.post(
                f"{adapter.url}/alerts/pd",
                json=make_payload(make_alert()),
                headers=auth | {"traceparent": f"00-{sampled}-{CALLER_SPAN}-01"},
                timeout=30,
            )
            assert answer.status_code == 424
            wait_for(lambda: spans.of_kind("client"), 30, "the client span")
    assert {s.trace_id for s in spans.spans} == {sampled}
    (client,) = spans.of_kind("client")
    assert client.error and client.attributes["incident_adapter.verdict"] == "reject"
    assert client.attributes["http.response.status_code"] == 400
    (server,) = spans.of_kind("server")
    assert server.attributes["http.response.status_code"] == 424
    failed = [e for e in adapter.events() if e.get("event") == "event.failed"]
    assert [e.get("trace_id") for e in failed] == [None, None, sampled]


def test_a_reload_starts_and_stops_tracing(tmp_path: Path) -> None:
    """Tracing follows the config: added by a reload it starts, removed it stops."""
    upstream = Echo(status=202)
    with collector("http") as (spans, endpoint), Server(upstream) as api:
        doc = traced_config(api.url, endpoint, "http")
        plain = {k: v for k, v in doc.items() if k != "tracing"}
        with AdapterProcess(tmp_path, plain) as adapter:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            traced = auth | {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}

            def webhook() -> None:
                # A new alert each time: the delivery memo would skip a repeated one.
                payload = make_payload(make_alert(instance=f"n{len(upstream.requests)}"))
                answer = httpx.post(
                    f"{adapter.url}/alerts/pd", json=payload, headers=traced, timeout=30
                )
                assert answer.status_code == 200, answer.text

            webhook()
            assert "traceparent" not in upstream.requests[-1].headers
            for step in (doc, plain):
                adapter.config.write_text(yaml.safe_dump(step))
                reload = httpx.post(f"{adapter.url}/-/reload", headers=auth, timeout=30)
                assert reload.status_code == 200, reload.text
                webhook()
            # The reload that removed tracing flushed what the first one had made.
            wait_for(lambda: spans.of_kind("server"), 30, "the server span")
    assert len(spans.of_kind("server")) == 1
    assert [("traceparent" in r.headers) for r in upstream.requests] == [False, True, False]
