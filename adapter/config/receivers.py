"""Config models shared by every receiver: delivery, dedup key, severity, matchers.

Each dialect's own model (in adapter/integrations/) extends `ReceiverSettings`; the
top-level document lives in adapter/config/document.py. Models reject unknown keys and say how to
fix a bad value; they turn into the plain rule objects the pure transforms use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from adapter.config.http import HTTPClientSettings
from adapter.config.model import Level, Matchers, Model, check_http_url, one_secret
from adapter.durations import Duration
from adapter.keys import TEMPLATE_NAMES, DedupRule
from adapter.secrets import Secret, SecretFile, secret_forms, url_secrets
from adapter.severity import SEVERITIES, SeverityOverride, SeverityRule
from adapter.templating import Fields, compile_template, names_read, template_error
from adapter.timeintervals import TimeInterval


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
    def _timeouts(self) -> DeliverySettings:
        self.check_timeouts()
        return self

    def check_timeouts(self) -> None:
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
        merged.check_timeouts()
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
    # Names from the top-level `time_intervals:`; the override then holds only inside them,
    # judged at the alert's startsAt (adapter/severity.py says why).
    active_time_intervals: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    # The named intervals' entries, bound by the config document once it has read them all.
    _intervals: dict[str, tuple[TimeInterval, ...]] = PrivateAttr(default_factory=dict)

    def override(self) -> SeverityOverride:
        missing = [n for n in self.active_time_intervals if n not in self._intervals]
        if missing:  # the config document reports these with their paths before this runs
            raise ValueError(f"time intervals {missing} are not defined in time_intervals")
        entries = tuple(i for n in self.active_time_intervals for i in self._intervals[n])
        return SeverityOverride(self.matchers, self.severity, entries)


def _default_map() -> dict[str, str]:
    return {level: level for level in SEVERITIES}


class SeveritySettings(Model):
    label: str = "severity"
    map: dict[str, Level] = Field(default_factory=_default_map)
    default: Level = "warning"
    overrides: list[SeverityOverrideSettings] = Field(default_factory=list)

    def bind(self, intervals: Mapping[str, tuple[TimeInterval, ...]]) -> None:
        """Give each override the entries of the intervals it names (of those defined)."""
        for override in self.overrides:
            names = override.active_time_intervals
            override._intervals = {n: intervals[n] for n in names if n in intervals}

    def rule(self) -> SeverityRule:
        overrides = tuple(o.override() for o in self.overrides)
        return SeverityRule(self.label, dict(self.map), self.default, overrides)


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
    type: str  # each dialect narrows it to its literal, the key DIALECTS is looked up by
    dedup_key: DedupKeySettings = Field(default_factory=DedupKeySettings)
    severity: SeveritySettings = Field(default_factory=SeveritySettings)
    matchers: Matchers = ()
    delivery: DeliveryOverrides = Field(default_factory=DeliveryOverrides)
    # Upstream request budget of this receiver (per adapter process); unset: the dialect's
    # documented default; "off": none.
    rate_limit: RateLimitSettings | Literal["off"] | None = None
    storm_guard: StormGuardSettings | None = None  # off unless set
    http_config: HTTPClientSettings | None = None  # TLS, proxy, extra headers (http_config.py)

    def base_url(self) -> str:
        """Where every request of the receiver must stay (adapter/urls.py): its `url`."""
        return getattr(self, "url", "") or ""

    def sets_authorization(self) -> bool:
        """Whether the receiver's requests carry an Authorization header of its config."""
        http = self.http_config
        if http is not None and (http.authorization is not None or http.basic_auth is not None):
            return True
        names = {*http.headers, *http.header_files} if http else set()
        return any(name.lower() == "authorization" for name in names)

    @model_validator(mode="after")
    def _one_authorization(self) -> ReceiverSettings:
        # The client makes a Basic Authorization header of a url's user:password; with a
        # header of the config's too, it refuses every request (aiohttp: ValueError).
        if "@" in urlsplit(self.base_url()).netloc and self.sets_authorization():
            raise ValueError(
                "url: its user:password is sent as the Authorization header, which this "
                "receiver sets too (its key, or http_config); keep the credential in one place"
            )
        return self

    def secret_values(self) -> list[str]:
        """Every secret this receiver holds, revealed, in each form it can be echoed in
        (longest first), for scrubbing text that came from outside: its keys, its header
        files, and what its `url` and proxy can carry (userinfo, query: url_secrets)."""
        http = self.http_config.secret_values() if self.http_config else []
        values = [form for v in (*self.dialect_secrets(), *http) for form in secret_forms(v)]
        values += url_secrets(self.base_url())
        return sorted(set(values), key=len, reverse=True)

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

    def sets_authorization(self) -> bool:
        return self.auth_header.lower() == "authorization" or super().sets_authorization()

    def json_headers(self, scheme: str) -> dict[str, str]:
        """What every request of the receiver carries: JSON, and the key in `auth_header`."""
        return {
            "Content-Type": "application/json",
            self.auth_header: f"{scheme} {self.key.reveal()}".strip(),
        }
