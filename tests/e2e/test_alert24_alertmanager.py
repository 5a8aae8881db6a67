"""Alert24 end to end: a real Alertmanager 0.25 -> the adapter process -> the stand-ins of
its incidents API and its events flavor (tests/standins/alert24.py, tests/standins/events.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import ALERT24_INTEGRATION_KEY as INTEGRATION_KEY
from tests.builders import ALERT24_KEY as API_KEY
from tests.builders import (
    TOKEN,
    alert24_config,
    alert24_events_config,
)
from tests.harness.adapter import AdapterProcess
from tests.harness.alertmanager import Alertmanager
from tests.harness.process import wait_for
from tests.harness.server import Server
from tests.standins.alert24 import BASE, IncidentsAPI
from tests.standins.events import EventsAPI


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


ONE = {"alertname": "HighErrorRate", "instance": "api-01", "severity": "critical"}
TWO = {"alertname": "HighErrorRate", "instance": "api-02", "severity": "page"}
KEYS = {"HighErrorRate:api-01", "HighErrorRate:api-02"}


def fire_resend_resolve_one_then_the_rest(
    am: Alertmanager, incidents: IncidentsAPI, between: Callable[[], None] = lambda: None
) -> None:
    """Two alerts of one group fire, Alertmanager re-sends the group, one resolves while
    the other fires, then the rest resolve."""
    am.alert(**ONE, service="checkout")
    am.alert(**TWO)
    wait_for(lambda: incidents.open_keys() == KEYS, what="two incidents")
    wait_for(
        lambda: all(i.updates >= 1 for k in KEYS for i in incidents.of(k)),
        20,
        "a re-send of the group to update both incidents",
    )
    between()
    by_key = {k: incidents.of(k) for k in KEYS}
    assert [len(v) for v in by_key.values()] == [1, 1]
    assert by_key["HighErrorRate:api-01"][0].severity == "critical"
    assert by_key["HighErrorRate:api-02"][0].severity == "medium"  # "page": unknown
    assert by_key["HighErrorRate:api-01"][0].title == "HighErrorRate on api-01"
    am.alert(resolve=True, **ONE, service="checkout")
    wait_for(lambda: incidents.open_keys() == {"HighErrorRate:api-02"}, what="a resolve")
    assert by_key["HighErrorRate:api-01"][0].status == "resolved"
    assert by_key["HighErrorRate:api-02"][0].status == "open"
    am.alert(resolve=True, **TWO)
    wait_for(lambda: not incidents.open_keys(), what="the last resolve")


def adapter_and_alertmanager(
    tmp_path: Path, doc: dict[str, Any], *routes: str
) -> tuple[AdapterProcess, Alertmanager]:
    (tmp_path / "tokens").write_text(TOKEN + "\n")
    doc["auth"] = {"bearer_tokens_file": str(tmp_path / "tokens")}
    # memo off: each AM re-send reaches the APIs, so updates (not second incidents) show
    doc["delivery"] = {"timeout": "5s", "attempt_timeout": "1s", "memo_ttl": "0s"}
    adapter = AdapterProcess(tmp_path, doc, "--log.level=debug")
    token_file = tmp_path / "am-token"
    token_file.write_text(TOKEN)
    hook = f"http://127.0.0.1:{adapter.port}/alerts/"
    am = Alertmanager(tmp_path, hook + routes[0], token_file)
    am_config = yaml.safe_load(am.config.read_text())
    hooks = am_config["receivers"][0]["webhook_configs"]
    hooks += [{**hooks[0], "url": hook + route} for route in routes[1:]]
    am.config.write_text(yaml.safe_dump(am_config))
    return adapter, am


@pytest.mark.alertmanager
def test_alertmanager_fires_resends_and_resolves_through_both_alert24_routes(
    tmp_path: Path,
) -> None:
    """Each incident opened once, re-sends were updates, the right one closed first, by
    its id, and nothing is left open; the events flavor likewise."""
    incidents, events = IncidentsAPI(API_KEY), EventsAPI("integration_key", "events-v2/alert24")
    with (
        Server(incidents.app()) as incidents_server,
        Server(events.app("/api/v1/incidents")) as events_server,
    ):
        doc = alert24_config(name="alert24-incidents", url=incidents_server.url + BASE)
        doc["receivers"] += alert24_events_config(
            name="alert24-events", url=events_server.url + BASE
        )["receivers"]
        adapter, am = adapter_and_alertmanager(tmp_path, doc, "alert24-incidents", "alert24-events")
        adapter.start()
        try:
            with am:
                fire_resend_resolve_one_then_the_rest(am, incidents)
                wait_for(lambda: not events.open_keys(), what="the events resolves")
        finally:
            adapter.stop()
            logs = adapter.log.read_text()
            assert API_KEY not in logs and INTEGRATION_KEY not in logs and TOKEN not in logs
    assert [incidents.opened(key) for key in sorted(KEYS)] == [1, 1]
    assert all(i.resolved_at for k in KEYS for i in incidents.of(k))
    assert not [r for r in incidents.requests if r[1].endswith("/resolve")]
    assert len(events.incidents) == 2 and reopened(events.events) == []


@pytest.mark.alertmanager
def test_alertmanager_past_100_open_incidents_the_lookup_pages(tmp_path: Path) -> None:
    """The same story in an Alert24 holding more than a page of others' open incidents,
    older and newer than ours: each resolve pages the listing to find its incident."""
    incidents = IncidentsAPI(API_KEY)
    incidents.seed(120)
    with Server(incidents.app()) as server:
        doc = alert24_config(name="alert24-incidents", url=server.url + BASE)
        adapter, am = adapter_and_alertmanager(tmp_path, doc, "alert24-incidents")
        adapter.start()
        try:
            with am:
                fire_resend_resolve_one_then_the_rest(am, incidents, lambda: incidents.seed(150))
        finally:
            adapter.stop()
    assert [incidents.opened(key) for key in sorted(KEYS)] == [1, 1]
    assert sum(i.status == "open" for i in incidents.incidents) == 270  # others' untouched
    assert any("offset=100" in target for target in incidents.listings())
