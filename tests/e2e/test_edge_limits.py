"""Limits at the edge, against a real server: head size, slow bodies, alert count, labels, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapter.app import create_app
from tests.builders import TOKEN, config_from, make_alert, make_payload, pd_config
from tests.harness.adapter import AdapterProcess, run_adapter
from tests.harness.certs import make_cert

LOG_RECEIVER = {
    "receivers": [{"name": "dry", "type": "log"}],
    "delivery": {"timeout": "1s", "attempt_timeout": "500ms"},
}


def raw(port: int, data: bytes, wait: float = 5.0) -> bytes:
    """Send bytes as they are; the first answer that comes back (the connection may stay open)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        # the server may answer and close before a huge head is all sent
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(data)
        try:
            return sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return b""


def test_an_oversized_request_head_gets_431(tmp_path: Path) -> None:
    with AdapterProcess(tmp_path, LOG_RECEIVER) as adapter:
        ok = raw(
            adapter.port,
            b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-A: "
            + b"a" * 8000
            + b"\r\nConnection: close\r\n\r\n",
        )
        assert ok.startswith(b"HTTP/1.1 200")
        big = raw(
            adapter.port,
            b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 2_000_000 + b"\r\n\r\n",
        )
        assert big.startswith(b"HTTP/1.1 431") and b"over 16384 bytes" in big
        long_url = raw(adapter.port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert long_url.startswith(b"HTTP/1.1 431")
        assert httpx.get(adapter.url + "/-/healthy").status_code == 200  # still serving


def test_a_trickled_body_neither_blocks_others_nor_holds_on(tmp_path: Path) -> None:
    """While one client trickles a body, another is answered; the trickler gets 408 once the
    body budget (delivery.timeout) is spent, long before its own patience. Ordered, not timed."""
    config = {**LOG_RECEIVER, "delivery": {"timeout": "4s", "attempt_timeout": "1s"}}
    with AdapterProcess(tmp_path, config) as adapter:
        answers: list[bytes] = []
        head = (
            b"POST /alerts/dry HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 5000\r\n\r\n{"version"'
        )
        patience = 30.0
        slow = threading.Thread(
            target=lambda: answers.append(raw(adapter.port, head, wait=patience))
        )
        started = time.monotonic()
        slow.start()
        time.sleep(0.2)
        fast = httpx.post(adapter.url + "/alerts/dry", json=make_payload(receiver="dry"))
        assert fast.status_code == 200
        assert not answers or time.monotonic() - started > 4.0, "answered before the trickler"
        slow.join(timeout=patience + 5)
        assert answers and answers[0].startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < patience - 5  # the 4 s budget, not the patience


def test_alert_count_and_label_size_limits(tmp_path: Path) -> None:
    config = {**LOG_RECEIVER, "limits": {"max_alerts": 3, "max_label_bytes": 100}}
    with AdapterProcess(tmp_path, config) as adapter:
        many = httpx.post(
            adapter.url + "/alerts/dry",
            json=make_payload(*[make_alert(instance=str(i)) for i in range(4)]),
        )
        assert many.status_code == 413 and "limits.max_alerts" in many.json()["error"]
        long = httpx.post(
            adapter.url + "/alerts/dry", json=make_payload(make_alert(instance="x" * 200))
        )
        assert long.status_code == 422
        assert long.json()["error"].startswith("alerts[0].labels.instance: over 100 bytes")


def test_mutual_tls_from_a_web_config_file(tmp_path: Path) -> None:
    ca = make_cert("ca", None, tmp_path, ca=True)
    make_cert("server", ca, tmp_path)
    make_cert("client", ca, tmp_path)
    other_ca = make_cert("other-ca", None, tmp_path, ca=True)
    make_cert("stranger", other_ca, tmp_path)
    web = tmp_path / "web.yml"
    web.write_text(
        "tls_server_config:\n"
        f"  cert_file: {tmp_path}/server.crt\n  key_file: {tmp_path}/server.key\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {tmp_path}/ca.crt\n"
    )

    def context(client: str) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        ctx.load_cert_chain(tmp_path / f"{client}.crt", tmp_path / f"{client}.key")
        return ctx

    trusted = {"verify": context("client")}
    adapter = AdapterProcess(tmp_path, LOG_RECEIVER, f"--web.config.file={web}", scheme="https")
    adapter.start(ready_kwargs=trusted)
    try:
        assert (
            httpx.post(
                adapter.url + "/alerts/dry", json=make_payload(receiver="dry"), **trusted
            ).status_code
            == 200
        )
        with pytest.raises(httpx.TransportError):  # no client certificate
            httpx.get(
                adapter.url + "/-/healthy",
                verify=ssl.create_default_context(cafile=str(tmp_path / "ca.crt")),
            )
        with pytest.raises(httpx.TransportError):  # a certificate from another CA
            httpx.get(adapter.url + "/-/healthy", verify=context("stranger"))
        with pytest.raises(httpx.TransportError):  # plain HTTP to a TLS port
            httpx.get(f"http://127.0.0.1:{adapter.port}/-/healthy")
    finally:
        assert adapter.stop() == 0


def test_a_broken_web_config_is_refused_before_serving(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: /nope.crt\n  key_file: /nope.key\n")
    adapter = AdapterProcess(tmp_path, LOG_RECEIVER, f"--web.config.file={web}")
    result = run_adapter(f"--config.file={adapter.config}", f"--web.config.file={web}")
    assert result.returncode == 2
    assert "tls_server_config.cert_file: no file at /nope.crt" in result.stderr


def test_a_body_that_never_comes_is_408_and_other_cancellations_are_not(tmp_path: Path) -> None:
    """In-process, at the ASGI edge: the body deadline is the delivery budget (plus at most
    one sweep of the shared timer); a cancellation that is not the deadline's (shutdown,
    the server dropping the request) goes on as a cancellation, not as a 408."""
    doc = pd_config()
    doc["delivery"] |= {"timeout": "300ms", "attempt_timeout": "200ms"}
    app = create_app(config_from(doc, tmp_path))
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {TOKEN}".encode()),
        (b"content-length", b"100"),
    ]
    scope = {"type": "http", "method": "POST", "path": "/alerts/pd", "headers": headers}

    async def never() -> dict[str, object]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def main() -> tuple[list[dict[str, object]], list[dict[str, object]], float]:
        loop = asyncio.get_running_loop()
        late: list[dict[str, object]] = []
        started = loop.time()
        await asyncio.wait_for(app(scope, never, _append_to(late)), 10)
        waited = loop.time() - started
        dropped: list[dict[str, object]] = []
        task = asyncio.create_task(app(scope, never, _append_to(dropped)))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return late, dropped, waited

    late, dropped, waited = asyncio.run(main())
    assert late[0]["status"] == 408
    assert b"did not arrive within 0.3s" in late[1]["body"]  # type: ignore[operator]
    assert waited >= 0.3
    assert dropped == []


def _append_to(messages: list[dict[str, object]]) -> Callable[[dict[str, object]], Any]:
    async def send(message: dict[str, object]) -> None:
        messages.append(message)

    return send
