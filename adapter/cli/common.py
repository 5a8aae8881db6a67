"""What the subcommands share: flags that may come from the environment, the listen address."""

from __future__ import annotations

import os

DEFAULT_LISTEN = "127.0.0.1:9095"

ENV = "INCIDENT_ADAPTER_"


def env(name: str, default: str | None) -> str | None:
    return os.environ.get(ENV + name, default)


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--web.listen-address {address!r} must be HOST:PORT, e.g. 127.0.0.1:9095")
    return host.strip("[]") or "0.0.0.0", int(port)
