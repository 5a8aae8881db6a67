"""What the subcommands share: flags that may come from the environment, the listen address."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapter.server import WebConfig

DEFAULT_LISTEN = "127.0.0.1:9095"

ENV = "INCIDENT_ADAPTER_"


def env(name: str, default: str | None) -> str | None:
    return os.environ.get(ENV + name, default)


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--web.listen-address {address!r} must be HOST:PORT, e.g. 127.0.0.1:9095")
    return host.strip("[]") or "0.0.0.0", int(port)


def web_guards(web: WebConfig | None, auth_enabled: bool, source: str) -> bool:
    """Whether the web config's basic_auth_users guard the listener (then the config needs no
    credential of its own, whatever the address). ConfigError when the config's `auth:` is set
    too: both are the Authorization header, and a request (a webhook) carries one."""
    from adapter.auth import BESIDE_WEB_USERS
    from adapter.config.loader import ConfigError

    if web is None or not web.basic_auth_users:
        return False
    if auth_enabled:
        raise ConfigError(source, [BESIDE_WEB_USERS])
    return True
