"""PagerDuty Events API v2, and compatible APIs (an Alert24 post names the key `integration_key`).

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
https://developer.pagerduty.com/docs/events-api-v2/resolve-events/

`flavor` picks a vendor's defaults (`PRESETS`: url, key field, where `payload.source`
comes from, which links); each of them can be set in the receiver's config instead.

`flavor: alert24` keeps the body of Alert24's blog posts' sketch for whoever has such an
endpoint. Alert24's API reference documents no events endpoint: its documented route is the
incidents API, `type: alert24` (alert24.py). Every request to Alert24's API needs
`Authorization: Bearer <API key>` (https://alert24.net/docs/api-authentication), so this
flavor requires `api_key` (or `api_key_file`) and sends it so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import model_validator

from adapter.config.model import check_http_url, one_secret
from adapter.config.receivers import ReceiverSettings
from adapter.events import AlertEvent, RetryPolicy, UpstreamRequest
from adapter.fitting import fit
from adapter.integrations.base import Integration
from adapter.limits import SizeLimits, Text
from adapter.secrets import Secret, SecretFile
from adapter.urls import web_link

Link = Literal["source", "runbook"]  # the alert's generatorURL; its runbook_url annotation

# PagerDuty's limits (docs/reference/limits.md): "Events API payloads are limited to
# 512 KB" (the overview,
# "Size Limits"; read as 512,000 bytes, the smaller reading); summary 1,024 and dedup_key 255
# characters (the trigger-events doc above). `source` has no documented limit: 1,024 is ours.
LIMITS = SizeLimits(
    vendor="PagerDuty Events API v2",
    doc_url="https://developer.pagerduty.com/docs/events-api-v2/overview/#size-limits",
    body_bytes=512_000,
    fields=(Text("payload.summary", 1024), Text("payload.source", 1024)),
    cut_first=(
        "payload.custom_details.annotations",
        "payload.custom_details.labels",
        "payload.custom_details",
    ),
    keep=frozenset(
        {"event_action", "dedup_key", "payload.severity", "payload.timestamp", "client"}
    ),
    mark="payload.custom_details.truncated",
    key_chars=255,
)
# Alert24's events API takes PagerDuty's event but documents no limits: ours
# (docs/reference/limits.md),
# PagerDuty's fields and a body of 64 KiB, small enough for any sane API.
ALERT24_LIMITS = replace(
    LIMITS,
    vendor="the Alert24 events API",
    doc_url="https://alert24.net/docs/incident-ingest-prometheus",
    body_bytes=65_536,
    keep=LIMITS.keep | {"integration_key"},
)


@dataclass(frozen=True, slots=True)
class Preset:
    """A vendor's defaults: the fields a receiver leaves out come from here."""

    url: str
    routing_key_field: str
    source_labels: tuple[str, ...]  # payload.source: the first of these labels present,
    source: str  # else this ("": Alertmanager's externalURL host, else "alertmanager")
    links: tuple[Link, ...]
    retry: RetryPolicy
    rate_limit: tuple[int, float] | None  # documented budget (requests, per seconds)
    size_limits: SizeLimits  # the vendor's limits on an event


PRESETS = {
    # "429: ... retry"; "500/502/503/504: retry" (the trigger-events doc above, section
    # "Response codes & retry logic"); about 120 events a minute per routing key.
    "pagerduty": Preset(
        url="https://events.pagerduty.com/v2/enqueue",
        routing_key_field="routing_key",
        source_labels=("instance", "job"),
        source="",
        links=("source", "runbook"),
        retry=RetryPolicy(
            frozenset({408, 429}),
            doc_url="https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic",
        ),
        rate_limit=(120, 60.0),
        size_limits=LIMITS,
    ),
    # The blog posts' sketch: PagerDuty's event shape with `integration_key`, posted to the
    # incidents URL of Alert24's reference (app.alert24.io; its guide shows app.alert24.net).
    # The reference documents no such body there (https://alert24.net/docs/api-incidents).
    # No retry codes or rate limit are documented: the contract's default (408, 429, 5xx).
    "alert24": Preset(
        url="https://app.alert24.io/api/v1/incidents",
        routing_key_field="integration_key",
        source_labels=("service",),
        source="prometheus",
        links=("runbook",),
        retry=RetryPolicy(
            frozenset({408, 429}), doc_url="https://alert24.net/docs/incident-ingest-prometheus"
        ),
        rate_limit=None,
        size_limits=ALERT24_LIMITS,
    ),
}


