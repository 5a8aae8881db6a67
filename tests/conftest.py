from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stamina
from starlette.testclient import TestClient

from adapter.app import create_app
from adapter.transport import HttpxTransport
from tests.builders import TOKEN, config_from, pd_config
from tests.harness.server import Server
from tests.standins.events import EventsAPI


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """No sleeping between retries in unit tests; the configured attempt count still holds."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


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
