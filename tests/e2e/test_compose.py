"""deploy/compose/: Prometheus, an Alertmanager cluster of two, two adapters and their Redis as a
user runs them, with podman-compose.

Offline: each config passes its own checker (promtool, amtool, check-config) and the compose
file wires what docs/how-to/deployment.md and replicas.md promise (read-only adapters, health
checks, one token file for both sides, each Alertmanager to its own adapter, the two gossiping,
both adapters on one Redis whose password is one file). Then the stack comes up from a copy of
the checkout, with Prometheus, Alertmanager and Redis built from Debian's packages
(compose.debian.yaml) on the stand-in base where no registry serves the upstream images:
Prometheus scrapes all five and loads the adapter's own rules; a rule's alert reaches the
stateful stand-in of the Events API on the host through the Alertmanager cluster (bearer token
from the file) and the read-only adapters, once; and the same webhook posted to each adapter, as
the cluster's duplicate notifications reach them, is delivered once (the shared memo).
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

from tests.builders import ROUTING_KEY, TOKEN, make_alert, make_payload
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
ALERTMANAGERS = ("alertmanager-0", "alertmanager-1")
ADAPTERS = ("incident-adapter-0", "incident-adapter-1")
SERVICES = ("prometheus", *ALERTMANAGERS, *ADAPTERS, "redis")
REDIS_PASSWORD = "EXAMPLE-redis-password-0123456789abcdef"


def am_config(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((COMPOSE / "alertmanager" / f"{name}.yml").read_text())
    return doc


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
        *(
            [amtool, "check-config", str(COMPOSE / "alertmanager" / f"{name}.yml")]
            for name in ALERTMANAGERS
        ),
    ):
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    config = (COMPOSE / "incident-adapter" / "config.yml").read_text()
    mount = "/etc/incident-adapter/secrets/"
    for name in ("tokens", "pd-routing-key", "redis-password"):
        (tmp_path / name).write_text(f"example-{name}\n")
    (tmp_path / "config.yml").write_text(config.replace(mount, f"{tmp_path}/"))
    result = run_adapter("check-config", str(tmp_path / "config.yml"))
    assert result.returncode == 0, result.stderr


def test_the_compose_file_wires_the_stack_as_documented() -> None:
    services = compose_doc()["services"]
    assert set(services) == set(SERVICES)
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] == "CMD-SHELL", name
        assert all(p.startswith("127.0.0.1:") for p in service.get("ports", [])), name
    token = "./secrets/incident-adapter-token"
    prometheus_mounts = mounts(services["prometheus"]["volumes"])
    prometheus_config = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    (scrape,) = (
        j for j in prometheus_config["scrape_configs"] if j["job_name"] == "incident-adapter"
    )
    # /metrics is behind the token: Prometheus scrapes with the file Alertmanager sends
    assert prometheus_mounts[token] == scrape["authorization"]["credentials_file"]
    assert scrape["static_configs"] == [{"targets": [f"{a}:9095" for a in ADAPTERS]}]
    # every alert to both Alertmanagers, as in front of a cluster
    ((alerting,),) = (a["static_configs"] for a in prometheus_config["alerting"]["alertmanagers"])
    assert alerting == {"targets": [f"{a}:9093" for a in ALERTMANAGERS]}

    adapter_config = yaml.safe_load((COMPOSE / "incident-adapter" / "config.yml").read_text())
    for adapter in ADAPTERS:
        service = services[adapter]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], adapter
        assert all(v.endswith(":ro") for v in service["volumes"]), adapter
        adapter_mounts = mounts(service["volumes"])
        # one file: what Alertmanager sends is what the adapter accepts
        assert adapter_mounts[token] == adapter_config["auth"]["bearer_tokens_file"]
        assert (
            adapter_mounts["./secrets/pd-routing-key"]
            == adapter_config["receivers"][0]["routing_key_file"]
        )
        assert (
            adapter_mounts["./secrets/redis-password"]
            == adapter_config["coordination"]["redis"]["password_file"]
        )
    assert services[ADAPTERS[0]]["ports"] != services[ADAPTERS[1]]["ports"]

    # each Alertmanager posts to its own adapter, and names the other as its peer
    first, second = (am_config(name) for name in ALERTMANAGERS)
    for index, name in enumerate(ALERTMANAGERS):
        service, config = services[name], (first, second)[index]
        (webhook,) = config["receivers"][0]["webhook_configs"]
        assert (
            mounts(service["volumes"])[token]
            == (webhook["http_config"]["authorization"]["credentials_file"])
        )
        assert webhook["url"] == f"http://{ADAPTERS[index]}:9095/alerts/pagerduty"
        assert webhook["send_resolved"] is True
        other = ALERTMANAGERS[1 - index]
        assert f"--cluster.peer={other}:9094" in service["command"]
        assert "--cluster.listen-address=0.0.0.0:9094" in service["command"]
        # the adapter's own alerts never go through the adapter
        (route,) = config["route"]["routes"]
        assert route["receiver"] != config["route"]["receiver"]
    (webhook,) = second["receivers"][0]["webhook_configs"]
    webhook["url"] = webhook["url"].replace(ADAPTERS[1], ADAPTERS[0])
    assert second == first, "the two Alertmanager configs differ in more than their adapter"

    # both adapters share the one Redis, with its password from the same file
    coordination = adapter_config["coordination"]
    assert coordination["replicas"] == len(ADAPTERS)
    assert coordination["redis"]["url"] == "redis://redis:6379/0"
    redis = services["redis"]
    assert "ports" not in redis, "only the adapters reach Redis"
    assert redis["read_only"] is True and redis["cap_drop"] == ["ALL"]
    ((secret, target),) = mounts(redis["volumes"]).items()
    assert secret == "./secrets/redis-password" and target in redis["command"][0]
    assert '--save "" --appendonly no' in redis["command"][0]
    assert "--requirepass" not in redis["command"][0]  # never in its arguments


def test_compose_debian_builds_every_upstream_image() -> None:
    """Where no registry serves them, compose.debian.yaml builds each image but the adapter's."""
    debian = compose_doc("compose.debian.yaml")["services"]
    assert set(debian) == set(SERVICES) - set(ADAPTERS)
    for name, service in debian.items():
        assert (COMPOSE / service["build"]["dockerfile"]).is_file(), name


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
            for s in SERVICES
        )


