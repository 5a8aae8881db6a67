"""Alert24: its incidents API as the reference documents it (`type: alert24`), and the
events-v2 flavor that keeps the blog posts' sketch, against tests/standins/alert24.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from adapter.integrations.alert24 import (
    LISTING_PAGES,
    OPEN_STATUSES,
    TAG_CHARS,
    TAGS_MAX,
    marker_tag,
    resolved_at,
)
from adapter.payload import parse_payload
from adapter.pipeline import Receiver, plan
from tests.builders import ALERT24_INTEGRATION_KEY as INTEGRATION_KEY
from tests.builders import ALERT24_KEY as API_KEY
from tests.builders import (
    alert24_config,
    alert24_events_config,
    config_from,
    make_alert,
    make_payload,
)
from tests.builders import config_problems as problems
from tests.standins.alert24 import BASE, SEVERITIES, IncidentsAPI

URL = "https://app.alert24.io/api/v1/incidents"
RESOLVED = ("delivered", "skipped")  # "skipped": the memo held it delivered


def requests(
    tmp_path: Path, doc: dict[str, Any], *alerts: dict[str, Any]
) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
    """The first request of each delivery: method, URL, body (None when empty), headers."""
    config = config_from(doc, tmp_path)
    rx = Receiver.from_settings(config.receivers[0], config.delivery)
    payload = parse_payload(json.dumps(make_payload(*alerts)).encode())
    out = []
    for d in plan(rx, payload).deliveries:
        assert d.request is not None
        body = json.loads(d.request.body) if d.request.body else None
        out.append((d.request.method, d.request.url, body, dict(d.request.headers)))
    return out


RUNBOOK = "https://runbooks.example.com/high-error-rate"


# -- the events-v2 flavor: the posts' sketch, with the documented auth ------------------------


def test_events_flavor_sends_the_posts_body_with_a_bearer_api_key(tmp_path: Path) -> None:
    alert = make_alert(
        instance="api-01",
        service="checkout",
        severity="critical",
        annotations={"summary": "Errors up", "runbook_url": RUNBOOK},
    )
    ((method, url, body, headers),) = requests(tmp_path, alert24_events_config(), alert)
    assert (method, url) == ("POST", URL)
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert body["integration_key"] == INTEGRATION_KEY and "routing_key" not in body
    assert body["event_action"] == "trigger"
    assert body["payload"]["source"] == "checkout"
    assert body["payload"]["summary"] == "Errors up"
    assert body["payload"]["severity"] == "critical"
    assert body["links"] == [{"href": RUNBOOK, "text": "Runbook"}]
    resolved = make_alert("resolved", instance="api-01")
    ((_, _, _, headers),) = requests(tmp_path, alert24_events_config(), resolved)
    assert headers["Authorization"] == f"Bearer {API_KEY}"


def test_events_flavor_takes_the_api_key_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "alert24-api-key").write_text(API_KEY + "\n")
    doc = alert24_events_config()
    del doc["receivers"][0]["api_key"]
    doc["receivers"][0]["api_key_file"] = str(tmp_path / "alert24-api-key")
    ((_, _, _, headers),) = requests(tmp_path, doc, make_alert())
    assert headers["Authorization"] == f"Bearer {API_KEY}"


def test_events_flavor_without_an_api_key_is_a_config_error_saying_why(tmp_path: Path) -> None:
    """Alert24 answers 401 to any request without its key: refuse at load, not at 3 a.m."""
    doc = alert24_events_config()
    del doc["receivers"][0]["api_key"]
    [problem] = problems(tmp_path, doc)
    assert problem.startswith("receivers[0]")
    assert "api_key" in problem and "Authorization: Bearer" in problem


def test_an_api_key_is_for_flavor_alert24_only(tmp_path: Path) -> None:
    doc = alert24_events_config(flavor="pagerduty")
    [problem] = problems(tmp_path, doc)
    assert "api_key is for flavor alert24" in problem


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
    assert body["routing_key"] == INTEGRATION_KEY
    assert body["payload"]["source"] == "api-01"
    assert [link["text"] for link in body["links"]] == ["Source", "Runbook"]
    ((_, _, other, _),) = requests(tmp_path, doc, make_alert(annotations={"summary": "s"}))
    assert other["payload"]["source"] == "prom-eu"


def test_pagerduty_stays_the_default_flavor(tmp_path: Path) -> None:
    doc = alert24_events_config()
    del doc["receivers"][0]["flavor"], doc["receivers"][0]["api_key"]
    ((_, url, body, headers),) = requests(tmp_path, doc, make_alert(instance="api-01"))
    assert url == "https://events.pagerduty.com/v2/enqueue"
    assert body["routing_key"] == INTEGRATION_KEY and body["payload"]["source"] == "api-01"
    assert "Authorization" not in headers


# -- the incidents API: a create ----------------------------------------------------------------


def test_create_carries_the_documented_fields_and_the_guides_alias_and_source(
    tmp_path: Path,
) -> None:
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
    assert (method, url) == ("POST", URL)
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert body == {
        "title": "Error rate above 5%",
        "description": f"5xx at 7%.\n\nRunbook: {RUNBOOK}",
        "severity": "high",
        "tags": [
            "incident_adapter_key:HighErrorRate:api-01.prod",
            "alertname:HighErrorRate",
            "instance:api-01.prod",
            "severity:warning",
        ],
        "alias": "HighErrorRate:api-01.prod",
        "source": "prometheus",
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
    ("labels", "expected"),
    [
        ({"severity": "critical"}, "critical"),
        ({"severity": "warning"}, "high"),
        ({"severity": "info"}, "low"),
        ({"severity": "error"}, "medium"),
        ({"severity": "page"}, "medium"),  # the guide's `|| 'medium'`; was warning -> high
        ({"severity": "disaster"}, "medium"),
        ({}, "medium"),
    ],
)
def test_severity_is_alert24s_and_an_unknown_label_is_medium(
    labels: dict[str, str], expected: str, tmp_path: Path
) -> None:
    ((_, _, body, _),) = requests(tmp_path, alert24_config(), make_alert(**labels))
    assert body["severity"] == expected


def test_a_severity_default_the_receiver_sets_still_wins(tmp_path: Path) -> None:
    doc = alert24_config(severity={"default": "critical"})
    ((_, _, body, _),) = requests(tmp_path, doc, make_alert(severity="page"))
    assert body["severity"] == "critical"


def test_a_severity_override_decides_even_for_an_unknown_label(tmp_path: Path) -> None:
    doc = alert24_config(
        severity={"overrides": [{"matchers": ['service="payments"'], "severity": "warning"}]}
    )
    ((_, _, body, _),) = requests(tmp_path, doc, make_alert(severity="page", service="payments"))
    assert body["severity"] == "high"


@pytest.mark.parametrize("value", ["critical", "CRITICAL", "page", "", "P1", "info", "none"])
def test_only_the_documented_severities_ever_leave(value: str, tmp_path: Path) -> None:
    ((_, _, body, _),) = requests(tmp_path, alert24_config(), make_alert(severity=value))
    assert body["severity"] in SEVERITIES


def test_the_severity_map_is_configurable(tmp_path: Path) -> None:
    doc = alert24_config(incident_severity={"map": {"warning": "medium"}, "default": "low"})
    warning = make_alert(instance="a", severity="warning")
    critical = make_alert(instance="c", severity="critical")
    unknown = make_alert(instance="d", severity="page")
    bodies = [b for _, _, b, _ in requests(tmp_path, doc, warning, critical, unknown)]
    assert [b["severity"] for b in bodies] == ["medium", "low", "low"]


def test_tags_are_bounded_hashed_not_cut_blindly_and_keep_the_marker(tmp_path: Path) -> None:
    labels = {f"label_{i:02}": f"{i}-" + "v" * 300 for i in range(40)}
    alert = make_alert(instance="api-01", **labels)
    ((_, _, body, _),) = requests(tmp_path, alert24_config(), alert)
    tags = body["tags"]
    assert tags[0] == "incident_adapter_key:HighErrorRate:api-01"
    assert len(tags) == 1 + TAGS_MAX and len(set(tags)) == len(tags)
    assert all(len(t) <= TAG_CHARS for t in tags)
    assert tags[1] == "alertname:HighErrorRate"  # by name: alertname, instance, label_00, ...
    assert tags[3].startswith("label_00:0-vvv") and "…" in tags[3]
    ((_, _, again, _),) = requests(tmp_path, alert24_config(), alert)
    assert again["tags"] == tags  # the same alert, the same tags: a re-send changes nothing


def test_a_key_too_long_for_a_tag_is_hashed_in_the_marker() -> None:
    key = "k" * 200
    assert (
        marker_tag(key)
        == "incident_adapter_key:sha256:" + __import__("hashlib").sha256(key.encode()).hexdigest()
    )
    assert len(marker_tag(key)) <= TAG_CHARS
    assert marker_tag("HighErrorRate:api-01") == "incident_adapter_key:HighErrorRate:api-01"


@pytest.mark.parametrize(
    ("ends_at", "expected"),
    [
        ("2026-11-23T16:07:55.124595738Z", "2026-11-23T16:07:55.124Z"),
        ("2026-11-23T10:05:00Z", "2026-11-23T10:05:00.000Z"),
        ("2026-11-23T12:05:00+02:00", "2026-11-23T10:05:00.000Z"),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
    ],
)
def test_resolved_at_is_the_alerts_end_as_the_reference_writes_times(
    ends_at: str, expected: str | None
) -> None:
    assert resolved_at(ends_at) == expected


# -- the incidents API: resolve by lookup --------------------------------------------------------


def test_a_resolve_first_lists_the_open_incidents_as_documented(tmp_path: Path) -> None:
    resolved = make_alert("resolved", instance="api-01")
    ((method, url, body, headers),) = requests(tmp_path, alert24_config(), resolved)
    assert (method, url, body) == ("GET", f"{URL}?status=open&limit=100&offset=0", None)
    assert headers["Authorization"] == f"Bearer {API_KEY}"


def test_refire_updates_the_open_incident_and_resolve_closes_it_by_id(
    make_client: Callable[..., TestClient],
) -> None:
    """Re-sends update by alias; a resolve finds its incident by the marker tag and PUTs it
    resolved with the alert's end; a second resolve finds nothing open and is done."""
    api = IncidentsAPI(API_KEY)
    client = make_client(api, alert24_config(delivery={"memo_ttl": "0s"}))
    one, two = make_alert(instance="api-01"), make_alert(instance="api-02")
    assert client.post("/alerts/pd", json=make_payload(one, two)).status_code == 200
    assert client.post("/alerts/pd", json=make_payload(one, two)).status_code == 200
    assert api.open_keys() == {"HighErrorRate:api-01", "HighErrorRate:api-02"}
    assert [(i.key, i.updates) for i in api.incidents] == [
        ("HighErrorRate:api-01", 1),
        ("HighErrorRate:api-02", 1),
    ]
    gone = make_alert("resolved", instance="api-01")
    assert client.post("/alerts/pd", json=make_payload(gone, two)).status_code == 200
    assert api.open_keys() == {"HighErrorRate:api-02"}
    [closed] = api.of("HighErrorRate:api-01")
    assert (closed.status, closed.resolved_at) == ("resolved", "2026-11-23T10:05:00.000Z")
    assert ("PUT", f"{BASE}/{closed.id}") in api.requests
    with capture_logs() as logs:
        response = client.post("/alerts/pd", json=make_payload(gone))  # again: harmless
    assert response.status_code == 200 and response.json()["alerts"][0]["result"] == "delivered"
    assert [e["pages"] for e in logs if e["event"] == "alert24.nothing_open"] == [6]
    assert api.opened("HighErrorRate:api-01") == 1


