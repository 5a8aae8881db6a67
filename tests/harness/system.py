"""Tests that need a program from a system package skip on a user's machine, fail in CI.

`INCIDENT_ADAPTER_TEST_ALERTMANAGER=/path/to/alertmanager` runs the Alertmanager tests against
another build than the one on PATH (Debian 12's 0.25), e.g. a newer Debian release's binary that
`.ci/run` unpacks to a private directory; `amtool` is then the one beside it, so the two match.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ALERTMANAGER_ENV = "INCIDENT_ADAPTER_TEST_ALERTMANAGER"


def _alertmanager_override(program: str) -> str | None:
    binary = os.environ.get(ALERTMANAGER_ENV)
    if not binary or program not in ("prometheus-alertmanager", "amtool"):
        return None
    path = Path(binary) if program == "prometheus-alertmanager" else Path(binary).with_name(program)
    if not (path.is_file() and os.access(path, os.X_OK)):
        # A wrong path must not quietly fall back to the Alertmanager on PATH: the run would
        # then claim a release it never tested.
        pytest.fail(f"{ALERTMANAGER_ENV}={binary}: {path} is not an executable file")
    return str(path)


def require(program: str, package: str) -> str:
    path = _alertmanager_override(program) or shutil.which(program)
    if path is None:
        message = (
            f"{program} not found: install the Debian package {package} (apt-get install {package})"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " -- CI must not skip this test")
        pytest.skip(message)
    return path


def require_extra(module: str, extra: str) -> None:
    """A Python package of one of the project's extras (`tracing`): skip on a user's machine
    without it, with the command that installs it; fail under CI, whose install has them all."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        found = False
    if not found:
        message = f"{module} not found: pip install 'incident-adapter[{extra}]'"
        if os.environ.get("CI"):
            pytest.fail(message + " -- CI installs every extra and must not skip this test")
        pytest.skip(message)