class EventsV2Settings(ReceiverSettings):
    type: Literal["events-v2"]
    flavor: Literal["pagerduty", "alert24"] = "pagerduty"
    # Unset: the flavor's (PRESETS), filled in before validation.
    url: str = ""
    routing_key: Secret | None = None
    routing_key_file: SecretFile | None = None
    routing_key_field: str = ""
    source_labels: list[str] | None = None
    source: str | None = None
    links: list[Link] | None = None
    # flavor alert24: sent as `Authorization: Bearer <key>`, which every Alert24 request needs
    api_key: Secret | None = None
    api_key_file: SecretFile | None = None

    @model_validator(mode="before")
    @classmethod
    def _flavor_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and (preset := PRESETS.get(data.get("flavor", "pagerduty"))):
            data = {"url": preset.url, "routing_key_field": preset.routing_key_field, **data}
        return data

    @model_validator(mode="after")
    def _one_key(self) -> EventsV2Settings:
        one_secret("routing_key", self.routing_key, self.routing_key_file)
        check_http_url(self.url)
        if self.flavor == "alert24":
            try:
                one_secret("api_key", self.api_key, self.api_key_file)
            except ValueError as exc:
                raise ValueError(
                    f"{exc}: flavor alert24 sends it as 'Authorization: Bearer <key>', without "
                    "which Alert24 answers 401 (https://alert24.net/docs/api-authentication)"
                ) from None
        elif self.api_key is not None or self.api_key_file is not None:
            raise ValueError(f"api_key is for flavor alert24; flavor {self.flavor} sends none")
        return self

    @property
    def key(self) -> Secret:
        return one_secret("routing_key", self.routing_key, self.routing_key_file)

    @property
    def bearer(self) -> Secret | None:
        return self.api_key if self.api_key is not None else self.api_key_file

    def dialect_secrets(self) -> list[str]:
        return [s.reveal() for s in (self.key, self.bearer) if s is not None]

    def sets_authorization(self) -> bool:
        return self.bearer is not None or super().sets_authorization()

    def preset(self) -> Preset:
        return PRESETS[self.flavor]

    def acknowledges(self) -> bool:
        # PagerDuty's `event_action: acknowledge`; Alert24 documents no events endpoint at
        # all, so nothing says its flavor takes one.
        return self.flavor == "pagerduty"


class EventsV2(Integration[EventsV2Settings]):
    dedup_key_limit = LIMITS.key_chars
    default_rate_limit = PRESETS["pagerduty"].rate_limit
    # Other 4xx mean the event is invalid.
    retry_policy = PRESETS["pagerduty"].retry

    def __init__(self, settings: EventsV2Settings) -> None:
        super().__init__(settings)
        preset = settings.preset()
        self.default_rate_limit, self.retry_policy = preset.rate_limit, preset.retry
        self._headers = {"Content-Type": "application/json"}
        if (bearer := settings.bearer) is not None:
            self._headers["Authorization"] = f"Bearer {bearer.reveal()}"
        self._key = settings.key.reveal()  # once: render runs for every alert
        given = settings.source_labels
        self._source_labels = tuple(given) if given is not None else preset.source_labels
        self._source = settings.source if settings.source is not None else preset.source
        self._links = tuple(settings.links) if settings.links is not None else preset.links
        self._protected = (self._key, *([bearer.reveal()] if bearer is not None else []))
        self._limits = preset.size_limits

    def render(self, event: AlertEvent) -> UpstreamRequest:
        body: dict[str, Any] = {
            self.settings.routing_key_field: self._key,
            "event_action": event.action,
            "dedup_key": event.dedup_key,
        }
        if event.action != "trigger":
            return UpstreamRequest("POST", self.settings.url, self._headers, orjson.dumps(body))
        body.update(self._trigger_fields(event))
        content = fit(body, self._limits, (*self._protected, event.dedup_key))
        return UpstreamRequest("POST", self.settings.url, self._headers, content)

    def _trigger_fields(self, event: AlertEvent) -> dict[str, Any]:
        alert, group = event.alert, event.group
        labels, annotations = alert.labels, alert.annotations
        summary = annotations.get("summary") or labels.get("alertname") or "alert"
        source = next((labels[n] for n in self._source_labels if labels.get(n)), "")
        source = source or self._source or urlsplit(group.externalURL).netloc
        payload: dict[str, Any] = {
            "summary": summary,
            "source": source or "alertmanager",
            "severity": event.severity,
            "custom_details": {"labels": labels, "annotations": annotations},
        }
        if alert.startsAt:
            payload["timestamp"] = alert.startsAt
        # Links only to http(s): a `javascript:` or `data:` href is a click away from running
        # in the incident tool's page (adapter/urls.py).
        links = []
        if "source" in self._links and (source_url := web_link(alert.generatorURL)):
            links.append({"href": source_url, "text": "Source"})
        if "runbook" in self._links and (runbook := web_link(annotations.get("runbook_url"))):
            links.append({"href": runbook, "text": "Runbook"})
        fields: dict[str, Any] = {"payload": payload, "client": "Alertmanager"}
        if links:
            fields["links"] = links
        if client_url := web_link(group.externalURL):
            fields["client_url"] = client_url
        return fields
