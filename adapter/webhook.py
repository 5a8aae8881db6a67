"""The webhook, the hot path: a plain ASGI app that checks the caller and the body, runs the
pipeline and maps the report to a status.

Order of checks, each with a short JSON reason:
    401 credential  →  404 receiver in the path  →  415 content type  →  413 size
    →  400/422 payload  →  404 receiver named by the payload  →  200/424/503 from the report

The app (adapter/app.py) calls it ahead of Starlette's middleware, router, Request and
Response, a large share of the webhook's own cost (docs/explanation/performance.md);
everything else is Starlette.
An exception here is logged and answered 500 like Starlette's ServerErrorMiddleware would.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import orjson
import structlog

from adapter import tracing
from adapter.activity import Activity
from adapter.bodies import ClientGone, Receive, Scope, Send, is_json, read_body
from adapter.payload import PayloadError, WebhookPayload, check_limits, parse_payload
from adapter.pipeline import Receiver, plan
from adapter.report import build_report
from adapter.state import Loaded, State

log = structlog.get_logger("adapter.app")

_ESCAPED = re.compile(r"\\(.)")
_JSON = (b"content-type", b"application/json")


def route(loaded: Loaded, name: str) -> Receiver | None:
    # Alertmanager regex-escapes the receiver name in the payload (`web\.hook`).
    return loaded.receivers.get(name) or loaded.receivers.get(_ESCAPED.sub(r"\1", name))


def receiver_in(path: str) -> str | None:
    """The webhook's routes: `/alerts/NAME` → NAME, `/alerts` → "" (the payload names the
    receiver), any other path → None."""
    if path == "/alerts":
        return ""
    if path.startswith("/alerts/") and len(path) > 8 and "/" not in path[8:]:
        return path[8:]
    return None


class BodyDeadlines:
    """The 408 for a body that does not arrive in time, with one timer for every webhook.

    A body nearly always arrives with its request's head, yet a timer per webhook
    (asyncio.timeout_at) is a measurable share of each. Here a webhook registers its task while it
    reads its body; a sweep every SWEEP seconds, armed only while some are registered,
    cancels those past their deadline. A 408 therefore comes up to SWEEP late.
    """

    SWEEP = 0.25

    def __init__(self) -> None:
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._armed = False

    def start(self, task: asyncio.Task[Any], deadline: float) -> None:
        self._reading[task] = deadline
        if not self._armed:
            self._armed = True
            asyncio.get_running_loop().call_later(self.SWEEP, self._sweep)

    def stop(self, task: asyncio.Task[Any]) -> bool:
        """Done reading; True if the sweep cancelled the task for its deadline."""
        self._reading.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _sweep(self) -> None:
        now = asyncio.get_running_loop().time()
        for task, deadline in list(self._reading.items()):
            if deadline <= now:
                del self._reading[task]
                self._expired.add(task)
                task.cancel()
        self._armed = bool(self._reading)
        if self._armed:
            asyncio.get_running_loop().call_later(self.SWEEP, self._sweep)


class WebhookAnswer:
    """What the webhook answers: a status, a JSON body, and any extra headers."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers


def _refusal(status: int, reason: str, headers: dict[str, str] | None = None) -> WebhookAnswer:
    return WebhookAnswer(status, orjson.dumps({"error": reason}), headers)


