"""Status pages: a component per service label, an incident per dedup key, drafts to review.

Atlassian Statuspage v1 (https://developer.statuspage.io/) and simpler APIs such as
`POST /api/v1/incidents {title, status_page_id, severity, affected_component_ids, raw_input}`
share one flow; `flavor` picks a preset of paths and field names (`Shape`) that `paths:` and
`fields:` override, so a third API is config, not code. Decisions:

- Component: `components[labels[component_label]]`. An alert whose label names no configured
  component is *filtered* (`wants`), like receiver matchers, never failed.
- Incident: one per dedup key, so one per alert by default; `dedup_key: {strategy: labels,
  labels: [service]}` (with Alertmanager's `group_by: [service]`) makes it one per component.
  A key never spans components: strategy `group`, or `labels` without the component label,
  is a config error (the pipeline hands over one event per key, so one component).
- One request chain per component and webhook, carrying all its events (`render_all`):
  GET the unresolved incidents, then, derived from that answer (`UpstreamRequest.then`):
  create an incident for each firing key without an open one (re-sends of a group create
  nothing); resolve the open incident of each resolved key (none open: nothing to do);
  set the component to the worst status of its firing alerts in this webhook and of the
  other keys' open incidents on it (as recorded when each was created; another group's
  alerts must not turn it operational), else back to operational. Each incident carries a
  marker {dedup_key, component, status} (Statuspage: `metadata`; simple: in `raw_input`)
  by which it is found again: no state here. Any step failing fails the chain's events;
  Alertmanager's re-send replays it, and the listing makes the replay idempotent.
- `publish: false` (default) creates a draft for a human to publish. Statuspage v1 has no
  drafts (an incident is public once created), so that flavor requires `publish: true`.
  The component status is set either way: it is a fact, the incident text is the message.
- Not atomic: two webhooks with the same key at the same instant could both create.
  Alertmanager sends one group at a time; keep a key inside one group (see above).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import orjson
from pydantic import Field, model_validator

from adapter.budgets import Budget, Text, fit
from adapter.integrations.base import (
    AlertEvent,
    Integration,
    RenderError,
    RetryPolicy,
    UpstreamRequest,
)
from adapter.secrets import Secret, SecretFile
from adapter.settings import Model, ReceiverSettings, check_http_url, one_secret

Status = Literal["degraded_performance", "partial_outage", "major_outage"]
RANK = ("operational", "degraded_performance", "partial_outage", "major_outage")
Impact = Literal["none", "minor", "major", "critical"]
TITLE_LIMIT = 255  # Statuspage: "a maximum limit of 255 characters"
BODY_LIMIT = 25000  # Statuspage: the incident's `body`, "a maximum limit of 25000 characters"
# Neither `metadata` nor the request as a whole has a documented limit: 64 KiB is ours, so a
# huge annotation in raw_input cannot make a create fail (docs/limits.md).
CREATE_BYTES = 65_536


@dataclass(frozen=True)
class Shape:
    """Where an API wants things: paths relative to `url`, dotted field paths ("" = none)."""

    auth_scheme: str
    unresolved: str  # GET the open incidents; may hold {page_id}
    create: str  # POST an incident
    incident: str  # PATCH an incident (to resolve it); holds {id}
    component: str  # PATCH a component's status; holds {component_id}; "" = no such call
    wrap: str  # the object an incident's fields go in ("" = top level)
    component_wrap: str
    incidents: str  # where a listing holds its array ("" = the answer is the array)
    id: str
    title: str
    impact: str
    component_ids: str
    component_statuses: str  # {component_id: status}, on create
    raw_input: str
    marker: str  # {dedup_key, component, status}: how the adapter finds its incidents again
    status: str  # of an incident ("resolved" closes it) and of a component
    page_id: str
    draft: str  # true unless `publish`; "" = the API has no drafts


PATHS = ("unresolved", "create", "incident", "component")
PRESETS: dict[str, dict[str, str]] = {
    "statuspage": {  # https://developer.statuspage.io/
        "auth_scheme": "OAuth",
        "unresolved": "incidents/unresolved",
        "create": "incidents",
        "incident": "incidents/{id}",
        "component": "components/{component_id}",
        "wrap": "incident",
        "component_wrap": "component",
        "incidents": "",
        "id": "id",
        "title": "name",
        "impact": "impact_override",
        "component_ids": "component_ids",
        "component_statuses": "components",
        "raw_input": "metadata.raw_input",  # metadata: top-level values must be objects
        "marker": "metadata.incident_adapter",
        "status": "status",
        "page_id": "",  # in the url
        "draft": "",
    },
    "simple": {
        "auth_scheme": "Bearer",
        "unresolved": "incidents?status_page_id={page_id}&status=open",
        "create": "incidents",
        "incident": "incidents/{id}",
        "component": "components/{component_id}",
        "wrap": "",
        "component_wrap": "",
        "incidents": "incidents",
        "id": "id",
        "title": "title",
        "impact": "severity",
        "component_ids": "affected_component_ids",
        "component_statuses": "",
        "raw_input": "raw_input",
        "marker": "raw_input.incident_adapter",
        "status": "status",
        "page_id": "status_page_id",
        "draft": "draft",
    },
}

FIELDS = tuple(n for n in PRESETS["simple"] if n not in (*PATHS, "auth_scheme"))


class StatusMap(Model):
    critical: Status = "major_outage"
    error: Status = "partial_outage"
    warning: Status = "degraded_performance"
    info: Status = "degraded_performance"


class ImpactMap(Model):
    critical: Impact = "critical"
    error: Impact = "major"
    warning: Impact = "minor"
    info: Impact = "none"


class StatusPageSettings(ReceiverSettings):
    type: Literal["status-page"]
    url: str  # the base the paths are relative to, e.g. https://api.statuspage.io/v1/pages/ID
    flavor: Literal["statuspage", "simple"] = "statuspage"
    page_id: str = ""  # for APIs that take it in the body or a path ({page_id})
    api_key: Secret | None = None
    api_key_file: SecretFile | None = None
    auth_header: str = "Authorization"
    auth_scheme: str | None = None  # "<auth_scheme> <key>"; default: the flavor's
    component_label: str = "service"
    components: dict[str, str] = Field(min_length=1)  # label value -> component id
    status: StatusMap = Field(default_factory=StatusMap)
    impact: ImpactMap = Field(default_factory=ImpactMap)
    publish: bool = False
    paths: dict[str, str] = Field(default_factory=dict)  # overrides of the flavor's Shape
    fields: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> StatusPageSettings:
        one_secret("api_key", self.api_key, self.api_key_file)
        check_http_url(self.url)
        names = {"paths": PATHS, "fields": FIELDS}
        for where, allowed in names.items():
            for name in getattr(self, where):
                if name not in allowed:
                    raise ValueError(f"{where}.{name}: unknown; use one of {', '.join(allowed)}")
        shape, rule = self.shape(), self.dedup_key
        if rule.strategy == "group" or (
            rule.strategy == "labels" and self.component_label not in rule.labels
        ):
            raise ValueError(
                f"dedup_key: a key must not span components; use strategy fingerprint, or "
                f"labels that include {self.component_label!r}"
            )
        if self.storm_guard is not None:  # its group-wide aggregate has no one component
            raise ValueError(
                "storm_guard: not for status-page; for one incident per component use "
                f"dedup_key: {{strategy: labels, labels: [{self.component_label}]}}"
            )
        if not self.publish and not shape.draft:
            raise ValueError(
                f"publish: {self.flavor!r} has no draft incidents (Statuspage v1 shows an "
                "incident once created); set publish: true, or fields.draft for an API with drafts"
            )
        if shape.page_id and not self.page_id:
            raise ValueError(f"page_id: required, sent as {shape.page_id!r}")
        for name in PATHS:
            path = getattr(shape, name)
            if path.startswith("/") or "://" in path:
                raise ValueError(f"paths.{name}: {path!r} must be relative to url")
        if "{id}" not in shape.incident:
            raise ValueError("paths.incident: must hold {id}")
        if shape.component and "{component_id}" not in shape.component:
            raise ValueError("paths.component: must hold {component_id} (or be empty)")
        if not (shape.title and shape.marker and shape.status and shape.id):
            raise ValueError("fields: title, marker, status and id must not be empty")
        return self

    def shape(self) -> Shape:
        scheme = {} if self.auth_scheme is None else {"auth_scheme": self.auth_scheme}
        return Shape(**{**PRESETS[self.flavor], **self.fields, **self.paths, **scheme})

    @property
    def key(self) -> Secret:
        return one_secret("api_key", self.api_key, self.api_key_file)

    def dialect_secrets(self) -> list[str]:
        return [self.key.reveal()]


def _get(obj: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    if not path:
        return
    *parents, leaf = path.split(".")
    for part in parents:
        if not isinstance(body.get(part), dict):
            body[part] = {}
        body = body[part]
    if isinstance(body.get(leaf), dict) and isinstance(value, dict):
        body[leaf].update(value)
    else:
        body[leaf] = value


def _sequence(steps: Sequence[UpstreamRequest]) -> UpstreamRequest | None:
    """The steps one after another: each runs once the one before has succeeded."""
    if not steps:
        return None
    return replace(steps[0], then=lambda _: _sequence(steps[1:]))


def _duration(seconds: float) -> str:
    """Alertmanager's style: 1h2m3s."""
    s = max(0, int(seconds))
    parts = [(s // 3600, "h"), (s // 60 % 60, "m"), (s % 60, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


class StatusPage(Integration[StatusPageSettings]):
    dedup_key_limit = 255
    # Statuspage answers 420 or 429 with Retry-After when rate limited (~60 requests a
    # minute); 408 and 5xx are transient too. Other 4xx mean a bad request or key.
    retry_policy = RetryPolicy(
        frozenset({408, 420, 429}),
        doc_url="https://community.atlassian.com/t5/Statuspage-articles/"
        "Upcoming-rate-limiting-changes-to-Statuspage-REST-API/ba-p/1455362",
    )
    # Statuspage: about one request a second per API key; each webhook's chain is 2-3 requests.
    default_rate_limit = (60, 60.0)

    def __init__(
        self, settings: StatusPageSettings, clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(settings)
        self.shape = settings.shape()
        key = f"{self.shape.auth_scheme} {settings.key.reveal()}".strip()
        self._headers = {"Content-Type": "application/json", settings.auth_header: key}
        self._base = settings.url.rstrip("/") + "/"
        self._clock = clock or (lambda: datetime.now(UTC))
        self.budget = budget_for(self.shape)
        self._protected = (settings.key.reveal(),)

    def component(self, event: AlertEvent) -> str | None:
        value = event.alert.labels.get(self.settings.component_label)
        return None if value is None else self.settings.components.get(value)

    def wants(self, event: AlertEvent) -> bool:
        return self.component(event) is not None

    def render(self, event: AlertEvent) -> UpstreamRequest:
        component = self.component(event)
        if component is None:
            raise RenderError(f"label {self.settings.component_label!r} names no component")
        return self.chain(component, [event])

    def render_all(
        self, events: Sequence[AlertEvent]
    ) -> list[tuple[UpstreamRequest | RenderError, tuple[AlertEvent, ...]]]:
        """One chain per component, carrying all of that component's events."""
        by_component: dict[str | None, list[AlertEvent]] = {}
        for event in events:
            by_component.setdefault(self.component(event), []).append(event)
        out: list[tuple[UpstreamRequest | RenderError, tuple[AlertEvent, ...]]] = []
        for component, members in by_component.items():
            if component is None:
                out.append((RenderError("the alert's label names no component"), tuple(members)))
            else:
                out.append((self.chain(component, members), tuple(members)))
        return out

    def chain(self, component: str, events: Sequence[AlertEvent]) -> UpstreamRequest:
        def then(answer: bytes) -> UpstreamRequest | None:
            return _sequence(self.steps(component, events, self.open_incidents(answer)))

        return UpstreamRequest("GET", self._url("unresolved"), self._headers, b"", then=then)

    def open_incidents(self, answer: bytes) -> dict[str, dict[str, Any]]:
        """This adapter's open incidents in a listing, by dedup key. An answer that is not a
        listing counts as empty: the create or resolve that follows surfaces a wrong URL."""
        try:
            data = json.loads(answer)
        except (ValueError, RecursionError):
            return {}
        items = _get(data, self.shape.incidents)
        out = {}
        for incident in items if isinstance(items, list) else ():
            key = _get(incident, self.shape.marker + ".dedup_key")
            if isinstance(key, str) and _get(incident, self.shape.status) != "resolved":
                out[key] = incident
        return out

    def steps(
        self, component: str, events: Sequence[AlertEvent], open_: dict[str, dict[str, Any]]
    ) -> list[UpstreamRequest]:
        """What to send after the listing, given the open incidents in it."""
        status_map = self.settings.status.model_dump()
        firing = [e for e in events if e.action == "trigger"]
        mine = {e.dedup_key for e in events}
        statuses = [status_map[e.severity] for e in firing]
        for key, incident in open_.items():  # other keys' open incidents hold it down too
            marker = _get(incident, self.shape.marker)
            if key not in mine and marker.get("component") == component:
                recorded = marker.get("status")
                statuses.append(recorded if recorded in RANK[1:] else RANK[1])
        worst = max(statuses, key=RANK.index, default="operational")
        out = [self.create(e, component) for e in firing if e.dedup_key not in open_]
        for event in events:
            if event.action == "resolve" and event.dedup_key in open_:
                incident_id = str(_get(open_[event.dedup_key], self.shape.id))
                out.append(self._send("PATCH", "incident", {"id": incident_id}, "resolved"))
        if self.shape.component:
            out.append(self._send("PATCH", "component", {"component_id": component}, worst))
        return out

    def create(self, event: AlertEvent, component: str) -> UpstreamRequest:
        shape, settings = self.shape, self.settings
        status = settings.status.model_dump()[event.severity]
        alert = event.alert
        title = alert.annotations.get("summary") or alert.labels.get("alertname") or "alert"
        body: dict[str, Any] = {}
        _put(body, shape.title, title)
        _put(body, shape.page_id, settings.page_id)
        _put(body, shape.impact, settings.impact.model_dump()[event.severity])
        _put(body, shape.component_ids, [component])
        _put(body, shape.component_statuses, {component: status})
        _put(body, shape.raw_input, self.raw_input(event))
        marker = {"dedup_key": event.dedup_key, "component": component, "status": status}
        _put(body, shape.marker, marker)
        _put(body, shape.draft, not settings.publish)
        wrapped = {shape.wrap: body} if shape.wrap else body
        content = fit(wrapped, self.budget, (*self._protected, event.dedup_key))
        return UpstreamRequest("POST", self._url("create"), self._headers, content)

    def raw_input(self, event: AlertEvent) -> dict[str, Any]:
        """What a person or a writing assistant turns into a customer-facing update."""
        alert = event.alert
        try:
            started = datetime.fromisoformat(alert.startsAt)
            firing_for = _duration((self._clock() - started).total_seconds())
        except (ValueError, TypeError):  # not ISO 8601, or without a zone
            firing_for = ""
        out = {
            "alertname": alert.labels.get("alertname", ""),
            "summary": alert.annotations.get("summary", ""),
            "description": alert.annotations.get("description", ""),
            "labels": dict(alert.labels),
            "severity": event.severity,
            "starts_at": alert.startsAt,
            "firing_for": firing_for,
        }
        if alert.generatorURL:
            out["source"] = alert.generatorURL
        if runbook := alert.annotations.get("runbook_url"):
            out["runbook_url"] = runbook
        return out

    def _send(self, method: str, which: str, ids: dict[str, str], status: str) -> UpstreamRequest:
        wrap = self.shape.wrap if which == "incident" else self.shape.component_wrap
        body: dict[str, Any] = {}
        _put(body, self.shape.status, status)
        wrapped = {wrap: body} if wrap else body
        return UpstreamRequest(method, self._url(which, ids), self._headers, _json(wrapped))

    def _url(self, which: str, ids: dict[str, str] | None = None) -> str:
        text: str = getattr(self.shape, which)
        text = text.replace("{page_id}", quote(self.settings.page_id, safe=""))
        for name, value in (ids or {}).items():
            text = text.replace("{" + name + "}", quote(value, safe=""))
        return self._base + text


def _json(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def budget_for(shape: Shape) -> Budget:
    """A create's budget, at the paths this shape puts things (Statuspage:
    https://developer.statuspage.io/#operation/postPagesPageIdIncidents)."""
    wrap = shape.wrap + "." if shape.wrap else ""
    raw = wrap + shape.raw_input
    kept = (shape.marker, shape.page_id, shape.impact, shape.component_ids, shape.draft)
    return Budget(
        vendor="Statuspage",
        doc_url="https://developer.statuspage.io/#operation/postPagesPageIdIncidents",
        body_bytes=CREATE_BYTES,
        limits=(Text(wrap + shape.title, TITLE_LIMIT), Text(wrap + "body", BODY_LIMIT)),
        cut_first=(f"{raw}.description", f"{raw}.labels", raw) if shape.raw_input else (),
        keep=frozenset(wrap + p for p in kept if p)
        | frozenset({wrap + shape.component_statuses} if shape.component_statuses else ()),
        mark=f"{raw}.truncated" if shape.raw_input else "",
        key_chars=255,
    )
