"""The `tracing:` block: Alertmanager's keys and defaults, its errors, its secret headers, and
the extra it needs (adapter/config/tracing.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapter.config.loader import ConfigError, load_config
from tests.builders import (
    ROOT,
    TOKEN,
    config_from,
    config_problems,
    make_alert,
    make_payload,
    one_receiver,
    pd_config,
)
from tests.harness.system import require_extra

HEADER_SECRET = "otlp-header-value-SECRET-0123"


@pytest.fixture(autouse=True)
def _sdk() -> None:
    require_extra("opentelemetry.sdk", "tracing")


def with_tracing(**tracing: Any) -> dict[str, Any]:
    return {**pd_config(), "tracing": {"endpoint": "otel-collector:4317", **tracing}}


def test_alertmanagers_defaults(tmp_path: Path) -> None:
    """grpc, no sampling of the adapter's own (a caller's sampled traces only), 10 s, TLS on."""
    tracing = config_from(with_tracing(), tmp_path).tracing
    assert tracing is not None
    assert tracing.client_type == "grpc"
    assert tracing.sampling_fraction == 0.0
    assert tracing.insecure is False
    assert tracing.timeout == 10.0
    assert tracing.compression is None


def test_no_block_no_tracing(tmp_path: Path) -> None:
    assert config_from(pd_config(), tmp_path).tracing is None


def test_every_key(tmp_path: Path) -> None:
    tracing = config_from(
        with_tracing(
            client_type="http",
            endpoint="[::1]:4318",
            sampling_fraction=0.25,
            insecure=True,
            headers={"X-Scope-OrgID": HEADER_SECRET},
            compression="gzip",
            timeout="2s",
        ),
        tmp_path,
    ).tracing
    assert tracing is not None
    assert (tracing.client_type, tracing.endpoint, tracing.timeout) == ("http", "[::1]:4318", 2.0)
    assert tracing.headers["X-Scope-OrgID"].reveal() == HEADER_SECRET


@pytest.mark.parametrize(
    ("tracing", "says"),
    [
        ({"endpoint": "http://collector:4318"}, "without a scheme"),
        ({"endpoint": "collector"}, "host:port"),
        ({"client_type": "thrift"}, "client_type"),
        ({"sampling_fraction": 1.5}, "sampling_fraction"),
        ({"sampling_fraction": -0.1}, "sampling_fraction"),
        ({"compression": "zstd"}, "compression"),
        ({"timeout": "0"}, "timeout must be above 0"),
        ({"timeout": 5}, "durations are strings"),
        ({"headers": {"bad name": "x"}}, "not a valid HTTP header name"),
        ({"headers": {"X-Token": ""}}, "must not be empty"),
        ({"service_name": "x"}, "service_name"),
        ({"tls_config": {"ca_file": "/nonexistent/ca.pem"}}, "no file at"),
    ],
)
def test_refused_with_path_and_fix(tmp_path: Path, tracing: dict[str, Any], says: str) -> None:
    problems = config_problems(tmp_path, with_tracing(**tracing))
    assert any(p.startswith("tracing") and says in p for p in problems), problems


def test_endpoint_is_required(tmp_path: Path) -> None:
    doc = {**pd_config(), "tracing": {"client_type": "http"}}
    assert any("tracing.endpoint" in p for p in config_problems(tmp_path, doc))


def test_headers_in_each_of_alertmanagers_forms_and_from_a_file(tmp_path: Path) -> None:
    """`Name: value` (documented), prometheus/common's `{values|secrets: [...]}` (the first
    is sent, as Alertmanager does), and `{files: [PATH]}` (its content, without the newline)."""
    secret_file = tmp_path / "header"
    secret_file.write_text(HEADER_SECRET + "\n")
    headers = {
        "X-Plain": "one",
        "X-Values": {"values": ["two", "ignored"]},
        "X-Secrets": {"secrets": ["three"]},
        "X-File": {"files": [str(secret_file)]},
    }
    tracing = config_from(with_tracing(headers=headers), tmp_path).tracing
    assert tracing is not None
    assert {k: v.reveal() for k, v in tracing.headers.items()} == {
        "X-Plain": "one",
        "X-Values": "two",
        "X-Secrets": "three",
        "X-File": HEADER_SECRET,
    }


@pytest.mark.parametrize(
    "given",
    [
        {"values": ["a"], "secrets": ["b"]},
        {"value": ["a"]},
        {},
        {"values": "a"},
        {"files": ["/nonexistent/header"]},
    ],
)
def test_a_header_form_that_cannot_be_read_is_refused(
    tmp_path: Path, given: dict[str, Any]
) -> None:
    problems = config_problems(tmp_path, with_tracing(headers={"X-Key": given}))
    assert any(p.startswith("tracing.headers") for p in problems), problems


def test_header_values_are_secrets_never_printed(tmp_path: Path) -> None:
    """In the model's repr and dump, in a ConfigError about another key, and they join the
    values every surface is scrubbed of."""
    config = config_from(with_tracing(headers={"Authorization": HEADER_SECRET}), tmp_path)
    assert HEADER_SECRET not in repr(config)
    assert HEADER_SECRET not in config.model_dump_json()
    assert HEADER_SECRET in config.secret_values()
    path = tmp_path / "bad.yml"
    path.write_text(
        yaml.safe_dump(with_tracing(headers={"Authorization": HEADER_SECRET}, timeout="x"))
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert HEADER_SECRET not in raised.value.report()


def _python(tmp_path: Path, code: str, hide_sdk: bool) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter; `hide_sdk`: with an empty `opentelemetry` package first
    on the path, so the install looks like one without the extra."""
    path = [str(_shadow(tmp_path)), str(ROOT)] if hide_sdk else [str(ROOT)]
    return subprocess.run(
        [sys.executable, "-c", code, TOKEN],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(path)},
        cwd=tmp_path,
    )


