"""A stand-in of Alert24's incidents API as its reference documents it, keeping state.

From https://alert24.net/docs/api-authentication, api-incidents, api-pagination, api-errors
(not from the blog posts), each error as `{"error": {"type", "message", "status"}}`:

- every request needs `Authorization: Bearer <key>`: 401 authentication_error otherwise;
- `POST /api/v1/incidents`: `title` required, `severity` one of critical, high, medium
  (default), low, maintenance, `status` one of the statuses, `tags` a list of strings, else
  400 validation_error; unknown fields (`labels`, ...) ignored. The Prometheus guide's
  `alias`: a create with the alias of an open incident updates it (200) instead of opening
  another (201). Bodies over the limits of tests/standins/vendor_limits.py (ours: Alert24 documents
  none) get 400 too;
- `GET /api/v1/incidents?status=&severity=&limit=&offset=`: newest first, one status and one
  severity at most, `limit` 1..100 (default 25; more is refused), answering
  `{"data": [...], "meta": {total, limit, offset, has_more}}`; an incident as documented
  (id, title, status, severity, source, tags, ...: no alias);
- `GET /api/v1/incidents/{id}`; `PUT /api/v1/incidents/{id}` with `status` and `resolved_at`
  (RFC 3339): the only way to close an incident. Anything else: 404 not_found.

The same object serves as an httpx MockTransport handler (unit tests) and as a Starlette app
behind tests.standins.events.Server (a real Alertmanager end to end).
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins.vendor_limits import violations

SEVERITIES = ("critical", "high", "medium", "low", "maintenance")
STATUSES = (
    "new",
    "acknowledged",
    "open",
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "postmortem",
)
CLOSED = ("resolved", "postmortem")
BASE = "/api/v1/incidents"
MARKER = "incident_adapter_key:"


@dataclass
class Incident:
    number: int
    title: str
    severity: str = "medium"
    status: str = "open"
    description: str = ""
    source: str = "api"
    tags: list[str] = field(default_factory=list)
    alias: str = ""  # the guide's; not in the documented incident object
    updates: int = 0  # creates that found it open under its alias
    resolved_at: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def key(self) -> str | None:
        """The adapter's dedup key, from its marker tag."""
        return next((t[len(MARKER) :] for t in self.tags if t.startswith(MARKER)), None)

    def shown(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_number": self.number,
            "title": self.title,
            "description": self.description,
            "severity": self.severity,
            "status": self.status,
            "source": self.source,
            "tags": list(self.tags),
            "resolved_at": self.resolved_at,
        }


def _error(status: int, kind: str, message: str) -> tuple[int, Any]:
    return status, {"error": {"type": kind, "message": message, "status": status}}


