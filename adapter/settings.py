"""Config models shared by every receiver: delivery, dedup key, severity, matchers.

Each dialect's own model (in adapter/integrations/) extends `ReceiverSettings`; the
top-level document lives in adapter/config.py. Models reject unknown keys and say how to
fix a bad value; they turn into the plain rule objects the pure transforms use.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    field_validator,
    model_validator,
)

from adapter.durations import Duration
from adapter.keys import TEMPLATE_NAMES, DedupRule
from adapter.matchers import Matcher, parse_matchers
from adapter.secrets import Secret, SecretFile
from adapter.severity import LEVELS, SeverityOverride, SeverityRule
from adapter.templating import Fields, compile_template, names_read, template_error


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _matchers(values: object) -> tuple[Matcher, ...]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ValueError("expected a list of matcher strings, e.g. ['service=\"api\"']")
    parsed: list[Matcher] = []
    for value in values:
        parsed.extend(parse_matchers(value))
    return tuple(parsed)


# YAML gives strings in Alertmanager's matcher syntax; the model holds them parsed.
Matchers = Annotated[
    tuple[Matcher, ...],
    PlainValidator(_matchers),
    PlainSerializer(lambda ms: [str(m) for m in ms]),
]


def _level(value: str) -> str:
    if value not in LEVELS:
        raise ValueError(f"{value!r} is not a severity; use one of {', '.join(LEVELS)}")
    return value


Level = Annotated[str, AfterValidator(_level)]


def one_secret(name: str, inline: Secret | None, from_file: Secret | None) -> Secret:
    """The secret given as `name` or as `name_file`: exactly one of them must be set."""
    value = inline if inline is not None else from_file
    if value is None or (inline is not None and from_file is not None):
        raise ValueError(f"set exactly one of {name} or {name}_file")
    return value


def check_http_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url {url!r} must be an absolute http(s) URL")


class DeliverySettings(Model):
    timeout: Duration = 8.0
    attempt_timeout: Duration = 3.0
    max_attempts: int = Field(default=4, ge=1, le=20)
    concurrency: int = Field(default=32, ge=1, le=1024)
    # How long a delivered event is remembered, so AM's retries of a group skip it; 0: off.
    memo_ttl: Duration = 300.0
    # The memo's bounds for each receiver (adapter/memo.py): past either, its oldest go first.
    memo_max_entries: int = Field(default=20_000, ge=1)
    memo_max_bytes: int = Field(default=8 * 1024 * 1024, ge=4096)

    @model_validator(mode="after")
    def _budget(self) -> DeliverySettings:
        self.check_budget()
        return self

    def check_budget(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be above 0")
        if self.attempt_timeout <= 0 or self.attempt_timeout > self.timeout:
            raise ValueError("attempt_timeout must be above 0 and at most timeout")


class DeliveryOverrides(Model):
    """A receiver's own delivery settings; what it leaves out comes from `delivery:`."""

    timeout: Duration | None = None
    attempt_timeout: Duration | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=20)
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    memo_ttl: Duration | None = None
    memo_max_entries: int | None = Field(default=None, ge=1)
    memo_max_bytes: int | None = Field(default=None, ge=4096)

    def over(self, base: DeliverySettings) -> DeliverySettings:
        merged = base.model_copy(update=self.model_dump(exclude_none=True))
        merged.check_budget()
        return merged


# Names a key template must not read, and why: they change between the sends of one alert.
_UNSTABLE = {
    "annotations": "annotations change between sends",
    "startsAt": "startsAt can change between sends (a flapping alert restarts)",
    "endsAt": "endsAt changes between sends (it is set when the alert resolves)",
    "status": "status is firing at trigger and resolved at resolve",
    "alert": "it holds annotations and startsAt, which change between sends (labels: write "
    "labels.NAME)",
}


class _SampleLabels(Fields):
    """Labels of the load-time sample: every label a template names exists."""

    def __missing__(self, key: str) -> str:
        return f"sample-{key}"


