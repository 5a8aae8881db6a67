from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapter.payload import parse_payload
from adapter.pipeline import Receiver, plan
from tests.builders import ROUTING_KEY, config_from, make_alert, make_payload, pd_config


def plan_for(
    tmp_path: Path, payload: dict[str, Any], **receiver: Any
) -> list[tuple[dict[str, Any], int]]:
    config = config_from(pd_config(**receiver), tmp_path)
    rx = Receiver.from_settings(config.receivers[0], config.delivery)
    the_plan = plan(rx, parse_payload(json.dumps(payload).encode()))
    return [(json.loads(d.request.body), len(d.events)) for d in the_plan.deliveries]


def test_trigger_carries_the_documented_fields(tmp_path: Path) -> None:
    alert = make_alert(
        instance="api-01",
        severity="critical",
        service="api",
        annotations={"summary": "Error rate above 5%", "runbook_url": "https://runbooks.example/x"},
    )
    [(body, _)] = plan_for(tmp_path, make_payload(alert))
    assert body["routing_key"] == ROUTING_KEY
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "1d5a81814add1ad0"  # DESIGN.md's vector: these labels
    payload = body["payload"]
    assert payload["summary"] == "Error rate above 5%"
    assert payload["severity"] == "critical"
    assert payload["source"] == "api-01"
    assert payload["timestamp"] == alert["startsAt"]
    assert payload["custom_details"] == {
        "labels": alert["labels"],
        "annotations": alert["annotations"],
    }
    assert body["links"] == [
        {"href": alert["generatorURL"], "text": "Source"},
        {"href": "https://runbooks.example/x", "text": "Runbook"},
    ]
    assert body["client"] == "Alertmanager"
    assert body["client_url"] == "http://alertmanager.example:9093"


def test_summary_falls_back_and_is_cut_to_1024(tmp_path: Path) -> None:
    [(body, _)] = plan_for(tmp_path, make_payload(make_alert(annotations={}, job="node")))
    assert body["payload"]["summary"] == "HighErrorRate"
    assert body["payload"]["source"] == "node"  # no instance: job
    long = make_alert(annotations={"summary": "x" * 5000})
    [(body, _)] = plan_for(tmp_path, make_payload(long))
    assert len(body["payload"]["summary"]) == 1024 and body["payload"]["summary"].endswith("…")
    assert body["payload"]["source"] == "alertmanager.example:9093"  # neither: externalURL host


def test_resolve_is_minimal_and_keeps_the_key(tmp_path: Path) -> None:
    firing = make_alert(instance="a", severity="critical")
    resolved = {**firing, "status": "resolved", "annotations": {"summary": "changed"}}
    [(trigger, _)] = plan_for(tmp_path, make_payload(firing))
    [(resolve, _)] = plan_for(tmp_path, make_payload(resolved))
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }


def test_a_firing_group_with_a_resolved_alert_splits_by_each_alerts_status(tmp_path: Path) -> None:
    payload = make_payload(
        make_alert(instance="a", severity="critical"),
        make_alert("resolved", instance="b", severity="warning"),
    )
    assert payload["status"] == "firing"
    actions = [(b["event_action"], b["dedup_key"]) for b, _ in plan_for(tmp_path, payload)]
    assert [a for a, _ in actions] == ["trigger", "resolve"]
    assert actions[0][1] != actions[1][1]


def test_integration_key_field_for_alert24_style_apis(tmp_path: Path) -> None:
    [(body, _)] = plan_for(tmp_path, make_payload(), routing_key_field="integration_key")
    assert body["integration_key"] == ROUTING_KEY and "routing_key" not in body


def test_unknown_severity_never_reaches_the_upstream(tmp_path: Path) -> None:
    [(body, _)] = plan_for(tmp_path, make_payload(make_alert(severity="disaster")))
    assert body["payload"]["severity"] == "warning"


def test_receiver_matchers_filter_alerts(tmp_path: Path) -> None:
    payload = make_payload(
        make_alert(instance="a", customer_facing="true"), make_alert(instance="b")
    )
    bodies = plan_for(tmp_path, payload, matchers=['customer_facing="true"'])
    assert [b["payload"]["source"] for b, _ in bodies] == ["a"]


def test_alerts_sharing_a_key_make_one_incident_open_while_any_fires(tmp_path: Path) -> None:
    """strategy: group -- one event per key: trigger at the worst firing severity, else resolve."""
    payload = make_payload(
        make_alert(instance="a", severity="warning"),
        make_alert("resolved", instance="b", severity="critical"),
        make_alert(instance="c", severity="error"),
    )
    [(body, covered)] = plan_for(tmp_path, payload, dedup_key={"strategy": "group"})
    assert body["event_action"] == "trigger" and body["payload"]["severity"] == "error"
    assert covered == 3
    resolved = make_payload(*[{**a, "status": "resolved"} for a in payload["alerts"]])
    [(body, covered)] = plan_for(tmp_path, resolved, dedup_key={"strategy": "group"})
    assert body["event_action"] == "resolve" and covered == 3
