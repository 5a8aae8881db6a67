"""Stand-ins that keep state like PageCalm and Alert24's service statuses.

`PageCalmAPI`: `POST /api/v1/incidents {title, status_page_id, severity: minor|major|critical,
affected_component_ids, raw_input: <text>, generate_ai_update, tone}` with `Authorization:
Bearer <key>`. Every incident is a draft until a person publishes it (`publish`, here a test
step; the API offers the adapter no way to); with `generate_ai_update` the writer drafts an
update from `raw_input`. Nothing else is documented, so nothing else is served: a listing,
an update or a resolve answers 404, and a field the API does not take answers 422.

`Alert24StatusAPI`: `PUT /api/v1/services/{id} {"status": operational|degraded|down|
maintenance}` and `GET /api/v1/services` as {"data": [...], "meta": {...}}
(https://alert24.net/docs/api-services). It records every change of every service
(`history`), so a test can see a status that flickered, not only the last one.

Both answer the scripted faults, wrong keys and bad requests like tests/standins/statuspage.py.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.standins.statuspage import Incident, SimpleAPI, _StatusPageFake

SEVERITIES = ("minor", "major", "critical")
TONES = ("professional", "friendly", "minimal")
CREATE_FIELDS = {
    "title",
    "status_page_id",
    "severity",
    "affected_component_ids",
    "raw_input",
    "generate_ai_update",
    "tone",
}
SERVICE_STATUSES = ("operational", "degraded", "down", "maintenance")


class PageCalmAPI(SimpleAPI):
    limits = "status-page/pagecalm"

    def __init__(self, key: str, page_id: str, components: list[str]) -> None:
        super().__init__(key, page_id, components)
        self.ai_updates: dict[str, str] = {}
        self.tones: dict[str, str] = {}

    def drafts(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.draft and i.open]

    def publish(self, incident_id: str) -> None:
        """What a person does in PageCalm's dashboard."""
        self.incidents[incident_id].draft = False

    def as_json(self, incident: Incident) -> dict[str, Any]:
        shown = {k: v for k, v in super().as_json(incident).items() if k in CREATE_FIELDS}
        status = "draft" if incident.draft else "published"
        return {
            "id": incident.id,
            **shown,
            "status": status,
            "ai_update": self.ai_updates.get(incident.id),
        }

    def route(self, method: str, path: str, request: httpx.Request, body: Any) -> tuple[int, Any]:
        if method == "POST" and path == "incidents":
            return self._create(body)
        return 404, {"error": "no such endpoint"}

    def _create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, {"error": "not an object"}
        errors = [f"{name}: unknown field" for name in sorted(set(body) - CREATE_FIELDS)]
        title = body.get("title")
        if not isinstance(title, str) or not title or len(title) > 255:
            errors.append("title is missing or longer than 255")
        if body.get("status_page_id") != self.page_id:
            errors.append("status_page_id is unknown")
        if body.get("severity") not in SEVERITIES:
            errors.append(f"severity must be one of {', '.join(SEVERITIES)}")
        ids = body.get("affected_component_ids")
        if not isinstance(ids, list) or not ids or any(c not in self.components for c in ids):
            errors.append("affected_component_ids is missing or names an unknown component")
        raw = body.get("raw_input")
        if not isinstance(raw, str) or not raw.strip():
            errors.append("raw_input must be a non-empty text")
        if not isinstance(body.get("generate_ai_update", False), bool):
            errors.append("generate_ai_update is not a boolean")
        if body.get("tone", "professional") not in TONES:
            errors.append(f"tone must be one of {', '.join(TONES)}")
        if errors:
            return 422, {"errors": errors}
        incident = Incident(
            self._new_id(), title, "open", body["severity"], list(ids), draft=True, raw_input=raw
        )
        self.incidents[incident.id] = incident
        self.tones[incident.id] = body.get("tone", "professional")
        if body.get("generate_ai_update"):
            first = raw.splitlines()[0]
            self.ai_updates[incident.id] = f"We are investigating an issue. ({first})"
        return 201, self.as_json(incident)


class Alert24StatusAPI(_StatusPageFake):
    scheme = "Bearer"
    prefix = "/api/v1/"
    limits = "status-page/alert24-status"

    def __init__(self, key: str, services: list[str]) -> None:
        super().__init__(key, "", services)
        self.history: dict[str, list[str]] = {s: ["operational"] for s in services}

    def as_json(self, service: str) -> dict[str, Any]:
        return {"id": service, "name": service, "status": self.components[service]}

    def route(self, method: str, path: str, request: httpx.Request, body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "services":
            data = [self.as_json(s) for s in self.components]
            meta = {"total": len(data), "limit": 25, "offset": 0, "has_more": False}
            return 200, {"data": data, "meta": meta}
        if not path.startswith("services/"):
            return 404, {"error": "no such endpoint"}
        service = path.removeprefix("services/")
        if service not in self.components:
            return 404, {"error": "service not found"}
        if method == "GET":
            return 200, {"data": self.as_json(service)}
        if method != "PUT":
            return 405, {"error": "method not allowed"}
        if not isinstance(body, dict) or set(body) - {
            "name",
            "description",
            "status",
            "sort_order",
        }:
            return 422, {"error": "unknown field"}
        if body.get("status") not in SERVICE_STATUSES:
            return 422, {"error": f"status must be one of {', '.join(SERVICE_STATUSES)}"}
        if body["status"] != self.components[service]:
            self.history[service].append(body["status"])
        self.components[service] = body["status"]
        return 200, {"data": self.as_json(service)}
