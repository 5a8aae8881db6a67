"""Serving: uvicorn with a bounded request head, graceful stop, and optional (m)TLS.

    serve(app, host, port, web_config=None, max_header_bytes=16384)

- httptools parses fastest, but buffers any header size; the protocol below counts the
  request line and headers as they arrive and answers 431 past the limit.
- SIGTERM: readiness turns 503 at once, in-flight webhooks get the longest delivery.timeout
  plus GRACE_MARGIN_SECONDS (`shutdown_grace`), exit 0.
- Once started, the garbage collector leaves the startup heap alone and collects the young
  generation less often (`settled`): it shows in a webhook's p99 and its CPU.
- TLS from a web config file in Prometheus exporter-toolkit's format (`--web.config.file`):

      tls_server_config:
        cert_file: /etc/tls/tls.crt
        key_file: /etc/tls/tls.key
        client_auth_type: RequireAndVerifyClientCert   # mutual TLS
        client_ca_file: /etc/tls/ca.crt
"""

from __future__ import annotations

import gc
import json
import math
import signal
import socket
import ssl
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import uvicorn
import yaml
from pydantic import Field, ValidationError
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from adapter.config.loader import yaml_problem
from adapter.config.model import Model

# After SIGTERM, in-flight webhooks get the longest delivery.timeout of any receiver (each
# answers by its own) plus this margin, for the answer to be written: a stop never cuts a
# webhook inside its deadline. Worked out at the signal, so a reload's timeouts count.
GRACE_MARGIN_SECONDS = 5


def shutdown_grace(longest_webhook: float) -> int:
    """Seconds a stop waits for in-flight webhooks, given the longest delivery.timeout."""
    return math.ceil(longest_webhook) + GRACE_MARGIN_SECONDS


# The grace with the default delivery.timeout (8 s). Kubernetes' terminationGracePeriodSeconds
# must stay above the preStop pause plus the grace (deploy/kubernetes sets 30): raise it with
# delivery.timeout (docs/operations.md, "Stopping").
GRACEFUL_SECONDS = shutdown_grace(8.0)

CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


class TLSServerConfig(Model):
    cert_file: Path
    key_file: Path
    client_auth_type: Literal[
        "NoClientCert",
        "RequestClientCert",
        "VerifyClientCertIfGiven",
        "RequireAnyClientCert",
        "RequireAndVerifyClientCert",
    ] = "NoClientCert"
    client_ca_file: Path | None = None


class WebConfig(Model):
    tls_server_config: TLSServerConfig | None = None
    http_server_config: dict[str, Any] = Field(default_factory=dict)  # accepted, not used


def load_web_config(path: str) -> WebConfig:
    """The web config; ValueError names what is wrong, like the main config's errors."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the web config: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:  # the place and kind, never the line: it may hold a secret
        raise ValueError(f"{path}: {yaml_problem(exc)}") from None
    if isinstance(data, dict) and "basic_auth_users" in data:
        raise ValueError(
            f"{path}: basic_auth_users is not supported here; set auth.basic_auth in the "
            "adapter's config instead"
        )
    try:
        web = WebConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ValueError(f"{path}: " + "; ".join(problems)) from None
    tls = web.tls_server_config
    if tls is not None:
        for name in ("cert_file", "key_file", "client_ca_file"):
            file = getattr(tls, name)
            if file is not None and not file.is_file():
                raise ValueError(f"{path}: tls_server_config.{name}: no file at {file}")
        if tls.client_auth_type == "RequireAndVerifyClientCert" and tls.client_ca_file is None:
            raise ValueError(
                f"{path}: tls_server_config.client_ca_file is needed to verify clients"
            )
        _check_tls_files(path, tls)
    return web


def _check_tls_files(path: str, tls: TLSServerConfig) -> None:
    """Load the files as the server will, so a bad PEM is an error here (and in check-config
    --web.config.file), not a traceback from uvicorn at start."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(
            f"{path}: tls_server_config.cert_file, key_file: cannot load them as a certificate "
            f"and its key: {exc.__class__.__name__} {getattr(exc, 'reason', '') or ''}".rstrip()
        ) from None
    if tls.client_ca_file is not None:
        try:
            context.load_verify_locations(tls.client_ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(
                f"{path}: tls_server_config.client_ca_file: cannot load it as CA certificates: "
                f"{exc.__class__.__name__} {getattr(exc, 'reason', '') or ''}".rstrip()
            ) from None


def bounded_protocol(max_header_bytes: int) -> type[HttpToolsProtocol]:
    body = json.dumps({"error": f"request line and headers over {max_header_bytes} bytes"}).encode()
    answer = (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        head_bytes = 0
        head_too_large = False

        def on_message_begin(self) -> None:
            self.head_bytes = 0
            super().on_message_begin()

        def _count(self, size: int) -> None:
            self.head_bytes += size
            if self.head_bytes > max_header_bytes:
                self.head_too_large = True
                raise ValueError("request head too large")  # httptools stops parsing

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value))
            super().on_header(name, value)

        def send_400_response(self, msg: str) -> None:
            if not self.head_too_large:
                super().send_400_response(msg)
                return
            self.transport.write(answer)
            self.transport.close()

    return BoundedHttpToolsProtocol


# Allocations between two young-generation collections (CPython's default: 700). A webhook
# allocates a few hundred objects and nearly all of them die by reference counting before a
# collection sees them; at 700 the collector kept re-scanning the in-flight ones, a cost on
# every webhook. A young collection of 50k objects is still short.
GC_YOUNG_THRESHOLD = 50_000


def settled() -> None:
    """After startup: what is loaded now (modules, config, compiled templates) lives as long
    as the process. Frozen, the garbage collector stops re-scanning it: a full collection
    paused the webhook path now and then, far shorter when frozen (docs/performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


def serve(
    app: Starlette,
    host: str,
    port: int,
    web_config: WebConfig | None = None,
    max_header_bytes: int = 16_384,
) -> None:
    state = app.state.adapter

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # Not ready from the first moment of shutdown, so the Service stops sending
            # new webhooks while in-flight ones finish, each within its own deadline.
            state.ready = False
            self.config.timeout_graceful_shutdown = shutdown_grace(state.loaded.longest_webhook)
            super().handle_exit(sig, frame)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            settled()

    tls: dict[str, Any] = {}
    if web_config is not None and (t := web_config.tls_server_config) is not None:
        tls = {
            "ssl_certfile": str(t.cert_file),
            "ssl_keyfile": str(t.key_file),
            "ssl_cert_reqs": CLIENT_AUTH[t.client_auth_type],
            "ssl_ca_certs": str(t.client_ca_file) if t.client_ca_file else None,
        }
    # uvicorn re-raises the signal it shut down for, after restoring the handler it
    # found; with this one in place a graceful stop ends with exit status 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            loop="auto",
            http=bounded_protocol(max_header_bytes),
            ws="none",
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=shutdown_grace(state.loaded.longest_webhook),
            **tls,
        )
    ).run()
