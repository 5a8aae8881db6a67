"""Status pages: a component per service label, an incident per dedup key, drafts to review.

Atlassian Statuspage v1 (https://developer.statuspage.io/) and simpler APIs such as
`POST /api/v1/incidents {title, status_page_id, severity, affected_component_ids, raw_input}`
share one flow; `flavor` picks a preset of paths and field names (`Shape`) that `paths:` and
`fields:` override, so a third API is config, not code (the config and its checks:
status_page_settings.py). Decisions:

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
from typing import Any
from urllib.parse import urlencode

import orjson
import structlog

from adapter.events import AlertEvent, RenderError, RetryPolicy, UpstreamRequest
from adapter.fitting import fit, fitted
from adapter.integrations.base import Integration
from adapter.integrations.status_page_settings import StatusPageSettings
from adapter.integrations.status_page_text import (
    TEXT_ANNOTATIONS,
    raw_input_text,
    size_limits_for,
    text_size_limits_for,
)
from adapter.urls import join, path_segment, web_link

log = structlog.get_logger("adapter.status_page")

# Pages of a listing read per chain, at most: 2,000 open incidents on Statuspage. A bound, so
# that an API answering full pages forever can neither hold a chain nor spend the receiver's
# rate budget; past it the chain decides with what it saw (docs/dialects.md).
LISTING_PAGES = 20


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
        self._clock = clock or (lambda: datetime.now(UTC))
        limits = settings.preset.limits
        as_text = self.raw_input_format == "text"
        self.size_limits = size_limits_for(self.shape, limits, tuple(self.extra), as_text)
        self.text_size_limits = (
            text_size_limits_for(self.shape, self.size_limits, limits) if as_text else None
        )
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
            try:
                if component is None:
                    error = RenderError("the alert's label names no component")
                    out.append((error, tuple(members)))
                elif self.shape.unresolved:
                    out.append((self.chain(component, members), tuple(members)))
                elif self.shape.create:
                    out += [(self._create_or_error(e, component), (e,)) for e in members]
                else:
                    out.append((self._set_component(component, members), tuple(members)))
            except Exception as exc:  # a component's events fail alone, not the webhook
                failed = exc if isinstance(exc, RenderError) else self.unexpected(exc, members[0])
                out.append((failed, tuple(members)))
        return out

    def _create_or_error(self, event: AlertEvent, component: str) -> UpstreamRequest | RenderError:
        try:
            return self.create_once(event, component)
        except RenderError as exc:
            return exc
        except Exception as exc:  # one alert's create fails alone
            return self.unexpected(exc, event)

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
        if self.text_size_limits is None:
            content = fit(wrapped, self.size_limits, protected)
        else:  # the facts cut as fields (the description first), then written out as a text
            facts = fitted(wrapped, self.size_limits, protected)
            path = (shape.wrap + "." if shape.wrap else "") + shape.raw_input
            _put(facts, path, raw_input_text(_get(facts, path)))
            content = fit(facts, self.text_size_limits, protected)  # a guard: it fits already
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
        if source_url := web_link(alert.generatorURL):  # links: http(s) only (adapter/urls.py)
            out["source"] = source_url
        if runbook := web_link(alert.annotations.get("runbook_url")):
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
        # An id may come from the API's own answer: one segment, never `..` (adapter/urls.py).
        text = text.replace("{page_id}", path_segment(self.settings.page_id))
        for name, value in (ids or {}).items():
            text = text.replace("{" + name + "}", path_segment(value))
        path, _, query = text.partition("?")
        return join(self.settings.url, "/" + path, query)


def _json(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)
