"""A test incident: one unmistakable alert sent through a receiver's real path, then resolved.

    probe = Probe.for_receiver(receiver, severity="info")
    trigger = await probe.send(deliverer, firing=True)     -> ProbeStep
    resolve = await probe.send(deliverer, firing=False)    -> ProbeStep

The same plan → deliver → report as a webhook: the receiver's key rule, severity rule,
matchers, rate budget, retries, TLS and secrets. What marks it as a test:

- alertname `IncidentAdapterTest`, a summary that says it is a test and from which host;
- a label `incident_adapter_test="<run id>"` (a fresh random id per test), so its
  fingerprint and group key are its own;
- its dedup key is the receiver's key rule with `incident-adapter-test-<run id>/` after
  the rule's prefix. A real alert's key is that prefix followed by a fingerprint (16 hex
  digits), a `name=value,...` list or an Alertmanager group key (`{}:{...}`), none of
  which starts with `incident-adapter-test-`, so no real alert can share the test's key
  whatever the strategy (`labels` naming labels the test alert lacks included).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from adapter.delivery import Deliverer
from adapter.payload import Alert, WebhookPayload, fingerprint
from adapter.pipeline import Receiver, plan
from adapter.report import AlertOutcome, build_report
from adapter.severity import SEVERITIES

ALERTNAME = "IncidentAdapterTest"
MARK_LABEL = "incident_adapter_test"
KEY_MARK = "incident-adapter-test-"
DEFAULT_SEVERITY = "info"  # a test should not page anyone at night unless asked to


@dataclass(frozen=True, slots=True)
class ProbeStep:
    """What the incident API made of one step (trigger or resolve) of a test incident."""

    action: str
    dedup_key: str
    outcome: str  # delivered | failed | rejected | filtered | skipped
    status: int | None = None
    detail: str = ""
    dry_run: bool = False

    @property
    def accepted(self) -> bool:
        return self.outcome in ("delivered", "skipped")

    @property
    def text(self) -> str:
        if self.dry_run:
            return "accepted (a `log` receiver: written to the log, nothing sent)"
        upstream = f" (upstream {self.status})" if self.status is not None else ""
        if self.accepted:
            return f"accepted{upstream}"
        if self.outcome == "filtered":
            return (
                "not sent: the receiver filters the test alert out (its matchers, or a "
                "status page without a component for it); add the labels it needs"
            )
        kind = "failed, retryable" if self.outcome == "failed" else "refused"
        return f"{kind}{upstream}: {self.detail or 'no reason given'}"

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "dedup_key": self.dedup_key,
            "accepted": self.accepted,
            "outcome": self.outcome,
            "upstream_status": self.status,
            "answer": self.text,
        }


@dataclass(frozen=True, slots=True)
class Probe:
    receiver: Receiver  # the configured receiver, its key prefix extended by the test's mark
    run_id: str
    host: str
    severity: str
    labels: dict[str, str] = field(default_factory=dict)
    started: str = ""

    @classmethod
    def for_receiver(
        cls,
        receiver: Receiver,
        severity: str = DEFAULT_SEVERITY,
        labels: dict[str, str] | None = None,
        host: str | None = None,
    ) -> Probe:
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        run_id = uuid.uuid4().hex[:16]
        rule = receiver.dedup
        marked = replace(receiver, dedup=replace(rule, prefix=f"{rule.prefix}{KEY_MARK}{run_id}/"))
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return cls(marked, run_id, host or socket.gethostname(), severity, labels or {}, started)

    def alert_labels(self) -> dict[str, str]:
        return {
            **self.labels,
            "alertname": ALERTNAME,
            self.receiver.severity.label: self.severity,
            "instance": self.labels.get("instance", self.host),
            MARK_LABEL: self.run_id,
        }

    def payload(self, firing: bool) -> WebhookPayload:
        labels = self.alert_labels()
        status: Literal["firing", "resolved"] = "firing" if firing else "resolved"
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        alert = Alert(
            status=status,
            labels=labels,
            annotations={
                "summary": f"TEST incident from incident-adapter on {self.host}: nothing is wrong",
                "description": (
                    f"A test of receiver {self.receiver.name!r} sent by incident-adapter on "
                    f"{self.host} (test {self.run_id}); it resolves by itself."
                ),
            },
            startsAt=self.started,
            endsAt="0001-01-01T00:00:00Z" if firing else now,
            fingerprint=fingerprint(labels),
        )
        group_labels = {"alertname": ALERTNAME, MARK_LABEL: self.run_id}
        return WebhookPayload(
            version="4",
            groupKey=f'{{}}/{{{MARK_LABEL}="{self.run_id}"}}:{{alertname="{ALERTNAME}"}}',
            status=status,
            receiver=self.receiver.name,
            groupLabels=group_labels,
            commonLabels=labels,
            commonAnnotations=alert.annotations,
            alerts=[alert],
        )

    async def send(
        self, deliverer: Deliverer, firing: bool
    ) -> tuple[ProbeStep, list[AlertOutcome]]:
        """One step through plan → deliver → report, within the receiver's delivery.timeout.

        Returns the answer and the report's outcomes (for the landing page's deliveries).
        """
        receiver = self.receiver
        the_plan = plan(receiver, self.payload(firing))
        deadline = asyncio.get_running_loop().time() + receiver.delivery.timeout
        results = await deliverer.deliver(receiver, the_plan.deliveries, deadline)
        report = build_report(receiver.name, the_plan, results)
        (outcome,) = report.outcomes  # one alert in, one outcome out
        answer = ProbeStep(
            outcome.action,
            outcome.dedup_key,
            outcome.result,
            outcome.status,
            outcome.detail,
            dry_run=outcome.result == "delivered" and not receiver.integration.sends,
        )
        return answer, report.outcomes


async def run(probe: Probe, resolve_after: float, say: Callable[[str], None]) -> int:
    """The command line's test: trigger, wait (Ctrl-C ends the wait), resolve; 0 if both
    were accepted. A second Ctrl-C while resolving stops, saying the resolve is unconfirmed."""
    from prometheus_client import CollectorRegistry

    from adapter.metrics import Metrics
    from adapter.transport import AiohttpTransport

    receiver = probe.receiver
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    interrupted = asyncio.Event()
    resolving = False

    def on_interrupt() -> None:
        if resolving and main is not None:
            main.cancel()
        interrupted.set()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    transport = AiohttpTransport()
    deliverer = Deliverer(transport, Metrics(CollectorRegistry(), [receiver.name]))
    try:
        labels = ", ".join(f"{k}={v!r}" for k, v in probe.alert_labels().items())
        say(f"Sending a test incident to receiver {receiver.name!r} ({receiver.kind}): {labels}")
        trigger, _ = await probe.send(deliverer, firing=True)
        say(f"trigger: {trigger.text}")
        if trigger.dedup_key:
            say(f"dedup key: {trigger.dedup_key}")
        if not trigger.accepted:
            say("resolving at once, in case the trigger opened anything")
        elif interrupted.is_set():
            say("interrupted: resolving now")
        elif resolve_after > 0:
            say(f"waiting {resolve_after:g}s before the resolve (Ctrl-C resolves now) ...")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupted.wait(), resolve_after)
            if interrupted.is_set():
                say("interrupted: resolving now")
        resolving = True
        try:
            resolve, _ = await probe.send(deliverer, firing=False)
        except asyncio.CancelledError:
            say(
                "interrupted again: the resolve was NOT confirmed; the test incident "
                f"{trigger.dedup_key or '(no key)'} may stay open: resolve it in the incident tool"
            )
            return 1
        say(f"resolve: {resolve.text}")
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)
        await transport.aclose()
    if trigger.accepted and resolve.accepted:
        say("OK: the incident API accepted the trigger and the resolve")
        return 0
    failed = [a.action for a in (trigger, resolve) if not a.accepted]
    say(f"FAILED: the incident API did not accept the {' and the '.join(failed)}")
    return 1
