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
  GET the unresolved incidents, page after page where the API pages them (Statuspage: 100
  a page) while a page comes back full, at most LISTING_PAGES (past that the rest stays
  unseen: `status_page.listing_truncated`); then, derived from what the pages held
  (`UpstreamRequest.then`): create an incident for each firing key without an open one
  (re-sends of a group create nothing); resolve the open incident of each resolved key
  (none open: nothing to do); set the component to the worst status of its firing alerts
  in this webhook and of the other keys' open incidents on it (as recorded when each was
  created; another group's alerts must not turn it operational), else back to
  operational. Each incident carries a marker {dedup_key, component, status} in its own
  field (`fields.marker`; Statuspage and simple: `metadata.incident_adapter`), never in
  `raw_input`, the writer's input, by which it is found again: no state here. Any step
  failing fails the chain's events; Alertmanager's re-send replays it, and the listing
  makes the replay idempotent.
- No listing (`paths.unresolved: ""`; PageCalm, Alert24 service status): nothing can be
  found again. A firing alert gets one create (`create_once`: only the delivery memo keeps
  a re-send from creating another, within memo_ttl, in this process); a resolve has nothing
  to send and is filtered. Or, with no incidents at all, one component request per
  component with the worst status of its firing alerts in this webhook (group by the
  component label so one group holds them all). Not both: which incidents still hold a
  component cannot be known.
- `raw_input`: an object, or (`raw_input_format: text`) the same facts as an on-call note.
- `publish: false` (default) creates a draft for a human to publish. Statuspage v1 has no
  drafts (an incident is public once created), so that flavor requires `publish: true`.
  The component status is set either way: it is a fact, the incident text is the message.
- Not atomic: two webhooks with the same key at the same instant could both create.
  Alertmanager sends one group at a time; keep a key inside one group (see above).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import orjson
import structlog
from pydantic import Field, model_validator

from adapter.budgets import fit, fitted
from adapter.integrations.base import (
    AlertEvent,
    Integration,
    RenderError,
    RetryPolicy,
    UpstreamRequest,
)
from adapter.integrations.status_page_presets import (
    FIELDS,
    PATHS,
    PRESETS,
    Preset,
    Shape,
)
from adapter.integrations.status_page_text import (
    TEXT_ANNOTATIONS,
    budget_for,
    raw_input_text,
    text_budget_for,
)
from adapter.keys import dedup_key_for
from adapter.payload import Alert
from adapter.settings import KeyedReceiverSettings, Model
from adapter.templating import Fields

log = structlog.get_logger("adapter.status_page")

# Pages of a listing read per chain, at most: 2,000 open incidents on Statuspage. A bound, so
# that an API answering full pages forever can neither hold a chain nor spend the receiver's
# rate budget; past it the chain decides with what it saw (docs/dialects.md).
LISTING_PAGES = 20


class SeverityMap(Model):
    """Adapter severity -> a value of the flavor's vocabulary; unset: the flavor's default."""

    critical: str | None = None
    error: str | None = None
    warning: str | None = None
    info: str | None = None


