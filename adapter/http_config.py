"""Per-receiver outbound HTTP, made ready for the transport: TLS context, proxy, headers.

The config (adapter/settings.py, HTTPClientSettings) has Prometheus' `http_config` shape:

    http_config:
      tls_config: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false}
      proxy_url: http://proxy.internal:3128      # else HTTP(S)_PROXY / NO_PROXY, read at load
      headers: {X-Team: sre}                     # plain values
      header_files: {X-Api-Key: /secrets/key}    # secret values, read from files

Headers given here are added to every request of the receiver and win over the dialect's.
"""

from __future__ import annotations

import ssl
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import structlog

from adapter.settings import HTTPClientSettings

log = structlog.get_logger("adapter.http_config")


@dataclass(frozen=True, slots=True)
class HTTPOptions:
    """What the transport applies to each request of one receiver."""

    ssl: ssl.SSLContext | None = None
    proxy: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def env_proxy(url: str) -> str | None:
    """The proxy HTTP(S)_PROXY / NO_PROXY give for url, worked out once at load.

    aiohttp's trust_env looks this up (and reads ~/.netrc) through the thread pool on
    every request, which cost the adapter over half its throughput; asking once per
    receiver gives the same answer for the same environment.
    """
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname):
        return None
    return proxy


def options_for(receiver: str, settings: HTTPClientSettings | None, url: str) -> HTTPOptions | None:
    proxy = (settings.proxy_url if settings else None) or env_proxy(url)
    if settings is None:
        return HTTPOptions(proxy=proxy) if proxy else None
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
        proxy=proxy,
        headers=headers,
    )
