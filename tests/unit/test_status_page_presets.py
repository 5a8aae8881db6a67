"""status-page presets for PageCalm and Alert24's service status, against stateful stand-ins."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from adapter.config.loader import ConfigError
from adapter.integrations.status_page import StatusPage
from adapter.payload import parse_payload
from adapter.pipeline import Receiver, plan
from tests.builders import (
    COMPONENTS,
    EXAMPLES,
    PAGE,
    config_from,
    fixture,
    localised,
    make_alert,
    make_payload,
    status_page_config,
)
from tests.builders import STATUS_PAGE_KEY as API_KEY
from tests.harness.adapter import run_adapter
from tests.harness.system import require
from tests.standins.pagecalm import Alert24StatusAPI, PageCalmAPI
from tests.standins.statuspage import Incident, SimpleAPI

MakeClient = Callable[..., TestClient]
SERVICES = {"api": "svc-api", "db": "svc-db"}


def config(flavor: str, **receiver: Any) -> dict[str, Any]:
    return status_page_config(flavor, **receiver)


def pagecalm() -> PageCalmAPI:
    return PageCalmAPI(API_KEY, PAGE, list(COMPONENTS.values()))


def alert24() -> Alert24StatusAPI:
    return Alert24StatusAPI(API_KEY, list(SERVICES.values()))


def alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    annotations = {
        "summary": "Error rate above 5%",
        "description": "7.3% of requests to /checkout answer 5xx",
        "runbook_url": "https://runbooks.example.com/high-error-rate",
    }
    return make_alert(status, annotations=annotations, **labels)


def post(client: TestClient, *alerts: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/alerts/pd", json=make_payload(*alerts))
    assert response.status_code == 200, response.text
    return dict(response.json())


# -- PageCalm ------------------------------------------------------------------------------


def test_pagecalm_trigger_creates_one_draft_with_text_for_the_writer(
    make_client: MakeClient,
) -> None:
    api = pagecalm()
    client = make_client(api, config("pagecalm"))
    post(client, alert(instance="api-01", service="api", namespace="prod", severity="critical"))
    assert api.requests == [("POST", "/api/v1/incidents")]  # no listing: PageCalm has none
    [draft] = api.drafts()
    assert draft.title == "Error rate above 5%" and draft.impact == "critical"
    assert draft.component_ids == ["cmp_api"]
    raw = draft.raw_input
    assert isinstance(raw, str)
    assert raw.startswith(
        "HighErrorRate is firing on service api, namespace prod, instance api-01; "
        "severity critical.\n"
    )
    assert "Details: 7.3% of requests to /checkout answer 5xx" in raw
    assert "Runbook: https://runbooks.example.com/high-error-rate" in raw
    assert "Graph: http://prometheus.example:9090/graph?g0.expr=up" in raw
    assert "dedup_key" not in raw and "incident_adapter" not in raw  # the marker stays out
    assert api.tones[draft.id] == "professional" and api.ai_updates[draft.id]


def test_pagecalm_raw_input_reads_like_an_on_call_note(tmp_path: Path) -> None:
    doc = config("pagecalm")
    rx = Receiver.from_settings(
        config_from(doc, tmp_path).receivers[0], config_from(doc, tmp_path).delivery
    )
    at = datetime(2026, 11, 23, 11, 2, 3, tzinfo=UTC)  # startsAt is 10:00:00.123456789Z
    integration = StatusPage(rx.integration.settings, clock=lambda: at)  # type: ignore[arg-type]
    a = alert(instance="api-01", service="api", severity="warning")
    a["annotations"]["dashboard"] = "https://grafana.example/d/api"
    [delivery] = plan(rx, parse_payload(json.dumps(make_payload(a)).encode())).deliveries
    body = json.loads(integration.render(delivery.events[0]).body)
    assert body == {
        "generate_ai_update": True,
        "tone": "professional",
        "title": "Error rate above 5%",
        "status_page_id": PAGE,
        "severity": "minor",
        "affected_component_ids": ["cmp_api"],
        "raw_input": "\n".join(
            [
                "HighErrorRate is firing on service api, instance api-01; severity warning.",
                "Summary: Error rate above 5%",
                "Details: 7.3% of requests to /checkout answer 5xx",
                "Started 2026-11-23 10:00:00 UTC, firing for 1h2m2s.",
                "dashboard: https://grafana.example/d/api",
                "Runbook: https://runbooks.example.com/high-error-rate",
                "Graph: http://prometheus.example:9090/graph?g0.expr=up",
                "Labels: alertname=HighErrorRate, instance=api-01, service=api, severity=warning",
            ]
        ),
    }


def test_pagecalm_resends_create_no_second_draft_even_when_the_text_changes(
    make_client: MakeClient,
) -> None:
    api = pagecalm()
    client = make_client(api, config("pagecalm"))
    a, b = alert(instance="a", service="api"), alert(instance="b", service="db")
    post(client, a, b)
    a["annotations"]["description"] = "9.1% of requests to /checkout answer 5xx"  # {{ $value }}
    for _ in range(3):  # group_interval re-sends and Alertmanager's retries
        body = post(client, a, b)
        assert body["skipped"] == 2
    assert len(api.incidents) == 2 and len(api.drafts()) == 2


def test_pagecalm_resolve_sends_nothing_and_the_draft_stays_for_a_person(
    make_client: MakeClient,
) -> None:
    api = pagecalm()
    client = make_client(api, config("pagecalm"))
    post(client, alert(instance="a", service="api"))
    sent = len(api.requests)
    body = post(client, alert("resolved", instance="a", service="api"))
    assert (body["filtered"], body["delivered"]) == (1, 0)
    assert len(api.requests) == sent  # no way to find the draft: nothing is sent
    assert len(api.drafts()) == 1  # a person closes or discards it in PageCalm


def test_pagecalm_without_the_memo_every_resend_is_another_draft(make_client: MakeClient) -> None:
    """What the docs warn of: after memo_ttl, a restart or on another replica."""
    api = pagecalm()
    client = make_client(api, config("pagecalm", delivery={"memo_ttl": "0"}))
    for _ in range(2):
        post(client, alert(service="api"))
    assert len(api.drafts()) == 2


@pytest.mark.parametrize(
    ("flavor", "severity", "expected"),
    [
        ("pagecalm", "critical", "critical"),
        ("pagecalm", "error", "major"),
        ("pagecalm", "warning", "minor"),
        ("pagecalm", "info", "minor"),  # PageCalm has no "none"
        ("alert24-status", "critical", "down"),
        ("alert24-status", "error", "degraded"),  # only critical says "unavailable"
        ("alert24-status", "warning", "degraded"),
        ("alert24-status", "info", "degraded"),
    ],
)
def test_severity_in_the_vendors_words(
    flavor: str, severity: str, expected: str, make_client: MakeClient
) -> None:
    api = pagecalm() if flavor == "pagecalm" else alert24()
    client = make_client(api, config(flavor))
    post(client, alert(service="db", severity=severity, customer_facing="true"))
    if isinstance(api, PageCalmAPI):
        assert [i.impact for i in api.incidents.values()] == [expected]
    else:
        assert api.components["svc-db"] == expected


def test_pagecalm_values_are_overridable(make_client: MakeClient) -> None:
    api = pagecalm()
    receiver = {
        "impact": {"info": "major"},
        "create_fields": {"tone": "friendly", "generate_ai_update": None},  # null: not sent
    }
    client = make_client(api, config("pagecalm", **receiver))
    post(client, alert(service="api", severity="info"))
    [draft] = api.incidents.values()
    assert draft.impact == "major" and api.tones[draft.id] == "friendly"
    assert draft.id not in api.ai_updates


def test_pagecalm_rejects_raw_input_as_an_object(make_client: MakeClient) -> None:
    """The stand-in is strict: `raw_input_format: object` is for APIs that want one."""
    api = pagecalm()
    client = make_client(api, config("pagecalm", raw_input_format="object"))
    response = client.post("/alerts/pd", json=make_payload(alert(service="api")))
    assert response.status_code == 424 and "raw_input must be a non-empty text" in response.text


@pytest.mark.parametrize(
    ("receiver", "problem"),
    [
        ({"create_fields": {"tone": "angry"}}, "create_fields.tone: <value>; use one of"),
        ({"create_fields": {"generate_ai_update": "yes"}}, "use one of true, false"),
        ({"create_fields": {"title": "x"}}, "create_fields.title: the adapter sets it"),
        ({"publish": True}, "publish: 'pagecalm' makes every incident a draft"),
        ({"impact": {"info": "none"}}, "impact.info: <value> is not a value of flavor 'pagecalm'"),
        ({"page_id": ""}, "page_id: required, sent as 'status_page_id'"),
        ({"paths": {"unresolved": "incidents"}}, "paths.incident: must hold {id}"),
        (
            {"paths": {"unresolved": "incidents", "incident": "incidents/{id}"}},
            "fields.marker and fields.id: required with a listing",
        ),
        ({"paths": {"component": "components/{component_id}"}}, "use one of create or component"),
    ],
)
def test_pagecalm_config_errors(receiver: dict[str, Any], problem: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(config("pagecalm", **receiver), tmp_path)
    report = caught.value.report()
    assert problem in report, report
    assert API_KEY not in report


# -- Alert24 service status ----------------------------------------------------------------


def facing(status: str = "firing", **labels: str) -> dict[str, Any]:
    return alert(status, customer_facing="true", **labels)


def test_alert24_service_takes_the_worst_of_its_firing_alerts(make_client: MakeClient) -> None:
    api = alert24()
    client = make_client(api, config("alert24-status"))
    critical = facing(instance="api-01", service="api", severity="critical")
    warning = facing(instance="api-02", service="api", severity="warning")
    post(client, critical, warning)
    assert api.components == {"svc-api": "down", "svc-db": "operational"}
    assert api.requests == [("PUT", "/api/v1/services/svc-api")]  # one call, no incident
    post(client, {**critical, "status": "resolved"}, warning)
    assert api.components["svc-api"] == "degraded"  # the warning still fires
    post(client, {**critical, "status": "resolved"}, {**warning, "status": "resolved"})
    assert api.history["svc-api"] == ["operational", "down", "degraded", "operational"]


def test_alert24_only_customer_facing_alerts_reach_the_page(make_client: MakeClient) -> None:
    api = alert24()
    client = make_client(api, config("alert24-status"))
    body = post(
        client,
        alert(instance="a", service="api", severity="critical"),  # internal only
        alert(instance="b", service="api", severity="critical", customer_facing="false"),
        facing(instance="c", service="billing", severity="critical"),  # no such service
    )
    assert (body["filtered"], body["delivered"]) == (3, 0)
    assert api.requests == [] and set(api.components.values()) == {"operational"}


def test_alert24_status_map_is_overridable_and_checked(
    make_client: MakeClient, tmp_path: Path
) -> None:
    api = alert24()
    client = make_client(api, config("alert24-status", status={"error": "down"}))
    post(client, facing(service="db", severity="error"))
    assert api.components["svc-db"] == "down"
    with pytest.raises(ConfigError) as caught:
        config_from(config("alert24-status", status={"error": "major_outage"}), tmp_path)
    assert "status.error: <value> is not a value of flavor 'alert24-status'" in str(
        caught.value.report()
    )


def test_alert24_resend_and_transient_failures(make_client: MakeClient) -> None:
    api = alert24()
    client = make_client(api, config("alert24-status"))
    api.fail_next(2, 503)
    firing = facing(service="api", severity="critical")
    post(client, firing)
    assert api.components["svc-api"] == "down" and len(api.requests) == 3
    assert post(client, firing)["skipped"] == 1  # the memo: the same status again
    assert len(api.requests) == 3


def test_alert24_refusal_is_permanent_and_never_echoes_the_key(make_client: MakeClient) -> None:
    api = alert24()
    api.key = "another-key"
    client = make_client(api, config("alert24-status"))
    response = client.post("/alerts/pd", json=make_payload(facing(service="api")))
    assert response.status_code == 424 and API_KEY not in response.text


# -- simple: incidents opened by earlier releases are still found ---------------------------


def test_simple_finds_incidents_whose_marker_an_earlier_release_put_in_raw_input(
    make_client: MakeClient,
) -> None:
    api = SimpleAPI(API_KEY, PAGE, list(COMPONENTS.values()))
    doc = config("pagecalm")
    doc["receivers"][0] |= {"flavor": "simple", "url": "https://status.test/api/v1"}
    client = make_client(api, doc)
    old = fixture("am025_firing_two.json")["alerts"][0]
    legacy = {"incident_adapter": {"dedup_key": old["fingerprint"], "component": "cmp_api"}}
    api.incidents["old1"] = Incident("old1", "Error", "open", "critical", ["cmp_api"], True)
    api.incidents["old1"].raw_input = legacy
    post(client, {**old, "status": "resolved", "endsAt": "2026-11-23T16:07:55Z"})
    assert not api.incidents["old1"].open and len(api.incidents) == 1


# -- the docs show what the code does -------------------------------------------------------

DOCS = Path(__file__).parents[2] / "docs"


def blocks(doc: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / doc).read_text(), re.S)


@pytest.mark.parametrize(
    ("doc", "example", "payload"),
    [
        ("pagecalm.md", "pagecalm.yml", "payload.json"),
        ("alert24-status-page.md", "alert24-status-page.yml", "alert24-status-page.payload.json"),
    ],
)
def test_the_docs_show_the_example_and_its_real_render_output(
    doc: str, example: str, payload: str, tmp_path: Path
) -> None:
    assert (EXAMPLES / example).read_text().rstrip() == blocks(doc, "yaml")[0].rstrip()
    config = localised(EXAMPLES / example, tmp_path)
    result = run_adapter("render", f"--config.file={config}", str(EXAMPLES / payload))
    assert result.returncode == 0, result.stderr
    shown, real = json.loads(blocks(doc, "json")[0]), json.loads(result.stdout)
    for out in (shown, real):  # "firing for" counts to the moment render ran
        for request in out["requests"]:
            if isinstance(request["body"].get("raw_input"), str):
                request["body"]["raw_input"] = re.sub(
                    r"firing for \w+", "firing for ...", request["body"]["raw_input"]
                )
    assert shown == real


@pytest.mark.parametrize("doc", ["pagecalm.md", "alert24-status-page.md"])
def test_the_docs_alertmanager_config_passes_amtool(doc: str, tmp_path: Path) -> None:
    amtool = require("amtool", "prometheus-alertmanager")
    [am_config] = [b for b in blocks(doc, "yaml") if b.startswith("route:")]
    (tmp_path / "alertmanager.yml").write_text(am_config)
    result = subprocess.run(
        [amtool, "check-config", str(tmp_path / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'customer_facing="true"' in am_config
