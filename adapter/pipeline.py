"""Webhook → requests, without I/O: split the group, filter, key, severity, render.

    plan(receiver, payload) -> Plan(deliveries, filtered)

`Receiver` is a configured receiver made ready for the hot path: its rules turned into
plain objects once, at load, instead of on every alert.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlsplit

from adapter import storm
from adapter.config.receivers import (
    DeliverySettings,
    RateLimitSettings,
    ReceiverSettings,
    StormGuardSettings,
)
from adapter.events import Action, AlertEvent, RenderError, UpstreamRequest
from adapter.http_config import HTTPOptions, options_for
from adapter.integrations import integration_for
from adapter.integrations.base import Integration, confined
from adapter.keys import DedupRule, dedup_key_for
from adapter.matchers import Matcher, all_match
from adapter.payload import Alert, WebhookPayload
from adapter.ratelimit import RateWindow
from adapter.secrets import scrub
from adapter.severity import SEVERITIES, SeverityRule, severity_for


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    kind: str
    integration: Integration[ReceiverSettings]
    dedup: DedupRule
    severity: SeverityRule
    filters: tuple[Matcher, ...]
    delivery: DeliverySettings
    secrets: tuple[str, ...]
    rate_window: RateWindow | None
    storm_guard: StormGuardSettings | None
    http: HTTPOptions | None
    # Where every request of the receiver must stay (adapter/urls.py): its `url`.
    base_url: str = ""

    @classmethod
    def from_settings(
        cls, settings: ReceiverSettings, defaults: DeliverySettings, before: Receiver | None = None
    ) -> Receiver:
        """`before`: the receiver of this name that a reload replaces, whose rate budget
        carries over (RateWindow.succeeding)."""
        integration = integration_for(settings)
        return cls(
            name=settings.name,
            kind=settings.type,
            integration=integration,
            dedup=settings.dedup_key.rule(settings.name),
            severity=settings.severity.rule(),
            filters=settings.matchers,
            delivery=settings.delivery.over(defaults),
            secrets=tuple(settings.secret_values()),
            rate_window=_rate_window(
                settings.rate_limit,
                integration.default_rate_limit,
                before.rate_window if before else None,
            ),
            storm_guard=settings.storm_guard,
            http=options_for(settings.name, settings.http_config, getattr(settings, "url", "")),
            base_url=settings.base_url(),
        )


def _rate_window(
    setting: RateLimitSettings | Literal["off"] | None,
    default: tuple[int, float] | None,
    before: RateWindow | None,
) -> RateWindow | None:
    """The receiver's rate window on these terms; on a reload, `before` itself, carried over."""
    if setting == "off" or (setting is None and default is None):
        return None
    if setting is None:
        assert default is not None
        requests, per = default
        return RateWindow(requests, per).succeeding(before)
    return RateWindow(setting.requests, setting.per, setting.burst, setting.reserve).succeeding(
        before
    )


@dataclass(slots=True)  # a value, not frozen: made per event (docs/explanation/design.md)
class Delivery:
    """One upstream request and the alert events whose fate it decides; or, when the
    events could not be rendered, why (`error`), and nothing to send."""

    request: UpstreamRequest | None
    events: tuple[AlertEvent, ...]
    error: str = ""
    # The longest wait an upstream asked for (Retry-After) while delivering it, if any.
    retry_after: float | None = None
    # Its rank's name in adapter/ratelimit.py PRIORITIES; None: from its events (delivery.py).
    priority: str | None = None

    def heard(self, wait: float) -> None:
        if self.retry_after is None or wait > self.retry_after:
            self.retry_after = wait


@dataclass(slots=True)  # a value, not frozen: made per event (docs/explanation/design.md)
class Plan:
    deliveries: list[Delivery]
    filtered: list[Alert]


# Why an alert without labels is refused, alone: it is not an alert Alertmanager would take
# (prometheus/common model.Alert.Validate: "at least one label pair required"), and every
# such alert would share one key (the fingerprint of no labels), one incident for all.
NO_LABELS = "the alert has no labels (Alertmanager requires at least one): not sent"


def events_for(
    receiver: Receiver, payload: WebhookPayload
) -> tuple[list[AlertEvent], list[Alert], list[Delivery]]:
    """Every alert its own event, by its own status: a `firing` group may hold resolved
    alerts. Also the alerts refused alone, each a Delivery with nothing to send and why."""
    events: list[AlertEvent] = []
    filtered: list[Alert] = []
    refused: list[Delivery] = []
    limit = receiver.integration.dedup_key_limit
    for alert in payload.alerts:
        action: Action = "trigger" if alert.status == "firing" else "resolve"
        if not alert.labels:
            unlabelled = AlertEvent(alert, action, "", "info", payload)
            refused.append(Delivery(None, (unlabelled,), NO_LABELS))
            continue
        try:
            if receiver.filters and not all_match(receiver.filters, alert.labels):
                filtered.append(alert)
                continue
            event = AlertEvent(
                alert=alert,
                action=action,
                dedup_key=dedup_key_for(alert, receiver.dedup, payload.groupKey, limit),
                severity=severity_for(alert.labels, receiver.severity, alert.startsAt),
                group=payload,
            )
            if not receiver.integration.wants(event):  # e.g. no status-page component for it
                filtered.append(alert)
                continue
        except Exception as exc:  # one alert's fault fails that alert, never the webhook
            unkeyed = AlertEvent(alert, action, "", "info", payload)
            error = receiver.integration.unexpected(exc, unkeyed)
            refused.append(Delivery(None, (unkeyed,), f"cannot key or route the alert: {error}"))
            continue
        events.append(event)
    return events, filtered, refused


