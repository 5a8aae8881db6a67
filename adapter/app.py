"""The HTTP app: routes and the lifespan, nothing else.

    create_app(config, transport=None, registry=None, config_path=None) -> Starlette

The webhook (the hot path) is adapter/webhook.py, a plain ASGI app the app calls before
Starlette's own stack for `POST /alerts[/{receiver}]`; everything else (other methods on
those paths included) is Starlette: the small endpoints in adapter/endpoints.py. What they
share (the loaded config, reload, token rotation) is adapter/state.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import Route

from adapter import __version__, endpoints, tracing
from adapter.bodies import Receive, Scope, Send
from adapter.config.document import Config
from adapter.config.loader import ConfigError
from adapter.coordination import rebuilt
from adapter.delivery import Deliverer
from adapter.metrics import Metrics
from adapter.poller import Poller
from adapter.state import TOKEN_FILE_POLL, State
from adapter.transport import AiohttpTransport, Transport
from adapter.webhook import Webhook, receiver_in

log = structlog.get_logger("adapter.app")


class App(Starlette):
    """Starlette, with the webhook's POSTs taken straight to the webhook."""

    def __init__(self, webhook: Webhook, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.webhook = webhook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            receiver = receiver_in(scope["path"])
            if receiver is not None:
                if tracing.active is not None:  # a span around the webhook (adapter/tracing.py)
                    await tracing.active.webhook(self.webhook, scope, receive, send, receiver)
                    return
                await self.webhook(scope, receive, send, receiver)
                return
        await super().__call__(scope, receive, send)


def create_app(
    config: Config,
    *,
    transport: Transport | None = None,
    registry: CollectorRegistry | None = None,
    config_path: str | None = None,
    token_poll: float = TOKEN_FILE_POLL,
    listen_host: str | None = None,
    web_users: bool = False,
) -> Starlette:
    """The app for `config`; raises ConfigError when it cannot serve it (adapter/state.py,
    build). `listen_host`: where it will listen, for the checks of credentials; `web_users`:
    the web config's basic_auth_users guard it (the config may then set no auth: of its own)."""
    registry = registry if registry is not None else CollectorRegistry()
    metrics = Metrics(registry, (r.name for r in config.receivers))
    state = State(config, transport, metrics, config_path, token_poll, listen_host, web_users)
    metrics.config_loaded(True, time.time())
    webhook = Webhook(state)
    app = App(
        webhook,
        routes=[
            # Reached only by methods other than POST (App.__call__): 405 with an Allow.
            Route("/alerts/{receiver}", _never, methods=["POST"]),
            Route("/alerts", _never, methods=["POST"]),
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


async def _never(_: Any) -> None:
    raise AssertionError("App.__call__ sends every POST /alerts[/NAME] to the webhook")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Start the upstream client and the token watcher; SIGHUP reloads; stop them at the end."""
    state: State = app.state.adapter
    owned = state.transport is None
    transport = state.transport or AiohttpTransport()
    state.deliverer = Deliverer(transport, state.metrics)
    # The store replicas share, if configured: unreachable now is not fatal (it falls back).
    state.deliverer.shared = await rebuilt(
        None, state.loaded.config.coordination, state.metrics, state.loaded.rate_windows
    )
    loop = asyncio.get_running_loop()

    async def sighup() -> None:
        with contextlib.suppress(ConfigError):
            await state.reload()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(sighup()))
    watcher = asyncio.create_task(state.watch_tokens(state.token_poll))
    # Reads Alertmanager's API for mutes while the config has an alertmanager: block.
    polls = Poller(state, transport)
    poller = asyncio.create_task(polls.run())
    tracing.install(state.loaded.config.tracing)
    state.ready = True
    log.info("adapter.ready", receivers=sorted(state.loaded.receivers), version=__version__)
    try:
        yield
    finally:
        state.ready = False
        watcher.cancel()
        poller.cancel()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)
        await asyncio.wait([poller])  # cancelled: done at its next await
        if state.deliverer.shared is not None:
            await polls.stop()  # the poll lease goes with this replica
            await state.deliverer.shared.aclose()
        if owned:
            await transport.aclose()
        if state.loaded.config.tracing is not None:  # send the spans still held, then stop
            stopped = tracing.install(None)
            if stopped is not None:
                await asyncio.to_thread(stopped.shutdown)
