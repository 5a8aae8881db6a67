"""Silences and inhibitions with the real Alertmanager 0.25 and amtool: the adapter polls
Alertmanager's API (poll_interval 1s) and acknowledges, reopens and resolves the incident at
the PagerDuty-like stand-in, which Alertmanager's own notifications never would.

Alertmanager's repeat_interval is an hour here, as it is hours in real setups, so anything
that arrives within seconds of an unmute comes from the adapter's poll, not a re-send.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.builders import ROUTING_KEY, TOKEN
from tests.harness.adapter import AlertmanagerAdapter as Adapter
from tests.harness.alertmanager import Alertmanager, ClusteredAlertmanager
from tests.harness.process import wait_for
from tests.harness.server import Server, free_port
from tests.standins.events import EventsAPI

pytestmark = pytest.mark.alertmanager

POLL = 1.0
WITHIN = 15.0  # a poll, and room for a busy machine: the assertions are about state, not speed


class Muting:
    """The stand-in, the adapter (on_silenced/on_inhibited: acknowledge) and Alertmanager."""

    def __init__(self, api: EventsAPI, adapter: Adapter, am: Alertmanager) -> None:
        self.api, self.adapter, self.am = api, adapter, am

    def status(self, key: str) -> str | None:
        incident = self.api.incidents.get(key)
        return None if incident is None else incident.status

    def wait_status(self, key: str, status: str, what: str) -> None:
        wait_for(lambda: self.status(key) == status, WITHIN, what)

    def get(self, path: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return httpx.get(self.adapter.url + path, headers=headers, timeout=10)

    def webhooks(self) -> int:
        return sum(e.get("event") == "webhook.received" for e in self.adapter.events())


def inhibit(config: Path) -> None:
    """A NodeDown inhibits the warnings on its instance."""
    doc = yaml.safe_load(config.read_text())
    doc["inhibit_rules"] = [
        {
            "source_matchers": ['alertname="NodeDown"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["instance"],
        }
    ]
    config.write_text(yaml.safe_dump(doc))


@pytest.fixture
def muting(tmp_path: Path) -> Iterator[Muting]:
    api = EventsAPI()
    with Server(api.app()) as upstream:
        adapter = Adapter(
            tmp_path,
            upstream.url + "/v2/enqueue",
            alertmanager_receiver="adapter",
            on_silenced="acknowledge",
            on_inhibited="acknowledge",
        )
        token_file = tmp_path / "am-token"
        token_file.write_text(TOKEN)
        am = Alertmanager(
            tmp_path,
            f"http://127.0.0.1:{adapter.port}/alerts/pd",
            token_file,
            repeat_interval="1h",
        )
        inhibit(am.config)
        doc: dict[str, Any] = yaml.safe_load(adapter.config.read_text())
        doc["alertmanager"] = {"urls": [am.url], "poll_interval": "1s"}
        adapter.config.write_text(yaml.safe_dump(doc))
        adapter.start()
        try:
            with am:
                yield Muting(api, adapter, am)
        finally:
            adapter.stop()
    logs = adapter.log.read_text()
    assert ROUTING_KEY not in logs and TOKEN not in logs


def test_silence_acknowledges_expiry_reopens_and_a_resolve_while_silenced_resolves(
    muting: Muting,
) -> None:
    """fire: open; silence: acknowledged; expire while firing: open again (a new incident,
    at once, not after repeat_interval); silence and resolve: resolved."""
    api, am = muting.api, muting.am
    labels = {"alertname": "HighLatency", "instance": "api-01", "severity": "critical"}
    am.alert(**labels)
    (key,) = wait_for(lambda: list(api.incidents), 30, "the incident")
    assert muting.status(key) == "triggered" and api.opened[key] == 1

    silence = am.silence('alertname="HighLatency"')
    muting.wait_status(key, "acknowledged", "the acknowledge of the silenced alert")
    acks = [e for e in api.events if e["event_action"] == "acknowledge"]
    assert [e["dedup_key"] for e in acks] == [key]
    page = muting.get("/").text
    muted = page.partition("Muted in Alertmanager (1, at the last poll)")[2]
    assert key in muted.partition("</table>")[0] and "acknowledge" in muted
    metrics = muting.get("/metrics").text
    assert 'incident_adapter_mute_events_total{action="acknowledge",receiver="pd"} 1.0' in metrics
    assert 'incident_adapter_muted_alerts{reason="silenced",receiver="pd"} 1.0' in metrics
    ok = re.search(r'incident_adapter_alertmanager_polls_total\{result="ok"\} (\S+)', metrics)
    assert ok is not None and float(ok[1]) >= 1

    webhooks_before = muting.webhooks()
    am.expire(silence)
    muting.wait_status(key, "triggered", "the incident open again after the silence expired")
    assert api.opened[key] == 2  # resolved and triggered: PagerDuty's acknowledged stays so
    # Still one acknowledge: the mute was acted on once, not once per poll.
    assert sum(e["event_action"] == "acknowledge" for e in api.events) == 1
    observe_renotification(muting, webhooks_before)

    am.silence('alertname="HighLatency"')
    muting.wait_status(key, "acknowledged", "the acknowledge of the second silence")
    am.alert(resolve=True, **labels)
    muting.wait_status(key, "resolved", "the resolve of the alert that resolved while silenced")


def observe_renotification(muting: Muting, webhooks_before: int) -> None:
    """What Alertmanager itself does after the silence expires with the alert still firing:
    within three group_intervals (2s) it sends nothing; its notification log holds the group
    as notified with this very alert, so it waits for repeat_interval (docs/explanation/
    lifecycle.md)."""
    time.sleep(6)
    assert muting.webhooks() == webhooks_before


def test_inhibition_acknowledges_and_its_end_reopens_or_resolves(muting: Muting) -> None:
    """A NodeDown inhibits the warning on its instance: acknowledged; the NodeDown resolves
    while the warning fires: open again; inhibited again and resolved: resolved."""
    api, am = muting.api, muting.am
    warning = {"alertname": "PodCrashLooping", "instance": "node-3", "severity": "warning"}
    node_down = {"alertname": "NodeDown", "instance": "node-3", "severity": "critical"}
    am.alert(**warning)
    (key,) = wait_for(lambda: list(api.incidents), 30, "the warning's incident")

    am.alert(**node_down)
    muting.wait_status(key, "acknowledged", "the acknowledge of the inhibited warning")
    wait_for(lambda: len(api.incidents) == 2, 30, "the NodeDown's own incident")
    (down_key,) = set(api.incidents) - {key}
    assert muting.status(down_key) == "triggered"

    am.alert(resolve=True, **node_down)
    muting.wait_status(key, "triggered", "the warning open again once the inhibition ended")

    am.alert(**node_down)
    muting.wait_status(key, "acknowledged", "the acknowledge of the second inhibition")
    am.alert(resolve=True, **warning)
    muting.wait_status(key, "resolved", "the resolve of the warning that resolved while inhibited")


def test_two_alertmanagers_in_a_cluster_one_of_them_down(tmp_path: Path) -> None:
    """Two clustered Alertmanagers, both in `urls`: a silence made on the first acknowledges;
    with the first stopped, the poller asks the second, and the silence expired there
    reopens the incident."""
    api = EventsAPI()
    with Server(api.app()) as upstream:
        adapter = Adapter(
            tmp_path,
            upstream.url + "/v2/enqueue",
            alertmanager_receiver="adapter",
            on_silenced="acknowledge",
        )
        token_file = tmp_path / "am-token"
        token_file.write_text(TOKEN)
        hook = f"http://127.0.0.1:{adapter.port}/alerts/pd"
        first_gossip, second_gossip = free_port(), free_port()
        first = ClusteredAlertmanager(
            tmp_path,
            hook,
            token_file,
            gossip=first_gossip,
            peers=(second_gossip,),
            repeat_interval="1h",
        )
        second = ClusteredAlertmanager(
            tmp_path,
            hook,
            token_file,
            gossip=second_gossip,
            peers=(first_gossip,),
            repeat_interval="1h",
        )
        doc: dict[str, Any] = yaml.safe_load(adapter.config.read_text())
        doc["alertmanager"] = {"urls": [first.url, second.url], "poll_interval": "1s"}
        adapter.config.write_text(yaml.safe_dump(doc))
        with first, second:
            adapter.start()
            try:
                muting = Muting(api, adapter, first)
                labels = {"alertname": "QueueStuck", "instance": "mq-1", "severity": "critical"}
                for am in (first, second):  # as Prometheus does: every alert to every member
                    am.alert(**labels)
                (key,) = wait_for(lambda: list(api.incidents), 30, "the incident")
                silence = first.silence('alertname="QueueStuck"')
                muting.wait_status(key, "acknowledged", "the acknowledge")
                # The silence reached the second member by gossip before the first goes.
                wait_for(lambda: silence in second_silences(second), 30, "the gossiped silence")
                first.stop()
                second.expire(silence)
                muting.wait_status(key, "triggered", "the incident reopened through the second")
                assert api.opened[key] == 2
                failed = [
                    e for e in adapter.events() if e.get("event") == "alertmanager.poll_failed"
                ]
                assert failed and all(e["url"] == first.url for e in failed)
                metrics = muting.get("/metrics").text
                # one url answering is enough: no poll failed as a whole
                assert 'incident_adapter_alertmanager_polls_total{result="failed"} 0.0' in metrics
            finally:
                adapter.stop()


def second_silences(am: Alertmanager) -> list[str]:
    silences = httpx.get(am.url + "/api/v2/silences", timeout=10).json()
    return [s["id"] for s in silences if s["status"]["state"] == "active"]