def test_a_resolve_finds_an_incident_a_person_moved_on_and_closes_only_its_own(
    make_client: Callable[..., TestClient],
) -> None:
    api = IncidentsAPI(API_KEY)
    client = make_client(api, alert24_config())
    one, two = make_alert(instance="api-01"), make_alert(instance="api-02")
    assert client.post("/alerts/pd", json=make_payload(one, two)).status_code == 200
    [mine] = api.of("HighErrorRate:api-01")
    mine.status = "investigating"  # someone took it on in Alert24
    api.seed(3)  # others' incidents, no marker
    gone = make_alert("resolved", instance="api-01")
    assert client.post("/alerts/pd", json=make_payload(gone)).status_code == 200
    assert mine.status == "resolved"
    assert api.open_keys() == {"HighErrorRate:api-02"}
    assert sum(i.status == "open" for i in api.incidents) == 4  # api-02 and the 3 others
    statuses = [t.split("status=")[1].split("&")[0] for t in api.listings()]
    assert statuses == ["open", "acknowledged", "investigating"]  # it stops where it found


def test_the_lookup_pages_past_100_newer_open_incidents(
    make_client: Callable[..., TestClient],
) -> None:
    api = IncidentsAPI(API_KEY)
    client = make_client(api, alert24_config())
    assert client.post("/alerts/pd", json=make_payload(make_alert(instance="a"))).status_code == 200
    api.seed(250)
    gone = make_alert("resolved", instance="a")
    assert client.post("/alerts/pd", json=make_payload(gone)).status_code == 200
    assert api.open_keys() == set()
    offsets = [t.rsplit("offset=", 1)[1] for t in api.listings()]
    assert offsets == ["0", "100", "200"]


