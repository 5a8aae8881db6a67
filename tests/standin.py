"""A stand-in of the PagerDuty Events API v2 that keeps state like the real one.

An incident per dedup key: a trigger opens it (or updates it while open), a resolve
closes it; events that the real API would refuse are refused with 400 and the reason.
Faults can be scripted: the next N events answer a given status (with Retry-After) or
hang past the adapter's attempt timeout. It runs as a real HTTP server in a thread.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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
    def __init__(self, routing_key_field: str = "routing_key") -> None:
        self.incidents: dict[str, Incident] = {}
        self.events: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.faults: deque[Fault] = deque()
        self.delay = 0.0
        self.key_field = routing_key_field
        self.lock = threading.Lock()

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

    def apply(self, event: dict[str, Any]) -> None:
        key, action = event["dedup_key"], event["event_action"]
        with self.lock:
            self.events.append(event)
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

    async def enqueue(self, request: Request) -> Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.faults:
            fault = self.faults.popleft()
            if fault.hang:
                await asyncio.sleep(fault.hang)
            else:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return JSONResponse({"status": "error"}, fault.status, headers=headers)
        try:
            event = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"status": "invalid event", "errors": ["not JSON"]}, 400)
        errors = self._check(event)
        if errors:
            self.refused.append(event)
            return JSONResponse(
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                400,
            )
        if not event.get("dedup_key"):
            event["dedup_key"] = f"generated-{len(self.events)}"
        self.apply(event)
        return JSONResponse(
            {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]},
            202,
        )

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v2/enqueue", self.enqueue, methods=["POST"])])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """An ASGI app served by uvicorn in a background thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                access_log=False,
                lifespan="off",
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stand-in server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
