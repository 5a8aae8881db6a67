"""End to end with a real Alertmanager 0.25, driven by amtool.

Alertmanager (single node, fast group timings) -> the adapter process (webhook with a
bearer token from a file) -> the stateful stand-in of the Events API. Each test checks
the stand-in's incidents, the state a user would see, not the calls made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.builders import ROUTING_KEY, TOKEN
from tests.harness.adapter import AlertmanagerAdapter as Adapter
from tests.harness.alertmanager import Alertmanager
from tests.harness.process import wait_for
from tests.harness.server import Server
from tests.harness.stack import running_stack
from tests.standins.events import EventsAPI

pytestmark = pytest.mark.alertmanager


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[EventsAPI, Adapter, Alertmanager]]:
    api = EventsAPI()

    def adapter(upstream: str) -> Adapter:
        return Adapter(tmp_path, upstream + "/v2/enqueue")

    with running_stack(tmp_path, api.app(), adapter) as running:
        yield api, running.adapter, running.alertmanager
    logs = running.adapter.log.read_text()
    assert ROUTING_KEY not in logs and TOKEN not in logs


def incidents(api: EventsAPI) -> dict[str, tuple[str, str, str]]:
    return {k: (i.status, i.severity, i.summary) for k, i in api.incidents.items()}


def test_fire_second_alert_resend_and_resolve_one(
    stack: tuple[EventsAPI, Adapter, Alertmanager],
) -> None:
    """One incident per alert, keyed by AM's fingerprint; re-sends add none; one resolve closes one."""
    api, adapter, am = stack
    am.alert(alertname="HighErrorRate", instance="api-01", severity="critical", service="api")
    wait_for(lambda: len(api.incidents) == 1, what="the first incident")
    ((key, (status, severity, summary)),) = incidents(api).items()
    assert (key, status, severity, summary) == (
        "1d5a81814add1ad0",
        "triggered",
        "critical",
        "HighErrorRate on api-01",
    )

    am.alert(alertname="HighErrorRate", instance="api-02", severity="warning", service="api")
    wait_for(lambda: len(api.incidents) == 2, what="the second incident")
    # group_interval 2s, repeat_interval 4s: AM re-sends the whole group. The adapter skips
    # what it delivered (the memo) and, had it not, the key would deduplicate: no new incident.
    received_before = adapter.log.read_text().count('"webhook.received"')
    wait_for(
        lambda: adapter.log.read_text().count('"webhook.received"') >= received_before + 2,
        20,
        "a re-send of the group",
    )
    assert len(api.incidents) == 2

    am.alert(
        resolve=True,
        alertname="HighErrorRate",
        instance="api-01",
        severity="critical",
        service="api",
    )
    wait_for(lambda: api.incidents["1d5a81814add1ad0"].status == "resolved", what="the resolve")
    assert len(api.open_keys()) == 1 and "1d5a81814add1ad0" not in api.open_keys()


def test_incident_api_outage_then_recovery_loses_nothing(
    stack: tuple[EventsAPI, Adapter, Alertmanager],
) -> None:
    """5xx then 429: the adapter answers 503, AM retries, and every incident ends right."""
    api, _, am = stack
    api.fail_next(4, 500)
    api.fail_next(4, 429, retry_after="1")
    am.alert(alertname="DiskFull", instance="db-01", severity="critical")
    am.alert(alertname="DiskFull", instance="db-02", severity="warning")
    wait_for(lambda: len(api.open_keys()) == 2, 60, "both incidents after the outage")
    assert not api.faults
    assert all(i.status == "triggered" for i in api.incidents.values())
    log = am.log.read_text()
    assert "503" in log  # AM saw the adapter's 503 and retried


def test_adapter_down_when_the_alert_fires(stack: tuple[EventsAPI, Adapter, Alertmanager]) -> None:
    api, adapter, am = stack
    adapter.stop()
    am.alert(alertname="NodeDown", instance="node-07", severity="critical")
    # Not a fixed sleep: until Alertmanager has tried the adapter and failed, however long
    # a busy machine takes to get there.
    wait_for(lambda: "connection refused" in am.log.read_text(), what="a failed notification")
    assert api.incidents == {}
    adapter.start()
    wait_for(lambda: len(api.open_keys()) == 1, 60, "the incident after the adapter came back")


def test_wrong_token_is_refused_and_alertmanager_logs_it(tmp_path: Path) -> None:
    api = EventsAPI()
    with Server(api.app()) as upstream:
        adapter = Adapter(tmp_path, upstream.url + "/v2/enqueue")
        wrong = tmp_path / "wrong-token"
        wrong.write_text("not-the-token")
        adapter.start()
        try:
            with Alertmanager(tmp_path, f"http://127.0.0.1:{adapter.port}/alerts/pd", wrong) as am:
                am.alert(alertname="X", instance="a", severity="info")
                wait_for(lambda: "401" in am.log.read_text(), 30, "Alertmanager to log the 401")
        finally:
            adapter.stop()
    assert api.incidents == {}
    lines = [
        json.loads(line) for line in adapter.log.read_text().splitlines() if line.startswith("{")
    ]
    assert any(line.get("event") == "webhook.refused" and line.get("code") == 401 for line in lines)


def test_a_key_template_takes_over_the_incident_alertmanagers_own_pagerduty_opened(
    tmp_path: Path,
) -> None:
    """Moving from Alertmanager's own `pagerduty_configs` (dedup_key: the sha256 of the
    groupKey): with `template: "{{ group_key | sha256 }}"` the adapter re-triggers and then
    resolves the very incident Alertmanager opened, instead of orphaning it."""
    api = EventsAPI()
    with Server(api.app()) as upstream:
        url = upstream.url + "/v2/enqueue"
        key = {"strategy": "template", "template": "{{ group_key | sha256 }}"}
        adapter = Adapter(tmp_path, url, dedup_key=key)
        token_file = tmp_path / "am-token"
        token_file.write_text(TOKEN)
        am = Alertmanager(tmp_path, f"http://127.0.0.1:{adapter.port}/alerts/pd", token_file)
        with_webhook = am.config.read_text()
        native = yaml.safe_load(with_webhook)
        native["receivers"][0] = {
            "name": "adapter",
            "pagerduty_configs": [{"routing_key": ROUTING_KEY, "url": url, "send_resolved": True}],
        }
        am.config.write_text(yaml.safe_dump(native))
        adapter.start()
        try:
            with am:
                am.alert(alertname="DiskFull", instance="db-1", severity="critical")
                (opened,) = wait_for(lambda: list(api.incidents), 30, "Alertmanager's own event")
                assert api.incidents[opened].status == "triggered"
                # The switch: the same route and receiver, now a webhook to the adapter.
                am.config.write_text(with_webhook)
                assert httpx.post(am.url + "/-/reload", timeout=10).status_code == 200
                # Alertmanager notifies the new integration of the firing group once.
                wait_for(
                    lambda: any(
                        e.get("event") == "event.delivered" and e.get("dedup_key") == opened
                        for e in adapter.events()
                    ),
                    30,
                    "the adapter's trigger of the same key",
                )
                am.alert(resolve=True, alertname="DiskFull", instance="db-1", severity="critical")
                wait_for(lambda: api.incidents[opened].status == "resolved", 30, "the resolve")
        finally:
            adapter.stop()
    assert list(api.incidents) == [opened]  # one incident, opened by Alertmanager, closed by us
    native_events = [e for e in api.events if e.get("client") == "Alertmanager"]
    assert native_events and all(e["dedup_key"] == opened for e in api.events)