def test_a_close_while_another_lookup_pages_does_not_hide_its_incident(
    make_client: Callable[..., TestClient],
) -> None:
    """Two resolves in one webhook: b's PUT closes the newest open incident while a's lookup
    is between pages, so every incident behind it moves up one offset and a's, the 101st,
    slips from page two onto page one, read already. After a miss that paged, the lookup
    reads again from the top, and closes it."""
    api = IncidentsAPI(API_KEY)

    async def in_this_order(request: httpx.Request) -> httpx.Response:
        # b's PUT lands after a's first page was read and before its second is
        if request.method == "PUT":
            await asyncio.sleep(0.1)
        elif request.method == "GET" and "offset=0" not in request.url.query.decode():
            await asyncio.sleep(0.4)
        return api(request)

    client = make_client(in_this_order, alert24_config(delivery={"timeout": "8s"}))
    a, b = make_alert(instance="a"), make_alert(instance="b")
    assert client.post("/alerts/pd", json=make_payload(a)).status_code == 200
    api.seed(99)
    assert client.post("/alerts/pd", json=make_payload(b)).status_code == 200
    gone_a, gone_b = make_alert("resolved", instance="a"), make_alert("resolved", instance="b")
    response = client.post("/alerts/pd", json=make_payload(gone_b, gone_a))
    assert response.status_code == 200
    assert api.open_keys() == set()
    offsets = [t.rsplit("offset=", 1)[1] for t in api.listings() if "status=open&" in t]
    assert offsets[:3] == ["0", "0", "100"]  # a's second page came after b's close


