"""The listener's own rules, around the app: Prometheus' path flags and the web config's basic
auth and response headers.

    WebPaths.from_flags(external_url, route_prefix)   ValueError names the flag
    Edge(app, paths, web)                             an ASGI app around the adapter's app
    link_base(scope)                                  what the landing page's links start with

Paths, with Prometheus' meaning (`--web.external-url`, `--web.route-prefix`): the route prefix
defaults to the external URL's path, else `/`; every endpoint is served under it. Beside it,
`/-/healthy`, `/-/ready` and `/metrics` also answer at the root: a kubelet's probe and
Prometheus' scrape of the pod reach the container directly, never through the ingress that
owns the prefix, so deploy/ keeps its probes as they are. `GET /` redirects to the prefix, as
Prometheus does; any other path outside the prefix is 404. The page's links and forms start
with the external URL (absolute), or with the prefix when there is none.

Basic auth (`basic_auth_users`, exporter-toolkit's meaning): every request, health and metrics
included, must carry one of the users and its password. bcrypt is slow on purpose (a cost of 12
is a quarter of a second), too slow to pay per webhook: like exporter-toolkit, a verdict is
cached, keyed by a hash of (user, stored hash, password), and only one bcrypt runs at a time,
in a thread, off the event loop. An unknown user is checked against a fixed hash, so the time to
answer does not say which users exist.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import bcrypt
import orjson

from adapter.bodies import Receive, Scope, Send

if TYPE_CHECKING:
    from adapter.server import WebConfig

Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LINK_BASE = "incident_adapter.link_base"  # the scope key the page's links start with
AT_THE_ROOT = frozenset({"/-/healthy", "/-/ready", "/metrics"})  # where probes and scrapes look

# bcrypt of a password nobody has, for an unknown user when no user is configured.
# (Made once with bcrypt.hashpw and a cost of 10, exporter-toolkit's choice for its own.)
_DECOY = b"$2b$10$7pKodpJSeYaJK27pX23HF.m9rqPlUksH0ZqpJ2tDLXwGv7KaDQ41y"
CACHE_SIZE = 100  # credentials that passed, kept: as exporter-toolkit's cache


def link_base(scope: Scope) -> str:
    """The external URL (or the route prefix) without its trailing `/`: `base + "/metrics"`."""
    base: str = scope.get(LINK_BASE, "")
    return base


@dataclass(frozen=True)
class WebPaths:
    external_url: str = ""  # without a trailing "/"; "" when not given
    route_prefix: str = "/"  # "/" or "/name" without a trailing "/"

    @classmethod
    def from_flags(cls, external_url: str | None, route_prefix: str | None) -> WebPaths:
        url = (external_url or "").strip()
        if url:
            parts = urlsplit(url)
            if "@" in parts.netloc:  # not echoed: the part before the @ may be a password
                raise ValueError("--web.external-url must not hold a user or password")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"--web.external-url {url!r} must be an absolute http(s) URL, e.g. "
                    "https://ops.example.com/incident-adapter/"
                )
            if parts.query or parts.fragment:
                raise ValueError(f"--web.external-url {url!r} must have no query or fragment")
            url = url.rstrip("/")
        prefix = route_prefix if route_prefix is not None else urlsplit(url).path
        prefix = "/" + prefix.strip("/")
        if any(c in prefix for c in "?#%") or not prefix.isprintable():
            raise ValueError(f"--web.route-prefix {route_prefix!r} must be a plain path")
        return cls(url, prefix)

    @property
    def links(self) -> str:
        return self.external_url or self.route_prefix.rstrip("/")


class BasicAuthUsers:
    """The web config's users: `allows(authorization)`, bcrypt paid once per credential that
    passes. A failure is never kept: guesses cannot push the users' own credentials out of
    the cache, and each guess costs bcrypt's work behind one lock, not the users'."""

    def __init__(self, users: dict[str, bytes]) -> None:
        self._users = users
        # An unknown user is checked against a configured user's hash: the same cost as a
        # known one (the hashes' cost is the operator's choice), so the time of an answer
        # does not tell whether the user exists. It never passes: the user is unknown.
        self._decoy = next(iter(users.values()), _DECOY)
        self._verdicts: dict[bytes, bool] = {}
        self._lock: asyncio.Lock | None = None

    async def allows(self, authorization: str | None) -> bool:
        scheme, _, credential = (authorization or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(credential.strip(), validate=True).partition(
                b":"
            )
        except (binascii.Error, ValueError):
            return False
        if not sep:
            return False
        known = self._users.get(user.decode("utf-8", "replace"))
        hashed = known if known is not None else self._decoy
        # the user's length first: no two (user, hash, password) run together the same way
        key = hashlib.sha256(b"%d:%s%s%s" % (len(user), user, hashed, password)).digest()
        verdict = self._verdicts.get(key)
        if verdict is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:  # one bcrypt at a time: each holds a core
                verdict = await asyncio.to_thread(_checkpw, password, hashed)
            if not (verdict and known is not None):
                return False
            if len(self._verdicts) >= CACHE_SIZE:
                self._verdicts.pop(next(iter(self._verdicts)))
            self._verdicts[key] = True
        return verdict and known is not None


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # over bcrypt's 72 bytes, or a hash it cannot read: never a match
        return False


_UNAUTHORIZED = orjson.dumps({"error": "missing or wrong credential"})
_NOT_HERE = orjson.dumps({"error": "not found: this adapter serves under its route prefix"})


class Edge:
    def __init__(
        self, app: ASGIApp, paths: WebPaths | None = None, web: WebConfig | None = None
    ) -> None:
        self.app = app
        self.paths = paths or WebPaths()
        self.prefix = "" if self.paths.route_prefix == "/" else self.paths.route_prefix
        self.users = (
            BasicAuthUsers({u: h.reveal().encode() for u, h in web.basic_auth_users.items()})
            if web is not None and web.basic_auth_users
            else None
        )
        headers = web.http_server_config.headers if web is not None else {}
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.headers:
            send = self._with_headers(send)
        if self.users is not None:
            authorization = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    authorization = value.decode("latin-1")
                    break
            if not await self.users.allows(authorization):
                await _answer(
                    send,
                    401,
                    _UNAUTHORIZED,
                    [(b"www-authenticate", b'Basic realm="incident-adapter"')],
                )
                return
        scope[LINK_BASE] = self.paths.links
        if self.prefix:
            path: str = scope["path"]
            if path == self.prefix or path.startswith(self.prefix + "/"):
                inner = path[len(self.prefix) :] or "/"
                scope = dict(scope, path=inner)
                raw = scope.get("raw_path")
                if raw is not None:
                    scope["raw_path"] = raw[len(self.prefix) :] or b"/"
            elif path == "/" and scope["method"] in ("GET", "HEAD"):
                target = (self.paths.links + "/").encode()
                await _answer(send, 302, b"", [(b"location", target)])
                return
            elif path not in AT_THE_ROOT:
                await _answer(send, 404, _NOT_HERE)
                return
        await self.app(scope, receive, send)

    @classmethod
    def around(cls, app: ASGIApp, paths: WebPaths, web: WebConfig | None) -> ASGIApp:
        """An Edge around `app`, or `app` itself when there is nothing for an Edge to do (no
        prefix, no external URL, no users, no headers): the webhook's path stays as short."""
        plain = web is None or not (web.basic_auth_users or web.http_server_config.headers)
        return app if plain and paths == WebPaths() else cls(app, paths, web)

    def _with_headers(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *self.headers]
            await send(message)

        return sending


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    head = [(b"content-length", str(len(body)).encode()), *(headers or ())]
    if body:
        head.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
