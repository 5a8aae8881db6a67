from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from adapter.config.loader import ConfigError
from adapter.payload import parse_payload
from adapter.pipeline import Receiver, plan
from tests.builders import OPSGENIE_KEY as API_KEY
from tests.builders import alias_config, config_from, make_alert, make_payload
from tests.standins.events import AlertsAPI


def bodies(
    tmp_path: Path, payload: dict[str, Any], **receiver: Any
) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
    config = config_from(alias_config(**receiver), tmp_path)
    rx = Receiver.from_settings(config.receivers[0], config.delivery)
    out = []
    for d in plan(rx, parse_payload(json.dumps(payload).encode())).deliveries:
        assert d.request is not None
        out.append(
            (d.request.method, d.request.url, json.loads(d.request.body), dict(d.request.headers))
        )
    return out


def test_create_carries_the_documented_fields(tmp_path: Path) -> None:
    alert = make_alert(
        instance="api-01",
        severity="critical",
        service="api",
        annotations={
            "summary": "S" * 200,
            "description": "Errors are up.",
            "runbook_url": "https://rb/x",
        },
    )
    [(method, url, body, headers)] = bodies(tmp_path, make_payload(alert), tags=["prometheus"])
    assert (method, url) == ("POST", "https://api.opsgenie.test/v2/alerts")
    assert headers["Authorization"] == f"GenieKey {API_KEY}"
    assert len(body["message"]) == 130 and body["message"].endswith("…")
    assert body["alias"] == "1d5a81814add1ad0"
    assert body["description"].startswith("Errors are up.\n\nRunbook: https://rb/x")
    assert body["priority"] == "P1"
    assert body["source"] == "alertmanager.example:9093"
    assert body["tags"] == ["prometheus", "alertname:HighErrorRate", "severity:critical"]
    truncated = body["details"].pop("truncated")  # the 200-character summary was cut
    assert "message (200 characters)" in truncated
    assert body["details"] == alert["labels"]
    assert body["entity"] == "api-01"


def test_priority_from_severity_with_default_and_overrides(tmp_path: Path) -> None:
    payload = make_payload(
        make_alert(instance="a", severity="warning"),
        make_alert(instance="b", severity="warning", service="payments"),
        make_alert(instance="c", severity="info"),
    )
    priority = {
        "map": {"warning": "P2"},
        "default": "P4",
        "overrides": [{"matchers": ['service="payments"'], "priority": "P1"}],
    }
    got = [b["priority"] for _, _, b, _ in bodies(tmp_path, payload, priority=priority)]
    assert got == ["P2", "P1", "P4"]  # info is not in this map: default


def test_close_by_alias_with_the_key_quoted_in_the_path(tmp_path: Path) -> None:
    resolved = make_alert("resolved", instance="a/b c")
    [(method, url, body, _)] = bodies(
        tmp_path,
        make_payload(resolved),
        dedup_key={"strategy": "labels", "labels": ["alertname", "instance"]},
    )
    assert method == "POST"
    assert (
        url
        == "https://api.opsgenie.test/v2/alerts/alertname%3DHighErrorRate%2Cinstance%3Da%2Fb%20c/close?identifierType=alias"
    )
    assert body["note"]


