"""A real redis-server (Debian's `redis-server`) on a free loopback port, for the shared
store's tests: nothing saved to disk, optionally a password. stop() and start() again keep
its port, so a test can take the store away from running adapters and give it back."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from tests.harness.process import ManagedProcess
from tests.harness.system import require


class RedisServer(ManagedProcess):
    name = "redis"
    ready_timeout = 30.0

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.binary = require("redis-server", "redis-server")
        super().__init__(workdir, {})
        self.password = password
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        if self.password is not None:
            argv += ["--requirepass", self.password]
        return argv

    def is_ready(self, **_: Any) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                answer = conn.recv(64)
        except OSError:
            return False
        return answer.startswith((b"+PONG", b"-NOAUTH"))

    def settings(self, **redis: Any) -> dict[str, Any]:
        """A `coordination:` block for this server."""
        return {"redis": {"url": self.url, "timeout": "100ms", **redis}, "replicas": 2}
