"""PagerDuty Events API v2, and compatible APIs (Alert24 names the key `integration_key`).

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
https://developer.pagerduty.com/docs/events-api-v2/resolve-events/
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import model_validator

from adapter.budgets import Budget, Text, fit
from adapter.integrations.base import AlertEvent, Integration, RetryPolicy, UpstreamRequest
from adapter.secrets import Secret, SecretFile
from adapter.settings import ReceiverSettings, check_http_url, one_secret

# PagerDuty's limits (docs/limits.md): "Events API payloads are limited to 512 KB" (the overview,
# "Size Limits"; read as 512,000 bytes, the smaller reading); summary 1,024 and dedup_key 255
# characters (the trigger-events doc above). `source` has no documented limit: 1,024 is ours.
BUDGET = Budget(
    vendor="PagerDuty Events API v2",
    doc_url="https://developer.pagerduty.com/docs/events-api-v2/overview/#size-limits",
    body_bytes=512_000,
    limits=(Text("payload.summary", 1024), Text("payload.source", 1024)),
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


class EventsV2Settings(ReceiverSettings):
    type: Literal["events-v2"]
    url: str = "https://events.pagerduty.com/v2/enqueue"
    routing_key: Secret | None = None
    routing_key_file: SecretFile | None = None
    routing_key_field: str = "routing_key"

    @model_validator(mode="after")
    def _one_key(self) -> EventsV2Settings:
        one_secret("routing_key", self.routing_key, self.routing_key_file)
        check_http_url(self.url)
        return self

    @property
    def key(self) -> Secret:
        return one_secret("routing_key", self.routing_key, self.routing_key_file)

    def dialect_secrets(self) -> list[str]:
        return [self.key.reveal()]


class EventsV2(Integration[EventsV2Settings]):
    dedup_key_limit = BUDGET.key_chars
    # PagerDuty: about 120 events a minute per routing key (the Events API v2 rate limits doc).
    default_rate_limit = (120, 60.0)
    # "429: too many requests ... retry"; "500/502/503/504: retry" (see the trigger-events
    # doc above, section "Response codes & retry logic"). Other 4xx mean the event is invalid.
    retry_policy = RetryPolicy(
        frozenset({408, 429}),
        doc_url="https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic",
    )

    def __init__(self, settings: EventsV2Settings) -> None:
        super().__init__(settings)
        self._headers = {"Content-Type": "application/json"}
        self._key = settings.key.reveal()  # once: render runs for every alert
        self._protected = (self._key,)

    def render(self, event: AlertEvent) -> UpstreamRequest:
        body: dict[str, Any] = {
            self.settings.routing_key_field: self._key,
            "event_action": event.action,
            "dedup_key": event.dedup_key,
        }
        if event.action != "trigger":
            return UpstreamRequest("POST", self.settings.url, self._headers, orjson.dumps(body))
        body.update(self._trigger_fields(event))
        content = fit(body, BUDGET, (*self._protected, event.dedup_key))
        return UpstreamRequest("POST", self.settings.url, self._headers, content)

    @staticmethod
    def _trigger_fields(event: AlertEvent) -> dict[str, Any]:
        alert, group = event.alert, event.group
        labels, annotations = alert.labels, alert.annotations
        summary = annotations.get("summary") or labels.get("alertname") or "alert"
        source = labels.get("instance") or labels.get("job") or urlsplit(group.externalURL).netloc
        payload: dict[str, Any] = {
            "summary": summary,
            "source": source or "alertmanager",
            "severity": event.severity,
            "custom_details": {"labels": labels, "annotations": annotations},
        }
        if alert.startsAt:
            payload["timestamp"] = alert.startsAt
        links = []
        if alert.generatorURL:
            links.append({"href": alert.generatorURL, "text": "Source"})
        if runbook := annotations.get("runbook_url"):
            links.append({"href": runbook, "text": "Runbook"})
        fields: dict[str, Any] = {"payload": payload, "client": "Alertmanager"}
        if links:
            fields["links"] = links
        if group.externalURL:
            fields["client_url"] = group.externalURL
        return fields
