"""A hostile or careless upstream: it answers every request with everything it received
(method, the request line's path and query as sent, every header, the body) in its body,
under a status of the test's choosing. What leaks through the adapter's answers and logs
is then whatever the adapter failed to scrub.

It is a plain ASGI app (no router, no normalisation), so `requests` holds the path exactly
as the client sent it: `/v2/alerts/%2E%2E/close` stays that, `..` stays `..`.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Received:
    method: str
    raw_path: str  # as on the request line, before any decoding
    query: str
    headers: dict[str, str]
    body: bytes


class Echo:
    def __init__(self, status: int = 400) -> None:
        self.status = status
        self.requests: list[Received] = []
        self.lock = threading.Lock()

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        received = Received(scope["method"], raw_path, query, headers, body)
        with self.lock:
            self.requests.append(received)
        url = raw_path + ("?" + query if query else "")
        # Plain text first, the way a careless API writes an error, then the same as JSON.
        text = f"refused {scope['method']} {url}\n"
        text += "".join(f"{name}: {value}\n" for name, value in headers.items())
        text += body.decode("utf-8", "replace") + "\n"
        text += orjson.dumps({"url": url, "headers": headers, "body": body.decode()}).decode()
        out = text.encode()
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", b"%d" % len(out)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})