class StatusPageSettings(KeyedReceiverSettings):
    type: Literal["status-page"]
    url: str  # the base the paths are relative to, e.g. https://api.statuspage.io/v1/pages/ID
    flavor: Literal["statuspage", "simple", "pagecalm", "alert24-status"] = "statuspage"
    page_id: str = ""  # for APIs that take it in the body or a path ({page_id})
    auth_scheme: str | None = None  # "<auth_scheme> <key>"; default: the flavor's
    component_label: str = "service"
    components: dict[str, str] = Field(min_length=1)  # label value -> component id
    status: SeverityMap = Field(default_factory=SeverityMap)  # component status by severity
    impact: SeverityMap = Field(default_factory=SeverityMap)  # incident impact by severity
    publish: bool = False
    raw_input_format: Literal["text", "object"] | None = None  # default: the flavor's
    create_fields: dict[str, Any] = Field(default_factory=dict)  # constant extras; null: drop
    paths: dict[str, str] = Field(default_factory=dict)  # overrides of the flavor's Shape
    fields: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> StatusPageSettings:
        names = {"paths": PATHS, "fields": FIELDS}
        for where, allowed in names.items():
            for name in getattr(self, where):
                if name not in allowed:
                    raise ValueError(f"{where}.{name}: unknown; use one of {', '.join(allowed)}")
        shape, rule, preset = self.shape(), self.dedup_key, self.preset
        if (
            rule.strategy == "group"
            or (rule.strategy == "labels" and self.component_label not in rule.labels)
            or (rule.strategy == "template" and not _template_tells_components(self))
        ):
            raise ValueError(
                f"dedup_key: a key must not span components; use strategy fingerprint, "
                f"labels that include {self.component_label!r}, or a template that reads "
                f"labels.{self.component_label}"
            )
        metadata = shape.raw_input.split(".")[0] == "metadata"
        if self.flavor == "statuspage" and metadata and self.raw_input_format == "text":
            raise ValueError(  # a text there is refused by Statuspage: every incident lost
                "raw_input_format: Statuspage's metadata takes objects only (each top-level "
                "value must be an object); use object, or fields.raw_input outside metadata"
            )
        if self.storm_guard is not None:  # its group-wide aggregate has no one component
            raise ValueError(
                "storm_guard: not for status-page; for one incident per component use "
                f"dedup_key: {{strategy: labels, labels: [{self.component_label}]}}"
            )
        self._check_vocabulary("status", self.status, preset.statuses[1:])
        if shape.impact:
            self._check_vocabulary("impact", self.impact, preset.impacts)
        if shape.create:
            self._check_create(shape)
        if shape.page_id and not self.page_id:
            raise ValueError(f"page_id: required, sent as {shape.page_id!r}")
        for name in PATHS[:-1]:
            path = getattr(shape, name)
            if path.startswith("/") or "://" in path:
                raise ValueError(f"paths.{name}: {path!r} must be relative to url")
        if shape.component_method not in ("PATCH", "PUT", "POST"):
            raise ValueError("paths.component_method: use PATCH, PUT or POST")
        if shape.component and "{component_id}" not in shape.component:
            raise ValueError("paths.component: must hold {component_id} (or be empty)")
        if not shape.status:
            raise ValueError("fields.status: must not be empty")
        if shape.unresolved:
            self._check_listing(shape, preset)
        elif not shape.create and not shape.component:
            raise ValueError("paths: nothing to send; set paths.create or paths.component")
        elif shape.create and shape.component:
            raise ValueError(
                "paths.component: without a listing (paths.unresolved) the adapter cannot "
                "tell which incidents still hold a component; use one of create or component"
            )
        return self

    def _check_vocabulary(self, name: str, given: SeverityMap, allowed: tuple[str, ...]) -> None:
        for level, value in given.model_dump(exclude_none=True).items():
            if value not in allowed:
                raise ValueError(
                    f"{name}.{level}: {value!r} is not a value of flavor {self.flavor!r}; "
                    f"use one of {', '.join(allowed)}"
                )

    def _check_create(self, shape: Shape) -> None:
        preset = self.preset
        if not shape.title:
            raise ValueError("fields.title: must not be empty when incidents are created")
        if self.publish and preset.always_draft:
            raise ValueError(
                f"publish: {self.flavor!r} makes every incident a draft for a person to "
                "publish; the API has no way to publish it, so leave publish: false"
            )
        if not self.publish and not shape.draft and not preset.always_draft:
            raise ValueError(
                f"publish: {self.flavor!r} has no draft incidents (Statuspage v1 shows an "
                "incident once created); set publish: true, or fields.draft for an API with drafts"
            )
        taken = {getattr(shape, n) for n in FIELDS} - {""}
        for name, value in self.create_fields.items():
            if name in taken:
                raise ValueError(f"create_fields.{name}: the adapter sets it; see fields")
            allowed = preset.choices.get(name)
            if allowed is not None and value is not None and value not in allowed:
                choices = ", ".join(str(a).lower() if isinstance(a, bool) else a for a in allowed)
                raise ValueError(f"create_fields.{name}: {value!r}; use one of {choices}")

    @staticmethod
    def _check_listing(shape: Shape, preset: Preset) -> None:
        paging = preset.paging
        given = parse_qs(urlsplit(shape.unresolved).query, keep_blank_values=True)
        if paging is not None and (paging.page in given or paging.per_page in given):
            raise ValueError(
                f"paths.unresolved: leave out {paging.page} and {paging.per_page}; the adapter "
                "adds them to page through the listing"
            )
        if "{id}" not in shape.incident:
            raise ValueError("paths.incident: must hold {id}")
        if not (shape.marker and shape.id):
            raise ValueError(
                "fields.marker and fields.id: required with a listing (paths.unresolved), "
                "e.g. marker: metadata.incident_adapter"
            )

    @property
    def preset(self) -> Preset:
        return PRESETS[self.flavor]

    def shape(self) -> Shape:
        scheme = {} if self.auth_scheme is None else {"auth_scheme": self.auth_scheme}
        return Shape(**{**self.preset.shape, **self.fields, **self.paths, **scheme})

    def status_map(self) -> dict[str, str]:
        return {**self.preset.status_map, **self.status.model_dump(exclude_none=True)}

    def impact_map(self) -> dict[str, str]:
        return {**self.preset.impact_map, **self.impact.model_dump(exclude_none=True)}

    def extra_create_fields(self) -> dict[str, Any]:
        merged = {**self.preset.create_fields, **self.create_fields}
        return {name: value for name, value in merged.items() if value is not None}