def _check_key_template(source: str) -> None:
    compile_template(source)  # a syntax error names its line
    allowed = ", ".join(TEMPLATE_NAMES)
    for name in sorted(names_read(source)):
        if name in _UNSTABLE:
            raise ValueError(
                f"a dedup key must not read {name!r}: {_UNSTABLE[name]}, so trigger and resolve "
                f"could get different keys and the incident would never resolve; use {allowed} "
                "(e.g. '{{ labels.alertname }}:{{ labels.instance }}')"
            )
        if name not in TEMPLATE_NAMES:
            raise ValueError(f"{name!r} is undefined in a dedup key template; use {allowed}")
    template = compile_template(source)
    for labels in (_SampleLabels(alertname="Sample"), Fields()):
        context = {"labels": labels, "fingerprint": "0", "group_key": "{}:{}", "receiver": "r"}
        try:
            template.render(context)
        except (template_error(), TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(f"does not render against a sample alert: {exc}") from None


class DedupKeySettings(Model):
    strategy: Literal["fingerprint", "labels", "group", "template"] = "fingerprint"
    labels: list[str] = Field(default_factory=list)
    # strategy template: Jinja2 over labels, fingerprint, group_key and receiver only
    template: str = ""
    prefix: str = ""

    @field_validator("template")
    @classmethod
    def _stable_template(cls, value: str) -> str:
        if value:
            _check_key_template(value)
        return value

    @model_validator(mode="after")
    def _labels_for_labels(self) -> DedupKeySettings:
        if self.strategy == "labels" and not self.labels:
            raise ValueError("strategy 'labels' needs labels: [...], e.g. [alertname, instance]")
        if self.strategy != "labels" and self.labels:
            raise ValueError(f"labels are only used with strategy 'labels', not {self.strategy!r}")
        if self.strategy == "template" and not self.template:
            raise ValueError(
                "strategy 'template' needs template: '...', e.g. "
                "'{{ labels.alertname }}:{{ labels.instance }}'"
            )
        if self.strategy != "template" and self.template:
            raise ValueError(
                f"template is only used with strategy 'template', not {self.strategy!r}"
            )
        return self

    def rule(self, receiver: str = "") -> DedupRule:
        # Compiled here, once per load; Jinja2 is imported only when a template is configured.
        template = compile_template(self.template) if self.strategy == "template" else None
        return DedupRule(self.strategy, tuple(self.labels), self.prefix, template, receiver)


class SeverityOverrideSettings(Model):
    matchers: Matchers
    severity: Level


def _default_map() -> dict[str, str]:
    return {level: level for level in LEVELS}


class SeveritySettings(Model):
    label: str = "severity"
    map: dict[str, Level] = Field(default_factory=_default_map)
    default: Level = "warning"
    overrides: list[SeverityOverrideSettings] = Field(default_factory=list)

    def rule(self) -> SeverityRule:
        overrides = tuple(SeverityOverride(o.matchers, o.severity) for o in self.overrides)
        return SeverityRule(self.label, dict(self.map), self.default, overrides)


class TLSClientSettings(Model):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _pair(self) -> TLSClientSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no file at {path}")
        return self

    def context(self) -> ssl.SSLContext:
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            if self.cert_file and self.key_file:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"cannot load the TLS files: {exc}") from None
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class HTTPClientSettings(Model):
    tls_config: TLSClientSettings | None = None
    proxy_url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    header_files: dict[str, SecretFile] = Field(default_factory=dict)

    @field_validator("proxy_url")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("proxy_url must be an http(s) URL, e.g. http://proxy:3128")
        return value

    @model_validator(mode="after")
    def _context_loads(self) -> HTTPClientSettings:
        if self.tls_config is not None:
            self.tls_config.context()  # bad PEM files are config errors, not 3 a.m. failures
        both = set(self.headers) & set(self.header_files)
        if both:
            raise ValueError(f"headers set both inline and from a file: {sorted(both)}")
        return self

    def secret_values(self) -> list[str]:
        values = [s.reveal() for s in self.header_files.values()]
        if self.proxy_url and (password := urlsplit(self.proxy_url).password):
            values.append(password)
        return values


class RateLimitSettings(Model):
    """At most `requests` in any `per`, looking back from now, as PagerDuty and Statuspage
    count; with `burst`, also at most `burst` in any `per * burst / requests`. The last
    `reserve` of the `per` window (default a tenth) are kept for pages: critical and error
    triggers (adapter/ratelimit.py)."""

    requests: int = Field(ge=1)
    per: Duration = 60.0
    burst: int | None = Field(default=None, ge=1)
    reserve: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _terms_can_hold(self) -> RateLimitSettings:
        if self.per <= 0:
            raise ValueError(f"per must be longer than 0s, not {self.per:g}s: 0 is no limit at all")
        if self.reserve is not None and self.reserve >= self.requests:
            raise ValueError(
                f"reserve ({self.reserve}) must be below requests ({self.requests}), or "
                "nothing but pages could ever be sent"
            )
        return self


class StormGuardSettings(Model):
    """Above `threshold` firing alerts in a webhook: one aggregated incident (adapter/storm.py)."""

    threshold: int = Field(ge=1)
    listed: int = Field(default=50, ge=1, le=1000)  # alerts named in its description


class ReceiverSettings(Model):
    """What every receiver has; each dialect adds its own fields and a `type` literal."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[^/\s]+$")]
    dedup_key: DedupKeySettings = Field(default_factory=DedupKeySettings)
    severity: SeveritySettings = Field(default_factory=SeveritySettings)
    matchers: Matchers = ()
    delivery: DeliveryOverrides = Field(default_factory=DeliveryOverrides)
    # Upstream request budget of this receiver (per adapter process); unset: the dialect's
    # documented default; "off": none.
    rate_limit: RateLimitSettings | Literal["off"] | None = None
    storm_guard: StormGuardSettings | None = None  # off unless set
    http_config: HTTPClientSettings | None = None  # TLS, proxy, extra headers (http_config.py)

    def filters(self) -> tuple[Matcher, ...]:
        return self.matchers

    def secret_values(self) -> list[str]:
        """Every secret this receiver holds, revealed, for scrubbing text that came from outside."""
        http = self.http_config.secret_values() if self.http_config else []
        return [*self.dialect_secrets(), *http]

    def dialect_secrets(self) -> list[str]:
        """The dialect's own secrets (keys, tokens); each dialect with one says which."""
        return []


class KeyedReceiverSettings(ReceiverSettings):
    """A receiver whose API takes one key (`api_key`, or `api_key_file`) at an http(s) `url`."""

    url: str
    api_key: Secret | None = None
    api_key_file: SecretFile | None = None
    auth_header: str = "Authorization"  # its value: "<scheme> <key>"

    @model_validator(mode="after")
    def _one_key(self) -> KeyedReceiverSettings:
        one_secret("api_key", self.api_key, self.api_key_file)
        check_http_url(self.url)
        return self

    @property
    def key(self) -> Secret:
        return one_secret("api_key", self.api_key, self.api_key_file)

    def dialect_secrets(self) -> list[str]:
        return [self.key.reveal()]

    def json_headers(self, scheme: str) -> dict[str, str]:
        """What every request of the receiver carries: JSON, and the key in `auth_header`."""
        return {
            "Content-Type": "application/json",
            self.auth_header: f"{scheme} {self.key.reveal()}".strip(),
        }
