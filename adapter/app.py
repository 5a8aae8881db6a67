"""The HTTP edge: checks the caller and the body, runs the pipeline, maps the report to a status.

    create_app(config, transport=None, registry=None, config_path=None) -> Starlette

Order of checks on a webhook, each with a short JSON reason:
    401 credential  →  404 receiver in the path  →  415 content type  →  413 size
    →  400/422 payload  →  404 receiver named by the payload  →  200/424/503 from the report
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from adapter import __version__, landing
from adapter.auth import Authenticator
from adapter.config import Config, ConfigError, load_config
from adapter.delivery import Deliverer
from adapter.landing import Activity
from adapter.metrics import Metrics
from adapter.payload import PayloadError, WebhookPayload, check_limits, parse_payload
from adapter.pipeline import Receiver, plan, receivers_from
from adapter.report import build_report
from adapter.secrets import read_token_file
from adapter.transport import AiohttpTransport, Transport

log = structlog.get_logger("adapter.app")

TOKEN_FILE_POLL = 5.0  # seconds between checks of bearer_tokens_file for a rotation

_ESCAPED = re.compile(r"\\(.)")


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything that a reload replaces, swapped in one assignment."""

    config: Config
    receivers: dict[str, Receiver]
    auth: Authenticator


def _loaded(config: Config) -> Loaded:
    return Loaded(
        config, receivers_from(config.receivers, config.delivery), Authenticator(config.auth)
    )


