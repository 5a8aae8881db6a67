"""A stand-in of the PagerDuty Events API v2 that keeps state like the real one.

An incident per dedup key: a trigger opens it (or updates it while open), a resolve
closes it; events that the real API would refuse are refused with 400 and the reason.
Faults can be scripted: the next N events answer a given status (with Retry-After) or
hang past the adapter's attempt timeout. It runs as a real HTTP server in a thread.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins.vendor_limits import violations

SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class Incident:
    dedup_key: str
    status: str  # triggered | resolved
    summary: str
    severity: str
    triggers: int = 1
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fault:
    status: int = 503
    retry_after: str | None = None
    hang: float = 0.0


class EventsAPI:
    def __init__(self, routing_key_field: str = "routing_key", limits: str = "events-v2") -> None:
        self.incidents: dict[str, Incident] = {}
        self.events: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.faults: deque[Fault] = deque()
        self.delay = 0.0
        self.key_field = routing_key_field
        self.limits = (
            limits  # the system in tests/standins/vendor_limits.py whose limits events keep
        )
        self.lock = threading.Lock()
        self.random_fault: Callable[[], Fault | None] | None = None
        self.faults_dealt = 0
        # PagerDuty's rate limit per routing key, if set (limit_rate): accepted events in the
        # last `per` seconds; above `requests`, 429 (counted in `throttled`).
        self.rate: tuple[int, float] | None = None
        self.window: dict[str, deque[float]] = {}
        self.throttled = 0
        self.arrivals: list[float] = []  # time.monotonic() of each accepted event, as `events`

    def limit_rate(self, requests: int, per: float) -> None:
        """Count per routing key over a sliding `per` and answer 429 above `requests`, as
        PagerDuty does (120 in any 60 s)."""
        self.rate = (requests, per)

    def _over_the_limit(self, routing_key: str, now: float) -> bool:
        assert self.rate is not None
        requests, per = self.rate
        with self.lock:
            sent = self.window.setdefault(routing_key, deque())
            while sent and sent[0] <= now - per:
                sent.popleft()
            if len(sent) >= requests:
                self.throttled += 1
                return True
            sent.append(now)
            return False

    # -- scripting -----------------------------------------------------------------
    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None) -> None:
        self.faults.extend(Fault(status, retry_after) for _ in range(count))

    def hang_next(self, count: int, seconds: float) -> None:
        self.faults.extend(Fault(hang=seconds) for _ in range(count))

    def open_keys(self) -> set[str]:
        return {k for k, i in self.incidents.items() if i.status == "triggered"}

    # -- the API ---------------------------------------------------------------------
    def _check(self, event: Any) -> list[str]:
        if not isinstance(event, dict):
            return ["event must be an object"]
        errors = []
        if not event.get(self.key_field):
            errors.append(f"'{self.key_field}' is missing or blank")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        key = event.get("dedup_key")
        if action in ("acknowledge", "resolve") and not key:
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if isinstance(key, str) and len(key) > 255:
            errors.append("'dedup_key' must be at most 255 characters")
        if action == "trigger":
            payload = event.get("payload") or {}
            if not payload.get("summary") or len(payload["summary"]) > 1024:
                errors.append("'payload.summary' is missing or longer than 1024")
            if not payload.get("source"):
                errors.append("'payload.source' is missing")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' is invalid")
        return errors

    def apply(self, event: dict[str, Any], now: float | None = None) -> None:
        key, action = event["dedup_key"], event["event_action"]
        with self.lock:
            self.events.append(event)
            self.arrivals.append(time.monotonic() if now is None else now)
            incident = self.incidents.get(key)
            if action == "trigger":
                payload = event["payload"]
                if incident is None or incident.status == "resolved":
                    self.incidents[key] = Incident(
                        key, "triggered", payload["summary"], payload["severity"], payload=payload
                    )
                else:
                    incident.triggers += 1
                    incident.payload = payload
            elif action == "resolve" and incident is not None:
                incident.status = "resolved"

    def fault_at_random(self, rate: float, seed: int, hang: float) -> None:
        """From now on, each event fails with probability `rate`: 500, 503, 429 or a hang."""
        rng = random.Random(seed)
        self.random_fault = lambda: (
            rng.choice([Fault(500), Fault(503), Fault(429, "1"), Fault(hang=hang)])
            if rng.random() < rate
            else None
        )

    async def enqueue(self, request: Request) -> Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        fault = self.random_fault() if self.random_fault else None
        if fault is None and self.faults:
            fault = self.faults.popleft()
        if fault is not None:
            self.faults_dealt += 1
            if fault.hang:
                await asyncio.sleep(fault.hang)
            else:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return JSONResponse({"status": "error"}, fault.status, headers=headers)
        raw = await request.body()
        try:
            event = json.loads(raw)
        except ValueError:
            return JSONResponse({"status": "invalid event", "errors": ["not JSON"]}, 400)
        errors = self._check(event) + violations(self.limits, raw)
        if errors:
            self.refused.append(event)
            return JSONResponse(
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                400,
            )
        if not event.get("dedup_key"):
            event["dedup_key"] = f"generated-{len(self.events)}"
        now = time.monotonic()
        if self.rate is not None and self._over_the_limit(str(event.get(self.key_field)), now):
            return JSONResponse({"status": "throttle event"}, 429)
        self.apply(event, now)
        return JSONResponse(
            {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]},
            202,
        )

    def app(self, path: str = "/v2/enqueue") -> Starlette:
        return Starlette(routes=[Route(path, self.enqueue, methods=["POST"])])


@dataclass
class OpsAlert:
    alias: str
    message: str
    priority: str
    status: str = "open"  # open | closed
    count: int = 1
    body: dict[str, Any] = field(default_factory=dict)


class AlertsAPI:
    """An Opsgenie-style alert API as an httpx handler: open alerts are deduplicated by alias
    (a create for an open alias counts up and changes nothing else, as Opsgenie does), close
    by alias closes it; bad requests get 422, and so does a close with a field Opsgenie's
    close-alert doc does not name (it names user, source, note; what Opsgenie does with
    another is not documented, so the stand-in refuses it)."""

    def __init__(self, key: str, scheme: str = "GenieKey") -> None:
        self.expected_auth = f"{scheme} {key}"
        self.alerts: dict[str, OpsAlert] = {}
        self.requests: list[tuple[str, str]] = []

    def open_aliases(self) -> set[str]:
        return {a for a, alert in self.alerts.items() if alert.status == "open"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, str(request.url)))
        if request.headers.get("authorization") != self.expected_auth:
            return httpx.Response(401, json={"message": "Could not authenticate"})
        path = request.url.path
        body = json.loads(request.content or b"{}")
        if request.method == "POST" and path == "/v2/alerts":
            problems = []
            if not body.get("message") or len(body["message"]) > 130:
                problems.append("message")
            alias = body.get("alias", "")
            if len(alias) > 512:
                problems.append("alias")
            if body.get("priority") not in ("P1", "P2", "P3", "P4", "P5"):
                problems.append("priority")
            if len(body.get("tags", [])) > 20 or any(len(t) > 50 for t in body.get("tags", [])):
                problems.append("tags")
            problems += violations("alias", request.content)  # Opsgenie's documented limits
            if problems:
                return httpx.Response(422, json={"message": f"invalid: {problems}"})
            current = self.alerts.get(alias)
            if current is not None and current.status == "open":
                current.count += 1  # message, description, priority, tags: as first created
            else:
                self.alerts[alias] = OpsAlert(alias, body["message"], body["priority"], body=body)
            return httpx.Response(202, json={"result": "Request will be processed"})
        if request.method == "POST" and path.startswith("/v2/alerts/") and path.endswith("/close"):
            if request.url.params.get("identifierType") != "alias":
                return httpx.Response(422, json={"message": "identifierType"})
            if unknown := sorted(set(body) - {"user", "source", "note"}):
                return httpx.Response(422, json={"message": f"close takes no {unknown}"})
            if request.content and (problems := violations("alias", request.content)):
                return httpx.Response(422, json={"message": f"invalid: {problems}"})
            alias = unquote(
                request.url.raw_path.decode().split("?")[0][len("/v2/alerts/") : -len("/close")]
            )
            if alias in self.alerts:
                self.alerts[alias].status = "closed"
            return httpx.Response(202, json={"result": "Request will be processed"})
        return httpx.Response(404, json={"message": "no such endpoint"})
