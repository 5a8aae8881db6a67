"""Reading Alertmanager's API for the mutes it never notifies about, and acting on them.

    Poller(state, transport).run()    the task the app's lifespan starts and cancels

Every `alertmanager.poll_interval`, `GET {url}/api/v2/alerts` from the first of
`alertmanager.urls` that answers (the last one that did is tried first); a poll that no url
answers is counted (`incident_adapter_alertmanager_polls_total{result="failed"}`) and the
next one tries again: nothing remembered is lost to it, and nothing is decided from it.
For each receiver, adapter/mutes.py says what to send; the events go through the receiver's
real path (its key, severity, render, rate window at the lowest priority, retries), one
key's events in order. The delivery memo forgets the key first: an acknowledge changes
the incident, so the trigger that follows the unmute must not be skipped as delivered.

The config is read anew on each poll, so a reload takes effect at the next one; what is
remembered for a receiver a reload removed is dropped.

With a shared store (`coordination:`), one replica polls at a time: the holder of a lease in
the store (adapter/mutes.py lease_for), which it extends at each poll, and while a poll
runs (its events may wait long in the rate window, at the lowest priority), every third
of the lease's life, so no other replica takes over mid-poll. The others skip the
poll and forget what they remembered; the one that takes the lease over (its holder stopped
extending it) starts from nothing, as after a restart. While the store is down, every
replica polls and acts on its own, as without a store.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import structlog

from adapter.activity import Activity
from adapter.config.alertmanager import AlertmanagerSettings
from adapter.delivery import Deliverer
from adapter.events import AlertEvent, UpstreamRequest, Verdict
from adapter.http_config import HTTPOptions, options_for
from adapter.keys import dedup_key_for
from adapter.matchers import all_match
from adapter.metrics import Metrics
from adapter.mutes import (
    AmAlert,
    Mute,
    MuteEvent,
    Policy,
    decide,
    lease_for,
    parse_alerts,
    seen_by_key,
)
from adapter.mutes import settle as settled
from adapter.payload import Alert, WebhookPayload
from adapter.pipeline import Delivery, Receiver, rendered
from adapter.report import AlertOutcome
from adapter.secrets import scrub
from adapter.severity import severity_for
from adapter.state import State
from adapter.transport import RequestRefused, Transport, TransportError
from adapter.urls import join, public_url

log = structlog.get_logger("adapter.poller")

# Every alert, muted or not, routed anywhere: the receivers are picked out here. Unprocessed
# ones too: right after Alertmanager starts, every alert is unprocessed for a moment, and one
# left out would read as gone, its incident resolved while it still fires.
QUERY = "active=true&silenced=true&inhibited=true&unprocessed=true"
IDLE = 1.0  # seconds between looks at the config while there is no alertmanager: block


@dataclass
class Muted:
    """A receiver's muted incidents as the last poll saw them, for the page at `/`."""

    reason: str
    action: str  # what was sent for it: acknowledge, resolve, or keep (nothing)
    alertname: str
    since: float


@dataclass
class _Target:
    """The options for one alertmanager: block, made once per (re)load of it."""

    settings: AlertmanagerSettings
    options: HTTPOptions | None
    first: int = 0  # the url tried first: the last one that answered
    failures: dict[str, int] = field(default_factory=dict)


