"""Prometheus metrics, prefix `incident_adapter_`, in a registry the app is given.

Label values are created for every configured receiver at start, so each series exists
at 0 before the first webhook (rate() and absent() alerts work from the first scrape).
No alertname or fingerprint labels: those are unbounded.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from adapter import __version__
from adapter.ratelimit import PRIORITIES

ACTIONS = ("trigger", "resolve")
MUTE_ACTIONS = ("acknowledge", "resolve", "trigger")
OUTCOMES = ("delivered", "skipped", "filtered", "failed", "rejected")
CODES = ("200", "400", "401", "404", "408", "413", "415", "422", "424", "500", "503")
CODE_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
COORDINATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
ALERT_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


@dataclass(frozen=True, slots=True)
class ReceiverMetrics:
    webhooks: dict[str, Any]
    events: dict[tuple[str, str], Any]
    upstream: dict[str, Any]
    delivery_seconds: Any
    retries: Any
    alerts_per_webhook: Any
    truncated: Any
    budget_waiting: dict[str, Any]

    def webhook(self, code: int) -> None:
        self.webhooks[str(code)].inc()


class Metrics:
    def __init__(self, registry: CollectorRegistry, receivers: Iterable[str]) -> None:
        ns = "incident_adapter"
        self.registry = registry
        self.webhooks = Counter(
            "webhook_requests",
            "Webhook requests answered, by receiver and HTTP status code.",
            ["receiver", "code"],
            namespace=ns,
            registry=registry,
        )
        self.events = Counter(
            "events",
            "Alert events, by receiver, action and outcome "
            "(delivered; skipped: delivered before, by the memo; filtered; "
            "failed: retryable; rejected: permanent).",
            ["receiver", "action", "outcome"],
            namespace=ns,
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "delivery_duration_seconds",
            "Time to deliver one upstream request, retries included.",
            ["receiver"],
            namespace=ns,
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.retries = Counter(
            "retries",
            "Upstream attempts after the first.",
            ["receiver"],
            namespace=ns,
            registry=registry,
        )
        self.upstream = Counter(
            "upstream_responses",
            "Upstream answers by status class; `error` is no answer.",
            ["receiver", "code_class"],
            namespace=ns,
            registry=registry,
        )
        self.alerts_per_webhook = Histogram(
            "alerts_per_webhook",
            "Alerts in one webhook.",
            ["receiver"],
            namespace=ns,
            registry=registry,
            buckets=ALERT_BUCKETS,
        )
        self.truncated = Counter(
            "truncated_alerts",
            "Alerts Alertmanager left out of a webhook (truncatedAlerts).",
            ["receiver"],
            namespace=ns,
            registry=registry,
        )
        self.budget_waiting = Gauge(
            "budget_waiting",
            "Upstream requests waiting for the receiver's rate budget now, by priority "
            "(critical, error, resolve, warning, info, mute; served in that order).",
            ["receiver", "priority"],
            namespace=ns,
            registry=registry,
        )
        self.reload_ok = Gauge(
            "config_last_reload_successful",
            "Whether the last configuration load succeeded.",
            namespace=ns,
            registry=registry,
        )
        self.reload_time = Gauge(
            "config_last_reload_success_timestamp_seconds",
            "Time of the last successful load.",
            namespace=ns,
            registry=registry,
        )
        self.am_polls = Counter(
            "alertmanager_polls",
            "Polls of Alertmanager's API for silenced and inhibited alerts, by result "
            "(ok: a url answered; failed: none did).",
            ["result"],
            namespace=ns,
            registry=registry,
        )
        self.alertmanager_polls = {r: self.am_polls.labels(r) for r in ("ok", "failed")}
        self.muted = Gauge(
            "muted_alerts",
            "Incidents of the receiver whose alerts Alertmanager silences or inhibits, at the "
            "last poll.",
            ["receiver", "reason"],
            namespace=ns,
            registry=registry,
        )
        self.mute_events = Counter(
            "mute_events",
            "Events delivered because an alert was muted, unmuted or resolved while muted "
            "(adapter/mutes.py), by action.",
            ["receiver", "action"],
            namespace=ns,
            registry=registry,
        )
        Info("build", "Build information.", namespace=ns, registry=registry).info(
            {"version": __version__, "python_version": platform.python_version()}
        )
        self._children: dict[str, ReceiverMetrics] = {}
        self._coordination: tuple[Any, Any] | None = None
        self._poll_leader: Any = None
        self._retired: dict[str, ReceiverMetrics] = {}  # removed by a reload
        for name in receivers:
            self.add_receiver(name)
        # Webhooks refused before a receiver is known count under receiver="": create
        # those series too, so increase() sees the first refusal.
        for code in ("400", "401", "404", "408", "413", "415", "422", "500"):
            self.webhooks.labels("", code)

    def add_receiver(self, name: str) -> None:
        self._retired.pop(name, None)
        self._children[name] = ReceiverMetrics(
            webhooks={code: self.webhooks.labels(name, code) for code in CODES},
            events={(a, o): self.events.labels(name, a, o) for a in ACTIONS for o in OUTCOMES},
            upstream={c: self.upstream.labels(name, c) for c in CODE_CLASSES},
            delivery_seconds=self.delivery_seconds.labels(name),
            retries=self.retries.labels(name),
            alerts_per_webhook=self.alerts_per_webhook.labels(name),
            truncated=self.truncated.labels(name),
            budget_waiting={p: self.budget_waiting.labels(name, p) for p in PRIORITIES},
        )
        for reason in ("silenced", "inhibited"):
            self.muted.labels(name, reason)
        for action in MUTE_ACTIONS:
            self.mute_events.labels(name, action)

    def remove_receiver(self, name: str) -> None:
        """Drop every series of a receiver a reload removed: a dashboard or an alert must not
        keep showing it at its last values. Webhooks still in flight for it keep counting,
        into children no longer exported."""
        removed = self._children.pop(name, None)
        if removed is None:
            return
        self._retired[name] = removed
        for family in (
            self.webhooks,
            self.events,
            self.upstream,
            self.delivery_seconds,
            self.retries,
            self.alerts_per_webhook,
            self.truncated,
            self.budget_waiting,
            self.muted,
            self.mute_events,
        ):
            family.remove_by_labels({"receiver": name})

    def of(self, receiver: str) -> ReceiverMetrics:
        """The receiver's series, looked up once at load instead of on every call."""
        try:
            return self._children[receiver]
        except KeyError:  # removed by a reload while its webhook was in flight
            return self._retired[receiver]

    def set_muted(self, receiver: str, silenced: int, inhibited: int) -> None:
        if receiver in self._children:
            self.muted.labels(receiver, "silenced").set(silenced)
            self.muted.labels(receiver, "inhibited").set(inhibited)

    def coordination(self) -> tuple[Any, Any]:
        """The shared store's series (adapter/coordination/), made with the first store:
        with no `coordination:` block they are absent, not 0, so no alert takes one process
        for a replica that lost its store."""
        if self._coordination is None:
            up = Gauge(
                "coordination_up",
                "1 while the shared store answers; 0 while this replica falls back to "
                "1/replicas of each rate limit and its own memo.",
                namespace="incident_adapter",
                registry=self.registry,
            )
            seconds = Histogram(
                "coordination_seconds",
                "Time one shared decision took in the store, by operation.",
                ["operation"],
                namespace="incident_adapter",
                registry=self.registry,
                buckets=COORDINATION_BUCKETS,
            )
            self._coordination = (up, seconds)
        return self._coordination

    def poll_leader(self) -> Any:
        """Whether this replica polls Alertmanager (adapter/poller.py), made at the first poll
        loop with an `alertmanager:` block: absent without one."""
        if self._poll_leader is None:
            self._poll_leader = Gauge(
                "alertmanager_poll_leader",
                "1 on the replica that polls Alertmanager and acts on mutes (the only one "
                "while a shared store holds the lease); 0 on the others.",
                namespace="incident_adapter",
                registry=self.registry,
            )
        return self._poll_leader

    def config_loaded(self, ok: bool, when: float) -> None:
        self.reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_time.set(when)


def code_class(status: int | None) -> str:
    """2xx..5xx, or `error` for no answer (and for a status outside HTTP's range)."""
    if status is None or not 200 <= status < 600:
        return "error"
    return f"{status // 100}xx"
