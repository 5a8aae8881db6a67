"""The webhook, the hot path: checks the caller and the body, runs the pipeline, maps the
report to a status.

Order of checks, each with a short JSON reason:
    401 credential  →  404 receiver in the path  →  415 content type  →  413 size
    →  400/422 payload  →  404 receiver named by the payload  →  200/424/503 from the report
"""

from __future__ import annotations

import asyncio
import re
import time

import orjson
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from adapter.landing import Activity
from adapter.payload import PayloadError, WebhookPayload, check_limits, parse_payload
from adapter.pipeline import Receiver, plan
from adapter.report import build_report
from adapter.state import Loaded, State

log = structlog.get_logger("adapter.app")

_ESCAPED = re.compile(r"\\(.)")


def error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def read_body(request: Request, limit: int) -> bytes | None:
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


def route(loaded: Loaded, name: str) -> Receiver | None:
    # Alertmanager regex-escapes the receiver name in the payload (`web\.hook`).
    return loaded.receivers.get(name) or loaded.receivers.get(_ESCAPED.sub(r"\1", name))


class Webhook:
    """`POST /alerts[/{receiver}]`; `receive` is the endpoint."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.metrics = state.metrics

    async def receive(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        started = loop.time()
        loaded = self.state.loaded
        path_name: str | None = request.path_params.get("receiver")
        receiver = route(loaded, path_name) if path_name is not None else None
        label = receiver.name if receiver else ""

        def refuse(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
            self.metrics.webhooks.labels(label, str(status)).inc()
            log.warning("webhook.refused", code=status, reason=reason, receiver=label or None)
            return error(status, reason, headers)

        if not loaded.auth.allows(request.headers.get("authorization")):
            return refuse(
                401, "missing or wrong credential", {"WWW-Authenticate": loaded.auth.challenge}
            )
        if path_name is not None and receiver is None:
            return refuse(404, f"no receiver named {path_name[:100]!r}")
        if not is_json(request.headers.get("content-type")):
            return refuse(415, "send the payload as Content-Type: application/json")
        limits = loaded.config.limits
        budget = (receiver.delivery if receiver else loaded.config.delivery).timeout
        try:
            # A client trickling its body holds only its own request, and not for long.
            async with asyncio.timeout_at(started + budget):
                body = await read_body(request, limits.max_body_bytes)
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
            receiver = route(loaded, payload.receiver)
            if receiver is None:
                return refuse(
                    404, f"no receiver named {payload.receiver[:100]!r} (the payload's `receiver`)"
                )
            label = receiver.name
        return await self._handle(receiver, payload, started + receiver.delivery.timeout)

    async def _handle(
        self, receiver: Receiver, payload: WebhookPayload, deadline: float
    ) -> Response:
        state = self.state
        assert state.deliverer is not None, "the lifespan starts the deliverer"
        # The context each line carries, passed explicitly (binding contextvars cost ~4 us a
        # webhook); the event lines take it from their events (adapter/delivery.py).
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
        activity.note(status, time.time(), report.outcomes)
        if status != 200:
            log.warning(
                "webhook.answered",
                **context,
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
