"""The configuration document: the top-level `Config` and its sections (auth, limits,
delivery defaults, receivers, time intervals). Loading it from YAML and the environment, and
saying what is wrong with it, is adapter/config/loader.py.

Order of precedence: command-line flags (adapter/cli.py) > INCIDENT_ADAPTER_* environment
variables (pydantic-settings, `__` between levels: INCIDENT_ADAPTER_DELIVERY__TIMEOUT=5s)
> the YAML file > the defaults here.
"""

from __future__ import annotations

from pydantic import (
    Field,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from adapter.config.alertmanager import AlertmanagerSettings
from adapter.config.coordination import CoordinationSettings
from adapter.config.model import Model
from adapter.config.receivers import DeliverySettings
from adapter.config.timeintervals import TimeIntervalSettings
from adapter.config.tracing import TracingSettings
from adapter.config.web import AuthSettings
from adapter.integrations import AnyReceiverSettings


class LimitsSettings(Model):
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)  # 413 above
    max_alerts: int = Field(default=10_000, ge=1)  # alerts in one webhook; 413 above
    max_label_bytes: int = Field(default=16_384, ge=64)  # one label's name + value; 422 above
    max_header_bytes: int = Field(default=16_384, ge=1024)  # request line + headers; 431 above


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INCIDENT_ADAPTER_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    receivers: list[AnyReceiverSettings] = Field(min_length=1)
    # Alertmanager's named intervals, for severity overrides' active_time_intervals.
    time_intervals: list[TimeIntervalSettings] = Field(default_factory=list)
    # Where to read silences and inhibitions (adapter/poller.py); None: no polling.
    alertmanager: AlertmanagerSettings | None = None
    # Spans to an OTLP endpoint (adapter/tracing.py); None: no tracing, the SDK never imported.
    tracing: TracingSettings | None = None
    # A store shared by replicas (adapter/coordination/); none: each replica on its own.
    coordination: CoordinationSettings | None = None

    @model_validator(mode="after")
    def _bind_time_intervals(self) -> Config:
        # Names not defined are left unbound here and reported with their paths by _cross_checks.
        named = {t.name: t.intervals() for t in self.time_intervals}
        for receiver in self.receivers:
            receiver.severity.bind(named)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: the environment overrides what the YAML file (passed as init) says.
        return (env_settings, init_settings)

    def secret_values(self) -> list[str]:
        values = self.auth.secret_values()
        for receiver in self.receivers:
            values.extend(receiver.secret_values())
        if self.alertmanager is not None:
            values.extend(self.alertmanager.secret_values())
        if self.tracing is not None:
            values.extend(self.tracing.secret_values())
        if self.coordination is not None:
            values.extend(self.coordination.secret_values())
        return values
