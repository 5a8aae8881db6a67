"""Per-receiver outbound HTTP, made ready for the transport: TLS context, proxy, headers.

The config (adapter/config/http.py, HTTPClientSettings) has Prometheus' `http_config` shape:

    http_config:
      tls_config: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false}
      proxy_url: http://proxy.internal:3128      # else HTTP(S)_PROXY / NO_PROXY, read at load
      headers: {X-Team: sre}                     # plain values
      header_files: {X-Api-Key: /secrets/key}    # secret values, read from files
      authorization: {type: Bearer, credentials_file: /secrets/token}   # or credentials: ...
      basic_auth: {username: am, password_file: /secrets/password}     # or password: ...
      signature: {secret_file: /secrets/hmac, header: X-Signature, algorithm: sha256, prefix: ""}

Headers given here are added to every request of the receiver and win over the dialect's
(`authorization` / `basic_auth` set the Authorization header; at most one of them). The
signature is an HMAC of the exact bytes the transport sends, so it is made there, after the
dialect has fitted the body to its limits: `Signer.sign(body)`.
"""

from __future__ import annotations

import hmac
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import structlog

from adapter.config.http import HTTPClientSettings

log = structlog.get_logger("adapter.http_config")


@dataclass(frozen=True, slots=True)
class Signer:
    """`header: <prefix><hex HMAC of the body>`, with the key revealed once, at load."""

    header: str
    key: bytes = field(repr=False)
    algorithm: str = "sha256"
    prefix: str = ""

    def sign(self, body: bytes) -> str:
        return self.prefix + hmac.new(self.key, body, self.algorithm).hexdigest()


@dataclass(frozen=True, slots=True)
class HTTPOptions:
    """What the transport applies to each request of one receiver."""

    ssl: ssl.SSLContext | None = None
    proxy: str | None = None
    # Not in repr: they hold revealed credentials (Authorization, header_files).
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    signer: Signer | None = field(default=None, repr=False)

    def headers_for(self, request_headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """The request's headers with the receiver's over them, and the body's signature."""
        headers = {**request_headers, **self.headers}
        if self.signer is not None:
            headers[self.signer.header] = self.signer.sign(body)
        return headers


def env_proxy(url: str) -> str | None:
    """The proxy HTTP(S)_PROXY / NO_PROXY give for url, worked out once at load.

    aiohttp's trust_env looks this up (and reads ~/.netrc) through the thread pool on
    every request, which cost the adapter much of its throughput; asking once per
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
    if (auth := settings.auth_header()) is not None:
        headers["Authorization"] = auth
    signer = None
    if (sig := settings.signature) is not None:
        signer = Signer(sig.header, sig.key.reveal().encode(), sig.algorithm, sig.prefix)
    return HTTPOptions(
        ssl=settings.tls_config.context() if settings.tls_config else None,
        proxy=proxy,
        headers=headers,
        signer=signer,
    )