def by_key(events: list[AlertEvent]) -> dict[str, tuple[AlertEvent, tuple[AlertEvent, ...]]]:
    """One event per dedup key, standing for all alerts that share it.

    Keys shared by several alerts (strategy `group`, or `labels` naming fewer labels than
    tell alerts apart) stand for one incident: it is open while any of them fires, at the
    worst severity among those firing, and resolves only when all of them have resolved.
    """
    groups: dict[str, list[AlertEvent]] = {}
    for event in events:
        groups.setdefault(event.dedup_key, []).append(event)
    merged: dict[str, tuple[AlertEvent, tuple[AlertEvent, ...]]] = {}
    for key, members in groups.items():
        if len(members) == 1:
            merged[key] = (members[0], (members[0],))
            continue
        firing = [e for e in members if e.action == "trigger"]
        if firing:
            worst = min(firing, key=lambda e: SEVERITIES.index(e.severity))
            merged[key] = (replace(firing[0], severity=worst.severity), tuple(members))
        else:
            merged[key] = (members[0], tuple(members))
    return merged


def plan(receiver: Receiver, payload: WebhookPayload) -> Plan:
    events, filtered, deliveries = events_for(receiver, payload)
    merged = by_key(events)
    if (sg := receiver.storm_guard) is not None:
        limit = receiver.integration.dedup_key_limit
        merged = storm.guard(merged, payload, sg.threshold, sg.listed, receiver.dedup.prefix, limit)
    deliveries.extend(rendered(receiver, merged))
    return Plan(deliveries, filtered)


def rendered(
    receiver: Receiver, merged: Mapping[str, tuple[AlertEvent, tuple[AlertEvent, ...]]]
) -> list[Delivery]:
    """The deliveries of events merged by key (`by_key`): each rendered by the receiver's
    dialect and confined under its url, or failed alone with why."""
    deliveries: list[Delivery] = []
    integration = receiver.integration
    sender: tuple[bytes, ...] = ()
    for rep, _ in merged.values():
        sender = sender_marks(rep.group.externalURL)
        break
    for request, reps in _rendered(receiver, [rep for rep, _ in merged.values()]):
        if len(reps) == 1:  # one request per event: most dialects
            covered = merged[reps[0].dedup_key][1]
        else:
            covered = tuple(member for rep in reps for member in merged[rep.dedup_key][1])
        if (
            not isinstance(request, RenderError)
            and integration.sends
            # the receiver's url itself, with nothing to follow, is under it: most requests
            and (request.url != receiver.base_url or request.then is not None)
        ):
            try:
                request = confined(request, receiver.base_url)
            except RenderError as exc:
                request = exc
        if isinstance(request, RenderError):
            # A render error may quote what it rendered: no secret of the receiver in it.
            why = scrub(str(request), receiver.secrets)
            deliveries.append(Delivery(None, covered, f"cannot render: {why}"))
        else:
            if sender and request.memo_identity is None and request.then is None:
                request.memo_identity = without_sender(request.body, sender)
            deliveries.append(Delivery(request, covered))
    return deliveries


@functools.lru_cache(maxsize=64)  # an externalURL per Alertmanager: a handful at most
def sender_marks(external_url: str) -> tuple[bytes, ...]:
    """What of a body tells which Alertmanager sent the notification: its externalURL as
    written and as a link, and its host (events-v2's `source`, alias's `source`).

    The members of an HA cluster each notify with their own externalURL; the two
    notifications of one alert render to bodies that differ only there. The memo compares
    bodies without it, so the second is skipped as the same event, on one replica or, with
    the store, across replicas (adapter/memo.py, adapter/coordination/)."""
    url = external_url.strip()
    if not url:
        return ()
    try:
        host = urlsplit(url).netloc
    except ValueError:
        host = ""
    marks = {url, url.rstrip("/"), host}
    # longest first, so a mark inside another goes with it whole
    return tuple(m.encode() for m in sorted(marks, key=len, reverse=True) if m)


def without_sender(body: bytes, marks: tuple[bytes, ...]) -> bytes:
    """The body as the memo sees it: each sender mark replaced by a byte that a JSON body
    cannot hold raw, so no two bodies that differ elsewhere become one."""
    for mark in marks:
        body = body.replace(mark, b"\0")
    return body


def _rendered(
    receiver: Receiver, reps: list[AlertEvent]
) -> list[tuple[UpstreamRequest | RenderError, tuple[AlertEvent, ...]]]:
    """The dialect's requests; should its render_all itself raise (each dialect already
    isolates its events), its events fail alone, rejected, not the webhook."""
    try:
        return receiver.integration.render_all(reps)
    except Exception as exc:
        return [(receiver.integration.unexpected(exc, rep), (rep,)) for rep in reps]


def receivers_from(
    settings: Sequence[ReceiverSettings],
    defaults: DeliverySettings,
    before: Mapping[str, Receiver] | None = None,
) -> dict[str, Receiver]:
    """The receivers ready for use; on a reload, `before` holds the ones they replace."""
    before = before or {}
    return {s.name: Receiver.from_settings(s, defaults, before.get(s.name)) for s in settings}