@pytest.mark.parametrize("bad_id", [True, "", None, 1.5])
def test_an_incident_without_a_usable_id_is_never_put_at(
    make_client: Callable[..., TestClient], bad_id: Any
) -> None:
    """`true` is an int to Python and "" would PUT the collection itself: neither is an id."""
    seen: list[tuple[str, str]] = []

    def listing(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url)))
        mine = {"id": bad_id, "status": "open", "tags": [marker_tag("HighErrorRate:a")]}
        return httpx.Response(200, json={"data": [mine], "meta": {"has_more": False}})

    client = make_client(listing, alert24_config())
    response = client.post("/alerts/pd", json=make_payload(make_alert("resolved", instance="a")))
    assert response.status_code == 200
    assert {method for method, _ in seen} == {"GET"}, seen


def test_re_sends_of_a_resolve_are_skipped_by_the_memo_and_a_re_fire_is_not(
    make_client: Callable[..., TestClient],
) -> None:
    """Alertmanager re-posts a group after a 503 and a storm re-posts many: a resolve done
    within memo_ttl is not looked up again (each lookup pages Alert24's listing), while
    the same alert firing again opens its incident again."""
    api = IncidentsAPI(API_KEY)
    client = make_client(api, alert24_config())
    firing, gone = make_alert(instance="a"), make_alert("resolved", instance="a")
    assert client.post("/alerts/pd", json=make_payload(firing)).status_code == 200
    for _ in range(3):
        answer = client.post("/alerts/pd", json=make_payload(gone))
        assert answer.status_code == 200 and answer.json()["alerts"][0]["result"] in RESOLVED
    assert len(api.listings()) == 1 and api.open_keys() == set()
    assert client.post("/alerts/pd", json=make_payload(firing)).status_code == 200
    assert api.open_keys() == {"HighErrorRate:a"} and api.opened("HighErrorRate:a") == 2
    assert client.post("/alerts/pd", json=make_payload(gone)).status_code == 200
    assert api.open_keys() == set() and len(api.listings()) == 2