class Poller:
    def __init__(self, state: State, transport: Transport) -> None:
        self.state = state
        self.transport = transport
        self.metrics: Metrics = state.metrics
        self.remembered: dict[str, dict[str, Mute]] = {}
        self.muted: dict[str, dict[str, Muted]] = {}
        self._target: _Target | None = None
        self.leader: bool | None = None  # whether the last poll loop polled (None: not yet)

    async def run(self) -> None:
        while True:
            settings = self.state.loaded.config.alertmanager
            if settings is None:
                self._target = None
                if self.leader is not None:  # a reload removed the block
                    self.metrics.poll_leader().set(0)
                    self.leader = None
                await asyncio.sleep(IDLE)
                continue
            started = asyncio.get_running_loop().time()
            try:
                if await self.leads(settings):
                    async with self._holding(settings):
                        await self.poll_once()
            except Exception as exc:  # never let the task die: the next poll tries again
                log.error("alertmanager.poll_error", error=f"{type(exc).__name__}: {exc}")
            spent = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(0.0, settings.poll_interval - spent))

    async def leads(self, settings: AlertmanagerSettings) -> bool:
        """Whether this replica polls now: always without a store or while it is down, else
        while it holds the lease. Losing the lease forgets what was remembered, so a later
        takeover starts from the Alertmanager's view at that moment, not a stale one."""
        deliverer = self.state.deliverer
        shared = deliverer.shared if deliverer is not None else None
        leads = True
        if shared is not None:
            name, ttl = lease_for(settings.urls, settings.poll_interval, settings.poll_timeout)
            leads = await shared.lease(name, ttl) is not False
        if leads != self.leader:
            log.info("alertmanager.poll_leader", leader=leads)
        if not leads and (self.remembered or self.muted):
            self.remembered.clear()
            for name in self.muted:  # the leader shows them now
                self.metrics.set_muted(name, 0, 0)
                self.state.activity.setdefault(name, Activity()).muted = {}
            self.muted.clear()
        self.leader = leads
        self.metrics.poll_leader().set(1 if leads else 0)
        return leads

    @contextlib.asynccontextmanager
    async def _holding(self, settings: AlertmanagerSettings) -> AsyncIterator[None]:
        """While the poll runs, the lease is extended every third of its life: a poll
        longer than the lease (mute events waiting in the rate window) keeps it."""
        deliverer = self.state.deliverer
        shared = deliverer.shared if deliverer is not None else None
        if shared is None:
            yield
            return
        name, ttl = lease_for(settings.urls, settings.poll_interval, settings.poll_timeout)

        async def extend() -> None:
            while True:
                await asyncio.sleep(ttl / 3)
                if await shared.lease(name, ttl) is False:  # (None: the store is down)
                    log.warning("alertmanager.lease_lost", during="poll")
                    return

        extending = asyncio.create_task(extend())
        try:
            yield
        finally:
            extending.cancel()
            await asyncio.wait([extending])  # (never swallows this task's own cancel)

    async def stop(self) -> None:
        """A clean stop (the run task cancelled first): the lease goes, so another replica
        polls at its next turn instead of after the lease's life (a rolling update)."""
        settings = self.state.loaded.config.alertmanager
        deliverer = self.state.deliverer
        shared = deliverer.shared if deliverer is not None else None
        if self.leader and settings is not None and shared is not None:
            name, _ = lease_for(settings.urls, settings.poll_interval, settings.poll_timeout)
            await shared.release_lease(name)

    def target(self, settings: AlertmanagerSettings) -> _Target:
        if self._target is None or self._target.settings is not settings:
            # A reload: the urls, TLS or credentials may have changed.
            options = options_for("alertmanager", settings.http_config, settings.urls[0])
            self._target = _Target(settings, options)
        return self._target

    async def fetch(self, settings: AlertmanagerSettings) -> tuple[str, list[AmAlert]] | None:
        """(the url that answered, its alerts), or None when none did."""
        target = self.target(settings)
        urls = settings.urls
        order = [urls[(target.first + i) % len(urls)] for i in range(len(urls))]
        config = self.state.loaded.config
        secrets = config.secret_values()
        query = QUERY + "&" + urlencode({"receiver": served(r.serves() for r in config.receivers)})
        for url in order:
            # join: a query in the configured url (a proxy's token) stays in the query
            endpoint = join(url, "/api/v2/alerts", query)
            request = UpstreamRequest("GET", endpoint, {"Accept": "application/json"}, b"")
            why = ""
            try:
                response = await self.transport.send(request, settings.poll_timeout, target.options)
                if response.status == 200:
                    alerts = parse_alerts(response.body)
                    target.first = urls.index(url)
                    return url, alerts
                why = f"answered {response.status}"
            except TimeoutError:
                why = f"no answer within {settings.poll_timeout:g}s"
            except (TransportError, RequestRefused) as exc:
                why = f"connection failed: {exc}"
            except ValueError as exc:
                why = f"cannot read the answer: {exc}"
            log.warning("alertmanager.poll_failed", url=scrub(url, secrets), error=why)
        return None

    async def poll_once(self) -> bool:
        """One poll, and what it calls for; False when no url answered."""
        settings = self.state.loaded.config.alertmanager
        if settings is None:
            return False
        fetched = await self.fetch(settings)
        if fetched is None:
            self.metrics.alertmanager_polls["failed"].inc()
            return False
        self.metrics.alertmanager_polls["ok"].inc()
        url, alerts = fetched
        loaded = self.state.loaded
        for name in set(self.remembered) - set(loaded.receivers):
            del self.remembered[name]
            self.muted.pop(name, None)
        by_name = {s.name: s for s in loaded.config.receivers}
        for name, receiver in loaded.receivers.items():
            receiver_settings = by_name.get(name)
            if receiver_settings is None:
                continue
            policy = Policy(receiver_settings.on_silenced, receiver_settings.on_inhibited)
            seen = seen_by_key(alerts, receiver_settings.serves(), _key_for(receiver))
            now = time.time()
            before = self.remembered.get(name, {})
            after, events = decide(before, seen, policy, now)
            failed = await self._send(receiver, events, url, receiver_settings.serves())
            self.remembered[name] = settled(before, after, failed)
            shown: dict[str, Muted] = {}
            shown_before = self.muted.get(name, {})
            for key, view in seen.items():
                if view.state in ("silenced", "inhibited"):
                    acted = self.remembered[name].get(key)
                    earlier = shown_before.get(key)
                    since = acted.since if acted is not None else now
                    shown[key] = Muted(
                        view.state,
                        acted.action if acted is not None else "keep",
                        view.alert.labels.get("alertname", ""),
                        earlier.since if earlier is not None else since,
                    )
            self.muted[name] = shown
            reasons = [m.reason for m in shown.values()]
            self.metrics.set_muted(name, reasons.count("silenced"), reasons.count("inhibited"))
            self.state.activity.setdefault(name, Activity()).muted = {
                key: (m.reason, m.action, m.alertname, m.since) for key, m in shown.items()
            }
        return True

    async def _send(
        self, receiver: Receiver, events: list[MuteEvent], url: str, am_receiver: str
    ) -> set[str]:
        """Send each key's events in order; the keys whose events failed (retryable)."""
        deliverer = self.state.deliverer
        if not events or deliverer is None:
            return {e.key for e in events}
        by_key: dict[str, list[MuteEvent]] = {}
        for event in events:
            by_key.setdefault(event.key, []).append(event)
        failed: set[str] = set()

        async def one_key(key: str, chain: list[MuteEvent]) -> None:
            for event in chain:
                result = await self._deliver(deliverer, receiver, event, url, am_receiver)
                if result is Verdict.RETRY:
                    failed.add(key)
                    return

        await asyncio.gather(*(one_key(k, c) for k, c in by_key.items()))
        return failed

    async def _deliver(
        self,
        deliverer: Deliverer,
        receiver: Receiver,
        event: MuteEvent,
        url: str,
        am_receiver: str,
    ) -> Verdict:
        alert = event.alert
        group = WebhookPayload(
            version="4",
            receiver=am_receiver,
            status="firing",
            # The Alertmanager that answered (its API names no externalURL), without the
            # userinfo or query its configured URL may carry: this goes into incidents.
            externalURL=public_url(url),
            alerts=[alert],
        )
        severity = severity_for(alert.labels, receiver.severity, alert.startsAt)
        alert_event = AlertEvent(alert, event.action, event.key, severity, group)
        (delivery,) = rendered(receiver, {event.key: (alert_event, (alert_event,))})
        # A trigger that reopens an incident pages like any trigger; the mute's own
        # acknowledge or resolve waits behind everything else.
        if event.cause != "unmuted":
            delivery = Delivery(delivery.request, delivery.events, delivery.error, priority="mute")
        deliverer.memo.forget(receiver.name, event.key)
        deadline = asyncio.get_running_loop().time() + receiver.delivery.timeout
        (result,) = await deliverer.deliver(receiver, [delivery], deadline)
        if result.verdict is Verdict.DELIVERED:
            self.metrics.mute_events.labels(receiver.name, event.action).inc()
        log.info(
            "alertmanager.mute_event",
            receiver=receiver.name,
            dedup_key=event.key,
            fingerprint=alert.fingerprint,
            action=event.action,
            cause=event.cause,
            outcome=result.verdict.value,
        )
        outcome = AlertOutcome(
            alert.fingerprint,
            event.key,
            f"{event.action} ({event.cause})",
            {Verdict.DELIVERED: "delivered", Verdict.RETRY: "failed"}.get(
                result.verdict, "rejected"
            ),
            result.status,
            result.detail,
            alert.labels.get("alertname", ""),
        )
        self.state.activity.setdefault(receiver.name, Activity()).record(time.time(), [outcome])
        return result.verdict


def served(names: Iterable[str]) -> str:
    """Alertmanager's `receiver` filter for these receivers' alerts: a regular expression it
    anchors itself (`^(?:...)$`), so the answer holds only alerts some receiver here serves."""
    return "|".join(sorted({re.escape(name) for name in names}))


def _key_for(receiver: Receiver) -> Callable[[Alert], str | None]:
    """An alert's incident key at this receiver, or None for one its matchers leave out."""
    limit = receiver.integration.dedup_key_limit

    def key_for(alert: Alert) -> str | None:
        if receiver.filters and not all_match(receiver.filters, alert.labels):
            return None
        return dedup_key_for(alert, receiver.dedup, "", limit)

    return key_for
