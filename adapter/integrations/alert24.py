"""Alert24's incidents API, as its reference documents it.

https://alert24.net/docs/api-authentication         every request: `Authorization: Bearer <key>`
https://alert24.net/docs/api-incidents              create (title required), list, update by id
https://alert24.net/docs/api-pagination             limit (at most 100) and offset; meta.has_more
https://alert24.net/docs/api-errors                 400 validation_error, 401, 403, 404, 429, 500
https://alert24.net/docs/incident-ingest-prometheus the guide: alias, source, tags "name:value"

Trigger: `POST {url}` with
    title        the `summary` annotation, else the alertname
    description  the `description` annotation and "Runbook: <runbook_url>", blank-line joined
    severity     critical | high | medium | low | maintenance only (`incident_severity`)
    tags         the marker `incident_adapter_key:<dedup key>` first, then the labels as
                 `name:value` (TAGS_MAX of them, by name; each at most TAG_CHARS)
    alias        the dedup key: the guide's create-or-update, so a re-send updates
    source       `source:` (default "prometheus")

Resolve (`resolve.by: lookup`, the default): the reference closes an incident only by its id
(`PUT {url}/{id}` `{"status": "resolved", "resolved_at": ...}`), and the adapter keeps no
state, so it finds the id again at Alert24: it pages the listing of each open-like status
(`GET {url}?status=S&limit=100&offset=N`; `status` takes one value) until a page holds an
incident carrying the key's marker tag (or, should the listing return it, the key as its
alias), then PUTs each such incident resolved. A miss after reading past a first page reads
once more from the top (a close while it paged moves incidents onto pages read already).
Nothing open under the key: the resolve was done before (delivered; `alert24.nothing_open`).
A listing that cannot be read is retryable.
At most LISTING_PAGES pages per resolve; past them the rest stays unseen
(`alert24.listing_truncated`) and the resolve counts as done. `resolve.by: alias_path` keeps
the old undocumented `POST {url}/{alias}/resolve?identifierType=alias`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

import orjson
import structlog
from pydantic import Field, field_validator, model_validator

from adapter.config.model import Model
from adapter.config.receivers import KeyedReceiverSettings
from adapter.events import AlertEvent, RetryableAnswer, RetryPolicy, UpstreamRequest
from adapter.fitting import cut_chars, fit
from adapter.integrations.base import Integration
from adapter.limits import SizeLimits, Text, units
from adapter.severity import SeverityRule, severity_by_rule
from adapter.urls import join, path_segment, web_link

log = structlog.get_logger("adapter.alert24")

# Vendor facts, from the API reference above.
URL = "https://app.alert24.io/api/v1/incidents"  # the reference's host (its guide shows .net)
ALERT24_SEVERITIES = ("critical", "high", "medium", "low", "maintenance")
# The statuses an incident can be in before `resolved` (and `postmortem` after it), most
# likely first: a create is `open` unless it says otherwise.
OpenStatus = Literal["open", "acknowledged", "investigating", "identified", "monitoring", "new"]
OPEN_STATUSES: tuple[OpenStatus, ...] = (
    "open",
    "acknowledged",
    "investigating",
    "identified",
    "monitoring",
    "new",
)
PAGE_SIZE = 100  # "limit: Results per page (default: 25, max: 100)"
# No retry codes are documented: the contract's default (408, 429 and 5xx).
RETRY = RetryPolicy(frozenset({408, 429}), doc_url="https://alert24.net/docs/api-errors")
# No alias limit is documented: PagerDuty's 255, so a hashed key (64) and any
# hand-written key people migrate from fit.
ALIAS_LIMIT = 255

# Ours, not Alert24's (it documents none; docs/reference/limits.md): listing pages read
# per resolve, at most: 2,000 open incidents. A bound, so that an API answering full
# pages forever can neither hold a delivery nor spend its deadline.
LISTING_PAGES = 20
# Tags: the marker, then at most TAGS_MAX labels, each tag at most TAG_CHARS characters. A
# longer tag keeps its start and ends in a hash of the whole, so two long values never meet.
TAGS_MAX = 24
TAG_CHARS = 128
MARKER = "incident_adapter_key:"
_HASHED = 16  # hex digits of sha256 that end a cut tag

# Not documented: ours (docs/reference/limits.md). The API reference names the fields and a 400
# validation_error, no sizes; these are small enough for any sane API. The description is cut
# out of its middle (a stack trace's start and the runbook line at its end stay) and carries
# the note of what was cut as its last line: the text a responder reads. Tags are bounded
# when rendered (above) and never cut here: the marker finds the incident again.
LIMITS = SizeLimits(
    vendor="the Alert24 incident API",
    doc_url="https://alert24.net/docs/api-incidents",
    body_bytes=65_536,
    fields=(Text("title", 255), Text("description", 20_000, middle=True), Text("source", 255)),
    cut_first=("description",),
    keep=frozenset({"alias", "severity", "tags"}),
    mark="description",
    mark_line=True,
    key_chars=ALIAS_LIMIT,
)

Level = Literal["critical", "error", "warning", "info"]
Alert24Severity = Literal["critical", "high", "medium", "low", "maintenance"]


def _default_map() -> dict[Level, Alert24Severity]:
    return {"critical": "critical", "warning": "high", "info": "low"}


class IncidentSeverity(Model):
    """From the adapter's severity to Alert24's; a level not in `map`, and a severity label
    the receiver's `severity.map` does not know, get `default` (the guide's `|| 'medium'`)."""

    map: dict[Level, Alert24Severity] = Field(default_factory=_default_map)
    default: Alert24Severity = "medium"


class ResolveSettings(Model):
    """How a resolve finds its incident: `lookup` (the documented route) or `alias_path`."""

    by: Literal["lookup", "alias_path"] = "lookup"
    statuses: tuple[OpenStatus, ...] = OPEN_STATUSES  # lookup: listed in this order
    method: Literal["POST", "PATCH", "PUT"] = "POST"  # alias_path
    path: str = "/{alias}/resolve?identifierType=alias"  # alias_path: after url; {alias} quoted

    @field_validator("path")
    @classmethod
    def _names_the_alias(cls, value: str) -> str:
        if not value.startswith("/") or value.count("{alias}") != 1:
            raise ValueError(
                f"{value!r} must start with '/' and hold {{alias}} once, "
                "e.g. '/{alias}/resolve?identifierType=alias'"
            )
        return value

    @field_validator("statuses")
    @classmethod
    def _some_statuses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"list each status once, e.g. {list(OPEN_STATUSES)}")
        return value

    @model_validator(mode="after")
    def _fields_of_its_way(self) -> ResolveSettings:
        unused = {"lookup": {"method", "path"}, "alias_path": {"statuses"}}[self.by]
        if wrong := sorted(unused & self.model_fields_set):
            raise ValueError(f"{', '.join(wrong)} is not used with by: {self.by}")
        return self


class Alert24Settings(KeyedReceiverSettings):
    type: Literal["alert24"]
    url: str = URL
    auth_scheme: str = "Bearer"  # the header's value is "<auth_scheme> <key>"
    incident_severity: IncidentSeverity = Field(default_factory=IncidentSeverity)
    source: str = "prometheus"
    resolve: ResolveSettings = Field(default_factory=ResolveSettings)

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        moved = {"resolve_method", "resolve_path"}
        if isinstance(data, dict) and (old := sorted(moved & set(data))):
            raise ValueError(
                f"{', '.join(old)} moved: the documented resolve is now the default; to keep "
                "the alias path write resolve: {by: alias_path, method: POST, path: "
                "'/{alias}/resolve?identifierType=alias'}"
            )
        return data

    def acknowledges(self) -> bool:
        # By the documented lookup only: the alias path is an undocumented resolve.
        return self.resolve.by == "lookup"


def marker_tag(key: str) -> str:
    """The tag that finds a key's incident again; a key too long for a tag is hashed."""
    tag = MARKER + key
    if units(tag) <= TAG_CHARS:
        return tag
    return MARKER + "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def bounded_tag(tag: str) -> str:
    if units(tag) <= TAG_CHARS:
        return tag
    digest = hashlib.sha256(tag.encode()).hexdigest()[:_HASHED]
    return cut_chars(tag, TAG_CHARS - _HASHED) + digest


