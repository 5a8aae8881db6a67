"""Each alert re-sent as its own Alertmanager webhook, for tools that take that webhook natively.

Alert24's inbound Alertmanager URL, Grafana OnCall, Squadcast, Zenduty, Rootly and others
open one incident per webhook *group* (docs/alertmanager-webhook.md lists what each keys on):
two hosts failing in one group are one incident, and one recovering closes nothing
(prometheus/alertmanager issues 1587, 2874). This dialect sends every alert alone, in a
version 4 webhook whose group is the alert's dedup key:

    groupLabels  {"incident_adapter_key": "<dedup key>"}
    groupKey     '{}:{incident_adapter_key="<dedup key>"}'

The group key is written the way Alertmanager writes one (route matchers `{}`, then the group
labels as a label set), so a tool that parses or shows it sees the familiar shape; it is the
same for the trigger and the resolve of an alert, as the dedup key is. `status`,
`commonLabels` and `commonAnnotations` are the alert's own; `externalURL` and `receiver` are
the original webhook's. The receiving tool's auth (bearer, basic, an HMAC signature) comes
from the receiver's `http_config`, like every dialect's.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import Field, model_validator

from adapter.config.model import check_http_url
from adapter.config.receivers import ReceiverSettings
from adapter.events import DEFAULT_RETRY, AlertEvent, UpstreamRequest
from adapter.fitting import CannotFit, fit
from adapter.integrations.base import Integration
from adapter.limits import SizeLimits
from adapter.secrets import SecretFile

KEY_LABEL = "incident_adapter_key"
# No tool in docs/alertmanager-webhook.md documents a size limit for its Alertmanager intake
# (Alertmanager itself sends groups of any size): ours, as for the other undocumented APIs
# (docs/limits.md). The annotations give way first, alike in both places they appear, then
# (only when they alone are over) the longest label values; the note of what was cut is an
# annotation. Status, fingerprint and the group are never cut.
BODY_BYTES = 65_536
DOC_URL = "https://prometheus.io/docs/alerting/latest/configuration/#webhook_config"
# The contract's default: 408, 429 (incident.io's answer above 120 events a minute per
# source) and 5xx are worth a retry; other 4xx (bad token, not version 4) are not.
RETRY = DEFAULT_RETRY


def group_key_for(key: str) -> str:
    """Alertmanager's groupKey form for the one-label group of a dedup key. The value is
    quoted as a JSON string, which is what Go's %q (Alertmanager's quoting) gives for
    printable text: backslash and double quote escaped, the rest as is."""
    return f"{{}}:{{{KEY_LABEL}={orjson.dumps(key).decode()}}}"


class AlertmanagerWebhookSettings(ReceiverSettings):
    type: Literal["alertmanager-webhook"]
    url: str = ""
    # Tools that put their key in the URL (Alert24's `/integrations/alertmanager/<key>`,
    # Grafana OnCall, Squadcast, Zenduty): the whole URL from a file, a secret like any key.
    url_file: SecretFile | None = None
    # Writes the adapter's mapped severity (critical|error|warning|info) into this label of
    # the copy, e.g. `severity`; unset: the labels go as Alertmanager sent them.
    severity_label: str | None = Field(default=None, pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    max_body_bytes: int = Field(default=BODY_BYTES, ge=4096, le=10_485_760)

    @model_validator(mode="after")
    def _one_url(self) -> AlertmanagerWebhookSettings:
        if bool(self.url) == (self.url_file is not None):
            raise ValueError("set exactly one of url or url_file")
        if self.url_file is None:
            check_http_url(self.url)
            return self
        try:
            check_http_url(self.target)
        except ValueError:
            # not check_http_url's message: it quotes the URL, here a secret
            raise ValueError(
                "url_file must hold an absolute http(s) URL, percent-encoded "
                "(no spaces or characters outside ASCII)"
            ) from None
        return self

    @property
    def target(self) -> str:
        return self.url_file.reveal() if self.url_file is not None else self.url

    def base_url(self) -> str:
        return self.target

    def dialect_secrets(self) -> list[str]:
        # These tools put their key in the path: an upstream that echoes only the path must
        # not show it, and an inline `url` carries it as much as one from url_file does.
        path = urlsplit(self.target).path
        long_parts = [part for part in path.split("/") if len(part) >= 16]
        if self.url_file is None:
            return long_parts
        return [self.target, path, *long_parts]


class AlertmanagerWebhook(Integration[AlertmanagerWebhookSettings]):
    dedup_key_limit = 255
    retry_policy = RETRY

    def __init__(self, settings: AlertmanagerWebhookSettings) -> None:
        super().__init__(settings)
        self._headers = {"Content-Type": "application/json"}
        self._url = settings.target  # once: render runs for every alert

    def render(self, event: AlertEvent) -> UpstreamRequest:
        labels = dict(event.alert.labels)
        if self.settings.severity_label:
            labels[self.settings.severity_label] = event.severity
        annotations = event.alert.annotations
        content = orjson.dumps(self.webhook(event, labels, annotations))
        if len(content) > self.settings.max_body_bytes:  # rare: cut, or fail this alert alone
            bare = len(orjson.dumps(self.webhook(event, {}, {})))
            room = self.settings.max_body_bytes - bare
            if room < 0:
                raise CannotFit(
                    f"the alert's links and group alone are {bare:,} bytes, over "
                    f"max_body_bytes ({self.settings.max_body_bytes:,})"
                )
            labels, annotations = self._fitted(labels, annotations, room, event.dedup_key)
            content = orjson.dumps(self.webhook(event, labels, annotations))
        return UpstreamRequest("POST", self._url, self._headers, content)

    def webhook(
        self, event: AlertEvent, labels: dict[str, str], annotations: dict[str, str]
    ) -> dict[str, Any]:
        """The one-alert webhook, with `labels` and `annotations` in both places they go."""
        alert, group = event.alert, event.group
        status = "firing" if event.action == "trigger" else "resolved"
        return {
            "version": "4",
            "groupKey": group_key_for(event.dedup_key),
            "truncatedAlerts": 0,
            "status": status,
            "receiver": group.receiver,
            "groupLabels": {KEY_LABEL: event.dedup_key},
            "commonLabels": labels,
            "commonAnnotations": annotations,
            "externalURL": group.externalURL,
            "alerts": [
                {
                    "status": status,
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": alert.startsAt,
                    "endsAt": alert.endsAt,
                    "generatorURL": alert.generatorURL,
                    "fingerprint": alert.fingerprint,
                }
            ],
        }

    def _fitted(
        self, labels: dict[str, str], annotations: dict[str, str], room: int, key: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Labels and annotations cut so that both copies of each fit in `room` more bytes
        than a body with none: together they may grow from `{}` by half of it. Annotations
        give way first; labels only when they alone are over, longest values first (the
        fingerprint and the group key, which identify the alert, stay whole)."""
        wrapped = {"annotations": annotations, "labels": labels}
        limits = SizeLimits(
            vendor="this receiver's max_body_bytes",
            doc_url=DOC_URL,
            body_bytes=room // 2 + len(orjson.dumps({"annotations": {}, "labels": {}})),
            cut_first=("annotations",),
            mark="annotations.incident_adapter_truncated",
        )
        fitted: dict[str, dict[str, str]] = orjson.loads(fit(wrapped, limits, (key,)))
        return fitted["labels"], fitted["annotations"]
