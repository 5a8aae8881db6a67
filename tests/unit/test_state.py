"""The runtime state: reloads and token rotation, which both replace what is loaded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from adapter.config.loader import load_config
from adapter.metrics import Metrics
from adapter.state import State
from tests.builders import TOKEN, pd_config


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
