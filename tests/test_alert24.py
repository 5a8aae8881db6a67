"""Alert24: its events API (events-v2, flavor alert24) and its incident API by alias."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from adapter.config import ConfigError, load_config
from adapter.payload import parse_payload
from adapter.pipeline import Receiver, plan
from tests.conftest import TOKEN, config_from, make_alert, make_payload
from tests.standin_alert24 import IncidentsAPI

API_KEY = "ak_live_ALERT24-KEY-0123456789-SECRET"
ALIAS = "{{ labels.alertname }}:{{ labels.instance }}"


def alert24_config(**receiver: Any) -> dict[str, Any]:
    """The incident API by alias, keyed as the hand-written Alert24 example keyed it."""
    return {
        "auth": {"bearer_tokens": [TOKEN]},
        "delivery": {"timeout": "2s", "attempt_timeout": "500ms", "max_attempts": 4},
        "receivers": [
            {
                "name": "pd",
                "type": "alert24",
                "api_key": API_KEY,
                "dedup_key": {"strategy": "template", "template": ALIAS},
                **receiver,
            }
        ],
    }


def alert24_events_config(**receiver: Any) -> dict[str, Any]:
    doc = alert24_config(**receiver)
    doc["receivers"][0] = {
        "name": "pd",
        "type": "events-v2",
        "flavor": "alert24",
        "routing_key": API_KEY,
        **receiver,
    }
    return doc


def requests(
    tmp_path: Path, doc: dict[str, Any], *alerts: dict[str, Any]
) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
    config = config_from(doc, tmp_path)
    rx = Receiver.from_settings(config.receivers[0], config.delivery)
    payload = parse_payload(json.dumps(make_payload(*alerts)).encode())
    out = []
    for d in plan(rx, payload).deliveries:
        assert d.request is not None
        out.append((d.request.method, d.request.url, json.loads(d.request.body), d.request.headers))
    return out


RUNBOOK = "https://runbooks.example.com/high-error-rate"


# -- the events API --------------------------------------------------------------------------


def test_events_flavor_sends_integration_key_to_alert24_with_service_as_source(
    tmp_path: Path,
) -> None:
    alert = make_alert(
        instance="api-01",
        service="checkout",
        severity="critical",
        annotations={"summary": "Errors up", "runbook_url": RUNBOOK},
    )
    ((method, url, body, _),) = requests(tmp_path, alert24_events_config(), alert)
    assert (method, url) == ("POST", "https://app.alert24.io/api/v1/incidents")
    assert body["integration_key"] == API_KEY and "routing_key" not in body
    assert body["event_action"] == "trigger"
    assert body["payload"]["source"] == "checkout"
    assert body["payload"]["summary"] == "Errors up"
    assert body["payload"]["severity"] == "critical"
    assert body["links"] == [{"href": RUNBOOK, "text": "Runbook"}]


def test_events_flavor_source_is_prometheus_without_a_service_label(tmp_path: Path) -> None:
    alert = make_alert(instance="api-01", annotations={"summary": "s"})
    ((_, _, body, _),) = requests(tmp_path, alert24_events_config(), alert)
    assert body["payload"]["source"] == "prometheus"
    assert "links" not in body  # no runbook_url; the generatorURL is not one of its links


def test_events_flavor_every_default_can_be_overridden(tmp_path: Path) -> None:
    doc = alert24_events_config(
        url="https://app.alert24.net/api/v1/incidents",
        routing_key_field="routing_key",
        source_labels=["instance"],
        source="prom-eu",
        links=["source", "runbook"],
    )
    alert = make_alert(instance="api-01", annotations={"summary": "s", "runbook_url": RUNBOOK})
    ((_, url, body, _),) = requests(tmp_path, doc, alert)
    assert url == "https://app.alert24.net/api/v1/incidents"
    assert body["routing_key"] == API_KEY
    assert body["payload"]["source"] == "api-01"
    assert [link["text"] for link in body["links"]] == ["Source", "Runbook"]
    ((_, _, other, _),) = requests(tmp_path, doc, make_alert(annotations={"summary": "s"}))
    assert other["payload"]["source"] == "prom-eu"


def test_pagerduty_stays_the_default_flavor(tmp_path: Path) -> None:
    doc = alert24_events_config()
    del doc["receivers"][0]["flavor"]
    ((_, url, body, _),) = requests(tmp_path, doc, make_alert(instance="api-01"))
    assert url == "https://events.pagerduty.com/v2/enqueue"
    assert body["routing_key"] == API_KEY and body["payload"]["source"] == "api-01"


# -- the incident API by alias -----------------------------------------------------------------


def test_create_carries_title_description_severity_alias_source_labels(tmp_path: Path) -> None:
    alert = make_alert(
        instance="api-01.prod",
        severity="warning",
        annotations={
            "summary": "Error rate above 5%",
            "description": "5xx at 7%.",
            "runbook_url": RUNBOOK,
        },
    )
    ((method, url, body, headers),) = requests(tmp_path, alert24_config(), alert)
    assert (method, url) == ("POST", "https://app.alert24.io/api/v1/incidents")
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert body == {
        "title": "Error rate above 5%",
        "description": f"5xx at 7%.\n\nRunbook: {RUNBOOK}",
        "severity": "high",
        "alias": "HighErrorRate:api-01.prod",
        "source": "prometheus",
        "labels": {"alertname": "HighErrorRate", "instance": "api-01.prod", "severity": "warning"},
    }


@pytest.mark.parametrize(
    ("annotations", "title", "description"),
    [
        ({"runbook_url": RUNBOOK}, "HighErrorRate", f"Runbook: {RUNBOOK}"),
        ({"summary": "S", "description": "D"}, "S", "D"),
        ({}, "HighErrorRate", ""),
    ],
)
def test_missing_annotations_are_left_out_not_an_error(
    annotations: dict[str, str], title: str, description: str, tmp_path: Path
) -> None:
    """The template users wrote failed for good on an alert without a description; this does not."""
    alert = make_alert(instance="a", annotations=annotations)
    ((_, _, body, _),) = requests(tmp_path, alert24_config(), alert)
    assert (body["title"], body["description"]) == (title, description)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", "critical"), ("warning", "high"), ("info", "low"), ("error", "medium")],
)
def test_severity_maps_to_alert24s_levels(severity: str, expected: str, tmp_path: Path) -> None:
    ((_, _, body, _),) = requests(tmp_path, alert24_config(), make_alert(severity=severity))
    assert body["severity"] == expected


def test_severity_map_and_resolve_endpoint_are_configurable(tmp_path: Path) -> None:
    doc = alert24_config(
        incident_severity={"map": {"warning": "medium"}, "default": "low"},
        resolve_method="PATCH",
        resolve_path="/alias/{alias}?status=resolved",
    )
    warning = make_alert(instance="a/b", severity="warning")
    critical = make_alert(instance="c", severity="critical")
    (_, _, first, _), (_, _, second, _) = requests(tmp_path, doc, warning, critical)
    assert (first["severity"], second["severity"]) == ("medium", "low")
    resolved = make_alert("resolved", instance="a/b")
    ((method, url, body, _),) = requests(tmp_path, doc, resolved)
    assert (method, url) == (
        "PATCH",
        "https://app.alert24.io/api/v1/incidents/alias/HighErrorRate%3Aa%2Fb?status=resolved",
    )
    assert body == {"source": "prometheus"}


def test_a_resolve_path_without_the_alias_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(alert24_config(resolve_path="/resolve")))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.problems[0].startswith("receivers[0].resolve_path: ")


def test_refire_updates_the_open_incident_and_resolve_closes_it(
    make_client: Callable[..., TestClient],
) -> None:
    """Against the stateful stand-in: one incident per alias, re-sends counted as updates."""
    api = IncidentsAPI(API_KEY)
    client = make_client(api, alert24_config(delivery={"memo_ttl": "0s"}))
    one, two = make_alert(instance="api-01"), make_alert(instance="api-02")
    assert client.post("/alerts/pd", json=make_payload(one, two)).status_code == 200
    assert client.post("/alerts/pd", json=make_payload(one, two)).status_code == 200
    assert api.open_aliases() == {"HighErrorRate:api-01", "HighErrorRate:api-02"}
    assert [(i.alias, i.updates) for i in api.incidents] == [
        ("HighErrorRate:api-01", 1),
        ("HighErrorRate:api-02", 1),
    ]
    gone = make_alert("resolved", instance="api-01")
    assert client.post("/alerts/pd", json=make_payload(gone, two)).status_code == 200
    assert api.open_aliases() == {"HighErrorRate:api-02"}
    assert client.post("/alerts/pd", json=make_payload(gone)).status_code == 200  # again: harmless
    assert api.opened("HighErrorRate:api-01") == 1


def test_a_wrong_key_is_refused_for_good_and_never_printed(
    make_client: Callable[..., TestClient],
) -> None:
    api = IncidentsAPI("another-key")
    response = make_client(api, alert24_config()).post("/alerts/pd", json=make_payload())
    assert response.status_code == 424
    assert API_KEY not in response.text and api.incidents == []