def tags_for(key: str, labels: dict[str, str]) -> list[str]:
    """The marker first (never dropped), then the labels as `name:value`, by name."""
    names = sorted(labels)[:TAGS_MAX]
    return [marker_tag(key), *(bounded_tag(f"{n}:{labels[n]}") for n in names)]


def resolved_at(ends_at: str) -> str | None:
    """Alertmanager's endsAt (nanoseconds) as the reference writes times: RFC 3339 in UTC,
    milliseconds. None when the alert carries no end (an older sender)."""
    try:
        when = datetime.fromisoformat(ends_at)
    except ValueError:
        return None
    if when.year <= 1:  # Go's zero time: "no end"
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _page(answer: bytes) -> tuple[list[dict[str, Any]], bool]:
    """One listing answer's incidents, and whether more follow. Anything else is retryable:
    a proxy's error page, a truncated body."""
    try:
        data = orjson.loads(answer)
    except orjson.JSONDecodeError:
        raise RetryableAnswer("the incident listing is not JSON") from None
    items = data.get("data") if isinstance(data, dict) else None
    meta = data.get("meta") if isinstance(data, dict) else None
    if not isinstance(items, list) or not isinstance(meta, dict):
        raise RetryableAnswer('the incident listing is not {"data": [...], "meta": {...}}')
    more = meta.get("has_more")
    if not isinstance(more, bool):
        raise RetryableAnswer("the incident listing's meta.has_more is not true or false")
    return [i for i in items if isinstance(i, dict)], more


