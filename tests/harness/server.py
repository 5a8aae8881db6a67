"""Threads and ports: an ASGI app (a stand-in, a scrape target) served on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """An ASGI app served by uvicorn in a background thread, on a free loopback port.

    `host="0.0.0.0"` serves on every address too, for clients in containers; `url` stays loopback.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", **uvicorn_options: Any) -> None:
        self.port = free_port()
        self.scheme = "https" if "ssl_certfile" in uvicorn_options else "http"
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            **uvicorn_options,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stand-in server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