class State:
    def __init__(
        self, config: Config, transport: Transport | None, metrics: Metrics, config_path: str | None
    ) -> None:
        self.loaded = _loaded(config)
        self.metrics = metrics
        self.config_path = config_path
        self.transport = transport
        self.deliverer: Deliverer | None = None
        self.ready = False
        self.reload_lock = asyncio.Lock()
        self.activity: dict[str, Activity] = {}

    async def reload(self) -> None:
        """Re-read the config and its secret files; on any error keep serving the old one."""
        async with self.reload_lock:
            try:
                config = await asyncio.to_thread(load_config, self.config_path)
                loaded = _loaded(config)
            except ConfigError as exc:
                self.metrics.config_loaded(False, time.time())
                log.error("config.reload_failed", problems=exc.problems)
                raise
            for name in loaded.receivers:
                self.metrics.add_receiver(name)
            self.loaded = loaded
            self.metrics.config_loaded(True, time.time())
            log.info("config.reloaded", receivers=sorted(loaded.receivers))

    async def watch_tokens(self, every: float = TOKEN_FILE_POLL) -> None:
        """Rotate tokens when bearer_tokens_file changes (Kubernetes swaps Secret files in place).

        A file that cannot be read or holds no token leaves the current tokens in force.
        """
        seen: tuple[int, int, int] | None = None
        while True:
            auth = self.loaded.config.auth
            path = auth.bearer_tokens_file
            if path is not None:
                try:
                    info = path.stat()
                    stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
                    if seen is not None and stamp != seen:
                        tokens = read_token_file(path)
                        config = self.loaded.config.model_copy(
                            update={"auth": auth.with_file_tokens(tokens)}
                        )
                        self.loaded = replace(
                            self.loaded, config=config, auth=Authenticator(config.auth)
                        )
                        log.info("auth.tokens_rotated", tokens=len(tokens))
                    seen = stamp
                except (OSError, ValueError) as exc:
                    log.error("auth.tokens_unreadable", error=str(exc), path=str(path))
            await asyncio.sleep(every)


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be over the limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _route(loaded: Loaded, name: str) -> Receiver | None:
    # Alertmanager regex-escapes the receiver name in the payload (`web\.hook`).
    return loaded.receivers.get(name) or loaded.receivers.get(_ESCAPED.sub(r"\1", name))


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
    state = State(config, transport, metrics, config_path)

    async def webhook(request: Request) -> Response:
        loop = asyncio.get_running_loop()
        started = loop.time()
        loaded = state.loaded
        path_name: str | None = request.path_params.get("receiver")
        receiver = _route(loaded, path_name) if path_name is not None else None
        label = receiver.name if receiver else ""

        def refuse(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
            metrics.webhooks.labels(label, str(status)).inc()
            log.warning("webhook.refused", code=status, reason=reason, receiver=label or None)
            return _error(status, reason, headers)

        if not loaded.auth.allows(request.headers.get("authorization")):
            return refuse(
                401, "missing or wrong credential", {"WWW-Authenticate": loaded.auth.challenge}
            )
        if path_name is not None and receiver is None:
            return refuse(404, f"no receiver named {path_name[:100]!r}")
        if not _is_json(request.headers.get("content-type")):
            return refuse(415, "send the payload as Content-Type: application/json")
        limits = loaded.config.limits
        budget = (receiver.delivery if receiver else loaded.config.delivery).timeout
        try:
            # A client trickling its body holds only its own request, and not for long.
            async with asyncio.timeout_at(started + budget):
                body = await _read_body(request, limits.max_body_bytes)
        except ClientDisconnect:
            return refuse(400, "the client went away before the body was complete")
        except TimeoutError:
            return refuse(408, f"the body did not arrive within {budget:g}s")
        if body is None:
            return refuse(
                413, f"body over the limit of {limits.max_body_bytes} bytes (limits.max_body_bytes)"
            )
        try:
            payload = parse_payload(body)
            check_limits(payload, limits.max_alerts, limits.max_label_bytes)
        except PayloadError as exc:
            return refuse(exc.status, exc.reason)
        if receiver is None:
            receiver = _route(loaded, payload.receiver)
            if receiver is None:
                return refuse(
                    404, f"no receiver named {payload.receiver[:100]!r} (the payload's `receiver`)"
                )
            label = receiver.name
        return await _handle(receiver, payload, started + receiver.delivery.timeout)

    async def _handle(receiver: Receiver, payload: WebhookPayload, deadline: float) -> Response:
        assert state.deliverer is not None, "the lifespan starts the deliverer"
        with structlog.contextvars.bound_contextvars(
            receiver=receiver.name, group_key=payload.groupKey
        ):
            # debug, not info: at info the log is one line per event (event.delivered and
            # event.failed carry receiver, group_key and dedup_key), which keeps it cheap.
            log.debug(
                "webhook.received",
                alerts=len(payload.alerts),
                status=payload.status,
                truncated_alerts=payload.truncatedAlerts,
            )
            counted = metrics.of(receiver.name)
            counted.alerts_per_webhook.observe(len(payload.alerts))
            if payload.truncatedAlerts:
                counted.truncated.inc(payload.truncatedAlerts)
                log.warning("webhook.truncated", truncated_alerts=payload.truncatedAlerts)
            the_plan = plan(receiver, payload)
            results = await state.deliverer.deliver(receiver, the_plan.deliveries, deadline)
            report = build_report(receiver.name, the_plan, results)
            for outcome in report.outcomes:
                counted.events[(outcome.action, outcome.result)].inc()
            status = report.http_status
            counted.webhook(status)
            state.activity.setdefault(receiver.name, Activity()).note(status, time.time())
            if status != 200:
                log.warning(
                    "webhook.answered",
                    code=status,
                    failed=report.count("failed"),
                    rejected=report.count("rejected"),
                )
            return Response(
                orjson.dumps(report.as_json()),
                status_code=status,
                headers=report.headers(),
                media_type="application/json",
            )

    async def healthy(_: Request) -> Response:
        return JSONResponse({"status": "healthy"})

    async def ready(_: Request) -> Response:
        if state.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready"}, status_code=503)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def reload(request: Request) -> Response:
        if not state.loaded.auth.allows(request.headers.get("authorization")):
            return _error(
                401,
                "missing or wrong credential",
                {"WWW-Authenticate": state.loaded.auth.challenge},
            )
        try:
            await state.reload()
        except ConfigError as exc:
            return JSONResponse(
                {"error": "config not reloaded; the old one stays", "problems": exc.problems},
                status_code=400,
            )
        return JSONResponse({"status": "reloaded", "receivers": sorted(state.loaded.receivers)})

    async def index(request: Request) -> Response:
        kinds = {name: r.kind for name, r in state.loaded.receivers.items()}
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(
                {
                    "name": "incident-adapter",
                    "version": __version__,
                    "receivers": {
                        name: {"type": kind, **state.activity.get(name, Activity()).as_json()}
                        for name, kind in kinds.items()
                    },
                }
            )
        return HTMLResponse(landing.page(__version__, kinds, state.activity))

    async def docs(_: Request) -> Response:
        text = landing.readme()
        if text is None:
            return _error(404, "no README in this installation")
        return PlainTextResponse(text, media_type="text/markdown")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        owned = state.transport is None
        transport = state.transport or AiohttpTransport()
        state.deliverer = Deliverer(transport, metrics)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_sighup()))
        watcher = asyncio.create_task(state.watch_tokens(token_poll))
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

    async def _sighup() -> None:
        with contextlib.suppress(ConfigError):
            await state.reload()

    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/docs", docs, methods=["GET"]),
            Route("/alerts", webhook, methods=["POST"]),
            Route("/alerts/{receiver}", webhook, methods=["POST"]),
            Route("/-/healthy", healthy, methods=["GET", "HEAD"]),
            Route("/-/ready", ready, methods=["GET", "HEAD"]),
            Route("/-/reload", reload, methods=["POST"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.adapter = state
    return app
