"""What happened to each alert of a webhook, and the HTTP status that tells Alertmanager.

Alertmanager retries 5xx only, and re-posts the whole group when it does:

    any alert failed for a reason a retry can fix   503 (+ Retry-After: the longest wait an
                                                    upstream asked for among the failed
                                                    alerts, at most MAX_RETRY_AFTER)
    else any alert was refused for good             424 (a failed notification in AM)
    else                                            200 (delivered, skipped as delivered
                                                    before, or filtered out)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from adapter.delivery import SKIPPED, Result
from adapter.events import Verdict
from adapter.metrics import OUTCOMES
from adapter.pipeline import Plan

# The longest Retry-After the webhook passes on: 5 minutes, Alertmanager's default
# group_interval; a later retry is overtaken by the group's next notification anyway, and an
# upstream's "come back tomorrow" must not stall a sender that honours the header.
MAX_RETRY_AFTER = 300.0

_RESULT_NAMES = {
    Verdict.DELIVERED: "delivered",
    Verdict.RETRY: "failed",
    Verdict.REJECT: "rejected",
}


@dataclass(slots=True)  # a value, not frozen: made per event (docs/design.md)
class AlertOutcome:
    fingerprint: str
    dedup_key: str
    action: str
    result: str  # delivered | skipped (delivered before: the memo) | filtered | failed | rejected
    status: int | None = None
    detail: str = ""
    alertname: str = ""  # for the landing page's deliveries; not in the webhook's answer

    @property
    def reason(self) -> str:
        """The detail without anyone else's words, for a reader who holds no credential.

        Every detail is the adapter's own sentence, then, after ": ", what it quotes: the
        upstream's answer (`upstream answered 400: ...`), a template's error (`cannot
        render: ...`). The first part is ours alone: `upstream answered 400`, `cannot
        render`, `no answer within 3s`, `deadline reached`."""
        return self.detail.partition(": ")[0]

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "dedup_key": self.dedup_key,
            "action": self.action,
            "result": self.result,
        }
        if self.status is not None:
            out["upstream_status"] = self.status
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(slots=True)  # a value, not frozen: made per event (docs/design.md)
class Report:
    receiver: str
    outcomes: list[AlertOutcome]
    retry_after: float | None
    counts: dict[str, int]  # outcomes by result, every result present
    http_status: int

    def count(self, result: str) -> int:
        return self.counts[result]

    def headers(self) -> dict[str, str]:
        if self.http_status == 503 and self.retry_after is not None:
            return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}
        return {}

    def as_json(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "received": len(self.outcomes),
            **self.counts,
            "alerts": [o.as_json() for o in self.outcomes],
        }


def status_of(counts: dict[str, int]) -> int:
    if counts["failed"]:
        return 503
    if counts["rejected"]:
        return 424
    return 200


# When several requests carry one alert (a storm's aggregated incident and its own
# resolve), the alert's outcome is the worst of theirs.
_OUTCOME_RANK = {"failed": 0, "rejected": 1, "delivered": 2, "skipped": 3}


def build_report(receiver: str, plan: Plan, results: list[Result]) -> Report:
    outcomes: dict[int, AlertOutcome] = {}
    waits = []
    for delivery, result in zip(plan.deliveries, results, strict=True):
        name = "skipped" if result is SKIPPED else _RESULT_NAMES[result.verdict]
        detail = result.detail if result.verdict is not Verdict.DELIVERED else ""
        if result.retry_after is not None and result.verdict is Verdict.RETRY:
            waits.append(result.retry_after)
        for event in delivery.events:
            seen = outcomes.get(id(event.alert))
            if seen is not None and _OUTCOME_RANK[seen.result] <= _OUTCOME_RANK[name]:
                continue
            alert = event.alert
            outcomes[id(alert)] = AlertOutcome(
                alert.fingerprint,
                event.dedup_key,
                event.action,
                name,
                result.status,
                detail,
                alert.labels.get("alertname", ""),
            )
    listed = list(outcomes.values())
    for alert in plan.filtered:
        action = "trigger" if alert.status == "firing" else "resolve"
        listed.append(
            AlertOutcome(
                alert.fingerprint,
                "",
                action,
                "filtered",
                alertname=alert.labels.get("alertname", ""),
            )
        )
    counts = dict.fromkeys(OUTCOMES, 0)  # in the order of the webhook's answer
    for outcome in listed:
        counts[outcome.result] += 1
    wait = min(max(waits), MAX_RETRY_AFTER) if waits else None
    return Report(receiver, listed, wait, counts, status_of(counts))