def test_a_close_holds_only_the_close_alert_fields_within_their_limits(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    """A 150-character source is cut to 100 on the close too, and no `details` note is
    added: Opsgenie's close takes only user, source and note."""
    long_source = "s" * 150
    resolved = make_payload(make_alert("resolved", instance="a"))
    [(_, url, body, _)] = bodies(tmp_path, resolved, source=long_source)
    assert url.endswith("/close?identifierType=alias")
    assert body == {"source": "s" * 99 + "…", "note": "Resolved in Alertmanager"}
    api = AlertsAPI(API_KEY)  # refuses a close with a field its doc does not name
    client = make_client(api, alias_config(source=long_source))
    assert client.post("/alerts/pd", json=make_payload(make_alert(instance="a"))).status_code == 200
    response = client.post("/alerts/pd", json=resolved)
    assert response.status_code == 200, response.text
    assert api.open_aliases() == set()


def test_a_create_for_an_open_alias_only_counts_up(make_client: Callable[..., TestClient]) -> None:
    """Opsgenie's dedup: a re-fire with a new summary changes no field of the open alert."""
    api = AlertsAPI(API_KEY)
    client = make_client(api, alias_config())
    first = make_alert(instance="a", annotations={"summary": "Error rate above 5%"})
    later = {**first, "annotations": {"summary": "Error rate above 20%"}}
    for sent in (first, later):  # a new body: not the memo's to skip
        assert client.post("/alerts/pd", json=make_payload(sent)).status_code == 200
    [alert] = api.alerts.values()
    assert alert.count == 2 and alert.message == "Error rate above 5%"
    assert alert.body["message"] == "Error rate above 5%"


def test_aliases_hash_only_past_512(tmp_path: Path) -> None:
    rule = {"strategy": "labels", "labels": ["alertname", "instance"]}
    [(_, _, body, _)] = bodies(
        tmp_path, make_payload(make_alert(instance="x" * 400)), dedup_key=rule
    )
    assert len(body["alias"]) > 255 and body["alias"].endswith(
        "x" * 400
    )  # a PagerDuty key would hash here
    [(_, _, body, _)] = bodies(
        tmp_path, make_payload(make_alert(instance="x" * 600)), dedup_key=rule
    )
    assert len(body["alias"]) == 64


def test_config_errors_name_the_path(tmp_path: Path) -> None:
    # "urgent", not "high": a word some schema offers as a choice (Alert24's severities) is shown.
    with pytest.raises(ConfigError) as info:
        config_from(
            alias_config(priority={"map": {"critical": "P9"}, "default": "urgent"}), tmp_path
        )
    assert info.value.problems == [
        "receivers[0].priority.map.critical: <value> is not a priority; use one of P1, P2, P3, P4, P5",
        "receivers[0].priority.default: <value> is not a priority; use one of P1, P2, P3, P4, P5",
    ]


def test_against_a_stateful_fake(make_client: Callable[..., TestClient]) -> None:
    """Mixed group, re-send, then resolve: one alert per alias, open until closed."""
    api = AlertsAPI(API_KEY)
    client = make_client(api, alias_config())
    mixed = make_payload(
        make_alert(instance="a", severity="critical"), make_alert("resolved", instance="b")
    )
    first = make_payload(make_alert(instance="b"))
    assert client.post("/alerts/pd", json=first).status_code == 200
    assert len(api.open_aliases()) == 1
    assert client.post("/alerts/pd", json=mixed).status_code == 200
    resend = client.post("/alerts/pd", json=mixed)  # AM re-sends the group: the memo skips it
    assert resend.status_code == 200 and resend.json()["skipped"] == 2
    open_now = api.open_aliases()
    assert len(open_now) == 1 and len(api.alerts) == 2
    (alias,) = open_now
    assert api.alerts[alias].count == 1 and api.alerts[alias].priority == "P1"
    no_memo = make_client(api, alias_config(delivery={"memo_ttl": "0"}))
    assert no_memo.post("/alerts/pd", json=mixed).json()["skipped"] == 0
    assert api.alerts[alias].count == 2  # without the memo, Opsgenie deduplicates by alias
    resolve_all = make_payload(*[{**a, "status": "resolved"} for a in mixed["alerts"]])
    assert client.post("/alerts/pd", json=resolve_all).status_code == 200
    assert api.open_aliases() == set()


def test_wrong_key_is_a_permanent_failure(make_client: Callable[..., TestClient]) -> None:
    client = make_client(AlertsAPI("another-key"), alias_config())
    response = client.post("/alerts/pd", json=make_payload())
    assert response.status_code == 424
    assert API_KEY not in response.text
