"""A stand-in of Alert24's incident API that keeps state like the real one.

An incident per alias: a create with the alias of an open incident updates it (counted),
otherwise it opens a new one; a resolve by alias resolves the open one. Requests the real
API would refuse get 4xx with the reason (no or wrong key: 401; no title, an unknown
severity: 422; no incident with that alias: 404; a body over the limits of
tests/vendor_limits.py, ours where Alert24 documents none: 400, as its validation_error). The same object serves as an httpx
MockTransport handler (unit tests) and as a Starlette app behind tests.standin.Server
(a real Alertmanager end to end).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.vendor_limits import violations

SEVERITIES = {"critical", "high", "medium", "low", "maintenance"}
BASE = "/api/v1/incidents"


@dataclass
class Incident:
    alias: str
    title: str
    severity: str
    status: str = "open"  # open | resolved
    updates: int = 0  # creates that found it open
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    body: dict[str, Any] = field(default_factory=dict)


class IncidentsAPI:
    def __init__(self, key: str) -> None:
        self.expected_auth = f"Bearer {key}"
        self.incidents: list[Incident] = []  # every incident ever opened, oldest first
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def open_incident(self, alias: str) -> Incident | None:
        return next((i for i in self.incidents if i.alias == alias and i.status == "open"), None)

    def open_aliases(self) -> set[str]:
        return {i.alias for i in self.incidents if i.status == "open"}

    def opened(self, alias: str) -> int:
        return sum(1 for i in self.incidents if i.alias == alias)

    def handle(self, method: str, path: str, query: str, auth: str, raw: bytes) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path + ("?" + query if query else "")))
            if auth != self.expected_auth:
                return 401, {"error": "invalid or missing API key"}
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return 400, {"error": "body is not JSON"}
            if raw and (problems := violations("alert24", raw)):
                return 400, {"error": {"type": "validation_error", "message": str(problems)}}
            if method == "POST" and path == BASE:
                return self._create(body)
            if method == "POST" and path.startswith(BASE + "/") and path.endswith("/resolve"):
                if parse_qs(query).get("identifierType") != ["alias"]:
                    return 400, {"error": "identifierType must be alias"}
                return self._resolve(unquote(path[len(BASE) + 1 : -len("/resolve")]))
            return 404, {"error": "no such endpoint"}

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        problems = [name for name in ("title", "alias") if not body.get(name)]
        if body.get("severity", "medium") not in SEVERITIES:
            problems.append("severity")
        if not isinstance(body.get("labels", {}), dict):
            problems.append("labels")
        if problems:
            return 422, {"error": f"invalid fields: {problems}"}
        current = self.open_incident(body["alias"])
        if current is not None:
            current.updates += 1
            current.title, current.severity, current.body = body["title"], body["severity"], body
            return 200, {"data": {"id": current.id, "alias": current.alias, "status": "open"}}
        incident = Incident(body["alias"], body["title"], body.get("severity", "medium"), body=body)
        self.incidents.append(incident)
        return 201, {"data": {"id": incident.id, "alias": incident.alias, "status": "open"}}

    def _resolve(self, alias: str) -> tuple[int, Any]:
        current = self.open_incident(alias)
        if current is None:
            if any(i.alias == alias for i in self.incidents):
                return 200, {"data": {"alias": alias, "status": "resolved"}}  # already resolved
            return 404, {"error": f"no incident with alias {alias!r}"}
        current.status = "resolved"
        return 200, {"data": {"id": current.id, "alias": alias, "status": "resolved"}}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.decode().split("?")[0]
        status, body = self.handle(
            request.method,
            raw_path,
            request.url.query.decode(),
            request.headers.get("authorization", ""),
            request.content,
        )
        return httpx.Response(status, json=body)

    async def _serve(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path", b"").decode() or request.url.path
        status, body = self.handle(
            request.method,
            raw_path.split("?")[0],
            request.url.query,
            request.headers.get("authorization", ""),
            await request.body(),
        )
        return JSONResponse(body, status)

    def app(self) -> Starlette:
        route = Route("/{path:path}", self._serve, methods=["GET", "POST", "PATCH", "PUT"])
        return Starlette(routes=[route])
