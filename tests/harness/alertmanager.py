"""A real Alertmanager (Debian's prometheus-alertmanager, or INCIDENT_ADAPTER_TEST_ALERTMANAGER)
with fast group timings, one webhook receiver with a bearer token file, driven by amtool."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

from tests.harness.process import ManagedProcess
from tests.harness.server import free_port
from tests.harness.system import require


class Alertmanager(ManagedProcess):
    name = "alertmanager"
    ready_timeout = 30
    stop_timeout = 20
    poll_interval = 0.1

    def __init__(self, workdir: Path, webhook_url: str, token_file: Path, **route: Any) -> None:
        self.binary = require("prometheus-alertmanager", "prometheus-alertmanager")
        self.amtool = require("amtool", "prometheus-alertmanager")
        config = {
            "route": {
                "receiver": "adapter",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "2s",
                "repeat_interval": "4s",
                **route,
            },
            "receivers": [
                {
                    "name": "adapter",
                    "webhook_configs": [
                        {
                            "url": webhook_url,
                            "send_resolved": True,
                            "http_config": {
                                "authorization": {
                                    "type": "Bearer",
                                    "credentials_file": str(token_file),
                                }
                            },
                        }
                    ],
                }
            ],
        }
        super().__init__(workdir, config)
        self.storage = workdir / f"alertmanager-{self.port}-data"

    def argv(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.path={self.storage}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
        ]

    def alert(
        self, resolve: bool = False, annotations: dict[str, str] | None = None, **labels: str
    ) -> None:
        """`amtool alert add`; resolve=True ends it five seconds ago."""
        if annotations is None:
            annotations = {"summary": f"{labels.get('alertname')} on {labels.get('instance')}"}
        args = [self.amtool, f"--alertmanager.url={self.url}", "alert", "add"]
        args += [f"{k}={v}" for k, v in labels.items()]
        args += [f"--annotation={k}={v}" for k, v in annotations.items()]
        if resolve:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
            args.append(f"--end={past.strftime('%Y-%m-%dT%H:%M:%SZ')}")
        subprocess.run(args, check=True, capture_output=True, timeout=30)

    def silence(self, *matchers: str) -> str:
        """`amtool silence add MATCHERS` for an hour; the silence's id."""
        args = [self.amtool, f"--alertmanager.url={self.url}", "silence", "add"]
        args += ["--comment=test", "--author=test", "--duration=1h", *matchers]
        done = subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    def expire(self, silence_id: str) -> None:
        """`amtool silence expire ID`."""
        args = [self.amtool, f"--alertmanager.url={self.url}", "silence", "expire", silence_id]
        subprocess.run(args, check=True, capture_output=True, timeout=30)


class ClusteredAlertmanager(Alertmanager):
    """A member of an Alertmanager cluster on loopback: `gossip` is its cluster port, `peers`
    the others' (silences and the notification log are gossiped between them)."""

    def __init__(self, *args: Any, peers: tuple[int, ...] = (), gossip: int = 0, **route: Any):
        super().__init__(*args, **route)
        self.gossip = gossip or free_port()
        self.peers = peers

    def argv(self) -> list[str]:
        argv = [a for a in super().argv() if not a.startswith("--cluster.listen-address")]
        argv.append(f"--cluster.listen-address=127.0.0.1:{self.gossip}")
        argv += [f"--cluster.peer=127.0.0.1:{port}" for port in self.peers]
        return argv
