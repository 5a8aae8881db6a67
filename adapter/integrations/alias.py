"""Opsgenie-style alert APIs: create by alias (deduplicated while open), close by alias.

https://docs.opsgenie.com/docs/alert-api#create-alert
https://docs.opsgenie.com/docs/alert-api#close-alert

A create with the alias of an open alert opens no second alert: Opsgenie increments the
open one's count and updates nothing else (message, description, priority and tags stay
as first created). So Alertmanager's re-sends page once, and what changes while the alert
is open (its summary or description; with a `labels` or `template` key, its priority and
tags too) does not reach Opsgenie. Alertmanager's own notifier sends extra update requests
for that (`update_alerts`); this dialect does not. A resolve closes the alert with
`POST {url}/{alias}/close?identifierType=alias`; an acknowledge (a mute in Alertmanager,
adapter/mutes.py) is `POST {url}/{alias}/acknowledge?identifierType=alias`
(https://docs.opsgenie.com/docs/alert-api#acknowledge-alert), with the close's fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from adapter.config.model import Matchers, Model
from adapter.config.receivers import KeyedReceiverSettings
from adapter.events import AlertEvent, RetryPolicy, UpstreamRequest
from adapter.fitting import fit
from adapter.integrations.base import Integration
from adapter.limits import Items, SizeLimits, Text, Total
from adapter.matchers import all_match
from adapter.urls import join, path_segment, web_link

OPSGENIE_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")

# Opsgenie's field limits, in characters (docs/reference/limits.md): the create-alert doc above and
# https://docs.opsgenie.com/docs/alerts-and-alert-fields. No limit on the body as a whole: the
# fields' limits bound it. `details` counts its JSON text (names, values, quotes), the safe
# reading of "8,000 characters in all".
LIMITS = SizeLimits(
    vendor="Opsgenie",
    doc_url="https://docs.opsgenie.com/docs/alert-api#create-alert",
    fields=(
        Text("message", 130),
        Text("description", 15000, middle=True),  # keeps the runbook and source links at its end
        Total("details", 8000),
        Text("entity", 512),
        Text("source", 100),
        Items("tags", 20, 50),
        Text("note", 25000),
        Text("user", 100),
        Items("actions", 10, 50),
    ),
    keep=frozenset({"alias", "priority"}),
    mark="details.truncated",
    key_chars=512,
)
# A close takes `user`, `source` and `note` only. What is cut there is not noted: the close
# has no `details`, its `note` is the one line its activity log shows, and the create of the
# same alert, with the same source, already names the cut in `details.truncated`.
CLOSE_LIMITS = SizeLimits(
    vendor="Opsgenie",
    doc_url="https://docs.opsgenie.com/docs/alert-api#close-alert",
    fields=(Text("user", 100), Text("source", 100), Text("note", 25000)),
)


def _priority(value: str) -> str:
    if value not in OPSGENIE_PRIORITIES:
        raise ValueError(
            f"{value!r} is not a priority; use one of {', '.join(OPSGENIE_PRIORITIES)}"
        )
    return value


Priority = Annotated[str, AfterValidator(_priority)]


class PriorityOverride(Model):
    matchers: Matchers
    priority: Priority


Level = Literal["critical", "error", "warning", "info"]


def _default_priorities() -> dict[Level, str]:
    return {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}


class PrioritySettings(Model):
    """From the mapped severity to P1-P5; overrides (first match wins) come first."""

    map: dict[Level, Priority] = Field(default_factory=_default_priorities)
    default: Priority = "P3"
    overrides: list[PriorityOverride] = Field(default_factory=list)


class AliasSettings(KeyedReceiverSettings):
    type: Literal["alias"]
    url: str = "https://api.opsgenie.com/v2/alerts"
    auth_scheme: str = "GenieKey"  # the header's value is "<auth_scheme> <key>"
    priority: PrioritySettings = Field(default_factory=PrioritySettings)
    tags: list[str] = Field(default_factory=list)  # fixed tags on every alert
    tag_labels: list[str] = Field(default_factory=lambda: ["alertname", "severity"])
    source: str = ""  # default: Alertmanager's externalURL host

    def acknowledges(self) -> bool:
        return True


class Alias(Integration[AliasSettings]):
    dedup_key_limit = LIMITS.key_chars
    # "429: too many requests" and 5xx are transient; other 4xx mean a bad request or key.
    retry_policy = RetryPolicy(
        frozenset({408, 429}), doc_url="https://docs.opsgenie.com/docs/response#http-status-codes"
    )

    def __init__(self, settings: AliasSettings) -> None:
        super().__init__(settings)
        self._headers = settings.json_headers(settings.auth_scheme)
        self._base = settings.url.rstrip("/")
        self._protected = (settings.key.reveal(),)

    def render(self, event: AlertEvent) -> UpstreamRequest:
        source = self.settings.source or urlsplit(event.group.externalURL).netloc or "alertmanager"
        if event.action != "trigger":
            verb = "close" if event.action == "resolve" else "acknowledge"
            path = f"/{path_segment(event.dedup_key)}/{verb}"  # a key of `..` stays one segment
            url = join(self._base, path, "identifierType=alias")
            said = {"close": "Resolved", "acknowledge": "Silenced or inhibited"}[verb]
            body = {"source": source, "note": f"{said} in Alertmanager"}
            content = fit(body, CLOSE_LIMITS, self._protected)
            return UpstreamRequest("POST", url, self._headers, content)
        content = fit(self.create_body(event, source), LIMITS, (*self._protected, event.dedup_key))
        return UpstreamRequest("POST", self._base, self._headers, content)

    def create_body(self, event: AlertEvent, source: str) -> dict[str, Any]:
        alert = event.alert
        labels, annotations = alert.labels, alert.annotations
        message = annotations.get("summary") or labels.get("alertname") or "alert"
        description = annotations.get("description", "")
        # Opsgenie turns URLs in a description into links: http(s) ones only (adapter/urls.py).
        if runbook := web_link(annotations.get("runbook_url")):
            description = f"{description}\n\nRunbook: {runbook}".strip()
        if source_url := web_link(alert.generatorURL):
            description = f"{description}\n\nSource: {source_url}".strip()
        tags = [*self.settings.tags]
        tags += [f"{n}:{labels[n]}" for n in self.settings.tag_labels if labels.get(n)]
        return {
            "message": message,
            "alias": event.dedup_key,
            "description": description,
            "priority": self.priority_for(event),
            "source": source,
            "tags": list(dict.fromkeys(tags)),
            "details": labels,
            "entity": labels.get("instance", ""),
        }

    def priority_for(self, event: AlertEvent) -> str:
        rule = self.settings.priority
        for override in rule.overrides:
            if all_match(override.matchers, event.alert.labels):
                return override.priority
        return next((p for level, p in rule.map.items() if level == event.severity), rule.default)
