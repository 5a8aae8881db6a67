"""A real Prometheus (Debian's prometheus) scraping one target and evaluating every second,
sending its alerts to one Alertmanager."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.harness.process import ManagedProcess
from tests.harness.system import require


class Prometheus(ManagedProcess):
    name = "prometheus"
    ready_timeout = 30
    stop_timeout = 20
    poll_interval = 0.1

    def __init__(
        self, workdir: Path, target: str, alertmanager: str, rules: dict[str, Any], job: str
    ) -> None:
        self.binary = require("prometheus", "prometheus")
        (workdir / "rules.yml").write_text(yaml.safe_dump(rules))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}],
        }
        super().__init__(workdir, config)
        self.storage = workdir / f"prometheus-{self.port}-tsdb"

    def argv(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.storage}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
        ]
