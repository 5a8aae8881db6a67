"""The load generator used when wrk is not installed: aiohttp, one keep-alive connection each.

    BENCH_TOKEN=... python tests/benchmarks/loadgen.py URL BODY.json [SERIES] \
        --connections N --duration S

Closed loop like wrk (each connection sends its next request when the answer is in), the same
fresh fingerprints in every request (see webhook.lua) and the same output: one line
`BENCH_JSON {...}`, latencies in microseconds. Slower than wrk (Python):
run.py reports which generator was used and how busy its core was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import aiohttp


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


MARKER = b"RQRQRQRQRQRQ"


async def load(
    url: str, template: bytes, series: int, connections: int, duration: float
) -> dict[str, object]:
    headers = {"Content-Type": "application/json"}
    if token := os.environ.get("BENCH_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    received = 0
    counter = 0
    started = time.perf_counter()
    stop = started + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal received, counter
        while time.perf_counter() < stop:
            counter += 1
            body = template.replace(MARKER, b"%04x%08x" % (series, counter))
            sent = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    received += len(await response.read())
                    if not 200 <= response.status < 400:
                        errors["status"] += 1
            except TimeoutError:
                errors["timeout"] += 1
                continue
            except aiohttp.ClientError:
                errors["read"] += 1
                continue
            latencies.append(time.perf_counter() - sent)

    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    us = 1e6
    return {
        "requests": len(latencies) + sum(errors.values()),
        "duration_us": int(elapsed * us),
        "bytes": received,
        "errors": errors,
        "latency_us": {
            "mean": sum(ordered) / len(ordered) * us if ordered else 0.0,
            "max": ordered[-1] * us if ordered else 0.0,
            "p50": percentile(ordered, 50) * us,
            "p90": percentile(ordered, 90) * us,
            "p99": percentile(ordered, 99) * us,
            "p999": percentile(ordered, 99.9) * us,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("body", help="a file holding the request body, with the marker")
    parser.add_argument("series", nargs="?", type=int, default=0, help="fingerprint series")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    with open(args.body, "rb") as f:
        body = f.read()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    result = runner(load(args.url, body, args.series, args.connections, args.duration))
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
