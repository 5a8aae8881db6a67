"""Config models shared by every receiver: delivery, dedup key, severity, matchers.

Each dialect's own model (in adapter/integrations/) extends `ReceiverSettings`; the
top-level document lives in adapter/config.py. Models reject unknown keys and say how to
fix a bad value; they turn into the plain rule objects the pure transforms use.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    model_validator,
)

from adapter.durations import Duration
from adapter.keys import DedupRule
from adapter.matchers import Matcher, parse_matchers
from adapter.severity import LEVELS, SeverityOverride, SeverityRule


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


class DeliverySettings(Model):
    timeout: Duration = 8.0
    attempt_timeout: Duration = 3.0
    max_attempts: int = Field(default=4, ge=1, le=20)
    concurrency: int = Field(default=32, ge=1, le=1024)
    # How long a delivered event is remembered, so AM's retries of a group skip it; 0: off.
    memo_ttl: Duration = 300.0

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

    def over(self, base: DeliverySettings) -> DeliverySettings:
        merged = base.model_copy(update=self.model_dump(exclude_none=True))
        merged.check_budget()
        return merged


class DedupKeySettings(Model):
    strategy: Literal["fingerprint", "labels", "group"] = "fingerprint"
    labels: list[str] = Field(default_factory=list)
    prefix: str = ""

    @model_validator(mode="after")
    def _labels_for_labels(self) -> DedupKeySettings:
        if self.strategy == "labels" and not self.labels:
            raise ValueError("strategy 'labels' needs labels: [...], e.g. [alertname, instance]")
        if self.strategy != "labels" and self.labels:
            raise ValueError(f"labels are only used with strategy 'labels', not {self.strategy!r}")
        return self

    def rule(self) -> DedupRule:
        return DedupRule(self.strategy, tuple(self.labels), self.prefix)


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


class RateLimitSettings(Model):
    """At most `requests` a `per` on average, `burst` at once (default: `requests`, as APIs
    that count per window accept a whole window's worth in any order)."""

    requests: int = Field(ge=1)
    per: Duration = 60.0
    burst: int | None = Field(default=None, ge=1)

    @property
    def bucket_size(self) -> int:
        return self.burst or self.requests


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

    def filters(self) -> tuple[Matcher, ...]:
        return self.matchers

    def secret_values(self) -> list[str]:
        """Every secret this receiver holds, revealed, for scrubbing text that came from outside."""
        return []