def test_past_the_page_bound_the_rest_stays_unseen_and_is_logged(
    make_client: Callable[..., TestClient],
) -> None:
    api = IncidentsAPI(API_KEY)
    client = make_client(api, alert24_config(delivery={"timeout": "8s"}))
    assert client.post("/alerts/pd", json=make_payload(make_alert(instance="a"))).status_code == 200
    api.seed(100 * LISTING_PAGES + 1)
    gone = make_alert("resolved", instance="a")
    with capture_logs() as logs:
        response = client.post("/alerts/pd", json=make_payload(gone))
    assert response.status_code == 200
    assert len(api.listings()) == LISTING_PAGES
    [truncated] = [e for e in logs if e["event"] == "alert24.listing_truncated"]
    assert truncated["pages"] == LISTING_PAGES and truncated["status"] == "open"
    assert truncated["unread_statuses"] == list(OPEN_STATUSES[1:])
    assert api.open_keys() == {"HighErrorRate:a"}  # still open: a person closes it


def test_an_unreadable_listing_is_retryable_and_the_retry_closes_it(
    make_client: Callable[..., TestClient],
) -> None:
    """A 200 that is not the documented listing (a proxy's error page) is a 503 for
    Alertmanager, not a 424: its re-send finds the incident and closes it."""
    api = IncidentsAPI(API_KEY)
    client = make_client(api, alert24_config())
    assert client.post("/alerts/pd", json=make_payload(make_alert(instance="a"))).status_code == 200
    api.unreadable_listings = 1
    gone = make_alert("resolved", instance="a")
    first = client.post("/alerts/pd", json=make_payload(gone))
    assert first.status_code == 503
    assert first.json()["alerts"][0]["result"] == "failed"
    assert "cannot read the answer: the incident listing is not JSON" in first.text
    assert api.open_keys() == {"HighErrorRate:a"}
    assert client.post("/alerts/pd", json=make_payload(gone)).status_code == 200
    assert api.open_keys() == set()


@pytest.mark.parametrize(
    "answer",
    [
        b'{"incidents": []}',
        b'{"data": {}, "meta": {"has_more": false}}',
        b'{"data": [], "meta": {}}',
        b"[]",
        b"",
    ],
)
def test_a_listing_of_the_wrong_shape_is_retryable(
    answer: bytes, make_client: Callable[..., TestClient]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=answer)

    client = make_client(handler, alert24_config())
    response = client.post("/alerts/pd", json=make_payload(make_alert("resolved", instance="a")))
    assert response.status_code == 503, response.json()


def test_statuses_to_look_in_are_configurable(
    make_client: Callable[..., TestClient],
) -> None:
    api = IncidentsAPI(API_KEY)
    client = make_client(api, alert24_config(resolve={"statuses": ["open"]}))
    gone = make_alert("resolved", instance="a")
    assert client.post("/alerts/pd", json=make_payload(gone)).status_code == 200
    assert api.listings() == [f"{BASE}?status=open&limit=100&offset=0"]


def test_the_old_alias_path_resolve_is_a_setting(tmp_path: Path) -> None:
    doc = alert24_config(
        resolve={"by": "alias_path", "method": "PATCH", "path": "/alias/{alias}?status=resolved"}
    )
    resolved = make_alert("resolved", instance="a/b")
    ((method, url, body, _),) = requests(tmp_path, doc, resolved)
    assert (method, url) == (
        "PATCH",
        "https://app.alert24.io/api/v1/incidents/alias/HighErrorRate%3Aa%2Fb?status=resolved",
    )
    assert body == {"source": "prometheus"}


@pytest.mark.parametrize(
    ("resolve", "message"),
    [
        ({"by": "alias_path", "path": "/resolve"}, "must start with '/' and hold {alias} once"),
        ({"method": "PUT"}, "method is not used with by: lookup"),
        ({"by": "alias_path", "statuses": ["open"]}, "statuses is not used with by: alias_path"),
        ({"statuses": ["open", "resolved"]}, "statuses[1]: Input should be 'open'"),
        ({"statuses": []}, "list each status once"),
    ],
)
def test_resolve_settings_are_checked(
    resolve: dict[str, Any], message: str, tmp_path: Path
) -> None:
    [problem] = problems(tmp_path, alert24_config(resolve=resolve))
    assert problem.startswith("receivers[0].resolve") and message in problem, problem


