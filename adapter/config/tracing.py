"""The top-level `tracing:` block: where to send spans, with Alertmanager's keys and meaning
(its tracing/config.go): `client_type` grpc (the default) or http, `endpoint` as host:port,
`sampling_fraction` of traces the adapter starts itself (0, the default, records only the
traces a caller such as Alertmanager sampled and said so in `traceparent`), `insecure`,
`headers` (secrets: never printed), `compression` gzip, `timeout`, `tls_config`.

`headers` takes both of Alertmanager's forms: `Name: value` (its documented one, Prometheus'
tracing_config) and `Name: {values: [...]}` or `{secrets: [...]}` (prometheus/common's Headers,
which newer releases parse; the first value is sent, as there), and `{files: [PATH]}`, the
file's content, which Alertmanager refuses for tracing and a Kubernetes Secret wants.

The OpenTelemetry SDK is the optional extra `incident-adapter[tracing]`: a config with this
block on an install without it is a config error that names the extra. Whether it is there
is asked of the import system without importing it; the SDK itself is imported only by
adapter/tracing.py, and only for a config with this block.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from adapter.config.http import TLSClientSettings
from adapter.config.model import Model
from adapter.durations import Duration
from adapter.secrets import Secret, read_secret_file

EXTRA = "incident-adapter[tracing]"
# What each client type needs of the extra (the SDK, and the exporter of its protocol).
NEEDS = {
    "grpc": ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.grpc"),
    "http": ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http"),
}
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$")
# An HTTP header's name (RFC 9110 token); gRPC metadata keys are lower case of the same.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def missing_modules(client_type: str) -> list[str]:
    """The modules of the extra that this install lacks for `client_type`."""
    missing = []
    for name in NEEDS[client_type]:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # a parent package is missing
            found = False
        if not found:
            missing.append(name)
    return missing


_HEADER_FORMS = ("values", "secrets", "files")


def _one_header(name: str, given: Any) -> Any:
    """A header's value from any of Alertmanager's forms (see the module docstring)."""
    if not isinstance(given, dict):
        return given
    forms = [form for form in _HEADER_FORMS if given.get(form)]
    unknown = sorted(str(key) for key in given if key not in _HEADER_FORMS)
    if unknown or len(forms) != 1:
        raise ValueError(
            f"header {str(name)[:64]!r} takes a value, or one of values, secrets or files (a list)"
        )
    items = given[forms[0]]
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"header {str(name)[:64]!r}: {forms[0]} is a list of strings")
    return read_secret_file(items[0]) if forms[0] == "files" else items[0]


class TracingSettings(Model):
    client_type: Literal["grpc", "http"] = "grpc"
    endpoint: str
    sampling_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    insecure: bool = False
    headers: dict[str, Secret] = Field(default_factory=dict)
    compression: Literal["gzip"] | None = None
    timeout: Duration = 10.0  # the OTLP exporters' own default
    tls_config: TLSClientSettings | None = None

    @field_validator("endpoint")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if "://" in value:
            raise ValueError(
                f"endpoint {value.split('://')[0]}://... takes host:port without a scheme, "
                "as Alertmanager's; `insecure: true` for plain http or gRPC without TLS"
            )
        if not _HOST_PORT.match(value):
            raise ValueError(
                f"endpoint {value[:100]!r} must be host:port, e.g. otel-collector:4317"
            )
        return value

    @field_validator("headers", mode="before")
    @classmethod
    def _header_forms(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {name: _one_header(name, given) for name, given in value.items()}

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, Secret]) -> dict[str, Secret]:
        for name in value:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header name {name[:64]!r} is not a valid HTTP header name")
        return value

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("timeout must be above 0")
        return value

    @model_validator(mode="after")
    def _usable(self) -> TracingSettings:
        tls = self.tls_config
        if tls is not None and not self.insecure:  # as Alertmanager: insecure wins
            tls.context()  # bad PEM files are config errors, not silent gaps
            # What the OpenTelemetry exporters cannot do, refused rather than ignored.
            if self.client_type == "grpc" and tls.insecure_skip_verify:
                raise ValueError(
                    "tls_config.insecure_skip_verify is not available with client_type grpc "
                    "(gRPC's Python client always verifies); give tls_config.ca_file instead"
                )
            if self.client_type == "http" and tls.server_name is not None:
                raise ValueError(
                    "tls_config.server_name is not available with client_type http; "
                    "use client_type grpc, or an endpoint whose name the certificate holds"
                )
        missing = missing_modules(self.client_type)
        if missing:
            raise ValueError(
                f"tracing needs the OpenTelemetry SDK, which this install lacks "
                f"({', '.join(missing)}): pip install '{EXTRA}'"
            )
        return self

    def secret_values(self) -> list[str]:
        return [value.reveal() for value in self.headers.values()]
