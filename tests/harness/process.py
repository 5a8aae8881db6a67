"""One managed process for every real program a test starts: the adapter, Alertmanager,
Prometheus. A binary, a free loopback port, a config file written from a dict, a log file,
a readiness check, a stop; `with` starts and stops it, and a failed start shows the log."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx
import yaml

from tests.harness.server import free_port


def wait_for(
    check: Callable[[], Any], timeout: float = 60, what: str = "condition", interval: float = 0.1
) -> Any:
    """Poll `check` until it returns something true; its value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def ready(url: str, **kwargs: Any) -> bool:
    try:
        return httpx.get(url, timeout=1, **kwargs).status_code == 200
    except httpx.TransportError:
        return False


class ManagedProcess:
    """A program on a free loopback port; subclasses say its name, argv and config."""

    name = "process"
    ready_path = "/-/ready"
    ready_timeout = 60.0  # a ceiling for a busy machine, not an expectation
    stop_timeout = 30.0
    poll_interval = 0.05

    def __init__(self, workdir: Path, config: dict[str, Any], scheme: str = "http") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.config = workdir / f"{self.name}-{self.port}.yml"
        self.config.write_text(yaml.safe_dump(config))
        self.log = workdir / f"{self.name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return os.environ.copy()

    def is_ready(self, **kwargs: Any) -> bool:
        return ready(self.url + self.ready_path, **kwargs)

    def start(self, ready_kwargs: dict[str, Any] | None = None) -> Self:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=log, env=self.env())
        proc = self.proc

        def up() -> bool:
            assert proc.poll() is None, f"{self.name} exited:\n{self.log.read_text()}"
            return self.is_ready(**(ready_kwargs or {}))

        wait_for(up, self.ready_timeout, f"{self.name} to become ready", self.poll_interval)
        return self

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.terminate()
        code = self.proc.wait(timeout=self.stop_timeout)
        self.proc = None
        return code

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
