"""Dry run: the event goes to the log as the JSON it would be; nothing is sent.

The embedded default uses it, so a new user sees what the adapter makes of a payload
before pointing it at a real incident API.
"""

from __future__ import annotations

from typing import Literal

import orjson

from adapter.config.receivers import ReceiverSettings
from adapter.events import AlertEvent, UpstreamRequest
from adapter.integrations.base import Integration


class LogSettings(ReceiverSettings):
    type: Literal["log"]

    def acknowledges(self) -> bool:
        return True  # it logs the acknowledge it would send


class Log(Integration[LogSettings]):
    dedup_key_limit = 255
    sends = False

    def render(self, event: AlertEvent) -> UpstreamRequest:
        alert = event.alert
        body = {
            "event_action": event.action,
            "dedup_key": event.dedup_key,
            "severity": event.severity,
            "summary": alert.annotations.get("summary") or alert.labels.get("alertname", ""),
            "labels": alert.labels,
            "annotations": alert.annotations,
            "starts_at": alert.startsAt,
        }
        return UpstreamRequest("LOG", "log:", {}, orjson.dumps(body))
