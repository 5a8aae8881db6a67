"""deploy/compose/: Prometheus, Alertmanager and the adapter as a user runs them, with podman-compose.

Offline: each config passes its own checker (promtool, amtool, check-config) and the compose
file wires what docs/deployment.md promises (read-only adapter, health checks, one token file
for both sides). Then the stack comes up from a copy of the checkout, with Prometheus and
Alertmanager built from Debian's packages (compose.debian.yaml) on the stand-in base where no
registry serves the upstream images: Prometheus scrapes all three and loads the adapter's own
rules, and a rule's alert reaches the stateful stand-in of the Events API on the host through
Alertmanager (bearer token from the file) and the read-only adapter.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.builders import ROUTING_KEY, TOKEN
from tests.harness.adapter import run_adapter
from tests.harness.podman import (
    CERTS,
    PODMAN,
    ULIMITS,
    adapter_build_args,
    base_image,
    checkout_tar,
    podman,
)
from tests.harness.server import Server, free_port
from tests.harness.system import require
from tests.standins.events import EventsAPI

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "deploy" / "compose"
ADAPTER_IMAGE = "localhost/incident-adapter:compose-test"


def compose_doc(name: str = "compose.yaml") -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((COMPOSE / name).read_text())
    return doc


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (httpx.HTTPError, ValueError, KeyError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def mounts(volumes: list[str]) -> dict[str, str]:
    """source -> target of compose's short volume syntax, `SOURCE:TARGET[:MODE]`."""
    return {v.split(":")[0]: v.split(":")[1] for v in volumes}


# -- offline -----------------------------------------------------------------------------------
def test_each_config_of_the_stack_passes_its_checker(tmp_path: Path) -> None:
    promtool = require("promtool", "prometheus")
    amtool = require("amtool", "prometheus-alertmanager")
    # promtool wants the scrape's token file to exist: the one compose.yaml mounts, here
    prometheus = (COMPOSE / "prometheus" / "prometheus.yml").read_text()
    (tmp_path / "token").write_text("example-token-0123456789")
    token_file = "/etc/prometheus/secrets/incident-adapter-token"
    assert token_file in prometheus
    (tmp_path / "prometheus.yml").write_text(
        prometheus.replace(token_file, str(tmp_path / "token"))
    )
    for args in (
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        [promtool, "check", "rules", *map(str, (COMPOSE / "prometheus" / "rules").glob("*.yml"))],
        [amtool, "check-config", str(COMPOSE / "alertmanager" / "alertmanager.yml")],
    ):
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    config = (COMPOSE / "incident-adapter" / "config.yml").read_text()
    mount = "/etc/incident-adapter/secrets/"
    for name in ("tokens", "pd-routing-key"):
        (tmp_path / name).write_text(f"example-{name}\n")
    (tmp_path / "config.yml").write_text(config.replace(mount, f"{tmp_path}/"))
    result = run_adapter("check-config", str(tmp_path / "config.yml"))
    assert result.returncode == 0, result.stderr


def test_the_compose_file_wires_the_stack_as_documented() -> None:
    services = compose_doc()["services"]
    assert set(services) == {"prometheus", "alertmanager", "incident-adapter"}
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] == "CMD-SHELL", name
        assert all(p.startswith("127.0.0.1:") for p in service["ports"]), name
    adapter = services["incident-adapter"]
    assert adapter["read_only"] is True and adapter["cap_drop"] == ["ALL"]
    assert all(v.endswith(":ro") for v in adapter["volumes"])
    token = "./secrets/incident-adapter-token"
    # one file: what Alertmanager sends is what the adapter accepts
    am_mounts = mounts(services["alertmanager"]["volumes"])
    adapter_mounts = mounts(adapter["volumes"])
    prometheus_mounts = mounts(services["prometheus"]["volumes"])
    prometheus_config = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    (scrape,) = (
        j for j in prometheus_config["scrape_configs"] if j["job_name"] == "incident-adapter"
    )
    # /metrics is behind the token: Prometheus scrapes with the file Alertmanager sends
    assert prometheus_mounts[token] == scrape["authorization"]["credentials_file"]
    am_config = yaml.safe_load((COMPOSE / "alertmanager" / "alertmanager.yml").read_text())
    (webhook,) = am_config["receivers"][0]["webhook_configs"]
    assert am_mounts[token] == webhook["http_config"]["authorization"]["credentials_file"]
    adapter_config = yaml.safe_load((COMPOSE / "incident-adapter" / "config.yml").read_text())
    assert adapter_mounts[token] == adapter_config["auth"]["bearer_tokens_file"]
    assert (
        adapter_mounts["./secrets/pd-routing-key"]
        == (adapter_config["receivers"][0]["routing_key_file"])
    )
    assert webhook["url"] == "http://incident-adapter:9095/alerts/pagerduty"
    assert webhook["send_resolved"] is True
    # the adapter's own alerts never go through the adapter
    (route,) = am_config["route"]["routes"]
    assert route["receiver"] != am_config["route"]["receiver"]


# -- the stack, with podman-compose ----------------------------------------------------------
class Stack:
    """podman-compose over a copy of the checkout, with the flags ENVIRONMENT.md gives."""

    def __init__(self, checkout: Path, env: dict[str, str]) -> None:
        self.dir = checkout / "deploy" / "compose"
        self.project = f"iacompose{os.getpid()}"
        self.env = {**os.environ, **env}
        self.command = [
            require("podman-compose", "podman-compose"),
            f"--podman-args={' '.join(PODMAN)}",
            f"--podman-run-args={' '.join(ULIMITS)}",
            "-p",
            self.project,
            "-f",
            "compose.yaml",
            "-f",
            "compose.debian.yaml",
        ]

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def logs(self) -> str:
        return "\n".join(
            f"--- {s}\n" + podman("logs", self.container(s), check=False).stderr[-3000:]
            for s in ("prometheus", "alertmanager", "incident-adapter")
        )


