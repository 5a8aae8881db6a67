from __future__ import annotations

import asyncio
import email.utils
import json
import time

import pytest

from adapter.events import UpstreamRequest
from adapter.transport import AiohttpTransport, TransportError, parse_retry_after
from tests.harness.server import Server, free_port
from tests.standins.events import EventsAPI


def event(key: str = "k1") -> UpstreamRequest:
    payload = {"summary": "s", "source": "x", "severity": "info"}
    body = {"routing_key": "r", "event_action": "trigger", "dedup_key": key, "payload": payload}
    headers = {"Content-Type": "application/json"}
    return UpstreamRequest("POST", "", headers, json.dumps(body).encode())


def at(server: Server, request: UpstreamRequest) -> UpstreamRequest:
    return UpstreamRequest(
        request.method, server.url + "/v2/enqueue", request.headers, request.body
    )


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    now = time.time()
    assert parse_retry_after(
        email.utils.formatdate(now + 30, usegmt=True), now=now
    ) == pytest.approx(30, abs=1)
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_aiohttp_transport_against_a_real_server(events_api: tuple[EventsAPI, Server]) -> None:
    api, server = events_api
    api.fail_next(1, 429, retry_after="3")

    async def run() -> list[tuple[int, float | None]]:
        transport = AiohttpTransport()
        try:
            first = await transport.send(at(server, event()), 2.0)
            second = await transport.send(at(server, event()), 2.0)
        finally:
            await transport.aclose()
        return [(first.status, first.retry_after), (second.status, second.retry_after)]

    assert asyncio.run(run()) == [(429, 3.0), (202, None)]
    assert api.open_keys() == {"k1"}


def test_aiohttp_transport_timeout_and_refused(events_api: tuple[EventsAPI, Server]) -> None:
    api, server = events_api
    api.hang_next(1, 2.0)

    async def run() -> None:
        transport = AiohttpTransport()
        try:
            with pytest.raises(TimeoutError):
                await transport.send(at(server, event()), 0.2)
            closed = UpstreamRequest("POST", f"http://127.0.0.1:{free_port()}/", {}, b"{}")
            with pytest.raises(TransportError):
                await transport.send(closed, 1.0)
        finally:
            await transport.aclose()

    asyncio.run(run())
