"""The end-to-end stack, composed once: a stand-in upstream served on a loopback port, the
adapter process delivering to it, and a real Alertmanager whose webhook posts to the adapter
with the test token. Prometheus, when a test needs it, points at `stack.alertmanager`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.builders import TOKEN
from tests.harness.adapter import AdapterProcess
from tests.harness.alertmanager import Alertmanager
from tests.harness.server import Server


@dataclass
class Stack:
    upstream: Server
    adapter: AdapterProcess
    alertmanager: Alertmanager


@contextmanager
def running_stack(
    workdir: Path,
    standin: Any,
    adapter: Callable[[str], AdapterProcess],
    receiver: str = "pd",
    alertmanager: Callable[..., Alertmanager] = Alertmanager,
) -> Iterator[Stack]:
    """`standin` an ASGI app; `adapter(upstream_url)` the adapter process, not started yet."""
    with Server(standin) as upstream:
        process = adapter(upstream.url)
        token_file = workdir / "am-token"
        token_file.write_text(TOKEN)
        url = f"http://127.0.0.1:{process.port}/alerts/{receiver}"
        am = alertmanager(workdir, url, token_file)
        process.start()
        try:
            with am:
                yield Stack(upstream, process, am)
        finally:
            process.stop()