def test_the_old_resolve_keys_say_where_they_moved(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, alert24_config(resolve_path="/{alias}/resolve"))
    assert "resolve: {by: alias_path" in problem


def test_a_wrong_key_is_refused_for_good_and_never_printed(
    make_client: Callable[..., TestClient],
) -> None:
    api = IncidentsAPI("another-key")
    response = make_client(api, alert24_config()).post("/alerts/pd", json=make_payload())
    assert response.status_code == 424
    assert API_KEY not in response.text and api.incidents == []


def test_the_standin_refuses_what_the_reference_refuses() -> None:
    """The stand-in itself: 401, 400 validation_error, unknown fields ignored, paging."""
    api = IncidentsAPI(API_KEY)
    client = httpx.Client(transport=httpx.MockTransport(api), base_url="http://a24.test")
    auth = {"Authorization": f"Bearer {API_KEY}"}
    assert client.get(BASE).status_code == 401
    assert client.get(BASE, headers={"Authorization": "Bearer nope"}).status_code == 401
    untitled = client.post(BASE, headers=auth, json={"severity": "high"})
    assert untitled.status_code == 400
    assert untitled.json()["error"] == {
        "type": "validation_error",
        "message": "title is required",
        "status": 400,
    }
    assert client.post(BASE, headers=auth, json={"title": "t", "severity": "warning"}).is_error
    made = client.post(BASE, headers=auth, json={"title": "t", "labels": {"a": "b"}})
    assert made.status_code == 201 and made.json()["data"]["severity"] == "medium"
    assert client.post(f"{BASE}/x/resolve?identifierType=alias", headers=auth).status_code == 404
    assert client.get(f"{BASE}?limit=101", headers=auth).status_code == 400
    assert client.get(f"{BASE}?status=closed", headers=auth).status_code == 400
    page = client.get(f"{BASE}?status=open&limit=1", headers=auth).json()
    assert page["meta"] == {"total": 1, "limit": 1, "offset": 0, "has_more": False}


def test_a_key_of_dot_dot_stays_one_segment_of_the_alias_path(tmp_path: Path) -> None:
    """A key is one path segment: `..` must neither climb out of the base path nor be refused
    as a request outside the receiver's url (adapter/urls.py), so its incident can resolve."""
    doc = alert24_config(
        dedup_key={"strategy": "template", "template": "{{ labels.instance }}"},
        resolve={
            "by": "alias_path",
            "method": "POST",
            "path": "/{alias}/resolve?identifierType=alias",
        },
    )
    ((method, url, _, _),) = requests(tmp_path, doc, make_alert("resolved", instance=".."))
    assert (method, url) == (
        "POST",
        "https://app.alert24.io/api/v1/incidents/%2E%2E/resolve?identifierType=alias",
    )


@pytest.mark.parametrize("runbook", ["javascript:alert(1)", "data:text/html,x", "/relative"])
def test_only_an_http_runbook_reaches_the_description(runbook: str, tmp_path: Path) -> None:
    alert = make_alert(instance="api-01", annotations={"summary": "s", "runbook_url": runbook})
    ((_, _, body, _),) = requests(tmp_path, alert24_config(), alert)
    assert "Runbook" not in body["description"] and runbook not in json.dumps(body)
    alert["annotations"]["runbook_url"] = RUNBOOK
    ((_, _, body, _),) = requests(tmp_path, alert24_config(), alert)
    assert body["description"].endswith(f"Runbook: {RUNBOOK}")


def test_a_refire_after_a_resolve_reopens_with_the_memo_on(
    make_client: Callable[..., TestClient],
) -> None:
    """Trigger, resolve (a lookup chain), the same trigger again within memo_ttl: the memo
    must not take the second trigger for the first one, or the alert fires with no incident."""
    api = IncidentsAPI(API_KEY)
    client = make_client(api, alert24_config(delivery={"memo_ttl": "5m"}))
    firing, gone = make_alert(instance="api-01"), make_alert("resolved", instance="api-01")
    results = []
    for alert in (firing, gone, firing):
        answer = client.post("/alerts/pd", json=make_payload(alert)).json()
        results.append(answer["alerts"][0]["result"])
    assert results == ["delivered", "delivered", "delivered"]
    assert api.open_keys() == {"HighErrorRate:api-01"}
