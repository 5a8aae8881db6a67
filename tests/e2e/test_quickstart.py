"""The README's two commands, as typed, on a bare Debian 12 with only its system python3.

A container of the stand-in Debian base (tests/harness/podman.py: python3, python3-venv, CA
certificates, no pip) gets a copy of the checkout. There the old `pip install .` fails, as it
does on a stock machine; the README's test command installs and runs a subset of the tests
(its arguments go to pytest, as the README says); the README's run command installs and
starts the adapter on the embedded default; and the README's `curl`, run as typed in the
container's network namespace, gets the answer the README shows.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.harness.podman import CERTS, ULIMITS, checkout_tar, podman
from tests.harness.podman import base_image as stand_in_base
from tests.harness.system import require

# A cold machine builds the base (~1 min) and downloads every test dependency from PyPI.
pytestmark = [pytest.mark.container, pytest.mark.timeout(900)]

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
# pip's downloads survive between runs, so a warm machine installs without the network's cost
PIP_CACHE = "incident-adapter-quickstart-pip-cache:/root/.cache/pip"
# fast files that still start the adapter as a process (check-config of the README's config)
SUBSET = "tests/checks/test_readme.py tests/unit/test_keys.py"


def quickstart_blocks() -> list[str]:
    """The shell blocks of the README's Quickstart, in order: run, test, curl."""
    start = README.index("\n## Quickstart\n")
    section = README[start : README.index("\n## ", start + 1)]
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)]


def test_the_readmes_two_commands_work_as_typed_on_a_bare_debian(tmp_path: Path) -> None:
    run, test, curl = quickstart_blocks()
    assert (run, test) == ("./scripts/run", "./scripts/test"), "the Quickstart changed"
    assert curl.startswith("curl ") and "127.0.0.1:9095/alerts/default" in curl
    base = stand_in_base(tmp_path / "base")
    (tmp_path / "checkout.tar").write_bytes(checkout_tar())
    script = (
        "set -e; mkdir /repo; tar -C /repo -xf /checkout.tar; cd /repo; "
        # the README's old first command, which a stock Debian 12 refuses
        "if sh -c 'pip install .' >/dev/null 2>&1 || python3 -m pip install . >/dev/null 2>&1; "
        "then echo 'pip install . worked on the bare base'; exit 3; fi; "
        f"{test} {SUBSET}; echo QUICKSTART-TESTS-PASSED; exec {run}"
    )
    name = f"incident-adapter-quickstart-{time.monotonic_ns()}"
    podman(
        "run", "-d", "--name", name, *ULIMITS, *CERTS,
        "-v", f"{tmp_path / 'checkout.tar'}:/checkout.tar:ro",
        "-v", PIP_CACHE,
        base, "bash", "-c", script,
    )  # fmt: skip
    try:
        pid = wait_for_the_adapter(name)
        answer = subprocess.run(
            [require("nsenter", "util-linux"), "-t", pid, "-n", "sh", "-c", curl],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert answer.returncode == 0, answer.stderr
        body = json.loads(answer.stdout)
        assert (body["received"], body["delivered"]) == (1, 1), body
        ((alert,),) = [body["alerts"]]
        assert alert["dedup_key"] == "1d5a81814add1ad0" and alert["result"] == "delivered"
        # the README shows this answer; it must stay the answer
        assert '"dedup_key":"1d5a81814add1ad0","action":"trigger","result":"delivered"' in README
        time.sleep(0.5)
        logs = logs_of(name)
        assert "passed" in logs and "QUICKSTART-TESTS-PASSED" in logs, logs
        assert "event.logged" in logs, logs
        # installed into the virtualenv the command made, not into the system Python
        made = podman("exec", name, "test", "-x", "/repo/.venv/bin/incident-adapter", check=False)
        assert made.returncode == 0, "no .venv/bin/incident-adapter in the container"
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def logs_of(name: str) -> str:
    result = podman("logs", name, check=False)
    return result.stdout + result.stderr


def wait_for_the_adapter(name: str, timeout: float = 780) -> str:
    """The container's pid once the adapter answers /-/ready inside it (installs come first)."""
    pid = podman("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
    probe = "import urllib.request as u; u.urlopen('http://127.0.0.1:9095/-/ready', timeout=1)"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Running}}", name, check=False)
        if state.stdout.strip() != "true":
            pytest.fail(f"the container exited:\n{logs_of(name)[-6000:]}")
        if podman("exec", name, "python3", "-c", probe, check=False).returncode == 0:
            return pid
        time.sleep(1)
    pytest.fail(f"the adapter did not answer within {timeout}s:\n{logs_of(name)[-6000:]}")