def triggers(api: EventsAPI, alertname: str) -> list[dict[str, Any]]:
    """The trigger events the stand-in received for alerts of that name."""
    return [
        event
        for event in api.events
        if event.get("event_action") == "trigger"
        and event.get("payload", {}).get("custom_details", {}).get("labels", {}).get("alertname")
        == alertname
    ]


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
    for name in ALERTMANAGERS:
        alertmanager = compose / "alertmanager" / f"{name}.yml"
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
    (secrets / "redis-password").write_text(REDIS_PASSWORD)
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
    built = set()
    for service in compose_doc("compose.debian.yaml")["services"].values():
        if service["image"] not in built:
            build(service["image"], compose / service["build"]["dockerfile"], compose, base)
            built.add(service["image"])
    build(ADAPTER_IMAGE, checkout / "Dockerfile", checkout, base, *adapter_build_args())

    api = EventsAPI()
    with Server(api.app(), host="0.0.0.0") as upstream:  # reached from the containers
        prepare(checkout, f"http://host.containers.internal:{upstream.port}/v2/enqueue")
        published = ("PROMETHEUS", "ALERTMANAGER", "ALERTMANAGER_1", "INCIDENT_ADAPTER")
        ports = {name: free_port() for name in (*published, "INCIDENT_ADAPTER_1")}
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
        adapters = [adapter, f"http://127.0.0.1:{ports['INCIDENT_ADAPTER_1']}"]
        try:
            up = stack("up", "-d")
            assert up.returncode == 0, up.stdout + up.stderr
            for url in adapters:
                wait_for(lambda u=url: httpx.get(u + "/-/ready").status_code == 200, 90, url)
            wait_for(
                lambda: httpx.get(prometheus + "/-/ready").status_code == 200, 90, "Prometheus"
            )

            def targets_up() -> bool:
                query = {"query": "up == 1"}
                result = httpx.get(prometheus + "/api/v1/query", params=query).json()
                targets = {
                    (r["metric"]["job"], r["metric"]["instance"]) for r in result["data"]["result"]
                }
                return targets == {
                    ("prometheus", "localhost:9090"),
                    *(("alertmanager", f"{a}:9093") for a in ALERTMANAGERS),
                    *(("incident-adapter", f"{a}:9095") for a in ADAPTERS),
                }

            wait_for(targets_up, 60, "Prometheus scraping all five by their service names")
            wait_for(lambda: api.open_keys(), 90, "the rule's alert at the incident API")
            (incident,) = api.incidents.values()
            assert incident.summary == "The compose stack delivers alerts"
            assert incident.severity == "critical"
            assert incident.payload["custom_details"]["labels"]["alertname"] == "ComposeStackTest"
            assert api.events[0]["routing_key"] == ROUTING_KEY  # from the mounted secret file

            # both adapters share the store: coordination_up 1 on each
            def store_up(url: str) -> bool:
                headers = {"Authorization": f"Bearer {TOKEN}"}
                text = httpx.get(url + "/metrics", headers=headers).text
                return "incident_adapter_coordination_up 1.0" in text

            for url in adapters:
                wait_for(lambda u=url: store_up(u), 30, f"{url} sharing the store")
            # the cluster's duplicate notifications, as they reach different adapters: the same
            # webhook to each, one after the other; the shared memo lets one of them deliver
            payload = make_payload(
                make_alert(alertname="ComposeHADuplicate", instance="api-01", severity="critical"),
                receiver="incident-adapter",
            )
            headers = {"Authorization": f"Bearer {TOKEN}"}
            for url in adapters:
                answer = httpx.post(url + "/alerts/pagerduty", json=payload, headers=headers)
                assert answer.status_code == 200, answer.text
            duplicates = triggers(api, "ComposeHADuplicate")
            assert len(duplicates) == 1, f"{len(duplicates)} triggers for one alert"
            # and the rule's alert, notified by the cluster, was delivered once
            # the other Alertmanager notifies what the first has not within its peer timeout (15 s)
            time.sleep(16)
            rule_events = triggers(api, "ComposeStackTest")
            assert len(rule_events) == 1, f"{len(rule_events)} triggers for the rule's alert"

            rules = httpx.get(prometheus + "/api/v1/rules").json()["data"]["groups"]
            names = {r["name"] for g in rules for r in g["rules"]}
            assert {"IncidentAdapterDown", "InstanceDown", "ComposeStackTest"} <= names
            inspect = podman(
                "inspect", "--format", "{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}",
                *(stack.container(a) for a in ADAPTERS),
            )  # fmt: skip
            assert inspect.stdout.split() == ["true", "65532:65532"] * len(ADAPTERS)
            for service in SERVICES:
                health = podman("healthcheck", "run", stack.container(service), check=False)
                assert health.returncode == 0, f"{service}: {health.stdout}{health.stderr}"
            logs = stack.logs()
            assert TOKEN not in logs and ROUTING_KEY not in logs and REDIS_PASSWORD not in logs
        except AssertionError as error:
            raise AssertionError(f"{error}\n{stack.logs()}") from error
        finally:
            stack("down", "-v", timeout=120)
