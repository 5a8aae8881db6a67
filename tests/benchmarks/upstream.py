"""The fast stand-in upstream: a raw asyncio HTTP/1.1 server that answers every POST with 202.

    python tests/benchmarks/upstream.py [--host 127.0.0.1] [--port 0]

It prints `listening on PORT` once bound. A path that starts with `/latency/<ms>/` is answered
after that many milliseconds (a fixed, per-request delay, without blocking other requests),
any other path at once. `GET /-/stats` answers `{"requests": N, "watched": {...}}`: POSTs
answered so far, and for POSTs under `/watch/`, the arrival time (time.monotonic(), which is
the machine's CLOCK_MONOTONIC: comparable with the harness's) of the first body carrying each
`WATCH-<name>` token (the storm scenario finds its critical alerts by it).

Why this and not the stateful stand-in (tests/standins/events.py, Starlette on uvicorn): it must never
be the bottleneck, and it shares a core with the load generator. One `asyncio.Protocol` with
keep-alive, no JSON parsing and a fixed tiny answer costs a few microseconds a request (uvloop
when installed), so at the adapter's rate it uses a few percent of its core; the harness
measures and reports that share. Requests must carry Content-Length (aiohttp and httpx send it
for a bytes body); chunked bodies are not supported and close the connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from typing import ClassVar

BODY = b'{"status":"success","message":"Event processed"}'
ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


WATCH = re.compile(rb"WATCH-[0-9A-Za-z-]+")


class Stats:
    requests = 0
    watched: ClassVar[dict[str, float]] = {}


def _ok(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


class Upstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP server's is one

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            elif b"\r\ntransfer-encoding:" in head:
                self._send(BAD, close=True)
                return
            total = end + 4 + length
            if len(buffer) < total:
                return
            close = b"\r\nconnection: close" in head
            method, _, rest = head.partition(b" ")
            target = rest.partition(b" ")[0]
            body = bytes(buffer[end + 4 : total]) if target.startswith(b"/watch/") else b""
            del buffer[:total]
            if method == b"get":
                stats = {"requests": Stats.requests, "watched": Stats.watched}
                self._send(_ok(json.dumps(stats).encode()), close)
                continue
            Stats.requests += 1
            if body:
                now = time.monotonic()
                for token in WATCH.findall(body):
                    Stats.watched.setdefault(token.decode(), now)
            delay = 0.0
            if target.startswith(b"/latency/"):
                delay = int(target.split(b"/", 3)[2]) / 1000
            if delay:
                self.loop.call_later(delay, self._send, ACCEPTED, close)
            else:
                self._send(ACCEPTED, close)

    def _send(self, answer: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(answer)
        if close:
            transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        runner = asyncio.run
    try:
        runner(serve(args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
