"""The pure decision of what a mute in Alertmanager sends (adapter/mutes.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapter.mutes import (
    AmAlert,
    Mute,
    MuteEvent,
    Policy,
    Seen,
    decide,
    lease_for,
    parse_alerts,
    seen_by_key,
    settle,
)
from adapter.payload import Alert
from tests.builders import api_alert, inhibited, silenced

ACK = Policy(on_silenced="acknowledge", on_inhibited="acknowledge")
RESOLVE = Policy(on_silenced="resolve", on_inhibited="resolve")


def poll(*alerts: dict[str, Any], receiver: str = "pd") -> dict[str, Seen]:
    parsed = parse_alerts(json.dumps(list(alerts)).encode())
    return seen_by_key(parsed, receiver, lambda a: a.labels["alertname"])


def actions(events: list[MuteEvent]) -> list[tuple[str, str, str]]:
    return [(e.key, e.action, e.cause) for e in events]


def run(policy: Policy, *polls: dict[str, Seen]) -> list[list[tuple[str, str, str]]]:
    """Each poll in turn from nothing remembered: the events each one sends."""
    remembered: dict[str, Mute] = {}
    out = []
    for now, seen in enumerate(polls):
        remembered, events = decide(remembered, seen, policy, float(now))
        out.append(actions(events))
    return out


@pytest.mark.parametrize("mute", [silenced, inhibited])
def test_a_mute_sends_the_action_once_and_unmute_while_firing_reopens(mute: Any) -> None:
    """Firing, muted, still muted, firing again: acknowledge once, then resolve + trigger."""
    reason = "silenced" if mute is silenced else "inhibited"
    assert run(ACK, poll(api_alert()), poll(mute()), poll(mute()), poll(api_alert())) == [
        [],
        [("Down", "acknowledge", reason)],
        [],
        [("Down", "resolve", "unmuted"), ("Down", "trigger", "unmuted")],
    ]


@pytest.mark.parametrize("mute", [silenced, inhibited])
def test_resolved_while_muted_resolves(mute: Any) -> None:
    """An acknowledged alert that disappears from the API is resolved, once."""
    assert run(ACK, poll(mute()), poll(), poll()) == [
        [("Down", "acknowledge", "silenced" if mute is silenced else "inhibited")],
        [("Down", "resolve", "gone")],
        [],
    ]


def test_resolve_action_resolves_once_and_unmute_triggers() -> None:
    """on_*: resolve resolves at the mute; gone later: nothing more; unmuted: a trigger."""
    assert run(RESOLVE, poll(silenced()), poll(silenced()), poll()) == [
        [("Down", "resolve", "silenced")],
        [],
        [],
    ]
    assert run(RESOLVE, poll(silenced()), poll(api_alert())) == [
        [("Down", "resolve", "silenced")],
        [("Down", "trigger", "unmuted")],
    ]


def test_keep_sends_nothing() -> None:
    """A receiver that keeps: nothing on mute, unmute or resolve."""
    assert run(Policy(), poll(api_alert()), poll(silenced()), poll(api_alert()), poll()) == [
        [],
        [],
        [],
        [],
    ]


def test_each_reason_its_own_action() -> None:
    """Silenced keeps, inhibited resolves; inhibited after an acknowledge that resolves."""
    policy = Policy(on_silenced="keep", on_inhibited="resolve")
    assert run(policy, poll(silenced()), poll(inhibited())) == [
        [],
        [("Down", "resolve", "inhibited")],
    ]
    policy = Policy(on_silenced="acknowledge", on_inhibited="resolve")
    assert run(policy, poll(silenced()), poll(inhibited()), poll(silenced())) == [
        [("Down", "acknowledge", "silenced")],
        [("Down", "resolve", "inhibited")],
        [],  # resolved already: an acknowledge would change nothing
    ]


def test_restart_baseline_sends_the_action_once_more() -> None:
    """The first poll after a start remembers nothing: a muted alert's action goes again."""
    assert run(ACK, poll(silenced()), poll(silenced())) == [
        [("Down", "acknowledge", "silenced")],
        [],
    ]


