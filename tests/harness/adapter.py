"""The adapter as a real process on a free loopback port, for tests of what only a real
server shows: signals, sockets, TLS, slow clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.standins.events import free_port


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


class AdapterProcess:
    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any],
        *flags: str,
        scheme: str = "http",
        config_from_env: bool = False,
    ) -> None:
        self.config_from_env = config_from_env  # INCIDENT_ADAPTER_CONFIG_FILE, not the flag
        self.port = free_port()
        self.config = workdir / f"adapter-{self.port}.yml"
        self.config.write_text(yaml.safe_dump(config))
        self.flags = flags
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.log = workdir / f"adapter-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_kwargs: dict[str, Any] | None = None) -> AdapterProcess:
        env = os.environ.copy()
        config_flag = [f"--config.file={self.config}"]
        if self.config_from_env:
            env["INCIDENT_ADAPTER_CONFIG_FILE"] = str(self.config)
            config_flag = []
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "adapter",
                    *config_flag,
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    *self.flags,
                ],
                stdout=log,
                stderr=log,
                env=env,
            )
        deadline = time.monotonic() + 60  # a ceiling for a busy machine, not an expectation
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/-/ready", **(ready_kwargs or {})).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the adapter did not become ready"
            time.sleep(0.05)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.terminate()
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    def __enter__(self) -> AdapterProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def events(self) -> list[dict[str, Any]]:
        return [
            json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")
        ]
