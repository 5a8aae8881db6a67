"""The Alertmanager webhook payload (version 4), and Grafana's compatible version 1.

Parsing is the only validation the edge does: a payload either becomes a `WebhookPayload`
or a `PayloadError` that says which HTTP status fits and which field is wrong.
Fields we do not use (Grafana's `values`, `dashboardURL`, ...) are ignored, not errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SUPPORTED_VERSIONS = ("4", "1")


_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's model.LabelSet.Fingerprint, bit for bit.

    FNV-1a 64 over the label names sorted bytewise, each name and each value followed by
    the separator byte 0xFF, printed as 16 lowercase hex digits.
    """
    h = _FNV_OFFSET
    for name in sorted(labels, key=lambda n: n.encode()):
        for part in (name.encode(), labels[name].encode()):
            for byte in part:
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str
    groupKey: str = ""
    truncatedAlerts: int = Field(default=0, ge=0)
    status: Literal["firing", "resolved"] = "firing"
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert]


class PayloadError(Exception):
    """A body that is not a usable webhook; `status` is 400 or 422."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_limits(payload: WebhookPayload, max_alerts: int, max_label_bytes: int) -> None:
    """Bounds a well-formed payload must also keep; PayloadError (413 or 422) names which."""
    if len(payload.alerts) > max_alerts:
        raise PayloadError(
            413, f"{len(payload.alerts)} alerts, over the limit of {max_alerts} (limits.max_alerts)"
        )
    for index, alert in enumerate(payload.alerts):
        for name, value in alert.labels.items():
            # A character is at most 4 UTF-8 bytes: only labels long enough get encoded.
            if len(name) + len(value) > max_label_bytes // 4 and (
                len(name.encode()) + len(value.encode()) > max_label_bytes
            ):
                raise PayloadError(
                    422,
                    f"alerts[{index}].labels.{name[:64]}: over {max_label_bytes} bytes "
                    "(limits.max_label_bytes)",
                )


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def parse_payload(body: bytes) -> WebhookPayload:
    try:
        payload = WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        kind, loc = first["type"], first["loc"]
        if kind == "json_invalid":
            raise PayloadError(400, f"malformed JSON: {first['msg']}") from None
        if kind == "model_type" and not loc:
            raise PayloadError(400, "the body must be a JSON object") from None
        count = exc.error_count()
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise PayloadError(422, f"{_where(loc)}: {first['msg']}{more}") from None
    if payload.version not in SUPPORTED_VERSIONS:
        raise PayloadError(
            400,
            f"unknown payload version {payload.version[:20]!r}; supported: "
            + ", ".join(SUPPORTED_VERSIONS)
            + " (Alertmanager sends 4, Grafana 1)",
        )
    for alert in payload.alerts:
        if not alert.fingerprint:  # older Alertmanagers and other senders leave it out
            alert.fingerprint = fingerprint(alert.labels)
    return payload
