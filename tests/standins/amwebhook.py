"""A stand-in of a tool that takes Alertmanager's webhook natively (Alert24's inbound
Alertmanager URL, Grafana OnCall, ...), keeping state as they do.

One incident per `groupKey` (Grafana OnCall's grouping id is `{{ payload.groupKey }}`): a
firing webhook opens it, or updates it while open (counted); a webhook of that group with
`status: resolved` closes it. Refused as such tools refuse: no or wrong credential (bearer
or basic, as configured) or signature, 401; not JSON, not version "4", no groupKey or no
alerts, 400. The same object serves as an httpx MockTransport handler (unit tests) and as a
Starlette app behind tests.standins.events.Server (a real Alertmanager end to end).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Incident:
    group_key: str
    status: str = "open"  # open | resolved
    updates: int = 0  # firing webhooks that found it open
    webhooks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return [a for w in self.webhooks for a in w["alerts"]]


class InboundAlertmanager:
    def __init__(
        self,
        bearer: str | None = None,
        basic: tuple[str, str] | None = None,
        signature: tuple[str, str, str] | None = None,  # (secret, header, prefix), sha256
    ) -> None:
        self.bearer, self.basic, self.signature = bearer, basic, signature
        self.incidents: list[Incident] = []  # every incident ever opened, oldest first
        self.refused: list[tuple[int, str]] = []
        self.received = 0
        self.lock = threading.Lock()

    # -- what a test asks ------------------------------------------------------------
    def open_keys(self) -> set[str]:
        return {i.group_key for i in self.incidents if i.status == "open"}

    def opened(self, group_key: str) -> int:
        return sum(1 for i in self.incidents if i.group_key == group_key)

    def by_key(self) -> dict[str, Incident]:
        return {i.group_key: i for i in self.incidents}

    # -- the intake ------------------------------------------------------------------
    def _authorized(self, headers: httpx.Headers, raw: bytes) -> bool:
        auth = headers.get("authorization", "")
        if self.bearer is not None and not hmac.compare_digest(auth, f"Bearer {self.bearer}"):
            return False
        if self.basic is not None:
            pair = base64.b64encode(":".join(self.basic).encode()).decode()
            if not hmac.compare_digest(auth, f"Basic {pair}"):
                return False
        if self.signature is not None:
            secret, header, prefix = self.signature
            digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(headers.get(header, ""), prefix + digest):
                return False
        return True

    def handle(self, method: str, headers: httpx.Headers, raw: bytes) -> tuple[int, Any]:
        with self.lock:
            self.received += 1
            if method != "POST":
                return self._refuse(405, "POST only")
            if not self._authorized(headers, raw):
                return self._refuse(401, "invalid credential or signature")
            try:
                webhook = json.loads(raw)
            except ValueError:
                return self._refuse(400, "body is not JSON")
            if not isinstance(webhook, dict) or webhook.get("version") != "4":
                return self._refuse(400, "not an Alertmanager webhook of version 4")
            key, alerts = webhook.get("groupKey"), webhook.get("alerts")
            if not isinstance(key, str) or not key or not isinstance(alerts, list) or not alerts:
                return self._refuse(400, "groupKey and alerts are required")
            if webhook.get("status") not in ("firing", "resolved"):
                return self._refuse(400, "status must be firing or resolved")
            return self._apply(key, webhook)

    def _refuse(self, status: int, why: str) -> tuple[int, Any]:
        self.refused.append((status, why))
        return status, {"error": why}

    def _apply(self, key: str, webhook: dict[str, Any]) -> tuple[int, Any]:
        current = next(
            (i for i in self.incidents if i.group_key == key and i.status == "open"), None
        )
        if webhook["status"] == "resolved":
            if current is not None:
                current.status = "resolved"
                current.webhooks.append(webhook)
            return 200, {"status": "ok"}
        if current is not None:
            current.updates += 1
            current.webhooks.append(webhook)
            return 200, {"status": "ok"}
        self.incidents.append(Incident(key, webhooks=[webhook]))
        return 200, {"status": "ok"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        status, body = self.handle(request.method, request.headers, request.content)
        return httpx.Response(status, json=body)

    async def _serve(self, request: Request) -> Response:
        headers = httpx.Headers(request.headers.items())
        status, body = self.handle(request.method, headers, await request.body())
        return JSONResponse(body, status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._serve, methods=["GET", "POST"])])
