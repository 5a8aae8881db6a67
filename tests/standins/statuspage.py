"""Stand-ins of two status-page APIs that keep state like the real ones.

`StatuspageAPI`: Atlassian Statuspage v1 under /v1/pages/{page_id}: `Authorization: OAuth
<key>`, bodies wrapped in {"incident": ...} / {"component": ...}, `metadata` whose
top-level values must be objects, `GET incidents/unresolved` a bare array, one page of it:
`page` (default 1) of `per_page` incidents (default 100, and at most 100: more, or 0, is
100), oldest first (the docs name no order; a value that is not a count: 400);
`pages_listed` records the pages asked for. No drafts: an incident is public once created
(`notified` records `deliver_notifications`).

`SimpleAPI`: `POST /api/v1/incidents {title, status_page_id, severity,
affected_component_ids, raw_input, metadata, draft}` (a draft unless told otherwise), listed by
`GET /api/v1/incidents?status_page_id=..&status=open` as {"incidents": [...]}, resolved with
`PATCH /api/v1/incidents/{id} {"status": "resolved"}`; `Authorization: Bearer <key>`.

Both: components show their current status; incidents are open or resolved; requests the
real API would refuse get 4xx with the reason (a body over the limits of
tests/standins/vendor_limits.py: 422); faults can be scripted (the next N requests,
optionally of one method, answer a status, with Retry-After). Each is an httpx handler
(`httpx.MockTransport(api)`) and, through `app()`, an ASGI app for tests/standins/events.py's Server.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.standins.vendor_limits import violations

COMPONENT_STATUSES = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)
IMPACTS = ("none", "minor", "major", "critical")
PER_PAGE = 100  # Statuspage's default and largest page of a listing
RAW_INPUT_KEYS = {"alertname", "summary", "description", "labels", "firing_for"}


@dataclass
class Incident:
    id: str
    title: str
    status: str  # Statuspage: investigating ... resolved; simple: open | resolved
    impact: str
    component_ids: list[str]
    draft: bool = False
    notified: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)  # Statuspage, simple
    raw_input: Any = field(default_factory=dict)  # simple: an object; PageCalm: a text

    @property
    def open(self) -> bool:
        return self.status != "resolved"


@dataclass
class Fault:
    status: int
    retry_after: str | None
    method: str | None


class _StatusPageFake:
    prefix = ""
    scheme = ""
    limits = ""  # the system in tests/standins/vendor_limits.py whose limits a body must keep

    def __init__(self, key: str, page_id: str, components: list[str]) -> None:
        self.key, self.page_id = key, page_id
        self.components = dict.fromkeys(components, "operational")
        self.incidents: dict[str, Incident] = {}
        self.requests: list[tuple[str, str]] = []
        self.faults: deque[Fault] = deque()

    # -- scripting and inspection ------------------------------------------------------
    def fail_next(
        self, count: int, status: int = 503, retry_after: str | None = None, method: str = ""
    ) -> None:
        self.faults.extend(Fault(status, retry_after, method or None) for _ in range(count))

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.open]

    def _new_id(self) -> str:
        return f"inc{len(self.incidents) + 1:03d}"

    # -- the HTTP edge --------------------------------------------------------------------
    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if self.faults and self.faults[0].method in (None, request.method):
            fault = self.faults.popleft()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return httpx.Response(fault.status, headers=headers, json={"error": "fault"})
        if request.headers.get("authorization") != f"{self.scheme} {self.key}":
            # A hostile answer: it echoes what it was sent, secret and all.
            said = request.headers.get("authorization", "")
            return httpx.Response(401, json={"error": f"bad credentials: {said}"})
        path = request.url.path
        if not path.startswith(self.prefix):
            return httpx.Response(404, json={"error": "no such page"})
        try:
            body = json.loads(request.content) if request.content else {}
        except ValueError:
            return httpx.Response(400, json={"error": "not JSON"})
        if request.content and (problems := violations(self.limits, request.content)):
            return httpx.Response(422, json={"error": f"invalid: {problems}"})
        status, answer = self.route(request.method, path[len(self.prefix) :], request, body)
        return httpx.Response(status, json=answer)

    def route(self, method: str, path: str, request: httpx.Request, body: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def _component_patch(self, component_id: str, body: Any) -> tuple[int, Any]:
        if component_id not in self.components:
            return 404, {"error": "component not found"}
        if not isinstance(body, dict) or body.get("status") not in COMPONENT_STATUSES:
            return 422, {"error": "status is invalid"}
        self.components[component_id] = body["status"]
        return 200, {"id": component_id, "status": body["status"]}

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            proxied = httpx.Request(
                request.method,
                str(request.url),
                headers=dict(request.headers),
                content=await request.body(),
            )
            answer = self(proxied)
            return Response(answer.content, answer.status_code, dict(answer.headers))

        methods = ["GET", "POST", "PATCH", "PUT"]
        return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


class StatuspageAPI(_StatusPageFake):
    scheme = "OAuth"
    limits = "status-page"

    def __init__(self, key: str, page_id: str, components: list[str]) -> None:
        super().__init__(key, page_id, components)
        self.prefix = f"/v1/pages/{page_id}/"
        self.pages_listed: list[int] = []

    def as_json(self, incident: Incident) -> dict[str, Any]:
        return {
            "id": incident.id,
            "name": incident.title,
            "status": incident.status,
            "impact": incident.impact,
            "page_id": self.page_id,
            "metadata": incident.metadata,
            "components": [{"id": c, "status": self.components[c]} for c in incident.component_ids],
            "incident_updates": [],
        }

    def route(self, method: str, path: str, request: httpx.Request, body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "incidents/unresolved":
            return self._page(request, [i for i in self.incidents.values() if i.open])
        if method == "POST" and path == "incidents":
            return self._create(body.get("incident") if isinstance(body, dict) else None)
        if method == "PATCH" and path.startswith("incidents/"):
            incident = self.incidents.get(path.removeprefix("incidents/"))
            if incident is None:
                return 404, {"error": "incident not found"}
            fields = body.get("incident") if isinstance(body, dict) else None
            if not isinstance(fields, dict) or fields.get("status") not in (
                "investigating",
                "identified",
                "monitoring",
                "resolved",
            ):
                return 422, {"error": "status is invalid"}
            incident.status = fields["status"]
            return 200, self.as_json(incident)
        if method == "PATCH" and path.startswith("components/"):
            wrapped = body.get("component") if isinstance(body, dict) else None
            return self._component_patch(path.removeprefix("components/"), wrapped)
        return 404, {"error": "no such endpoint"}

    def _page(self, request: httpx.Request, incidents: list[Incident]) -> tuple[int, Any]:
        try:
            page = int(request.url.params.get("page", 1))
            per_page = int(request.url.params.get("per_page", PER_PAGE))
        except ValueError:
            return 400, {"error": "page and per_page must be integers"}
        if page < 1 or per_page < 0:
            return 400, {"error": "page must be 1 or more, per_page 0 or more"}
        self.pages_listed.append(page)
        per_page = min(per_page or PER_PAGE, PER_PAGE)
        start = (page - 1) * per_page
        return 200, [self.as_json(i) for i in incidents[start : start + per_page]]

    def _create(self, fields: Any) -> tuple[int, Any]:
        if not isinstance(fields, dict):
            return 400, {"error": "incident is missing"}
        errors = []
        name = fields.get("name")
        if not isinstance(name, str) or not name or len(name) > 255:
            errors.append("name is missing or longer than 255")
        if fields.get("status", "investigating") not in ("investigating", "identified"):
            errors.append("status is invalid")
        if fields.get("impact_override", "none") not in IMPACTS:
            errors.append("impact_override is invalid")
        ids = fields.get("component_ids", [])
        statuses = fields.get("components", {})
        if not isinstance(ids, list) or not isinstance(statuses, dict):
            errors.append("component_ids or components has the wrong type")
        elif any(c not in self.components for c in [*ids, *statuses]):
            errors.append("unknown component")
        elif any(s not in COMPONENT_STATUSES for s in statuses.values()):
            errors.append("component status is invalid")
        metadata = fields.get("metadata", {})
        if not isinstance(metadata, dict) or not all(
            isinstance(v, dict) for v in metadata.values()
        ):
            errors.append("metadata: all top-level values must be objects")
        if not isinstance(fields.get("deliver_notifications", True), bool):
            errors.append("deliver_notifications is not a boolean")
        if errors:
            return 422, {"error": errors}
        incident = Incident(
            self._new_id(),
            name,
            fields.get("status", "investigating"),
            fields.get("impact_override", "none"),
            list(dict.fromkeys([*ids, *statuses])),
            notified=fields.get("deliver_notifications", True),
            metadata=metadata,
        )
        self.incidents[incident.id] = incident
        self.components.update(statuses)  # Statuspage applies the status map on create
        return 201, self.as_json(incident)


class SimpleAPI(_StatusPageFake):
    scheme = "Bearer"
    prefix = "/api/v1/"
    limits = "status-page/simple"

    def as_json(self, incident: Incident) -> dict[str, Any]:
        return {
            "id": incident.id,
            "title": incident.title,
            "status_page_id": self.page_id,
            "severity": incident.impact,
            "affected_component_ids": incident.component_ids,
            "raw_input": incident.raw_input,
            "metadata": incident.metadata,
            "draft": incident.draft,
            "status": incident.status,
        }

    def route(self, method: str, path: str, request: httpx.Request, body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "incidents":
            if request.url.params.get("status_page_id") != self.page_id:
                return 404, {"error": "no such status page"}
            wanted = request.url.params.get("status")
            listed = [i for i in self.incidents.values() if wanted != "open" or i.open]
            return 200, {"incidents": [self.as_json(i) for i in listed]}
        if method == "POST" and path == "incidents":
            return self._create(body)
        if method == "PATCH" and path.startswith("incidents/"):
            incident = self.incidents.get(path.removeprefix("incidents/"))
            if incident is None:
                return 404, {"error": "incident not found"}
            if not isinstance(body, dict) or body.get("status") not in ("open", "resolved"):
                return 422, {"error": "status must be open or resolved"}
            incident.status = body["status"]
            return 200, self.as_json(incident)
        if method == "PATCH" and path.startswith("components/"):
            return self._component_patch(path.removeprefix("components/"), body)
        return 404, {"error": "no such endpoint"}

    def _create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, {"error": "not an object"}
        errors = []
        if not isinstance(body.get("title"), str) or not body["title"]:
            errors.append("title is missing")
        if body.get("status_page_id") != self.page_id:
            errors.append("status_page_id is unknown")
        if body.get("severity") not in IMPACTS:
            errors.append("severity is invalid")
        ids = body.get("affected_component_ids")
        if not isinstance(ids, list) or not ids or any(c not in self.components for c in ids):
            errors.append("affected_component_ids is missing or names an unknown component")
        raw = body.get("raw_input")
        if not isinstance(raw, dict) or not raw.keys() >= RAW_INPUT_KEYS:
            errors.append(f"raw_input must hold {sorted(RAW_INPUT_KEYS)}")
        if not isinstance(body.get("draft", True), bool):
            errors.append("draft is not a boolean")
        if not isinstance(body.get("metadata", {}), dict):
            errors.append("metadata must be an object")
        if errors:
            return 422, {"errors": errors}
        incident = Incident(
            self._new_id(),
            body["title"],
            "open",
            body["severity"],
            list(ids),
            draft=body.get("draft", True),
            raw_input=raw,
            metadata=body.get("metadata", {}),
        )
        self.incidents[incident.id] = incident
        return 201, self.as_json(incident)