def test_without_the_extra_the_block_is_a_config_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text(
        yaml.safe_dump(with_tracing(headers={"X-Key": HEADER_SECRET}))
    )
    code = (
        "import sys; from adapter.cli import main; sys.exit(main(['check-config', 'config.yml']))"
    )
    result = _python(tmp_path, code, hide_sdk=True)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "pip install 'incident-adapter[tracing]'" in out
    assert "tracing" in out
    assert HEADER_SECRET not in out


def _shadow(tmp_path: Path) -> Path:
    shadow = tmp_path / "shadow"
    (shadow / "opentelemetry").mkdir(parents=True, exist_ok=True)
    (shadow / "opentelemetry" / "__init__.py").write_text("")
    return shadow


NO_OTEL = """
import json, sys
from adapter.config.loader import load_config
from adapter.app import create_app
from starlette.testclient import TestClient
import adapter.cli, adapter.server
config = load_config("config.yml")
with TestClient(create_app(config)) as client:
    assert client.get("/-/ready").status_code == 200
    answer = client.post("/alerts/pd", content=open("payload.json").read(),
        headers={"Authorization": "Bearer " + sys.argv[1], "Content-Type": "application/json",
                 "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    assert answer.status_code == 200, answer.text
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
print("loaded:", loaded)
assert not loaded, loaded
"""


def _no_tracing(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text(yaml.safe_dump(one_receiver({"type": "log"})))
    (tmp_path / "payload.json").write_text(json.dumps(make_payload(make_alert())))


def test_without_a_block_opentelemetry_is_never_imported(tmp_path: Path) -> None:
    """The extra installed, no `tracing:`: the app starts and answers a webhook (one with a
    traceparent) without importing it."""
    _no_tracing(tmp_path)
    result = _python(tmp_path, NO_OTEL, hide_sdk=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded: []" in result.stdout


def test_without_the_extra_a_config_without_the_block_still_serves(tmp_path: Path) -> None:
    _no_tracing(tmp_path)
    result = _python(tmp_path, NO_OTEL, hide_sdk=True)
    assert result.returncode == 0, result.stdout + result.stderr
