"""The runtime state: reloads and token rotation, which both replace what is loaded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import yaml
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from adapter.app import create_app
from adapter.config.loader import load_config
from adapter.metrics import Metrics
from adapter.state import State
from adapter.transport import HttpxTransport
from tests.builders import TOKEN, make_payload, pd_config


def test_a_token_rotation_during_a_reload_is_not_lost(tmp_path: Path) -> None:
    """A reload reads the token file, then swaps in what it read. A rotation of the file in
    between was applied by the watcher and then overwritten by the reload's stale tokens,
    and never again (the watcher had seen the change): the new token stayed refused until
    the next change. Here the reload is held between its read and its swap, as a slow
    `load_config` holds it, while the file rotates."""
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKEN + "\n")
    doc = pd_config()
    doc["auth"] = {"bearer_tokens_file": str(tokens)}
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(doc))

    async def run() -> bool:
        state = State(load_config(path), None, Metrics(CollectorRegistry(), ["pd"]), str(path))
        watcher = asyncio.create_task(state.watch_tokens(0.01))
        try:
            await asyncio.sleep(0.1)  # the watcher has its baseline
            async with state.reload_lock:  # a reload between its read and its swap
                read_by_the_reload = state.loaded
                tokens.write_text("rotated-token\n")
                await asyncio.sleep(0.2)  # many of the watcher's ticks
                state.loaded = read_by_the_reload  # the reload's swap
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if state.loaded.auth.allows("Bearer rotated-token"):
                    return not state.loaded.auth.allows(f"Bearer {TOKEN}")
                await asyncio.sleep(0.01)
            return False
        finally:
            watcher.cancel()

    assert asyncio.run(run()), "the rotated token never took effect"


def test_a_reload_that_adds_auth_beside_the_web_configs_users_is_refused(tmp_path: Path) -> None:
    """The web config's basic_auth_users and the config's `auth:` are both the Authorization
    header: a start refuses the pair, and so does a reload, which keeps the old config (a
    reload that took it would answer every webhook 401)."""
    doc = pd_config()
    del doc["auth"]
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(doc))
    transport = HttpxTransport(httpx.MockTransport(lambda _: httpx.Response(202)))
    app = create_app(load_config(path), transport=transport, config_path=str(path), web_users=True)
    with TestClient(app) as client:
        path.write_text(yaml.safe_dump(pd_config()))  # pd_config sets auth: bearer_tokens
        response = client.post("/-/reload")
        assert response.status_code == 400
        assert any("basic_auth_users" in p for p in response.json()["problems"])
        assert client.post("/alerts/pd", json=make_payload()).status_code == 200  # still open
