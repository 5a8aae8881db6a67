"""Debian's nginx as the reverse proxy in front of an adapter: one path on a free loopback port
proxied to the adapter under the same path, as Prometheus' docs show for a server behind a
prefix (`--web.external-url=http://proxy/PATH/`, the route prefix its path, no rewriting).
Not a daemon; its config, pid, logs and buffers under the test's temp dir."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Self

from tests.harness.process import ManagedProcess
from tests.harness.system import require


class Nginx(ManagedProcess):
    name = "nginx"

    def __init__(self, workdir: Path, path: str, upstream: str) -> None:
        """Serve `path` (`/incident-adapter/`) from `upstream` (`http://127.0.0.1:PORT`)."""
        super().__init__(workdir, {})
        self.program = require("nginx", "nginx")
        self.path = path
        self.ready_path = "/nginx-ready"  # nginx's own: it is up whether or not the adapter is
        self.root = workdir / f"nginx-{self.port}"
        self.root.mkdir()
        self.conf = self.root / "nginx.conf"
        temp = "\n".join(
            f"    {kind}_temp_path {self.root}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.conf.write_text(
            f"""daemon off;
worker_processes 1;
pid {self.root}/nginx.pid;
error_log {self.root}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {self.root}/access.log;
{temp}
    server {{
        listen 127.0.0.1:{self.port};
        location = /nginx-ready {{ return 200; }}
        location {path} {{
            proxy_pass {upstream}{path};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
}}
"""
        )

    def argv(self) -> list[str]:
        # -e: the error log before the config is read (else /var/log/nginx, maybe not writable)
        return [
            self.program,
            "-p",
            str(self.root),
            "-e",
            str(self.root / "error.log"),
            "-c",
            str(self.conf),
        ]

    def check(self) -> None:
        """`nginx -t`: the config as nginx reads it."""
        result = subprocess.run([*self.argv(), "-t"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr

    def start(self, ready_kwargs: dict[str, Any] | None = None) -> Self:
        self.check()
        try:
            super().start(ready_kwargs)
        except AssertionError:
            self.stop()
            raise
        return self
