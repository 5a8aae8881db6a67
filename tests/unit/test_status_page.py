"""status-page: against stateful fakes of Atlassian Statuspage v1 and of a simpler API."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from adapter.app import create_app
from adapter.config.loader import ConfigError
from adapter.events import UpstreamRequest
from adapter.integrations.status_page import LISTING_PAGES, StatusPage
from adapter.payload import fingerprint, parse_payload
from adapter.pipeline import Receiver, plan
from tests.builders import (
    PAGE,
    TOKEN,
    config_from,
    fixture,
    make_alert,
    make_payload,
    status_page_config,
)
from tests.builders import STATUS_PAGE_KEY as API_KEY
from tests.builders import status_page_standin as fake
from tests.harness.adapter import run_adapter
from tests.harness.server import Server
from tests.standins.statuspage import Incident, SimpleAPI, StatuspageAPI

MakeClient = Callable[..., TestClient]
FLAVORS = ("statuspage", "simple")


def alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    return make_alert(status, annotations={"summary": "Error rate above 5%"}, **labels)


def post(client: TestClient, *alerts: dict[str, Any], **extra: Any) -> httpx.Response:
    return client.post("/alerts/pd", json=make_payload(*alerts, **extra))


def marker(api: StatuspageAPI | SimpleAPI, incident_id: str) -> dict[str, Any]:
    incident = api.incidents[incident_id]
    return dict(incident.metadata["incident_adapter"])  # simple: its own field, too


def raw_input(api: StatuspageAPI | SimpleAPI, incident_id: str) -> dict[str, Any]:
    incident = api.incidents[incident_id]
    return dict(
        incident.metadata["raw_input"] if isinstance(api, StatuspageAPI) else incident.raw_input
    )


# -- the flow, against the fakes --------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_trigger_opens_an_incident_and_sets_the_component(
    flavor: str, make_client: MakeClient
) -> None:
    api = fake(flavor)
    client = make_client(api, status_page_config(flavor))
    response = post(client, alert(instance="api-01", service="api", severity="critical"))
    assert response.status_code == 200, response.text
    assert response.json()["delivered"] == 1
    assert api.components == {"cmp_api": "major_outage", "cmp_db": "operational"}
    [incident] = api.open_incidents()
    assert incident.title == "Error rate above 5%"
    assert incident.impact == "critical" and incident.component_ids == ["cmp_api"]
    assert marker(api, incident.id)["status"] == "major_outage"
    raw = raw_input(api, incident.id)
    assert raw["alertname"] == "HighErrorRate" and raw["summary"] == "Error rate above 5%"
    assert raw["labels"]["instance"] == "api-01" and raw["firing_for"]
    if flavor == "simple":
        assert incident.draft  # publish defaults to false: a draft for a human
    else:
        assert incident.notified  # Statuspage has no drafts: publish: true is required


def test_publish_true_creates_a_live_incident(make_client: MakeClient) -> None:
    api = fake("simple")
    client = make_client(api, status_page_config("simple", publish=True))
    post(client, alert(service="api", severity="warning"))
    [incident] = api.open_incidents()
    assert not incident.draft and incident.impact == "minor"
    assert api.components["cmp_api"] == "degraded_performance"


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("order", list(itertools.permutations(["warning", "critical", "info"])))
def test_a_component_takes_the_worst_status_of_its_firing_alerts(
    flavor: str, order: tuple[str, ...], make_client: MakeClient
) -> None:
    api = fake(flavor)
    client = make_client(api, status_page_config(flavor))
    alerts = [alert(instance=f"api-{i}", service="api", severity=s) for i, s in enumerate(order)]
    response = post(client, *alerts, alert(instance="db-1", service="db", severity="warning"))
    assert response.status_code == 200 and response.json()["delivered"] == 4
    assert api.components == {"cmp_api": "major_outage", "cmp_db": "degraded_performance"}
    assert len(api.open_incidents()) == 4  # one per alert (dedup key)
    patches = [path for method, path in api.requests if method == "PATCH"]
    assert len(patches) == len(set(patches)) == 2  # one update per component: no last-write race


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_group_mixing_firing_and_resolved_alerts(flavor: str, make_client: MakeClient) -> None:
    """Real Alertmanager 0.25 payloads: two fire, one resolves, then the other."""
    api = fake(flavor)
    client = make_client(api, status_page_config(flavor))
    send = lambda name: client.post("/alerts/pd", json=fixture(name))  # noqa: E731

    assert send("am025_firing_two.json").status_code == 200
    assert api.components["cmp_api"] == "major_outage"  # api-01 critical, api-02 warning
    by_key = {marker(api, i.id)["dedup_key"]: i for i in api.open_incidents()}
    assert set(by_key) == {"1d5a81814add1ad0", "f3c1afc457b07126"}

    response = send("am025_mixed.json")  # api-01 resolved, api-02 still firing
    assert response.status_code == 200, response.text
    assert [a["result"] for a in response.json()["alerts"]] == ["delivered", "delivered"]
    assert not by_key["1d5a81814add1ad0"].open and by_key["f3c1afc457b07126"].open
    assert api.components["cmp_api"] == "degraded_performance"  # the worst still firing

    assert send("am025_resolved.json").status_code == 200  # api-02 resolved too
    assert api.open_incidents() == []
    assert api.components["cmp_api"] == "operational"
    assert len(api.incidents) == 2  # nothing was opened twice


@pytest.mark.parametrize("flavor", FLAVORS)
def test_resend_of_the_same_group_opens_no_second_incident(
    flavor: str, make_client: MakeClient
) -> None:
    api = fake(flavor)
    client = make_client(api, status_page_config(flavor))
    alerts = [
        alert(instance="a", service="api", severity="error"),
        alert(instance="b", service="db"),
    ]
    for _ in range(3):  # group_interval re-sends and retries post the whole group again
        assert post(client, *alerts).status_code == 200
    assert len(api.incidents) == 2 and len(api.open_incidents()) == 2
    assert [m for m, _ in api.requests].count("POST") == 2


def test_a_failed_step_is_replayed_by_the_resend_without_duplicates(
    make_client: MakeClient,
) -> None:
    api = fake("statuspage")
    client = make_client(api, status_page_config())
    api.fail_next(4, 503, method="PATCH")  # the incident is created, the component update fails
    firing = alert(service="api", severity="error")
    response = post(client, firing)
    assert response.status_code == 503 and response.json()["failed"] == 1
    assert len(api.incidents) == 1
    assert post(client, firing).status_code == 200  # Alertmanager's retry
    assert len(api.incidents) == 1 and api.components["cmp_api"] == "partial_outage"


def test_alerts_without_a_component_are_filtered_not_failed(make_client: MakeClient) -> None:
    api = fake("statuspage")
    client = make_client(api, status_page_config())
    response = post(
        client,
        alert(instance="a", service="api"),
        alert(instance="b", service="billing"),  # no such component
        alert(instance="c"),  # no service label at all
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["delivered"], body["filtered"], body["failed"]) == (1, 2, 0)
    assert [a["result"] for a in body["alerts"]] == ["delivered", "filtered", "filtered"]
    assert len(api.incidents) == 1


def test_another_keys_open_incident_holds_the_component(make_client: MakeClient) -> None:
    """Two Alertmanager groups on one component: neither may mark it operational alone."""
    api = fake("statuspage")
    client = make_client(api, status_page_config())
    a = alert(instance="a", service="api", severity="critical")
    b = {
        **alert(instance="b", service="api", severity="warning"),
        "labels": {
            "alertname": "HighLatency",
            "instance": "b",
            "service": "api",
            "severity": "warning",
        },
    }
    latency = {"groupKey": '{}:{alertname="HighLatency"}'}
    post(client, a)
    post(client, b, **latency)
    assert api.components["cmp_api"] == "major_outage"  # b's webhook keeps a's status
    post(client, {**a, "status": "resolved"})
    assert api.components["cmp_api"] == "degraded_performance"  # b still fires
    post(client, {**b, "status": "resolved"}, **latency)
    assert api.components["cmp_api"] == "operational" and api.open_incidents() == []


def opened_before(api: StatuspageAPI, count: int) -> list[dict[str, Any]]:
    """`count` open incidents on cmp_api that the adapter opened earlier, one per alert (the
    default key), each held at degraded_performance; the alerts, oldest first."""
    alerts = []
    for n in range(count):
        firing = alert(instance=f"api-{n:03d}", service="api", severity="warning")
        recorded = {
            "dedup_key": fingerprint(firing["labels"]),
            "component": "cmp_api",
            "status": "degraded_performance",
        }
        incident_id = f"old{n:03d}"
        api.incidents[incident_id] = Incident(
            incident_id,
            "Error rate above 5%",
            "investigating",
            "minor",
            ["cmp_api"],
            metadata={"incident_adapter": recorded},
        )
        alerts.append(firing)
    api.components["cmp_api"] = "degraded_performance"
    return alerts


def test_incidents_past_the_first_page_of_the_listing_are_found(make_client: MakeClient) -> None:
    """150 open incidents, 100 a page: the 121st is found for a re-send (no duplicate), for
    its resolve (closed), and the 131st, at major_outage, still holds the component."""
    api = fake("statuspage")
    alerts = opened_before(api, 150)
    api.incidents["old130"].metadata["incident_adapter"]["status"] = "major_outage"
    client = make_client(api, status_page_config())
    late = alerts[120]

    assert post(client, late).status_code == 200  # Alertmanager re-sends the group
    assert len(api.incidents) == 150 and api.pages_listed == [1, 2]
    assert post(client, {**late, "status": "resolved"}).status_code == 200
    assert not api.incidents["old120"].open and len(api.open_incidents()) == 149
    assert api.components["cmp_api"] == "major_outage"  # held by a page-2 incident
    assert [m for m, _ in api.requests].count("POST") == 0


@pytest.mark.parametrize(("open_", "pages"), [(0, [1]), (99, [1]), (100, [1, 2]), (201, [1, 2, 3])])
def test_the_listing_asks_for_a_next_page_only_after_a_full_one(
    open_: int, pages: list[int], make_client: MakeClient
) -> None:
    api = fake("statuspage")
    opened_before(api, open_)
    client = make_client(api, status_page_config())
    assert post(client, alert(instance="new", service="api")).status_code == 200
    assert api.pages_listed == pages and len(api.open_incidents()) == open_ + 1


def test_the_listing_stops_at_its_page_bound_and_decides_with_what_it_saw(
    tmp_path: Path,
) -> None:
    """An API that answers full pages forever: 20 pages, a warning, then the create."""
    rx = receiver_for(tmp_path)
    payload = parse_payload(json.dumps(make_payload(alert(instance="a", service="api"))).encode())
    [delivery] = plan(rx, payload).deliveries
    full = json.dumps([{"id": f"x{n}", "status": "investigating"} for n in range(100)]).encode()
    base = f"https://api.statuspage.test/v1/pages/{PAGE}/incidents"
    urls, request = [], delivery.request
    with capture_logs() as logs:
        while request is not None and request.method == "GET":
            urls.append(request.url)
            request = request.then(full) if request.then else None
    assert LISTING_PAGES == 20  # as docs/reference/dialects.md says
    assert urls == [f"{base}/unresolved?per_page=100&page={n}" for n in range(1, 21)]
    assert request is not None and (request.method, request.url) == ("POST", base)
    [warning] = [e for e in logs if e["event"] == "status_page.listing_truncated"]
    assert warning["pages"] == 20 and warning["component"] == "cmp_api"
    assert warning["receiver"] == "pd" and warning["open_incidents_seen"] == 0


def test_one_incident_per_component_with_labels_keys(make_client: MakeClient) -> None:
    api = fake("simple")
    client = make_client(
        api, status_page_config("simple", dedup_key={"strategy": "labels", "labels": ["service"]})
    )
    post(
        client,
        alert(instance="a", service="api", severity="warning"),
        alert(instance="b", service="api", severity="critical"),
    )
    [incident] = api.open_incidents()
    assert incident.impact == "critical" and api.components["cmp_api"] == "major_outage"
    post(
        client,
        alert("resolved", instance="a", service="api"),
        alert(instance="b", service="api", severity="critical"),
    )
    assert incident.open  # open while any of its alerts fires
    post(client, alert("resolved", instance="b", service="api"))
    assert not incident.open and api.components["cmp_api"] == "operational"


# -- retries and refusals ------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 420, 429, 500, 502, 503])
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
def test_transient_answers_are_retried_at_the_step_that_failed(
    status: int, method: str, make_client: MakeClient
) -> None:
    api = fake("statuspage")
    client = make_client(api, status_page_config())
    api.fail_next(2, status, method=method)
    response = post(client, alert(service="api"))
    assert response.status_code == 200, response.text
    assert len(api.incidents) == 1 and api.components["cmp_api"] == "degraded_performance"
    assert [m for m, _ in api.requests].count(method) == 3  # two failures, then success


def test_rate_limit_past_the_window_answers_503_with_retry_after(make_client: MakeClient) -> None:
    api = fake("statuspage")
    client = make_client(api, status_page_config())
    api.fail_next(1, 429, retry_after="60")  # Statuspage's unpaginated-GET wait
    response = post(client, alert(service="api"))
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert api.incidents == {}


@pytest.mark.parametrize("flavor", FLAVORS)
def test_refusals_are_permanent_and_never_echo_the_key(
    flavor: str, make_client: MakeClient
) -> None:
    api = fake(flavor)
    api.key = "another-key"  # the fake answers 401 and echoes the Authorization header
    client = make_client(api, status_page_config(flavor))
    with capture_logs() as logs:
        response = post(client, alert(service="api"))
    assert response.status_code == 424 and response.json()["rejected"] == 1
    assert "bad credentials" in response.text and len(api.requests) == 1
    assert API_KEY not in response.text and "<secret>" in response.text
    assert any(e["event"] == "event.failed" for e in logs)
    assert API_KEY not in json.dumps(logs, default=str)


def test_an_invalid_request_is_a_permanent_failure(make_client: MakeClient) -> None:
    api = fake("statuspage")
    del api.components["cmp_db"]  # the page lost a component the config still names
    client = make_client(api, status_page_config())
    response = post(client, alert(service="db"))
    assert response.status_code == 424 and "unknown component" in response.text


# -- what is sent, without a network -------------------------------------------------------


def receiver_for(tmp_path: Path, flavor: str = "statuspage", **receiver: Any) -> Receiver:
    config = config_from(status_page_config(flavor, **receiver), tmp_path)
    return Receiver.from_settings(config.receivers[0], config.delivery)


def walk(request: UpstreamRequest | None, listing: bytes) -> list[tuple[str, str, Any]]:
    """The chain a request starts, the first answer being `listing`, the others empty."""
    out, answer = [], listing
    while request is not None:
        out.append((request.method, request.url, json.loads(request.body or b"null")))
        request, answer = (request.then(answer) if request.then else None), b"{}"
    return out


def test_statuspage_requests(tmp_path: Path) -> None:
    rx = receiver_for(tmp_path)
    payload = parse_payload(json.dumps(make_payload(alert(instance="a", service="api"))).encode())
    [delivery] = plan(rx, payload).deliveries
    assert delivery.request is not None
    assert delivery.request.headers["Authorization"] == f"OAuth {API_KEY}"
    base = f"https://api.statuspage.test/v1/pages/{PAGE}/"
    [listing, create, component] = walk(delivery.request, b"[]")
    assert listing == ("GET", base + "incidents/unresolved?per_page=100&page=1", None)
    assert create[:2] == ("POST", base + "incidents")
    incident = create[2]["incident"]
    assert incident["name"] == "Error rate above 5%" and incident["impact_override"] == "minor"
    assert incident["component_ids"] == ["cmp_api"]
    assert incident["components"] == {"cmp_api": "degraded_performance"}
    assert incident["metadata"]["incident_adapter"]["component"] == "cmp_api"
    assert "deliver_notifications" not in incident and "draft" not in incident
    assert component == (
        "PATCH",
        base + "components/cmp_api",
        {"component": {"status": "degraded_performance"}},
    )
    # An open incident for the key: nothing is created; resolving it PATCHes it by id.
    key = delivery.events[0].dedup_key
    listed = json.dumps(
        [
            {
                "id": "x/1",
                "status": "investigating",
                "metadata": {"incident_adapter": {"dedup_key": key}},
            }
        ]
    ).encode()
    assert [m for m, _, _ in walk(delivery.request, listed)] == ["GET", "PATCH"]
    resolved = parse_payload(
        json.dumps(make_payload(alert("resolved", instance="a", service="api"))).encode()
    )
    [delivery] = plan(rx, resolved).deliveries
    assert walk(delivery.request, listed)[1:] == [
        ("PATCH", base + "incidents/x%2F1", {"incident": {"status": "resolved"}}),
        ("PATCH", base + "components/cmp_api", {"component": {"status": "operational"}}),
    ]
    other = {
        "id": "o",
        "status": "identified",
        "metadata": {"incident_adapter": {"dedup_key": "other", "component": "cmp_api"}},
    }
    listed = json.dumps([json.loads(listed)[0], other]).encode()
    assert walk(delivery.request, listed)[2] == (  # another key's incident, status unknown
        "PATCH",
        base + "components/cmp_api",
        {"component": {"status": "degraded_performance"}},
    )
    other["metadata"]["incident_adapter"]["status"] = "major_outage"
    listed = json.dumps([json.loads(listed)[0], other]).encode()
    assert walk(delivery.request, listed)[2][2] == {"component": {"status": "major_outage"}}
    assert walk(delivery.request, b"not json")[1:] == [  # nothing open: nothing to resolve
        ("PATCH", base + "components/cmp_api", {"component": {"status": "operational"}}),
    ]


def test_paths_and_fields_fit_a_third_api(tmp_path: Path) -> None:
    rx = receiver_for(
        tmp_path,
        "simple",
        url="https://ops.test/v2",
        auth_header="X-Api-Key",
        auth_scheme="",
        paths={"unresolved": "pages/{page_id}/incidents?open=1", "component": ""},
        fields={"title": "summary.text", "impact": "", "incidents": "data.items"},
    )
    payload = parse_payload(json.dumps(make_payload(alert(service="api"))).encode())
    [delivery] = plan(rx, payload).deliveries
    assert delivery.request is not None and delivery.request.headers["X-Api-Key"] == API_KEY
    chain = walk(delivery.request, b'{"data": {"items": []}}')
    assert [(m, u) for m, u, _ in chain] == [
        ("GET", "https://ops.test/v2/pages/pg1/incidents?open=1"),
        ("POST", "https://ops.test/v2/incidents"),
    ]
    body = chain[1][2]
    assert body["summary"] == {"text": "Error rate above 5%"} and "severity" not in body
    assert body["metadata"]["incident_adapter"]["status"] == "degraded_performance"
    assert "incident_adapter" not in body["raw_input"]  # the writer's input holds facts only


def test_raw_input_says_how_long_it_has_been_firing(tmp_path: Path) -> None:
    rx = receiver_for(tmp_path)
    at = datetime(2026, 11, 23, 11, 2, 3, tzinfo=UTC)  # startsAt is 10:00:00.123456789Z
    integration = StatusPage(rx.integration.settings, clock=lambda: at)  # type: ignore[arg-type]
    a = alert(service="api", instance="i", severity="critical")
    a["annotations"] |= {"description": "5xx above 5% for 10m", "runbook_url": "https://rb/x"}
    [delivery] = plan(rx, parse_payload(json.dumps(make_payload(a)).encode())).deliveries
    raw = integration.raw_input(delivery.events[0])
    assert raw == {
        "alertname": "HighErrorRate",
        "summary": "Error rate above 5%",
        "description": "5xx above 5% for 10m",
        "labels": a["labels"],
        "severity": "critical",
        "starts_at": a["startsAt"],
        "firing_for": "1h2m2s",
        "source": a["generatorURL"],
        "runbook_url": "https://rb/x",
    }


# -- config --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavor", "receiver", "problem"),
    [
        (
            "statuspage",
            {"status": {"critical": "down"}},
            "receivers[0]: status.critical: <value> is not a value of flavor 'statuspage'",
        ),
        (
            "statuspage",
            {"status": {"disaster": "major_outage"}},
            "receivers[0].status.disaster: unknown key",
        ),
        ("statuspage", {"impact": {"error": "huge"}}, "impact.error: <value> is not a value of"),
        ("statuspage", {"publish": False}, "publish: 'statuspage' has no draft incidents"),
        (
            "statuspage",
            {"raw_input_format": "text"},
            "raw_input_format: Statuspage's metadata takes objects only",
        ),
        (
            "statuspage",
            {"dedup_key": {"strategy": "group"}},
            "dedup_key: a key must not span components",
        ),
        (
            "statuspage",
            {"dedup_key": {"strategy": "labels", "labels": ["alertname"]}},
            "include 'service'",
        ),
        (
            "statuspage",
            {"dedup_key": {"strategy": "template", "template": "{{ labels.alertname }}"}},
            "or a template that reads labels.service",
        ),
        ("statuspage", {"fields": {"titel": "name"}}, "fields.titel: unknown; use one of"),
        (
            "statuspage",
            {"paths": {"unresolved": "incidents/unresolved?per_page=50"}},
            "paths.unresolved: leave out page and per_page; the adapter adds them",
        ),
        ("statuspage", {"storm_guard": {"threshold": 5}}, "storm_guard: not for status-page"),
        (
            "statuspage",
            {"paths": {"create": "/incidents"}},
            "paths.create: <value> must be relative",
        ),
        ("statuspage", {"components": {}}, "receivers[0].components:"),
        ("simple", {"page_id": ""}, "page_id: required, sent as 'status_page_id'"),
        ("simple", {"api_key": None}, "set exactly one of api_key or api_key_file"),
    ],
)
def test_config_errors_name_the_path(
    flavor: str, receiver: dict[str, Any], problem: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(status_page_config(flavor, **receiver), tmp_path)
    report = caught.value.report()
    assert problem in report, report
    assert API_KEY not in report


# -- real HTTP, and `render` ---------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_against_a_real_server_over_aiohttp(flavor: str, tmp_path: Path) -> None:
    api = fake(flavor)
    with Server(api.app()) as server:
        path = "/v1/pages/pg1" if flavor == "statuspage" else "/api/v1"
        config = config_from(status_page_config(flavor, url=server.url + path), tmp_path)
        with TestClient(create_app(config)) as client:
            client.headers["Authorization"] = f"Bearer {TOKEN}"
            firing = alert(service="db", severity="error")
            assert post(client, firing).status_code == 200
            assert api.components["cmp_db"] == "partial_outage" and len(api.open_incidents()) == 1
            assert post(client, {**firing, "status": "resolved"}).status_code == 200
            assert api.components["cmp_db"] == "operational" and api.open_incidents() == []


def test_render_prints_the_first_step_with_the_key_redacted(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(API_KEY + "\n")
    doc = status_page_config()
    del doc["receivers"][0]["api_key"]
    doc["receivers"][0]["api_key_file"] = str(tmp_path / "key")
    (tmp_path / "c.yml").write_text(yaml.safe_dump(doc))
    (tmp_path / "p.json").write_text(json.dumps(fixture("am025_mixed.json")))
    config, payload = tmp_path / "c.yml", tmp_path / "p.json"
    result = run_adapter("render", f"--config.file={config}", "--receiver=pd", str(payload))
    assert result.returncode == 0, result.stderr
    assert API_KEY not in result.stdout + result.stderr
    [request] = json.loads(result.stdout)["requests"]  # one chain for component api
    assert request["method"] == "GET"
    assert request["url"].endswith("/incidents/unresolved?per_page=100&page=1")
    assert request["headers"]["Authorization"] == "OAuth <secret>"
    assert len(request["alerts"]) == 2


def test_a_template_key_that_names_the_component_label_is_accepted(tmp_path: Path) -> None:
    """`{{ labels.service }}/{{ labels.alertname }}` keeps each key inside one component."""
    key = {"strategy": "template", "template": "{{ labels.service }}/{{ labels.alertname }}"}
    config = config_from(status_page_config(dedup_key=key), tmp_path)
    assert config.receivers[0].dedup_key.strategy == "template"
