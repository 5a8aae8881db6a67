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
      basic_auth_users:                                # every endpoint behind HTTP basic auth
        alertmanager: $2b$12$...                       # bcrypt hashes (`htpasswd -nBC 12 ""`)
      http_server_config:
        headers: {X-Frame-Options: deny}               # exporter-toolkit's list of settable headers
        http2: false                                   # uvicorn serves HTTP/1.1 only

  Every key is honoured or refused by name; none is ignored. The basic auth itself is
  adapter/edge.py.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import re
import signal
import socket
import ssl
from pathlib import Path
from types import FrameType
from typing import Any, Literal, cast

import uvicorn
import yaml
from pydantic import Field, ValidationError, field_validator
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from adapter.config.loader import yaml_problem
from adapter.config.model import Model
from adapter.secrets import Secret

# After SIGTERM, in-flight webhooks get the longest delivery.timeout of any receiver (each
# answers by its own) plus this margin, for the answer to be written: a stop never cuts a
# webhook inside its deadline. Worked out at the signal, so a reload's timeouts count.
GRACE_MARGIN_SECONDS = 5


def shutdown_grace(longest_webhook: float) -> int:
    """Seconds a stop waits for in-flight webhooks, given the longest delivery.timeout."""
    return math.ceil(longest_webhook) + GRACE_MARGIN_SECONDS


# The grace with the default delivery.timeout (8 s). Kubernetes' terminationGracePeriodSeconds
# must stay above the preStop pause plus the grace (deploy/kubernetes sets 30): raise it with
# delivery.timeout (docs/how-to/operations.md, "Stopping").
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


# The headers `http_server_config.headers` may set, and the values allowed where the header
# is an enumeration: exporter-toolkit's list (web/handler.go, extraHTTPHeaders), kept the same
# so one web config means the same to every Prometheus component.
SETTABLE_HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}

# A bcrypt hash as exporter-toolkit reads one (golang.org/x/crypto/bcrypt): version 2, 2a, 2b
# or 2y, a two-digit cost 04..31, then 53 characters of salt and digest.
BCRYPT_HASH = re.compile(r"\$2[abxy]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}\Z")


class HTTPServerConfig(Model):
    headers: dict[str, str] = Field(default_factory=dict)
    http2: bool | None = None

    @field_validator("headers")
    @classmethod
    def _settable(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if name not in SETTABLE_HEADERS:
                raise ValueError(
                    f"header {name!r} cannot be set; these can: {', '.join(SETTABLE_HEADERS)}"
                )
            allowed = SETTABLE_HEADERS[name]
            if allowed and value not in allowed:
                raise ValueError(
                    f"header {name}: {value!r} is not one of {', '.join(map(repr, allowed))}"
                )
            if not value.isprintable():
                raise ValueError(f"header {name}: the value holds a control character")
        return headers

    @field_validator("http2")
    @classmethod
    def _http1_only(cls, http2: bool | None) -> bool | None:
        if http2:
            raise ValueError(
                "the adapter's server (uvicorn) speaks HTTP/1.1 only; set http2: false or "
                "leave it out (put a proxy that speaks HTTP/2 in front if you need it)"
            )
        return http2


class WebConfig(Model):
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    # username -> bcrypt hash; a Secret, so neither prints (adapter/edge.py checks them)
    basic_auth_users: dict[str, Secret] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt(cls, users: dict[str, Secret]) -> dict[str, Secret]:
        for user, hashed in users.items():
            if not user or ":" in user:
                raise ValueError(f"user {user!r}: a basic-auth user name is not empty, has no ':'")
            if not BCRYPT_HASH.match(hashed.reveal()):
                # named by its user, never shown: a hash is a secret's stand-in
                raise ValueError(
                    f"user {user!r}: the value is not a bcrypt hash ($2b$12$ and 53 more "
                    "characters); make one with `htpasswd -nBC 12 \"\" | tr -d ':\\n'`"
                )
        return users


def load_web_config(path: str) -> WebConfig:
    """The web config; ValueError names what is wrong, like the main config's errors."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the web config: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:  # the place and kind, never the line: it may hold a secret
        raise ValueError(f"{path}: {yaml_problem(exc)}") from None
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


class JoinedWrites:
    """A connection's transport that holds a write until the next one and sends the two as
    one, or sends it alone at the end of the turn of the event loop.

    uvicorn writes a response's head and then its body, two write() calls: on loopback each
    is a system call that wakes the reader, a cost on every webhook. Here the head waits for
    the body, or for the end of the turn if none comes (a streamed response); close() sends
    what waits first."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
        else:
            self._held = None
            self._transport.write(held + data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return bool(self._transport.is_closing())

    def __getattr__(self, name: str) -> Any:  # get_extra_info, set_protocol, abort ...
        return getattr(self._transport, name)


def bounded_protocol(max_header_bytes: int) -> type[HttpToolsProtocol]:
    body = json.dumps({"error": f"request line and headers over {max_header_bytes} bytes"}).encode()
    answer = (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        head_bytes = 0
        head_too_large = False

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)  # flow control keeps the transport itself
            self.transport = cast(asyncio.Transport, JoinedWrites(transport, self.loop))

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
    paused the webhook path now and then, far shorter when frozen
    (docs/explanation/performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


def serve(
    app: Starlette,
    host: str,
    port: int,
    web_config: WebConfig | None = None,
    max_header_bytes: int = 16_384,
    asgi: Any = None,
) -> None:
    """Serve `app` (`asgi`, when given, is what the listener calls: the app inside
    adapter/edge.py's Edge)."""
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
            asgi or app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            loop="auto",
            http=bounded_protocol(max_header_bytes),
            ws="none",
            lifespan="on",
            server_header=False,
            # Nothing here reads a client's address or scheme: X-Forwarded-* from a local peer
            # has nothing to rewrite, and uvicorn's middleware for it cost every request a call.
            proxy_headers=False,
            timeout_graceful_shutdown=shutdown_grace(state.loaded.longest_webhook),
            **tls,
        )
    ).run()
