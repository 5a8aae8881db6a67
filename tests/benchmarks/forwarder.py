"""The reference: a bare forwarder, the least a webhook-to-events service can do.

    python tests/benchmarks/forwarder.py --listen 127.0.0.1:PORT --client aiohttp|httpx \
        --route NAME=URL [--route NAME=URL ...]

Starlette on uvicorn, configured as the adapter's own server (uvloop, httptools, no access
log). `POST /alerts/{name}` parses the JSON and sends one upstream POST per alert (a small
events-v2 body: routing key, action, dedup key = the alert's fingerprint, summary, source,
severity) to the route's URL, at most 32 at a time per webhook like the adapter's default
`delivery.concurrency`, and answers 200 `{"received": N, "delivered": N}` (502 if any upstream
answer was not 2xx). Nothing else: no auth, no validation, no retries, no logging, no metrics.
`GET /-/ready` answers 200 once the client is up.

Both clients get the same pool size (256 connections, all kept alive) so that the comparison
is between client stacks, not pool settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CONCURRENCY = 32
POOL = 256
HEADERS = {"Content-Type": "application/json"}
ROUTING_KEY = "bench-routing-key-0123456789abcdef"

Post = Callable[[str, bytes], Awaitable[int]]


def _event(alert: dict[str, Any]) -> bytes:
    labels = alert.get("labels") or {}
    resolved = alert.get("status") == "resolved"
    body: dict[str, Any] = {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve" if resolved else "trigger",
        "dedup_key": alert.get("fingerprint", ""),
    }
    if not resolved:
        body["payload"] = {
            "summary": (alert.get("annotations") or {}).get("summary", "alert"),
            "source": labels.get("instance", "unknown"),
            "severity": labels.get("severity", "warning"),
        }
    return json.dumps(body).encode()


def create_app(client: str, routes: dict[str, str]) -> Starlette:
    post: Post | None = None

    async def forward(request: Request) -> Response:
        assert post is not None
        url = routes[request.path_params["receiver"]]
        alerts = json.loads(await request.body())["alerts"]
        if len(alerts) == 1:
            codes = [await post(url, _event(alerts[0]))]
        else:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(alert: dict[str, Any]) -> int:
                async with gate:
                    return await post(url, _event(alert))

            codes = await asyncio.gather(*(one(a) for a in alerts))
        delivered = sum(200 <= c < 300 for c in codes)
        return JSONResponse(
            {"received": len(alerts), "delivered": delivered},
            status_code=200 if delivered == len(alerts) else 502,
        )

    async def ready(_: Request) -> Response:
        return JSONResponse({"status": "ready" if post else "not ready"}, 200 if post else 503)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal post
        if client == "aiohttp":
            import aiohttp

            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL))

            async def post_aiohttp(url: str, body: bytes) -> int:
                async with session.post(url, data=body, headers=HEADERS) as response:
                    await response.read()
                    return response.status

            post = post_aiohttp
            try:
                yield
            finally:
                await session.close()
        else:
            import httpx

            limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
            async with httpx.AsyncClient(limits=limits) as http:

                async def post_httpx(url: str, body: bytes) -> int:
                    response = await http.post(url, content=body, headers=HEADERS)
                    return response.status_code

                post = post_httpx
                yield

    return Starlette(
        routes=[
            Route("/alerts/{receiver}", forward, methods=["POST"]),
            Route("/-/ready", ready, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--client", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument("--route", action="append", default=[], help="NAME=URL")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    routes = dict(r.split("=", 1) for r in args.route)
    uvicorn.Server(
        uvicorn.Config(
            create_app(args.client, routes),
            host=host,
            port=int(port),
            log_config=None,
            log_level="warning",
            access_log=False,
            loop="auto",
            http="auto",
            lifespan="on",
            server_header=False,
        )
    ).run()


if __name__ == "__main__":
    main()
