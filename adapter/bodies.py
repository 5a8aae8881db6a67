"""Reading a request at the edge: the ASGI types, a body read under its size limit, the
content-type check and the JSON error answer. Shared by the webhook (adapter/webhook.py) and
the other endpoints (adapter/endpoints.py), so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class ClientGone(Exception):
    """The client disconnected before its body was complete."""


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be over the limit (by its declared
    Content-Length or by what arrived)."""
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