def _usable_id(incident_id: object) -> bool:
    """An id to PUT at: a non-empty string or a number, never `true` (an int to Python) or
    "" (`PUT {url}/` would be the collection, not the incident)."""
    if isinstance(incident_id, bool):
        return False
    return isinstance(incident_id, int) or (isinstance(incident_id, str) and incident_id != "")


def _sequence(steps: Sequence[UpstreamRequest]) -> UpstreamRequest | None:
    """The steps one after another: each runs once the one before has succeeded."""
    if not steps:
        return None
    return replace(steps[0], then=lambda _: _sequence(steps[1:]))


class Alert24(Integration[Alert24Settings]):
    dedup_key_limit = ALIAS_LIMIT
    retry_policy = RETRY
    nothing_open: ClassVar[bytes] = b'{"data": [], "meta": {"has_more": false}}'

    def __init__(self, settings: Alert24Settings) -> None:
        super().__init__(settings)
        self._headers = settings.json_headers(settings.auth_scheme)
        self._base = settings.url.rstrip("/")
        self._protected = (settings.key.reveal(),)
        # An unknown severity label becomes Alert24's default unless the receiver set a
        # `severity.default` of its own: then that one was meant.
        own_default = "default" in settings.severity.model_fields_set
        self._label_rule: SeverityRule | None = None if own_default else settings.severity.rule()

    def render(self, event: AlertEvent) -> UpstreamRequest:
        if event.action == "trigger":
            content = fit(self.body(event), LIMITS, (*self._protected, event.dedup_key))
            return UpstreamRequest("POST", self._base, self._headers, content)
        resolve = self.settings.resolve
        if resolve.by == "alias_path":
            # The key is one path segment (a key of `..` must not climb out: adapter/urls.py).
            path, _, query = resolve.path.replace(
                "{alias}", path_segment(event.dedup_key)
            ).partition("?")
            body = fit({"source": self.settings.source}, LIMITS, self._protected)
            return UpstreamRequest(
                resolve.method, join(self._base, path, query), self._headers, body
            )
        # The chain is "close what is open under this key", whatever the listing holds: the
        # memo may skip its re-sends (Alertmanager's retries of a group, a storm of them).
        # An acknowledge (a mute, adapter/mutes.py) finds its incidents the same way.
        identity = b"resolve by lookup" if event.action == "resolve" else b"acknowledge by lookup"
        return replace(self._listing(event, 0, 0, 1), memo_identity=identity)

    def severity(self, event: AlertEvent) -> str:
        own = self.settings.incident_severity
        rule = self._label_rule
        if (
            rule is not None
            and event.severity == rule.default
            and severity_by_rule(event.alert.labels, rule, event.alert.startsAt) is None
        ):
            return own.default
        return next((s for level, s in own.map.items() if level == event.severity), own.default)

    def body(self, event: AlertEvent) -> dict[str, Any]:
        labels, annotations = event.alert.labels, event.alert.annotations
        runbook = web_link(annotations.get("runbook_url"))  # http(s) links only
        parts = (annotations.get("description", ""), f"Runbook: {runbook}" if runbook else "")
        return {
            "title": annotations.get("summary") or labels.get("alertname") or "alert",
            "description": "\n\n".join(p for p in parts if p.strip()),
            "severity": self.severity(event),
            "tags": tags_for(event.dedup_key, labels),
            "alias": event.dedup_key,
            "source": self.settings.source,
        }

    # -- resolve by lookup -----------------------------------------------------------------

    def _listing(
        self,
        event: AlertEvent,
        status: int,
        offset: int,
        page: int,
        paged: bool = False,
        again: bool = False,
    ) -> UpstreamRequest:
        """GET one page of one status's listing; what follows depends on what it holds.

        `paged`: this pass read past a first page. Offsets move while it reads: a close (by
        this very webhook's other resolves, or a person) moves every older incident up one,
        so one could slip onto a page read already. A miss that paged reads once more from
        the top (`again`) before it counts as nothing open."""
        statuses = self.settings.resolve.statuses
        query = urlencode({"status": statuses[status], "limit": PAGE_SIZE, "offset": offset})
        url = join(self._base, query=query)

        def then(answer: bytes) -> UpstreamRequest | None:
            items, more = _page(answer)
            ids = self.matching(event.dedup_key, items)
            if ids:
                return _sequence([self._close(event, i) for i in ids])
            if page >= LISTING_PAGES and (more or status + 1 < len(statuses)):
                log.warning(
                    "alert24.listing_truncated",
                    receiver=self.settings.name,
                    dedup_key=event.dedup_key,
                    pages=page,
                    status=statuses[status],
                    unread_statuses=list(statuses[status + 1 :]),
                )
                return None
            if more:
                return self._listing(event, status, offset + PAGE_SIZE, page + 1, True, again)
            if status + 1 < len(statuses):
                return self._listing(event, status + 1, 0, page + 1, paged, again)
            if paged and not again and page < LISTING_PAGES:
                return self._listing(event, 0, 0, page + 1, False, True)
            log.info(
                "alert24.nothing_open",
                receiver=self.settings.name,
                dedup_key=event.dedup_key,
                pages=page,
            )
            return None

        return UpstreamRequest("GET", url, self._headers, b"", then=then)

    def matching(self, key: str, items: Sequence[dict[str, Any]]) -> list[str]:
        """The ids of the open incidents among `items` that carry the key."""
        marker = marker_tag(key)
        out = []
        for item in items:
            tags = item.get("tags")
            mine = (isinstance(tags, list) and marker in tags) or item.get("alias") == key
            incident_id = item.get("id")
            if mine and item.get("status") != "resolved" and _usable_id(incident_id):
                out.append(str(incident_id))
        return list(dict.fromkeys(out))

    def _close(self, event: AlertEvent, incident_id: str) -> UpstreamRequest:
        """The incident resolved, or, for an acknowledge, `acknowledged` (a documented status)."""
        body: dict[str, Any] = {"status": "resolved"}
        if event.action == "acknowledge":
            body = {"status": "acknowledged"}
        elif (when := resolved_at(event.alert.endsAt)) is not None:
            body["resolved_at"] = when
        url = join(
            self._base, "/" + path_segment(incident_id)
        )  # an id from the answer: one segment
        return UpstreamRequest("PUT", url, self._headers, orjson.dumps(body))