def test_other_receivers_alerts_are_ignored() -> None:
    """Only alerts routed to the Alertmanager receiver the adapter receiver serves count."""
    assert poll(silenced(receivers=("team-b",))) == {}
    assert run(ACK, poll(silenced(receivers=("team-b", "pd")))) == [
        [("Down", "acknowledge", "silenced")]
    ]
    assert run(ACK, poll(silenced(receivers=("pd",)), receiver="other")) == [[]]


def test_unprocessed_keeps_what_was_remembered() -> None:
    """Right after Alertmanager restarts its alerts are unprocessed: not gone, not unmuted."""
    assert run(ACK, poll(silenced()), poll(api_alert(state="unprocessed")), poll(silenced())) == [
        [("Down", "acknowledge", "silenced")],
        [],
        [],
    ]


def test_a_shared_key_is_muted_only_when_no_alert_of_it_fires() -> None:
    """Two alerts, one key: one silenced while the other fires keeps the incident open."""

    def shared(*alerts: dict[str, Any]) -> dict[str, Seen]:
        parsed = parse_alerts(json.dumps(list(alerts)).encode())
        return seen_by_key(parsed, "pd", lambda a: "one-key")

    one, two = api_alert("A"), api_alert("B")
    assert run(ACK, shared(silenced("A"), two), shared(silenced("A"), silenced("B"))) == [
        [],
        [("one-key", "acknowledge", "silenced")],
    ]
    assert run(ACK, shared(one, two))[0] == []


def test_a_key_filtered_out_by_the_receiver_is_not_seen() -> None:
    parsed = parse_alerts(json.dumps([silenced()]).encode())
    assert seen_by_key(parsed, "pd", lambda a: None) == {}


def test_silenced_and_inhibited_counts_as_silenced() -> None:
    both = api_alert("Down", "suppressed", silenced=("s1",), inhibited=("fp-x",))
    assert poll(both)["Down"].state == "silenced"


def test_settle_keeps_failed_keys_as_they_were() -> None:
    """A failed event is decided again on the next poll: its key keeps what it held."""
    alert = Alert(status="firing", labels={"alertname": "A"})
    before = {"A": Mute("silenced", "acknowledge", alert, 1.0)}
    after, events = decide(before, {}, ACK, 2.0)
    assert actions(events) == [("A", "resolve", "gone")] and after == {}
    assert settle(before, after, {"A"}) == before
    after, events = decide({}, {"B": Seen("silenced", alert)}, ACK, 2.0)
    assert settle({}, after, {"B"}) == {}


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"alerts": []}', b'[{"fingerprint": "x"}]', b"[1]"],
)
def test_parse_refuses_what_is_not_the_api(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_alerts(body)


def test_parse_reads_the_api_fields() -> None:
    (alert,) = parse_alerts(json.dumps([silenced(receivers=("pd", "x"))]).encode())
    assert alert == AmAlert(
        fingerprint="fp-Down",
        labels={"alertname": "Down"},
        annotations={"summary": "Down now"},
        starts_at="2026-12-05T07:00:00Z",
        generator_url="http://prometheus/graph",
        state="suppressed",
        silenced_by=("s1",),
        inhibited_by=(),
        receivers=("pd", "x"),
    )
    assert alert.as_alert().status == "firing"


def test_the_poll_lease_is_named_after_the_alertmanagers_and_outlasts_polls() -> None:
    name, ttl = lease_for(["http://am0:9093", "http://am1:9093"], 60.0, 10.0)
    assert name.startswith("alertmanager:") and ttl == 180.0  # three polls
    # The same cluster listed in another order: the same lease; another cluster: its own.
    assert lease_for(["http://am1:9093", "http://am0:9093"], 60.0, 10.0)[0] == name
    assert lease_for(["http://other:9093"], 60.0, 10.0)[0] != name
    assert lease_for(["http://am0:9093"], 1.0, 1.0)[1] == 5.0  # never under LEASE_MIN
    # A poll that waits for every url's timeout still fits in the lease.
    urls = [f"http://am{i}:9093" for i in range(4)]
    assert lease_for(urls, 10.0, 10.0)[1] >= 4 * 10.0 + 10.0
