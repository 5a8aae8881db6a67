"""podman as these machines run it, and the stand-in Debian base image the container tests share.

No container registry is reachable on the project's machines, so where an upstream image
cannot be pulled the tests build a stand-in base once per machine (debootstrap: Debian bookworm
with its system python3, python3-venv and CA certificates) and keep it as
localhost/python-base:bookworm.
"""

from __future__ import annotations

import fcntl
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.harness.system import require

ROOT = Path(__file__).parents[2]
LOCAL_BASE = "localhost/python-base:bookworm"
# ENVIRONMENT.md: crun and systemd cgroups do not work on these machines.
PODMAN = ("--runtime", "runc", "--cgroup-manager", "cgroupfs")
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
# pip inside a container or a build reaches PyPI with the host's CA certificates
CERTS = ("-v", "/etc/ssl/certs:/etc/ssl/certs:ro") if Path("/etc/ssl/certs").is_dir() else ()


def podman(
    *args: str, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [require("podman", "podman"), *PODMAN, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:2])}: {result.stdout}{result.stderr}")
    return result


def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


def build_local_base(workdir: Path) -> None:
    """Debian bookworm with python3 and venv: the stand-in for python:*-slim (about a minute)."""
    debootstrap = require("debootstrap", "debootstrap")
    rootfs = workdir / "rootfs"
    try:
        subprocess.run(
            [
                debootstrap,
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                str(rootfs),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        # What a slim image leaves out: package lists and caches, docs, man pages, locales.
        for junk in ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
            for path in (rootfs / junk).glob("*"):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        shutil.rmtree(rootfs / "usr/share/locale", ignore_errors=True)
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                [require("podman", "podman"), *PODMAN, "import", "-", LOCAL_BASE],
                stdin=tar.stdout,
                capture_output=True,
                timeout=600,
            )
        assert tar.returncode == 0 and imported.returncode == 0, imported.stderr
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def base_image(workdir: Path, wanted: str | None = None) -> str:
    """`wanted` if present or pullable, else the stand-in base (built once per machine)."""
    require("podman", "podman")
    require("runc", "runc")
    if wanted and image_exists(wanted):
        return wanted
    # One builder at a time per machine; whoever waited finds the base already there.
    with open("/tmp/incident-adapter-python-base.lock", "w") as lock:  # noqa: S108
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(LOCAL_BASE):
            return LOCAL_BASE
        if wanted and podman("pull", "-q", wanted, timeout=300, check=False).returncode == 0:
            return wanted
        build_local_base(workdir)
    return LOCAL_BASE


def checkout_tar() -> bytes:
    """What a fresh clone holds (tracked and new files, nothing ignored such as .venv)."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in filter(None, names):
            path = ROOT / name.decode()
            if path.exists():
                tar.add(path, arcname=name.decode(), recursive=False)
    return out.getvalue()


def adapter_build_args() -> tuple[str, ...]:
    """The adapter image's build arguments, the same for every test that builds it.

    podman's layer cache here reuses a LABEL layer built with other ARG values, so two tests
    building the Dockerfile with different VERSION/REVISION would share one image whose labels
    are the first build's: give every build the same ones.
    """
    from adapter import __version__

    try:
        revision = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:  # no git on the machine: the label says "unknown"
        revision = ""
    return (
        "--build-arg", f"VERSION={__version__}",
        "--build-arg", f"REVISION={revision or 'unknown'}",
    )  # fmt: skip
