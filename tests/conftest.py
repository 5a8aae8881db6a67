from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stamina
import yaml
from starlette.testclient import TestClient

from adapter.app import create_app
from adapter.config import Config, load_config
from adapter.transport import HttpxTransport
from tests.standins.events import EventsAPI, Server

FIXTURES = Path(__file__).parent / "fixtures"
ROUTING_KEY = "R0UTINGKEY0123456789abcdefSECRET"
TOKEN = "inbound-token-0123456789-SECRET"


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """No sleeping between retries in unit tests; the configured attempt count still holds."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def make_alert(
    status: str = "firing", annotations: dict[str, str] | None = None, **labels: str
) -> dict[str, Any]:
    labels = {"alertname": "HighErrorRate", **labels}
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations
        if annotations is not None
        else {"summary": f"{labels['alertname']} on {labels.get('instance', '?')}"},
        "startsAt": "2026-11-23T10:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-23T10:05:00Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
    }


def make_payload(*alerts: dict[str, Any], receiver: str = "pd", **extra: Any) -> dict[str, Any]:
    alerts = alerts or (make_alert(instance="api-01", severity="critical"),)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": list(alerts),
        **extra,
    }


def config_from(doc: dict[str, Any], tmp_path: Path) -> Config:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(doc))
    return load_config(path)


def pd_config(**receiver: Any) -> dict[str, Any]:
    return {
        "auth": {"bearer_tokens": [TOKEN]},
        "delivery": {"timeout": "2s", "attempt_timeout": "500ms", "max_attempts": 4},
        "receivers": [
            {
                "name": "pd",
                "type": "events-v2",
                "url": "http://upstream.test/v2/enqueue",
                "routing_key": ROUTING_KEY,
                **receiver,
            }
        ],
    }


Handler = Callable[[httpx.Request], Any]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """The one factory: a running adapter app over a fake upstream `handler`."""
    clients: list[TestClient] = []

    def make(
        handler: Handler | None = None, doc: dict[str, Any] | None = None, **kwargs: Any
    ) -> TestClient:
        config = config_from(doc or pd_config(), tmp_path)

        def accept(_: httpx.Request) -> httpx.Response:
            return httpx.Response(202, json={"status": "success"})

        transport = HttpxTransport(httpx.MockTransport(handler or accept))
        client = TestClient(create_app(config, transport=transport, **kwargs))
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def events_api() -> Iterator[tuple[EventsAPI, Server]]:
    api = EventsAPI()
    with Server(api.app()) as server:
        yield api, server
