"""What the adapter's own Python costs a webhook, without sockets, server or client:

    python tests/benchmarks/inprocess.py [--tree DIR] [--store redis://HOST:PORT/DB]
        [--level info|warning] [--webhooks 24000] [--profile FILE] 2>/dev/null

The app (`create_app`, as `serve` runs it) driven through ASGI by 16 concurrent callers with
S1's one-alert webhooks, each alert new, and an upstream that answers 202 at the next turn of
the loop (an injected transport). It prints the process's CPU per webhook, the best of four
rounds: the parse, plan, memo, log line, metrics and report of a webhook, and with `--store`
the claim in a real Redis, but not uvicorn's, httptools' or aiohttp's share, which
run.py's S1 measures with the forwarder beside it. Far less noisy than S1, so a change of a
few µs shows; compare two source trees by running each in turn (`--tree` is the directory
holding the `adapter` package to import, default this checkout) and look at min and median
over several alternations. `--profile` writes a cProfile of the measured rounds. The
adapter's log goes to stderr, as in `serve`; the figure to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CALLERS = 16
ROUNDS = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=str(ROOT), help="directory holding `adapter`")
    parser.add_argument("--store", help="redis:// URL: the adapter with coordination: on")
    parser.add_argument("--level", default="info", choices=("debug", "info", "warning"))
    parser.add_argument("--webhooks", type=int, default=24_000)
    parser.add_argument("--profile", help="write a cProfile of the measured rounds here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    sys.path.insert(0, os.path.abspath(args.tree))
    sys.path.insert(1, str(ROOT))
    import adapter

    assert adapter.__file__ is not None and adapter.__file__.startswith(
        os.path.abspath(args.tree)
    ), f"imported {adapter.__file__}, not the tree's"
    from adapter import logs
    from adapter.app import create_app
    from adapter.config.loader import load_config
    from adapter.transport import UpstreamResponse
    from tests.benchmarks import run

    logs.configure(args.level, "json")  # lines are built and written (to stderr) as in serve
    work = Path(tempfile.mkdtemp())
    config = work / "adapter.yml"
    run.STORE_URL = args.store
    run.write_adapter_config(config, work / "tokens", "t" * 32, {"fast": "http://127.0.0.1:1/"})

    class Answering:
        """The upstream: 202 at the next turn of the loop."""

        async def send(self, request: Any, timeout: float, options: Any = None) -> Any:
            await asyncio.sleep(0)
            return UpstreamResponse(202, None, b'{"status":"success","dedup_key":"k"}')

        async def aclose(self) -> None:
            return None

    app = create_app(load_config(config), transport=Answering(), config_path=str(config))
    template = json.loads(run.make_payload(1, "fast"))
    headers = [
        (b"host", b"adapter"),
        (b"authorization", b"Bearer " + b"t" * 32),
        (b"content-type", b"application/json"),
    ]

    def body(index: int) -> bytes:
        alert = dict(template["alerts"][0], fingerprint=f"{index:016x}")
        alert["labels"] = dict(alert["labels"], instance=f"api-{index}")
        group = dict(template, alerts=[alert], groupKey=f'{{}}:{{alertname="x{index}"}}')
        return json.dumps(group).encode()

    async def call(payload: bytes) -> None:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/alerts/fast",
            "raw_path": b"/alerts/fast",
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(payload)).encode())],
            "http_version": "1.1",
            "scheme": "http",
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 9095),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == 200, sent

    async def measure() -> float:
        per_round = args.webhooks // ROUNDS
        payloads = iter([body(i) for i in range(per_round * (ROUNDS + 1))])

        async def rounds(webhooks: int) -> float:
            left = itertools.count(webhooks, -1)

            async def caller() -> None:
                while next(left) > 0:
                    await call(next(payloads))

            started = time.process_time()
            await asyncio.gather(*(caller() for _ in range(CALLERS)))
            return (time.process_time() - started) / webhooks * 1e6

        async with app.router.lifespan_context(app):
            await rounds(per_round)  # warm-up: caches, the memo, the store's connections
            from adapter.server import settled

            settled()  # as serve does once started
            profile = None
            if args.profile:
                import cProfile

                profile = cProfile.Profile()
                profile.enable()
            best = min([await rounds(per_round) for _ in range(ROUNDS)])
            if profile is not None:
                profile.disable()
                profile.dump_stats(args.profile)
            return best

    import uvloop

    best = uvloop.run(measure())
    print(
        f"{os.path.abspath(args.tree)} level={args.level} store={'on' if args.store else 'off'}:"
        f" {best:.1f} µs of CPU a webhook (best of {ROUNDS} rounds of {args.webhooks // ROUNDS})",
        file=sys.__stdout__,
    )
    return best


if __name__ == "__main__":
    main()