class Webhook:
    """`POST /alerts[/{receiver}]`: an ASGI app, `receiver` the name in the path ("" for none)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.metrics = state.metrics
        self.bodies = BodyDeadlines()

    async def __call__(self, scope: Scope, receive: Receive, send: Send, receiver: str) -> None:
        try:
            answer = await self.answer(scope, receive, receiver or None)
        except Exception:
            log.exception("webhook.error", path=scope.get("path"))
            known = route(self.state.loaded, receiver) if receiver else None
            self.metrics.webhooks.labels(known.name if known else "", "500").inc()
            answer = _refusal(500, "internal error: see the adapter's log")
        headers = [_JSON, (b"content-length", str(len(answer.body)).encode())]
        if answer.headers:
            headers += [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def answer(self, scope: Scope, receive: Receive, path_name: str | None) -> WebhookAnswer:
        task = asyncio.current_task()
        assert task is not None
        started = task.get_loop().time()
        loaded = self.state.loaded
        receiver = route(loaded, path_name) if path_name is not None else None
        label = receiver.name if receiver else ""

        def refuse(
            status: int, reason: str, headers: dict[str, str] | None = None
        ) -> WebhookAnswer:
            self.metrics.webhooks.labels(label, str(status)).inc()
            log.warning("webhook.refused", code=status, reason=reason, receiver=label or None)
            return _refusal(status, reason, headers)

        authorization = content_type = declared = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
            elif name == b"content-length" and declared is None:
                declared = value.decode("latin-1")
        if not loaded.auth.allows(authorization):
            return refuse(
                401, "missing or wrong credential", {"WWW-Authenticate": loaded.auth.challenge}
            )
        if path_name is not None and receiver is None:
            return refuse(404, f"no receiver named {path_name[:100]!r}")
        if not is_json(content_type):
            return refuse(415, "send the payload as Content-Type: application/json")
        limits = loaded.config.limits
        timeout = (receiver.delivery if receiver else loaded.config.delivery).timeout
        # A client trickling its body holds only its own request, and not for long.
        self.bodies.start(task, started + timeout)
        try:
            body = await read_body(receive, declared, limits.max_body_bytes)
        except ClientGone:
            return refuse(400, "the client went away before the body was complete")
        except asyncio.CancelledError:
            if not self.bodies.stop(task):
                raise
            task.uncancel()
            return refuse(408, f"the body did not arrive within {timeout:g}s")
        finally:
            self.bodies.stop(task)
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
            receiver = route(loaded, payload.receiver)
            if receiver is None:
                return refuse(
                    404, f"no receiver named {payload.receiver[:100]!r} (the payload's `receiver`)"
                )
            label = receiver.name
        return await self._handle(receiver, payload, started + receiver.delivery.timeout)

    async def _handle(
        self, receiver: Receiver, payload: WebhookPayload, deadline: float
    ) -> WebhookAnswer:
        state = self.state
        assert state.deliverer is not None, "the lifespan starts the deliverer"
        # The context each line carries, passed explicitly (binding contextvars costs more on
        # the hot path); the event lines take it from their events (adapter/delivery.py).
        context = {"receiver": receiver.name, "group_key": payload.groupKey}
        # debug, not info: at info the log is one line per event (event.delivered and
        # event.failed carry receiver, group_key and dedup_key), which keeps it cheap.
        log.debug(
            "webhook.received",
            **context,
            alerts=len(payload.alerts),
            status=payload.status,
            truncated_alerts=payload.truncatedAlerts,
        )
        if tracing.active is not None:
            tracing.active.webhook_read(receiver.name, len(payload.alerts))
        counted = self.metrics.of(receiver.name)
        counted.alerts_per_webhook.observe(len(payload.alerts))
        if payload.truncatedAlerts:
            counted.truncated.inc(payload.truncatedAlerts)
            log.warning("webhook.truncated", **context, truncated_alerts=payload.truncatedAlerts)
        the_plan = plan(receiver, payload)
        results = await state.deliverer.deliver(receiver, the_plan.deliveries, deadline)
        report = build_report(receiver.name, the_plan, results)
        for outcome in report.outcomes:
            counted.events[(outcome.action, outcome.result)].inc()
        status = report.http_status
        counted.webhook(status)
        activity = state.activity.get(receiver.name)
        if activity is None:
            activity = state.activity[receiver.name] = Activity()
        now = time.time()
        activity.note(status, now, report.outcomes)
        if (shared := state.deliverer.shared) is not None:  # the replicas' shared history
            shared.history_push(receiver.name, now, report.outcomes)
        if status != 200:
            log.warning(
                "webhook.answered",
                **context,
                code=status,
                failed=report.count("failed"),
                rejected=report.count("rejected"),
            )
        return WebhookAnswer(status, orjson.dumps(report.as_json()), report.headers())