def build(image: str, containerfile: Path, context: Path, base: str, *args: str) -> None:
    podman(
        "build", "--network=host", *CERTS, "--build-arg", f"BASE_IMAGE={base}", *args,
        "-t", image, "-f", str(containerfile), str(context),
        timeout=840,
    )  # fmt: skip


def prepare(checkout: Path, upstream: str) -> None:
    """A user's edits: the incident API's URL, the secrets; fast timings and a rule that fires."""
    compose = checkout / "deploy" / "compose"
    config = compose / "incident-adapter" / "config.yml"
    config.write_text(
        config.read_text().replace("https://events.pagerduty.com/v2/enqueue", upstream)
    )
    prometheus = compose / "prometheus" / "prometheus.yml"
    doc = yaml.safe_load(prometheus.read_text())
    doc["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    prometheus.write_text(yaml.safe_dump(doc))
    alertmanager = compose / "alertmanager" / "alertmanager.yml"
    doc = yaml.safe_load(alertmanager.read_text())
    doc["route"].update(group_wait="1s", group_interval="2s")
    alertmanager.write_text(yaml.safe_dump(doc))
    rule = {
        "alert": "ComposeStackTest",
        "expr": "vector(1)",
        "labels": {"severity": "critical", "service": "compose"},
        "annotations": {"summary": "The compose stack delivers alerts"},
    }
    (compose / "prometheus" / "rules" / "compose-test.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "compose-test", "rules": [rule]}]})
    )
    secrets = compose / "secrets"
    secrets.mkdir()
    (secrets / "incident-adapter-token").write_text(TOKEN)
    (secrets / "pd-routing-key").write_text(ROUTING_KEY)
    for path in [checkout, *checkout.rglob("*")]:  # readable by 65532 and nobody
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.container
@pytest.mark.timeout(900)
def test_a_rule_alert_goes_through_the_compose_stack_to_the_incident_api(tmp_path: Path) -> None:
    base = base_image(tmp_path / "base")
    checkout = tmp_path / "checkout"
    with tarfile.open(fileobj=io.BytesIO(checkout_tar())) as tar:
        tar.extractall(checkout, filter="data")
    compose = checkout / "deploy" / "compose"
    for service in ("prometheus", "alertmanager"):
        image = compose_doc("compose.debian.yaml")["services"][service]["image"]
        build(image, compose / f"Containerfile.{service}", compose, base)
    build(ADAPTER_IMAGE, checkout / "Dockerfile", checkout, base, *adapter_build_args())

    api = EventsAPI()
    with Server(api.app(), host="0.0.0.0") as upstream:  # reached from the containers
        prepare(checkout, f"http://host.containers.internal:{upstream.port}/v2/enqueue")
        ports = {name: free_port() for name in ("PROMETHEUS", "ALERTMANAGER", "INCIDENT_ADAPTER")}
        stack = Stack(
            checkout,
            {
                **{f"{name}_PORT": str(port) for name, port in ports.items()},
                "BASE_IMAGE": base,
                "PYTHON_BASE_IMAGE": base,
                "INCIDENT_ADAPTER_IMAGE": ADAPTER_IMAGE,
            },
        )
        prometheus = f"http://127.0.0.1:{ports['PROMETHEUS']}"
        adapter = f"http://127.0.0.1:{ports['INCIDENT_ADAPTER']}"
        try:
            up = stack("up", "-d")
            assert up.returncode == 0, up.stdout + up.stderr
            wait_for(lambda: httpx.get(adapter + "/-/ready").status_code == 200, 90, "adapter")
            wait_for(
                lambda: httpx.get(prometheus + "/-/ready").status_code == 200, 90, "Prometheus"
            )

            def targets_up() -> bool:
                query = {"query": "up == 1"}
                result = httpx.get(prometheus + "/api/v1/query", params=query).json()
                jobs = {r["metric"]["job"] for r in result["data"]["result"]}
                return jobs == {"prometheus", "alertmanager", "incident-adapter"}

            wait_for(targets_up, 60, "Prometheus scraping all three by their service names")
            wait_for(lambda: api.open_keys(), 90, "the rule's alert at the incident API")
            (incident,) = api.incidents.values()
            assert incident.summary == "The compose stack delivers alerts"
            assert incident.severity == "critical"
            assert incident.payload["custom_details"]["labels"]["alertname"] == "ComposeStackTest"
            assert api.events[0]["routing_key"] == ROUTING_KEY  # from the mounted secret file

            rules = httpx.get(prometheus + "/api/v1/rules").json()["data"]["groups"]
            names = {r["name"] for g in rules for r in g["rules"]}
            assert {"IncidentAdapterDown", "InstanceDown", "ComposeStackTest"} <= names
            inspect = podman(
                "inspect", "--format", "{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}",
                stack.container("incident-adapter"),
            )  # fmt: skip
            assert inspect.stdout.split() == ["true", "65532:65532"]
            for service in ("prometheus", "alertmanager", "incident-adapter"):
                health = podman("healthcheck", "run", stack.container(service), check=False)
                assert health.returncode == 0, f"{service}: {health.stdout}{health.stderr}"
            logs = stack.logs()
            assert TOKEN not in logs and ROUTING_KEY not in logs
        except AssertionError as error:
            raise AssertionError(f"{error}\n{stack.logs()}") from error
        finally:
            stack("down", "-v", timeout=120)
