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
from tests.process import AdapterProcess
from tests.standin import EventsAPI, Server
from tests.standin_alert24 import BASE, IncidentsAPI
from tests.test_alertmanager import Alertmanager, wait_for

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


# -- end to end: a real Alertmanager 0.25 -> the adapter process -> the two stand-ins ------------


def reopened(events: list[dict[str, Any]]) -> list[str]:
    """Keys triggered again after their resolve: incidents a user would see opened twice."""
    resolved: set[str] = set()
    again = []
    for event in events:
        key = event["dedup_key"]
        if event["event_action"] == "resolve":
            resolved.add(key)
        elif key in resolved:
            again.append(key)
    return again


@pytest.mark.alertmanager
def test_alertmanager_fires_resends_and_resolves_through_both_alert24_apis(tmp_path: Path) -> None:
    """Two alerts fire, AM re-sends, one resolves while the other fires, then the rest:
    every incident opened once, re-sends were updates, and nothing is left open."""
    incidents, events = IncidentsAPI(API_KEY), EventsAPI("integration_key", "events-v2/alert24")
    with (
        Server(incidents.app()) as incidents_server,
        Server(events.app("/api/v1/incidents")) as events_server,
    ):
        (tmp_path / "tokens").write_text(TOKEN + "\n")
        doc = alert24_config(name="alert24-incidents", url=incidents_server.url + BASE)
        doc["receivers"] += alert24_events_config(
            name="alert24-events", url=events_server.url + BASE
        )["receivers"]
        doc["auth"] = {"bearer_tokens_file": str(tmp_path / "tokens")}
        # memo off: each AM re-send reaches the APIs, so updates (not second incidents) show
        doc["delivery"] = {"timeout": "5s", "attempt_timeout": "1s", "memo_ttl": "0s"}
        adapter = AdapterProcess(tmp_path, doc, "--log.level=debug")
        token_file = tmp_path / "am-token"
        token_file.write_text(TOKEN)
        hook = f"http://127.0.0.1:{adapter.port}/alerts/"
        am = Alertmanager(tmp_path, hook + "alert24-incidents", token_file)
        am_config = yaml.safe_load(am.config.read_text())
        hooks = am_config["receivers"][0]["webhook_configs"]
        hooks.append({**hooks[0], "url": hook + "alert24-events"})
        am.config.write_text(yaml.safe_dump(am_config))
        adapter.start()
        try:
            with am:
                one = {"alertname": "HighErrorRate", "instance": "api-01", "severity": "critical"}
                two = {"alertname": "HighErrorRate", "instance": "api-02", "severity": "warning"}
                am.alert(**one, service="checkout")
                am.alert(**two)
                aliases = {"HighErrorRate:api-01", "HighErrorRate:api-02"}
                wait_for(lambda: incidents.open_aliases() == aliases, what="two incidents")
                wait_for(lambda: len(events.open_keys()) == 2, what="two events incidents")
                wait_for(
                    lambda: all(i.updates >= 1 for i in incidents.incidents),
                    20,
                    "a re-send of the group to update both incidents",
                )
                assert len(incidents.incidents) == 2
                assert all(i.triggers >= 2 for i in events.incidents.values())
                by_alias = {i.alias: i for i in incidents.incidents}
                assert by_alias["HighErrorRate:api-01"].severity == "critical"
                assert by_alias["HighErrorRate:api-02"].severity == "high"
                assert by_alias["HighErrorRate:api-01"].title == "HighErrorRate on api-01"
                sources = {i.payload["source"] for i in events.incidents.values()}
                assert sources == {"checkout", "prometheus"}

                am.alert(resolve=True, **one, service="checkout")
                wait_for(
                    lambda: incidents.open_aliases() == {"HighErrorRate:api-02"}, what="a resolve"
                )
                wait_for(lambda: len(events.open_keys()) == 1, what="an events resolve")

                am.alert(resolve=True, **two)
                wait_for(lambda: not incidents.open_aliases(), what="the last resolve")
                wait_for(lambda: not events.open_keys(), what="the last events resolve")
        finally:
            adapter.stop()
            logs = adapter.log.read_text()
            assert API_KEY not in logs and TOKEN not in logs
    assert [incidents.opened(alias) for alias in sorted(aliases)] == [1, 1]
    assert len(events.incidents) == 2 and reopened(events.events) == []
