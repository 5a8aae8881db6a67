"""Alert24's incident API: create-or-update by alias, resolve by alias.

https://alert24.net/docs/api-incidents              (create: title, description, severity, ...)
https://alert24.net/docs/incident-ingest-prometheus (the Prometheus guide: alias, source)

A create with the alias of an open incident updates that incident, so Alertmanager's
re-sends never open a second one. Resolve by alias is not in Alert24's public docs: the
default (`POST {url}/{alias}/resolve?identifierType=alias`) follows the alias-API habit
and is configurable (`resolve_method`, `resolve_path`) for the day the docs say otherwise.

Body of a create:
    title        the `summary` annotation, else the alertname
    description  the `description` annotation and "Runbook: <runbook_url>", blank-line joined
    severity     from the adapter's severity (`incident_severity.map`, else its default)
    alias        the dedup key;  source: `source` (default "prometheus");  labels: the labels
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from adapter.budgets import Budget, Text, Total, fit
from adapter.integrations.base import AlertEvent, Integration, RetryPolicy, UpstreamRequest
from adapter.settings import KeyedReceiverSettings, Model

# Vendor facts, from the API reference above.
URL = "https://app.alert24.io/api/v1/incidents"  # the reference's host (its guide shows .net)
SEVERITIES = ("critical", "high", "medium", "low", "maintenance")
# No retry codes are documented: the contract's default (408, 429 and 5xx).
RETRY = RetryPolicy(frozenset({408, 429}), doc_url="https://alert24.net/docs/api-incidents")
# No alias limit is documented: PagerDuty's 255, so a hashed key (64) and any
# hand-written key people migrate from fit.
ALIAS_LIMIT = 255
# Not documented: ours (docs/limits.md). The API reference names the fields and a 400
# validation_error, no sizes; these are small enough for any sane API. The description is cut
# out of its middle (a stack trace's start and the runbook line at its end stay) and carries
# the note of what was cut as its last line: the text a responder reads.
BUDGET = Budget(
    vendor="the Alert24 incident API",
    doc_url="https://alert24.net/docs/api-incidents",
    body_bytes=65_536,
    limits=(
        Text("title", 255),
        Text("description", 20_000, middle=True),
        Text("source", 255),
        Total("labels", 16_000),
    ),
    cut_first=("description", "labels"),
    keep=frozenset({"alias", "severity"}),
    mark="description",
    mark_line=True,
    key_chars=ALIAS_LIMIT,
)

Level = Literal["critical", "error", "warning", "info"]
Alert24Severity = Literal["critical", "high", "medium", "low", "maintenance"]


def _default_map() -> dict[Level, Alert24Severity]:
    return {"critical": "critical", "warning": "high", "info": "low"}


class IncidentSeverity(Model):
    """From the adapter's severity to Alert24's; a level not in `map` gets `default`."""

    map: dict[Level, Alert24Severity] = Field(default_factory=_default_map)
    default: Alert24Severity = "medium"


class Alert24Settings(KeyedReceiverSettings):
    type: Literal["alert24"]
    url: str = URL
    auth_scheme: str = "Bearer"  # the header's value is "<auth_scheme> <key>"
    incident_severity: IncidentSeverity = Field(default_factory=IncidentSeverity)
    source: str = "prometheus"
    resolve_method: Literal["POST", "PATCH", "PUT"] = "POST"
    resolve_path: str = "/{alias}/resolve?identifierType=alias"  # after url; {alias} quoted

    @field_validator("resolve_path")
    @classmethod
    def _names_the_alias(cls, value: str) -> str:
        if not value.startswith("/") or value.count("{alias}") != 1:
            raise ValueError(
                f"{value!r} must start with '/' and hold {{alias}} once, "
                "e.g. '/{alias}/resolve?identifierType=alias'"
            )
        return value


class Alert24(Integration[Alert24Settings]):
    dedup_key_limit = ALIAS_LIMIT
    retry_policy = RETRY

    def __init__(self, settings: Alert24Settings) -> None:
        super().__init__(settings)
        self._headers = settings.json_headers(settings.auth_scheme)
        self._base = settings.url.rstrip("/")
        self._protected = (settings.key.reveal(),)

    def render(self, event: AlertEvent) -> UpstreamRequest:
        if event.action == "resolve":
            path = self.settings.resolve_path.replace("{alias}", quote(event.dedup_key, safe=""))
            body = fit({"source": self.settings.source}, BUDGET, self._protected)
            method = self.settings.resolve_method
            return UpstreamRequest(method, self._base + path, self._headers, body)
        content = fit(self.body(event), BUDGET, (*self._protected, event.dedup_key))
        return UpstreamRequest("POST", self._base, self._headers, content)

    def body(self, event: AlertEvent) -> dict[str, Any]:
        labels, annotations = event.alert.labels, event.alert.annotations
        runbook = annotations.get("runbook_url", "")
        parts = (annotations.get("description", ""), f"Runbook: {runbook}" if runbook else "")
        rule = self.settings.incident_severity
        severity = next((s for level, s in rule.map.items() if level == event.severity), None)
        return {
            "title": annotations.get("summary") or labels.get("alertname") or "alert",
            "description": "\n\n".join(p for p in parts if p.strip()),
            "severity": severity or rule.default,
            "alias": event.dedup_key,
            "source": self.settings.source,
            "labels": dict(labels),
        }
