"""Sending one request upstream: the one extension point for network I/O.

    Transport.send(request, timeout) -> UpstreamResponse
        raises TimeoutError          no answer within timeout
        raises TransportError        no answer at all (refused, reset, DNS, TLS)
        raises RequestRefused        the client will not send this request as built (a
                                     control character in a header, a URL it cannot use)

Two implementations:

- `AiohttpTransport`, the default. Measured on this machine with a bare forwarder (one
  core, 16 connections, one-alert webhooks): httpx's own transport ~620 webhooks/s, httpx
  over an aiohttp transport ~2,950, aiohttp directly ~5,600. The client stack is most of
  the cost of a webhook, so production uses aiohttp directly.
- `HttpxTransport`, for tests (httpx.MockTransport, respx) and anyone who wants httpx.

Redirects are never followed: an incident API that redirects is misconfigured, and
following a redirect could carry a routing key to another host.

Both send the URL as written: the pipeline has checked it stays under the receiver's url
(adapter/urls.py). yarl, under aiohttp, would otherwise decode `%2E%2E` and collapse it
(`/v2/alerts/%2E%2E/close` becomes `/v2/close`), so aiohttp gets a `yarl.URL(...,
encoded=True)`; httpx keeps percent-encoded segments as they are.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import yarl

from adapter import __version__
from adapter.events import UpstreamRequest
from adapter.http_config import HTTPOptions

if TYPE_CHECKING:  # imported when an HttpxTransport is made: production never loads httpx
    import httpx

USER_AGENT = f"incident-adapter/{__version__}"
# Enough of an upstream's answer to say why it refused, or to find an id in a listing.
BODY_LIMIT = 1024 * 1024


class TransportError(Exception):
    """No HTTP answer: the connection failed. Always worth a retry."""


class RequestRefused(Exception):
    """The HTTP client refuses to build this request: it would refuse it again on every
    retry, so the event fails alone, for good (424), and nothing is sent. The message names
    the part, never its value (a header may carry a secret)."""


# What aiohttp refuses in a request line or header (http_writer._FORBIDDEN_HEADER_CHARS_RE:
# C0 controls but TAB, and DEL); HttpxTransport refuses the same, so tests over httpx's
# MockTransport see what production sees.
_FORBIDDEN_IN_HEADERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_refusal(method: str, headers: Mapping[str, str]) -> str | None:
    """Why aiohttp would refuse these headers (None: it would not)."""
    if _FORBIDDEN_IN_HEADERS.search(method):
        return "the method holds a control character"
    for name, value in headers.items():
        if _FORBIDDEN_IN_HEADERS.search(name) or _FORBIDDEN_IN_HEADERS.search(value):
            shown = _FORBIDDEN_IN_HEADERS.sub("?", name)[:64]
            return f"header {shown!r} holds a control character the HTTP client refuses"
    return None


@dataclass(slots=True)  # a value, not frozen: made per event (docs/design.md)
class UpstreamResponse:
    status: int
    retry_after: float | None = None
    body: bytes = b""


class Transport(Protocol):
    async def send(
        self, request: UpstreamRequest, timeout: float, options: HTTPOptions | None = None
    ) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@functools.lru_cache(maxsize=256)
def _total(seconds: float) -> aiohttp.ClientTimeout:
    """One ClientTimeout per value: nearly every attempt's is the receiver's attempt_timeout."""
    return aiohttp.ClientTimeout(total=seconds)


class AiohttpTransport:
    """One pooled aiohttp session for the life of the process. Create it inside the loop."""

    def __init__(self, *, limit: int = 256) -> None:
        connector = aiohttp.TCPConnector(limit=limit, ttl_dns_cache=60)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT},
            auto_decompress=True,
            # Not trust_env: it costs two thread-pool trips a request. The environment's
            # proxy is resolved once per receiver instead (http_config.env_proxy).
            trust_env=False,
        )

    async def send(
        self, request: UpstreamRequest, timeout: float, options: HTTPOptions | None = None
    ) -> UpstreamResponse:
        headers = request.headers
        extra: dict[str, Any] = {}
        if options is not None:
            headers = options.headers_for(headers, request.body)
            extra = {"ssl": options.ssl or True, "proxy": options.proxy}
        try:
            async with self._session.request(
                request.method,
                yarl.URL(request.url, encoded=True),
                headers=headers,
                data=request.body,
                allow_redirects=False,
                timeout=_total(timeout),
                **extra,
            ) as response:
                if (response.content_length or 0) <= BODY_LIMIT:
                    body = await response.read()
                else:
                    body = await response.content.readexactly(BODY_LIMIT)
                return UpstreamResponse(
                    response.status, parse_retry_after(response.headers.get("Retry-After")), body
                )
        except TimeoutError:
            raise
        except aiohttp.InvalidURL as exc:  # a ClientError, but the same on every attempt
            raise RequestRefused(_refusal_of(exc, request, headers)) from None
        except (aiohttp.ClientError, OSError) as exc:
            # Before ValueError: a certificate error is a ClientError and a ValueError too.
            raise TransportError(type(exc).__name__) from None
        except ValueError as exc:
            # Raised before anything is sent, the same way on every attempt: a header value
            # with a control character (aiohttp's own check).
            raise RequestRefused(_refusal_of(exc, request, headers)) from None

    async def aclose(self) -> None:
        await self._session.close()


def _refusal_of(exc: Exception, request: UpstreamRequest, headers: Mapping[str, str]) -> str:
    """What the client refused, in words that carry no value of the request."""
    if isinstance(exc, aiohttp.InvalidURL):
        return "the HTTP client cannot use the rendered URL"
    found = header_refusal(request.method, headers)
    if found is not None:
        return found
    return f"the HTTP client refuses the request ({type(exc).__name__})"


class HttpxTransport:
    """httpx underneath: pass `transport=httpx.MockTransport(handler)` or use respx in tests.

    It applies a receiver's whole http_config: extra headers and signature per request, and
    TLS and proxy through one client per distinct (SSL context, proxy), since httpx fixes
    those per client, not per request. A receiver's options are made once per load, so the
    clients are few.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        import httpx

        self._httpx = httpx
        self._transport = transport
        self._client = self._new_client(None, None)
        self._clients: dict[tuple[ssl.SSLContext | None, str | None], httpx.AsyncClient] = {}

    def _new_client(self, context: ssl.SSLContext | None, proxy: str | None) -> httpx.AsyncClient:
        return self._httpx.AsyncClient(
            transport=self._transport,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
            # The receiver's options carry the environment's proxy already (options_for).
            trust_env=context is None and proxy is None,
            verify=context if context is not None else True,
            proxy=proxy,
        )

    def _client_for(self, options: HTTPOptions | None) -> httpx.AsyncClient:
        if options is None or (options.ssl is None and options.proxy is None):
            return self._client
        key = (options.ssl, options.proxy)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._new_client(options.ssl, options.proxy)
        return client

    async def send(
        self, request: UpstreamRequest, timeout: float, options: HTTPOptions | None = None
    ) -> UpstreamResponse:
        headers = dict(request.headers)
        if options is not None:
            headers = options.headers_for(headers, request.body)
        refused = header_refusal(request.method, headers)
        if refused is not None:
            raise RequestRefused(refused)
        httpx = self._httpx
        try:
            async with asyncio.timeout(timeout):
                response = await self._client_for(options).request(
                    request.method,
                    request.url,
                    # UTF-8, as aiohttp sends them (httpx would refuse anything not ASCII).
                    headers={k.encode(): v.encode() for k, v in headers.items()},
                    content=request.body,
                    timeout=timeout,
                )
        except httpx.TimeoutException:
            raise TimeoutError from None
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            # Found before anything was sent, the same on every attempt (LocalProtocolError
            # and UnsupportedProtocol are TransportErrors, but no retry changes them).
            raise RequestRefused(
                f"the HTTP client refuses the request ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise TransportError(type(exc).__name__) from None
        except ValueError as exc:  # e.g. a URL httpx cannot encode
            raise RequestRefused(
                f"the HTTP client refuses the request ({type(exc).__name__})"
            ) from None
        return UpstreamResponse(
            response.status_code,
            parse_retry_after(response.headers.get("Retry-After")),
            response.content[:BODY_LIMIT],
        )

    async def aclose(self) -> None:
        for client in (self._client, *self._clients.values()):
            await client.aclose()
