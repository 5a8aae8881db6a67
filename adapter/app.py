"""The HTTP app: routes and the lifespan, nothing else.

    create_app(config, transport=None, registry=None, config_path=None) -> Starlette

The webhook (the hot path) is adapter/webhook.py; the small endpoints adapter/endpoints.py;
what they share (the loaded config, reload, token rotation) adapter/state.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator

import structlog
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import Route

from adapter import __version__, endpoints
from adapter.config import Config, ConfigError
from adapter.delivery import Deliverer
from adapter.metrics import Metrics
from adapter.state import TOKEN_FILE_POLL, State
from adapter.transport import AiohttpTransport, Transport
from adapter.webhook import Webhook

__all__ = ["TOKEN_FILE_POLL", "create_app"]

log = structlog.get_logger("adapter.app")


def create_app(
    config: Config,
    *,
    transport: Transport | None = None,
    registry: CollectorRegistry | None = None,
    config_path: str | None = None,
    token_poll: float = TOKEN_FILE_POLL,
) -> Starlette:
    registry = registry if registry is not None else CollectorRegistry()
    metrics = Metrics(registry, (r.name for r in config.receivers))
    metrics.config_loaded(True, time.time())
    state = State(config, transport, metrics, config_path, token_poll)
    webhook = Webhook(state).receive
    app = Starlette(
        routes=[
            # The webhook first: Starlette tries the routes in order, on every request.
            Route("/alerts/{receiver}", webhook, methods=["POST"]),
            Route("/alerts", webhook, methods=["POST"]),
            Route("/", endpoints.index, methods=["GET"]),
            Route("/docs", endpoints.docs, methods=["GET"]),
            Route("/-/healthy", endpoints.healthy, methods=["GET", "HEAD"]),
            Route("/-/ready", endpoints.ready, methods=["GET", "HEAD"]),
            Route("/-/reload", endpoints.reload, methods=["POST"]),
            Route("/-/test/{receiver}", endpoints.test_incident, methods=["POST"]),
            Route("/metrics", endpoints.metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.adapter = state
    return app


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Start the upstream client and the token watcher; SIGHUP reloads; stop them at the end."""
    state: State = app.state.adapter
    owned = state.transport is None
    transport = state.transport or AiohttpTransport()
    state.deliverer = Deliverer(transport, state.metrics)
    loop = asyncio.get_running_loop()

    async def sighup() -> None:
        with contextlib.suppress(ConfigError):
            await state.reload()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(sighup()))
    watcher = asyncio.create_task(state.watch_tokens(state.token_poll))
    state.ready = True
    log.info("adapter.ready", receivers=sorted(state.loaded.receivers), version=__version__)
    try:
        yield
    finally:
        state.ready = False
        watcher.cancel()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)
        if owned:
            await transport.aclose()
