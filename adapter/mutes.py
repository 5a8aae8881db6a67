"""What a silence or an inhibition in Alertmanager does to an incident, without I/O.

Alertmanager notifies nobody about a muted alert, not even its resolve (prometheus/alertmanager
issue 226), so an incident it opened would stay open. adapter/poller.py reads Alertmanager's
own view (`GET /api/v2/alerts`) every poll_interval and asks this module what to send:

    parse_alerts(body) -> [AmAlert]                       the API's answer, or ValueError
    seen_by_key(alerts, am_receiver, key_for) -> {key: Seen}
    decide(before, seen, policy, now) -> (after, [MuteEvent])

State is kept per incident key (what the adapter sent for it), so the keys that several
alerts share (strategy `labels`) are muted only when none of their alerts still fires.

    a key turns silenced/inhibited, action not keep   send the action once; remember it
    still muted on the next poll                      nothing
    muted by the other reason (its action differs)    a resolve after an acknowledge; else nothing
    no longer muted and still firing                  trigger again (after an acknowledge: a
                                                      resolve first, since PagerDuty and Opsgenie
                                                      fold a trigger into the acknowledged incident)
    gone from the API while remembered                resolve, unless the action was resolve
    unprocessed (Alertmanager restarted)              nothing: what was remembered stays

The first poll after a start has nothing remembered: every muted key gets its action once
more (harmless: acknowledging an acknowledged incident, resolving a resolved one).

    lease_for(urls, poll_interval, poll_timeout) -> (name, ttl)   with a shared store, the lease
                                                      that lets one replica poll at a time
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

import orjson

from adapter.payload import Alert

Reason = Literal["silenced", "inhibited"]
SeenState = Literal["active", "silenced", "inhibited", "unprocessed"]
MuteVerb = Literal["acknowledge", "resolve"]
Sent = Literal["acknowledge", "resolve", "trigger"]
# Why an event is sent: the mute, the end of it, or the alert gone while muted.
Cause = Literal["silenced", "inhibited", "unmuted", "gone"]

# When one key has alerts in several states, the one that decides: any alert still firing
# unmuted keeps the incident open; one being processed leaves what was remembered alone.
_STRENGTH: dict[str, int] = {"active": 0, "unprocessed": 1, "silenced": 2, "inhibited": 3}


@dataclass(frozen=True, slots=True)
class AmAlert:
    """One alert of `GET /api/v2/alerts` (Alertmanager's gettableAlert), the fields used."""

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    generator_url: str
    state: str  # active | suppressed | unprocessed
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]
    receivers: tuple[str, ...]

    @property
    def seen_state(self) -> SeenState:
        if self.state == "unprocessed":
            return "unprocessed"
        if self.silenced_by:  # silenced and inhibited: a person muted it, that decides
            return "silenced"
        if self.inhibited_by:
            return "inhibited"
        return "active"

    def as_alert(self) -> Alert:
        return Alert(
            status="firing",
            labels=self.labels,
            annotations=self.annotations,
            startsAt=self.starts_at,
            generatorURL=self.generator_url,
            fingerprint=self.fingerprint,
        )


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def parse_alerts(body: bytes) -> list[AmAlert]:
    """The alerts of an answer of `GET /api/v2/alerts`; ValueError for anything else."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, list):
        raise ValueError("not a list of alerts")
    out = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("labels"), dict):
            raise ValueError("an alert without labels")
        status = item.get("status")
        if not isinstance(status, dict):
            status = {}
        receivers = item.get("receivers") or []
        out.append(
            AmAlert(
                fingerprint=str(item.get("fingerprint", "")),
                labels=_strings(item["labels"]),
                annotations=_strings(item.get("annotations")),
                starts_at=str(item.get("startsAt", "")),
                generator_url=str(item.get("generatorURL", "")),
                state=str(status.get("state", "active")),
                silenced_by=tuple(str(s) for s in status.get("silencedBy") or ()),
                inhibited_by=tuple(str(s) for s in status.get("inhibitedBy") or ()),
                receivers=tuple(str(r.get("name", "")) for r in receivers if isinstance(r, dict)),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Seen:
    """An incident key as one poll shows it: its state and an alert that stands for it."""

    state: SeenState
    alert: Alert


def seen_by_key(
    alerts: Iterable[AmAlert], am_receiver: str, key_for: Callable[[Alert], str | None]
) -> dict[str, Seen]:
    """The keys of the alerts Alertmanager routes to `am_receiver`; `key_for` gives an alert's
    incident key, or None for one the adapter receiver would not send (its matchers)."""
    seen: dict[str, Seen] = {}
    for am_alert in alerts:
        if am_receiver not in am_alert.receivers:
            continue
        alert = am_alert.as_alert()
        key = key_for(alert)
        if key is None:
            continue
        state = am_alert.seen_state
        before = seen.get(key)
        if before is None or _STRENGTH[state] < _STRENGTH[before.state]:
            seen[key] = Seen(state, alert)
    return seen


@dataclass(frozen=True, slots=True)
class Policy:
    on_silenced: Literal["keep", "acknowledge", "resolve"] = "keep"
    on_inhibited: Literal["keep", "acknowledge", "resolve"] = "keep"

    def action(self, reason: Reason) -> Literal["keep", "acknowledge", "resolve"]:
        return self.on_silenced if reason == "silenced" else self.on_inhibited


@dataclass(frozen=True, slots=True)
class Mute:
    """What the adapter sent for a muted key, and since when (wall clock)."""

    reason: Reason
    action: MuteVerb
    alert: Alert
    since: float


@dataclass(frozen=True, slots=True)
class MuteEvent:
    key: str
    action: Sent
    cause: Cause
    alert: Alert


def decide(
    before: Mapping[str, Mute], seen: Mapping[str, Seen], policy: Policy, now: float
) -> tuple[dict[str, Mute], list[MuteEvent]]:
    """What to remember after this poll, and the events to send, in order."""
    after: dict[str, Mute] = {}
    events: list[MuteEvent] = []
    for key, view in seen.items():
        prev = before.get(key)
        if view.state == "unprocessed":
            if prev is not None:
                after[key] = prev
            continue
        if view.state == "active":
            if prev is not None:
                events.extend(unmuted(key, prev, view.alert))
            continue
        reason: Reason = view.state
        action = policy.action(reason)
        if action == "keep":
            if prev is not None:  # muted now by a reason that keeps: what was sent stands
                after[key] = replace(prev, reason=reason)
            continue
        if prev is None or (prev.action == "acknowledge" and action == "resolve"):
            events.append(MuteEvent(key, action, reason, view.alert))
            after[key] = Mute(reason, action, view.alert, now if prev is None else prev.since)
        else:
            after[key] = replace(prev, reason=reason)
    for key, prev in before.items():
        if key not in seen and prev.action == "acknowledge":
            events.append(MuteEvent(key, "resolve", "gone", prev.alert))
    return after, events


def unmuted(key: str, prev: Mute, alert: Alert) -> list[MuteEvent]:
    """The events that make an incident open again for an alert that still fires."""
    trigger = MuteEvent(key, "trigger", "unmuted", alert)
    if prev.action == "acknowledge":
        return [MuteEvent(key, "resolve", "unmuted", alert), trigger]
    return [trigger]


def settle(
    before: Mapping[str, Mute], after: Mapping[str, Mute], failed: Iterable[str]
) -> dict[str, Mute]:
    """`after`, but for each key whose events failed (retryable) what `before` held, so the
    next poll decides the same again and retries them."""
    settled = dict(after)
    for key in failed:
        if key in before:
            settled[key] = before[key]
        else:
            settled.pop(key, None)
    return settled


LEASE_POLLS = 3  # polls a leader may miss before another replica takes over
LEASE_MIN = 5.0  # seconds: the shortest lease, so a slow store round trip never loses it


def lease_for(urls: Iterable[str], poll_interval: float, poll_timeout: float) -> tuple[str, float]:
    """The poll lease's name and its life in seconds. The name carries a hash of the
    Alertmanager urls (in any order: the same cluster), so two deployments sharing a store
    but polling different Alertmanagers each have a leader. The life outlasts LEASE_POLLS
    polls, and a poll that tries every url until its timeout."""
    listed = sorted(urls)
    hashed = hashlib.blake2b("\n".join(listed).encode(), digest_size=6).hexdigest()
    ttl = max(LEASE_POLLS * poll_interval, len(listed) * poll_timeout + poll_interval, LEASE_MIN)
    return f"alertmanager:{hashed}", ttl
