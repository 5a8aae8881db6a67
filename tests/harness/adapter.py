"""The adapter as a real process on a free loopback port, for tests of what only a real
server shows: signals, sockets, TLS, slow clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.builders import TOKEN, pd_config
from tests.harness.process import ManagedProcess


def run_adapter(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m adapter ARGS` to completion: check-config, render, a start that must fail."""
    return subprocess.run(
        [sys.executable, "-m", "adapter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        input=stdin.decode() if stdin else None,
    )


class AdapterProcess(ManagedProcess):
    name = "adapter"

    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any],
        *flags: str,
        scheme: str = "http",
        config_from_env: bool = False,
    ) -> None:
        super().__init__(workdir, config, scheme)
        self.config_from_env = config_from_env  # INCIDENT_ADAPTER_CONFIG_FILE, not the flag
        self.flags = flags

    def argv(self) -> list[str]:
        config_flag = [] if self.config_from_env else [f"--config.file={self.config}"]
        listen = f"--web.listen-address=127.0.0.1:{self.port}"
        return [sys.executable, "-m", "adapter", *config_flag, listen, *self.flags]

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.config_from_env:
            env["INCIDENT_ADAPTER_CONFIG_FILE"] = str(self.config)
        return env

    def is_ready(self, **kwargs: Any) -> bool:
        try:  # the client's own default timeout: a TLS handshake on a busy machine
            return httpx.get(self.url + self.ready_path, **kwargs).status_code == 200
        except httpx.TransportError:
            return False

    def events(self) -> list[dict[str, Any]]:
        return [
            json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")
        ]


class AlertmanagerAdapter(AdapterProcess):
    """The adapter as the Alertmanager tests need it: a token file, fast delivery settings."""

    def __init__(self, workdir: Path, upstream_url: str, **receiver: Any) -> None:
        (workdir / "tokens").write_text(TOKEN + "\n")
        doc = pd_config(url=upstream_url, **receiver)
        doc["auth"] = {"bearer_tokens_file": str(workdir / "tokens")}
        doc["delivery"] = {"timeout": "5s", "attempt_timeout": "1s", "max_attempts": 2}
        # debug: webhook.received, which the re-send tests count
        super().__init__(workdir, doc, "--log.level=debug")
