"""Per-receiver outbound HTTP, made ready for the transport: TLS context, proxy, headers.

The config (adapter/settings.py, HTTPClientSettings) has Prometheus' `http_config` shape:

    http_config:
      tls_config: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false}
      proxy_url: http://proxy.internal:3128      # else HTTPS_PROXY / NO_PROXY apply
      headers: {X-Team: sre}                     # plain values
      header_files: {X-Api-Key: /secrets/key}    # secret values, read from files

Headers given here are added to every request of the receiver and win over the dialect's.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import structlog

from adapter.settings import HTTPClientSettings

log = structlog.get_logger("adapter.http_config")


@dataclass(frozen=True, slots=True)
class HTTPOptions:
    """What the transport applies to each request of one receiver."""

    ssl: ssl.SSLContext | None = None
    proxy: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def options_for(receiver: str, settings: HTTPClientSettings | None) -> HTTPOptions | None:
    if settings is None:
        return None
    if settings.tls_config is not None and settings.tls_config.insecure_skip_verify:
        log.warning(
            "config.insecure_skip_verify",
            receiver=receiver,
            why="the upstream's certificate is not checked: anyone on the path can read the keys",
        )
    headers: dict[str, Any] = {**settings.headers}
    headers.update({name: s.reveal() for name, s in settings.header_files.items()})
    return HTTPOptions(
        ssl=settings.tls_config.context() if settings.tls_config else None,
        proxy=settings.proxy_url,
        headers=headers,
    )