class IncidentsAPI:
    def __init__(self, key: str) -> None:
        self.expected_auth = f"Bearer {key}"
        self.incidents: list[Incident] = []  # every incident ever opened, oldest first
        self.requests: list[tuple[str, str]] = []
        self.unreadable_listings = 0  # the next N listings answer 200 with an HTML page
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()

    # -- what tests look at --------------------------------------------------------------
    def seed(self, count: int, status: str = "open") -> None:
        """`count` open incidents of other systems (no marker), older than what follows."""
        with self.lock:
            for _ in range(count):
                number = next(self.numbers)
                self.incidents.append(Incident(number, f"other {number}", status=status))

    def open_keys(self) -> set[str]:
        return {i.key for i in self.incidents if i.key and i.status not in CLOSED}

    def opened(self, key: str) -> int:
        return sum(1 for i in self.incidents if i.key == key)

    def of(self, key: str) -> list[Incident]:
        return [i for i in self.incidents if i.key == key]

    def listings(self) -> list[str]:
        return [target for method, target in self.requests if method == "GET"]

    # -- the API -------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, auth: str, raw: bytes) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path + ("?" + query if query else "")))
            if auth != self.expected_auth:
                return _error(
                    401,
                    "authentication_error",
                    "Invalid or missing API key. Provide a valid Bearer token.",
                )
            body: Any = {}
            if method in ("POST", "PUT"):
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return _error(400, "validation_error", "body is not JSON")
                if not isinstance(body, dict):
                    return _error(400, "validation_error", "body must be an object")
                if problems := violations("alert24", raw):
                    return _error(400, "validation_error", "; ".join(problems))
            if path == BASE and method == "POST":
                return self._create(body)
            if path == BASE and method == "GET":
                return self._list(parse_qs(query, keep_blank_values=True))
            if path.startswith(BASE + "/") and "/" not in path[len(BASE) + 1 :]:
                incident_id = unquote(path[len(BASE) + 1 :])
                incident = next((i for i in self.incidents if i.id == incident_id), None)
                if incident is None:
                    return _error(404, "not_found", "Incident not found")
                if method == "GET":
                    return 200, {"data": incident.shown()}
                if method == "PUT":
                    return self._update(incident, body)
            return _error(404, "not_found", f"no route {method} {path}")

    def _checked(self, body: dict[str, Any]) -> str | None:
        if "severity" in body and body["severity"] not in SEVERITIES:
            return f"severity must be one of {', '.join(SEVERITIES)}"
        if "status" in body and body["status"] not in STATUSES:
            return f"status must be one of {', '.join(STATUSES)}"
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return "tags must be an array of strings"
        return None

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            return _error(400, "validation_error", "title is required")
        if (problem := self._checked(body)) is not None:
            return _error(400, "validation_error", problem)
        alias = body.get("alias") if isinstance(body.get("alias"), str) else ""
        current = next(
            (i for i in self.incidents if alias and i.alias == alias and i.status not in CLOSED),
            None,
        )
        if current is not None:
            current.updates += 1
            current.title = title
            current.severity = body.get("severity", current.severity)
            current.description = body.get("description", current.description)
            current.tags = body.get("tags", current.tags)
            return 200, {"data": current.shown()}
        incident = Incident(
            next(self.numbers),
            title,
            severity=body.get("severity", "medium"),
            status=body.get("status", "open"),
            description=body.get("description", ""),
            source=body.get("source", "api"),
            tags=body.get("tags", []),
            alias=alias or "",
        )
        self.incidents.append(incident)
        return 201, {"data": incident.shown()}

    def _list(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        if self.unreadable_listings:
            self.unreadable_listings -= 1
            return 200, "<html><body>Bad gateway</body></html>"
        picked = list(reversed(self.incidents))  # newest first
        for name, allowed in (("status", STATUSES), ("severity", SEVERITIES)):
            values = query.get(name, [])
            if len(values) > 1 or (values and values[0] not in allowed):
                return _error(400, "validation_error", f"{name} must be one of {allowed}")
            if values:
                picked = [i for i in picked if getattr(i, name) == values[0]]
        try:
            limit = int(query.get("limit", ["25"])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            return _error(400, "validation_error", "limit and offset must be integers")
        if not 1 <= limit <= 100 or offset < 0:
            return _error(400, "validation_error", "limit must be 1 to 100, offset 0 or more")
        page = picked[offset : offset + limit]
        meta = {
            "total": len(picked),
            "limit": limit,
            "offset": offset,
            "has_more": offset + limit < len(picked),
        }
        return 200, {"data": [i.shown() for i in page], "meta": meta}

    def _update(self, incident: Incident, body: dict[str, Any]) -> tuple[int, Any]:
        if (problem := self._checked(body)) is not None:
            return _error(400, "validation_error", problem)
        when = body.get("resolved_at")
        if when is not None:
            try:
                datetime.fromisoformat(str(when))
            except ValueError:
                return _error(400, "validation_error", "resolved_at must be an ISO 8601 time")
        incident.status = body.get("status", incident.status)
        incident.resolved_at = when if when is not None else incident.resolved_at
        return 200, {"data": incident.shown()}

    # -- transports ----------------------------------------------------------------------
    @staticmethod
    def _response(status: int, body: Any) -> tuple[bytes, str]:
        if isinstance(body, str):
            return body.encode(), "text/html"
        return json.dumps(body).encode(), "application/json"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.decode().split("?")[0]
        status, body = self.handle(
            request.method,
            raw_path,
            request.url.query.decode(),
            request.headers.get("authorization", ""),
            request.content,
        )
        content, kind = self._response(status, body)
        return httpx.Response(status, content=content, headers={"Content-Type": kind})

    async def _serve(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path", b"").decode() or request.url.path
        status, body = self.handle(
            request.method,
            raw_path.split("?")[0],
            request.url.query,
            request.headers.get("authorization", ""),
            await request.body(),
        )
        if isinstance(body, str):
            return Response(body, status, media_type="text/html")
        return JSONResponse(body, status)

    def app(self) -> Starlette:
        route = Route("/{path:path}", self._serve, methods=["GET", "POST", "PATCH", "PUT"])
        return Starlette(routes=[route])