def _template_tells_components(settings: StatusPageSettings) -> bool:
    """Whether a template key differs for two alerts that differ only in the component label."""
    rule = settings.dedup_key.rule(settings.name)
    keys = set()
    for value in ("component-a", "component-b"):
        # Every other label a template names exists and is the same for both alerts.
        labels = _SampleLabels({settings.component_label: value})
        alert = Alert.model_construct(status="firing", labels=labels, fingerprint="0" * 16)
        keys.add(dedup_key_for(alert, rule, "{}:{}", 255))
    return len(keys) == 2


class _SampleLabels(Fields):
    def __missing__(self, key: str) -> str:
        return f"sample-{key}"


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
    # Statuspage: about one request a second per API key; each webhook's chain is 2-3 requests,
    # and one GET more per 100 open incidents on the page.
    default_rate_limit = (60, 60.0)

    def __init__(
        self, settings: StatusPageSettings, clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(settings)
        self.shape = settings.shape()
        self.ranked = settings.preset.statuses
        self.statuses = settings.status_map()
        self.impacts = settings.impact_map()
        self.raw_input_format = settings.raw_input_format or settings.preset.raw_input_format
        self.extra = settings.extra_create_fields()
        self.markers = tuple(m for m in (self.shape.marker, settings.preset.marker_fallback) if m)
        self._headers = settings.json_headers(self.shape.auth_scheme)
        self._base = settings.url.rstrip("/") + "/"
        self._clock = clock or (lambda: datetime.now(UTC))
        limits = settings.preset.limits
        as_text = self.raw_input_format == "text"
        self.budget = budget_for(self.shape, limits, tuple(self.extra), as_text)
        self.text_budget = text_budget_for(self.shape, self.budget, limits) if as_text else None
        self._protected = (settings.key.reveal(),)

    def component(self, event: AlertEvent) -> str | None:
        value = event.alert.labels.get(self.settings.component_label)
        return None if value is None else self.settings.components.get(value)

    def wants(self, event: AlertEvent) -> bool:
        if self.component(event) is None:
            return False
        # Without a listing, a resolve can only set the component; with no component call
        # either, there is nothing to send: the incident stays for a person to close.
        return bool(event.action == "trigger" or self.shape.unresolved or self.shape.component)

    def render(self, event: AlertEvent) -> UpstreamRequest:
        component = self.component(event)
        if component is None:
            raise RenderError(f"label {self.settings.component_label!r} names no component")
        if not self.shape.unresolved:
            if self.shape.create and event.action == "trigger":
                return self.create_once(event, component)
            return self._set_component(component, [event])
        return self.chain(component, [event])

    def render_all(
        self, events: Sequence[AlertEvent]
    ) -> list[tuple[UpstreamRequest | RenderError, tuple[AlertEvent, ...]]]:
        """One chain per component, carrying all of that component's events; without a
        listing, one create per firing alert, or one status per component."""
        by_component: dict[str | None, list[AlertEvent]] = {}
        for event in events:
            by_component.setdefault(self.component(event), []).append(event)
        out: list[tuple[UpstreamRequest | RenderError, tuple[AlertEvent, ...]]] = []
        for component, members in by_component.items():
            if component is None:
                out.append((RenderError("the alert's label names no component"), tuple(members)))
            elif self.shape.unresolved:
                out.append((self.chain(component, members), tuple(members)))
            elif self.shape.create:
                out += [(self.create_once(e, component), (e,)) for e in members]
            else:
                out.append((self._set_component(component, members), tuple(members)))
        return out

    def chain(self, component: str, events: Sequence[AlertEvent]) -> UpstreamRequest:
        return self._listing(component, events, 1, {})

    def _listing(
        self,
        component: str,
        events: Sequence[AlertEvent],
        page: int,
        seen: dict[str, dict[str, Any]],
    ) -> UpstreamRequest:
        """GET one page of the listing; a full page chains the next, the last one the steps
        decided from the open incidents of every page."""
        paging = self.settings.preset.paging

        def then(answer: bytes) -> UpstreamRequest | None:
            items = self.listed(answer)
            found = {**seen, **self.open_incidents(items)}
            if paging is not None and len(items) == paging.size:
                if page < LISTING_PAGES:
                    return self._listing(component, events, page + 1, found)
                log.warning(
                    "status_page.listing_truncated",
                    receiver=self.settings.name,
                    group_key=events[0].group.groupKey,
                    component=component,
                    pages=page,
                    open_incidents_seen=len(found),
                )
            return _sequence(self.steps(component, events, found))

        url = self._url("unresolved")
        if paging is not None:
            query = urlencode({paging.per_page: paging.size, paging.page: page})
            url += ("&" if "?" in url else "?") + query
        return UpstreamRequest("GET", url, self._headers, b"", then=then)

    def marker_of(self, incident: Any) -> dict[str, Any] | None:
        for path in self.markers:
            found = _get(incident, path)
            if isinstance(found, dict) and isinstance(found.get("dedup_key"), str):
                return found
        return None

    def listed(self, answer: bytes) -> list[Any]:
        """The incidents of one listing answer (one page). An answer that is not a listing
        counts as empty: the create or resolve that follows surfaces a wrong URL."""
        try:
            data = json.loads(answer)
        except (ValueError, RecursionError):
            return []
        items = _get(data, self.shape.incidents)
        return items if isinstance(items, list) else []

    def open_incidents(self, items: Sequence[Any]) -> dict[str, dict[str, Any]]:
        """This adapter's open incidents among a listing's, by dedup key."""
        out = {}
        for incident in items:
            marker = self.marker_of(incident)
            if marker is not None and _get(incident, self.shape.status) != "resolved":
                out[marker["dedup_key"]] = incident
        return out

    def steps(
        self, component: str, events: Sequence[AlertEvent], open_: dict[str, dict[str, Any]]
    ) -> list[UpstreamRequest]:
        """What to send after the listing, given the open incidents in it."""
        mine = {e.dedup_key for e in events}
        held = []  # other keys' open incidents hold the component down too
        for key, incident in open_.items():
            marker = self.marker_of(incident) or {}
            if key not in mine and marker.get("component") == component:
                recorded = marker.get("status")
                held.append(recorded if recorded in self.ranked[1:] else self.ranked[1])
        firing = [e for e in events if e.action == "trigger"]
        out = [self.create(e, component) for e in firing if e.dedup_key not in open_]
        for event in events:
            if event.action == "resolve" and event.dedup_key in open_:
                incident_id = str(_get(open_[event.dedup_key], self.shape.id))
                out.append(self._send("PATCH", "incident", {"id": incident_id}, "resolved"))
        if self.shape.component:
            out.append(self._set_component(component, events, held))
        return out

    def worst(self, events: Sequence[AlertEvent], held: Sequence[str] = ()) -> str:
        statuses = [self.statuses[e.severity] for e in events if e.action == "trigger"]
        return max([*statuses, *held], key=self.ranked.index, default=self.ranked[0])

    def create(self, event: AlertEvent, component: str) -> UpstreamRequest:
        shape, settings = self.shape, self.settings
        status = self.statuses[event.severity]
        alert = event.alert
        title = alert.annotations.get("summary") or alert.labels.get("alertname") or "alert"
        body: dict[str, Any] = {}
        for name, value in self.extra.items():
            _put(body, name, value)
        _put(body, shape.title, title)
        _put(body, shape.page_id, settings.page_id)
        _put(body, shape.impact, self.impacts.get(event.severity))
        _put(body, shape.component_ids, [component])
        _put(body, shape.component_statuses, {component: status})
        _put(body, shape.raw_input, self.raw_input(event))
        marker = {"dedup_key": event.dedup_key, "component": component, "status": status}
        _put(body, shape.marker, marker)
        _put(body, shape.draft, not settings.publish)
        wrapped = {shape.wrap: body} if shape.wrap else body
        protected = (*self._protected, event.dedup_key)
        if self.text_budget is None:
            content = fit(wrapped, self.budget, protected)
        else:  # the facts cut as fields (the description first), then written out as a text
            facts = fitted(wrapped, self.budget, protected)
            path = (shape.wrap + "." if shape.wrap else "") + shape.raw_input
            _put(facts, path, raw_input_text(_get(facts, path)))
            content = fit(facts, self.text_budget, protected)  # a guard: it fits already
        return UpstreamRequest("POST", self._url("create"), self._headers, content)

    def create_once(self, event: AlertEvent, component: str) -> UpstreamRequest:
        """A create for an API with no listing. The delivery memo is all that stops a
        re-send from creating another incident, so it must see every re-send of the key as
        the same request, whatever changed in its text (annotations, "firing for")."""
        return replace(self.create(event, component), memo_identity=b"create")

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
        others = {k: v for k, v in alert.annotations.items() if k not in TEXT_ANNOTATIONS and v}
        if others:
            out["annotations"] = others
        return out

    def _set_component(
        self, component: str, events: Sequence[AlertEvent], held: Sequence[str] = ()
    ) -> UpstreamRequest:
        ids = {"component_id": component}
        return self._send(self.shape.component_method, "component", ids, self.worst(events, held))

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
