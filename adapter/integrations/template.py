"""Any JSON API: method, path, headers and body of trigger and resolve from Jinja2 templates.

Templates run in Jinja2's immutable sandbox: no attribute of Python internals, no file or
network access, nothing to mutate. They are compiled, and rendered once against a sample
alert, when the config loads, so a syntax error or a body that is not JSON is a config
error naming the receiver, the field and the line, not a 3 a.m. surprise.

The upstream's scheme and host are fixed by `url` in the config; templates fill only the
path and query, so no alert content can send a request (and its credentials) elsewhere.
Every `{{ }}` of `path` prints URL-encoded, like `urlquote` (adapter/templating.py): a
label is one path segment or one query value, never `/`, `..`, `?` or `#`; and the
rendered URL must stay under `url`, its path included (adapter/urls.py), or the alert is
refused (424, `cannot render`) without sending anything.

Context of every template:
    alert         status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint
    action        "trigger" or "resolve"
    dedup_key     the alert's key;   severity: the mapped severity
    receiver, group_key, common_labels, external_url
    secrets       the receiver's named secrets (printed as <secret> by `render`)
A label or annotation the alert lacks renders as empty (adapter/templating.py); a name
that does not exist at all is a config error. Filters: `tojson`, `urlquote`, Jinja2's own.
`alert.generatorURL`, `external_url` and the `runbook_url` annotation are links: each is
empty (the annotation absent) unless it is an http(s) URL, so no `javascript:` goes out.

An API of your own has limits only you know: `max_body_bytes` (default: none) fits a body
over it the way every dialect fits its vendor's limits (adapter/fitting.py): the longest
strings are cut first, never the dedup key or a secret, and `truncated_field` (a dotted
path in the JSON body, default none) receives a note of what was cut.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from adapter.config.model import Model, check_http_url
from adapter.config.receivers import ReceiverSettings
from adapter.events import DEFAULT_RETRY, AlertEvent, RenderError, RetryPolicy, UpstreamRequest
from adapter.fitting import fit
from adapter.integrations.base import Integration
from adapter.limits import SizeLimits
from adapter.payload import Alert, WebhookPayload
from adapter.secrets import Secret, SecretFile, redact_url
from adapter.templating import Fields, compile_url_template, fields, template_error
from adapter.templating import compile_template as _compile
from adapter.urls import check_under, web_link


class RequestTemplate(Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str = ""  # appended to the receiver's url; a template
    headers: dict[str, str] = Field(default_factory=dict)  # values are templates
    body: str = ""  # a template; JSON unless Content-Type says otherwise

    @field_validator("path")
    @classmethod
    def _url_compiles(cls, value: str) -> str:
        compile_url_template(value)
        return value

    @field_validator("body")
    @classmethod
    def _compiles(cls, value: str) -> str:
        _compile(value)
        return value

    @field_validator("path")
    @classmethod
    def _stays_on_the_host(cls, value: str) -> str:
        if value and value[0] not in "/?":
            raise ValueError(
                f"{redact_url(value)[:40]!r} must start with '/' or '?': the path cannot "
                "change the host"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _headers_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, template in value.items():
            try:
                _compile(template)
            except ValueError as exc:
                raise ValueError(f"header {name}: {exc}") from None
        return value


class TemplateSettings(ReceiverSettings):
    type: Literal["template"]
    url: str  # scheme://host[:port][/base/path]: fixed, never templated
    secrets: dict[str, Secret] = Field(default_factory=dict)
    secret_files: dict[str, SecretFile] = Field(default_factory=dict)
    trigger: RequestTemplate
    resolve: RequestTemplate
    dedup_key_limit: int = Field(default=255, ge=16)
    max_body_bytes: int | None = Field(default=None, ge=1024)  # the API's limit, if it has one
    truncated_field: str = ""  # where in the JSON body the note of what was cut goes
    retry_statuses: list[int] = Field(default_factory=lambda: sorted(DEFAULT_RETRY.retry_statuses))

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        check_http_url(value)
        if urlsplit(value).query:
            raise ValueError(
                f"{redact_url(value)!r} must be an absolute http(s) URL without a query"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _renders(self) -> TemplateSettings:
        """Render each template once against a sample alert: syntax, sandbox and JSON checks."""
        overlap = set(self.secrets) & set(self.secret_files)
        if overlap:
            raise ValueError(f"secrets named in both secrets and secret_files: {sorted(overlap)}")
        renderer = Template(self)
        for action in ("trigger", "resolve"):
            try:
                renderer.render(_sample_event(action))
            except RenderError as exc:
                raise ValueError(str(exc)) from None
        return self

    def sets_authorization(self) -> bool:
        headers = [*self.trigger.headers, *self.resolve.headers]
        return any(h.lower() == "authorization" for h in headers) or super().sets_authorization()

    def named_secrets(self) -> dict[str, str]:
        return {n: s.reveal() for n, s in {**self.secrets, **self.secret_files}.items()}

    def dialect_secrets(self) -> list[str]:
        return list(self.named_secrets().values())


class _AnyKey(Fields):
    """Labels of the sample alert: every label a template asks for exists."""

    def __missing__(self, key: str) -> str:
        return f"sample-{key}"


def _sample_event(action: Literal["trigger", "resolve"]) -> AlertEvent:
    alert = Alert.model_construct(
        status="firing" if action == "trigger" else "resolved",
        labels=_AnyKey(alertname="Sample"),
        annotations=_AnyKey(summary="sample"),
        startsAt="2026-01-01T00:00:00Z",
        endsAt="0001-01-01T00:00:00Z",
        generatorURL="http://prometheus/graph",
        fingerprint="0123456789abcdef",
    )
    group = WebhookPayload.model_construct(
        version="4",
        groupKey="{}:{}",
        receiver="sample",
        status="firing",
        commonLabels={},
        externalURL="http://alertmanager:9093",
        alerts=[alert],
    )
    return AlertEvent(alert, action, "0123456789abcdef", "warning", group)


def _cut_text(content: str, limit: int) -> bytes:
    """A body that is not JSON, cut at the end to `limit` bytes."""
    out = content.encode()[: limit - 3].decode("utf-8", "ignore")
    return (out + "…").encode()


def _is_json(headers: Mapping[str, str]) -> bool:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return not content_type or "json" in content_type.lower()


class Template(Integration[TemplateSettings]):
    def __init__(self, settings: TemplateSettings) -> None:
        super().__init__(settings)
        self.dedup_key_limit = settings.dedup_key_limit
        self.retry_policy = RetryPolicy(frozenset(settings.retry_statuses))
        self._compiled = {
            action: (
                compile_url_template(t.path),
                {name: _compile(v) for name, v in t.headers.items()},
                _compile(t.body),
                t,
            )
            for action, t in (("trigger", settings.trigger), ("resolve", settings.resolve))
        }
        self._secrets = settings.named_secrets()
        self._limits = SizeLimits(
            vendor=f"receiver {settings.name!r}",
            doc_url="",
            body_bytes=settings.max_body_bytes,
            mark=settings.truncated_field,
            key_chars=settings.dedup_key_limit,
        )

    def render(self, event: AlertEvent) -> UpstreamRequest:
        path, headers, body, spec = self._compiled[event.action]
        context = self._context(event)
        field = "?"
        try:
            field = f"{event.action}.path"
            url = self.settings.url + path.render(context)
            field = f"{event.action}.headers"
            rendered = {name: h.render(context) for name, h in headers.items()}
            field = f"{event.action}.body"
            content = body.render(context)
        except (template_error(), TypeError, ValueError) as exc:  # undefined, sandbox, ...
            raise RenderError(f"{field}: {exc}") from None
        # The pipeline checks every dialect's requests (base.confined); here too, so the
        # load-time render against a sample alert finds a path that cannot stay under url.
        if (why := check_under(url, self.settings.url)) is not None:
            raise RenderError(f"{event.action}.path: {why}")
        if any(c in v for v in rendered.values() for c in "\r\n"):
            raise RenderError(f"{event.action}.headers: a rendered value holds a line break")
        data = content.encode()
        if content and _is_json(rendered):
            try:
                parsed = json.loads(content)
            except ValueError as exc:
                raise RenderError(
                    f"{event.action}.body: does not render to valid JSON ({exc})"
                ) from None
            rendered.setdefault("Content-Type", "application/json")
            limit = self._limits.body_bytes
            if limit is not None and len(data) > limit:
                secrets = (*self._secrets.values(), event.dedup_key)
                data = fit(parsed, self._limits, secrets)
        elif self._limits.body_bytes is not None and len(data) > self._limits.body_bytes:
            data = _cut_text(content, self._limits.body_bytes)
        return UpstreamRequest(spec.method, url, rendered, data)

    def _context(self, event: AlertEvent) -> dict[str, Any]:
        alert = event.alert
        annotations = alert.annotations
        runbook = annotations.get("runbook_url")
        if runbook is not None and web_link(runbook) is None:  # only http(s) links go out
            annotations = {k: v for k, v in annotations.items() if k != "runbook_url"}
        return {
            "alert": {
                "status": alert.status,
                "labels": fields(alert.labels),
                "annotations": fields(annotations),
                "startsAt": alert.startsAt,
                "endsAt": alert.endsAt,
                "generatorURL": web_link(alert.generatorURL) or "",
                "fingerprint": alert.fingerprint,
            },
            "action": event.action,
            "dedup_key": event.dedup_key,
            "severity": event.severity,
            "receiver": self.settings.name,
            "group_key": event.group.groupKey,
            "common_labels": fields(event.group.commonLabels),
            "external_url": web_link(event.group.externalURL) or "",
            "secrets": self._secrets,
        }
