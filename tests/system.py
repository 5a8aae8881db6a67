"""Tests that need a program from a system package skip on a user's machine, fail in CI."""

from __future__ import annotations

import os
import shutil

import pytest


def require(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        message = (
            f"{program} not found: install the Debian package {package} (apt-get install {package})"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " -- CI must not skip this test")
        pytest.skip(message)
    return path
