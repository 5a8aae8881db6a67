from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from adapter.config.loader import ConfigError
from tests.builders import TEMPLATE_TOKEN as API_TOKEN
from tests.builders import TEMPLATE_TRIGGER as TRIGGER
from tests.builders import config_from, make_alert, make_payload, template_config
from tests.harness.adapter import run_adapter


class IncidentsAPI:
    """A plain JSON incident API that keeps state: open by key, resolve by key."""

    def __init__(self) -> None:
        self.incidents: dict[str, dict[str, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {API_TOKEN}":
            return httpx.Response(401)
        path = request.url.raw_path.decode()
        if path == "/api/incidents":
            body = json.loads(request.content)
            current = self.incidents.get(body["key"])
            if current is None or current["status"] == "resolved":
                self.incidents[body["key"]] = {**body, "status": "open"}
            return httpx.Response(201, json={"ok": True})
        if path.startswith("/api/incidents/") and path.endswith("/resolve"):
            key = httpx.URL(path).path[len("/api/incidents/") : -len("/resolve")]
            if key not in self.incidents:
                return httpx.Response(404)
            self.incidents[key]["status"] = "resolved"
            return httpx.Response(200)
        return httpx.Response(404)


def test_against_a_stateful_json_api(make_client: Callable[..., TestClient]) -> None:
    api = IncidentsAPI()
    client = make_client(api, template_config())
    mixed = make_payload(
        make_alert(instance="a", severity="critical", team="db"),
        make_alert("resolved", instance="b"),
    )
    assert client.post("/alerts/pd", json=make_payload(make_alert(instance="b"))).status_code == 200
    response = client.post("/alerts/pd", json=mixed)
    assert response.status_code == 200, response.text
    states = {v["title"]: (v["status"], v["severity"], v["team"]) for v in api.incidents.values()}
    assert states == {
        "HighErrorRate on a": ("open", "critical", "db"),
        "HighErrorRate on b": ("resolved", "warning", "none"),
    }


def test_syntax_errors_name_receiver_field_and_line(tmp_path: Path) -> None:
    broken = {**TRIGGER, "body": '{"a": 1,\n "b": {{ dedup_key | tojson }\n}'}
    with pytest.raises(ConfigError) as info:
        config_from(template_config(trigger=broken), tmp_path)
    (problem,) = info.value.problems
    assert problem.startswith("receivers[0].trigger.body: template error on line 2")


def test_a_body_that_is_not_json_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"receivers\[0\]: trigger.body: does not render to valid JSON"
    ):
        config_from(
            template_config(trigger={**TRIGGER, "body": '{"key": {{ dedup_key }}}'}), tmp_path
        )
    # the same text as plain text is fine
    plain = {**TRIGGER, "headers": {"Content-Type": "text/plain"}, "body": "key={{ dedup_key }}"}
    config_from(template_config(trigger=plain), tmp_path)


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ alert.__class__ }}",
        "{{ secrets.update({'x': 1}) }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_the_sandbox_refuses_python_internals(tmp_path: Path, expression: str) -> None:
    with pytest.raises(ConfigError):
        config_from(
            template_config(trigger={**TRIGGER, "body": '{"x": "' + expression + '"}'}), tmp_path
        )


def test_a_path_must_not_be_able_to_change_the_host(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from(
            template_config(trigger={**TRIGGER, "path": "{{ alert.labels.instance }}"}), tmp_path
        )
    assert info.value.problems[0].startswith(
        "receivers[0].trigger.path: <value> must start with '/'"
    )


def test_alert_content_is_data_not_template_or_url(make_client: Callable[..., TestClient]) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    by_instance = {**TRIGGER, "path": "/api/{{ alert.labels.instance | urlquote }}"}
    headed = {
        **by_instance,
        "headers": {**TRIGGER["headers"], "X-Instance": "{{ alert.labels.instance }}"},
    }
    client = make_client(record, template_config(trigger=headed))
    payload = make_payload(
        make_alert(instance="@evil.test/../x", annotations={"summary": "{{ 7*7 }}"}),
        make_alert(instance="a\r\nX-Injected: 1"),
    )
    body = client.post("/alerts/pd", json=payload).json()
    assert [a["result"] for a in body["alerts"]] == ["delivered", "rejected"]
    assert "line break" in body["alerts"][1]["detail"]
    (request,) = sent
    assert request.url.host == "incidents.test"
    assert request.url.raw_path == b"/api/%40evil.test%2F..%2Fx"
    assert json.loads(request.content)["title"] == "{{ 7*7 }}"  # not evaluated


def test_a_label_or_annotation_the_alert_lacks_renders_empty(
    make_client: Callable[..., TestClient],
) -> None:
    """As in Alertmanager's templates: a missing key is empty, never a dropped alert."""
    seen: list[dict[str, Any]] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(202)

    body = (
        '{"team": {{ alert.labels.team | tojson }}, "d": "{{ alert.annotations.description }}",'
        ' "or": {{ alert.labels.team | default("none") | tojson }},'
        ' "if": "{% if alert.annotations.runbook_url %}yes{% else %}no{% endif %}"}'
    )
    client = make_client(api, template_config(trigger={**TRIGGER, "body": body}))
    response = client.post("/alerts/pd", json=make_payload(make_alert(instance="a")))
    assert response.status_code == 200, response.json()
    assert seen == [{"team": "", "d": "", "or": "none", "if": "no"}]


def test_a_name_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    """A typo (`alertt`, `annotatons`) fails the config check, not an alert at 3 a.m."""
    typo = {**TRIGGER, "body": '{"t": {{ alert.annotatons.summary | tojson }}}'}
    with pytest.raises(ConfigError, match="annotatons"):
        config_from(template_config(trigger=typo), tmp_path)


def test_render_shows_the_exact_request_with_secrets_redacted(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(template_config()))
    payload = tmp_path / "p.json"
    payload.write_text(
        json.dumps(make_payload(make_alert(instance="a"), make_alert("resolved", instance="b/c")))
    )
    result = run_adapter("render", f"--config.file={config}", "--receiver=pd", str(payload))
    assert result.returncode == 0, result.stderr
    assert API_TOKEN not in result.stdout
    trigger, resolve = json.loads(result.stdout)["requests"]
    assert trigger["headers"]["Authorization"] == "Bearer <secret>"
    assert trigger["url"] == "https://incidents.test/api/incidents"
    assert trigger["body"]["title"] == "HighErrorRate on a"
    assert resolve["url"] == f"https://incidents.test/api/incidents/{resolve['dedup_key']}/resolve"


def test_render_exits_non_zero_on_a_rendering_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(
        yaml.safe_dump(
            # Valid JSON for the sample alert at load, not for an alert without `team`.
            template_config(
                trigger={
                    **TRIGGER,
                    "body": '{% if alert.labels.team %}{"t": 1}{% else %}no{% endif %}',
                }
            )
        )
    )
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps(make_payload()))
    result = run_adapter("render", f"--config.file={config}", "--receiver=pd", str(payload))
    assert result.returncode == 1 and "trigger.body" in result.stderr
