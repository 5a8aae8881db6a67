"""The record of recent deliveries, per receiver: the last webhook answers and the last RECENT
deliveries this replica made (a bounded deque, in memory). The webhook writes it; the page at
`/` (adapter/landing.py) and `/api/v1/receivers` read it. With a shared store the deliveries
are every replica's (adapter/coordination/ keeps them; `with_shared` shows them).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapter.report import AlertOutcome

RECENT = 50  # deliveries kept per receiver


def _recent() -> deque[tuple[float, AlertOutcome]]:
    return deque(maxlen=RECENT)


@dataclass
class Activity:
    """The last webhook answers of one receiver and its last deliveries (wall-clock times)."""

    last_success: float | None = None
    last_failure: float | None = None
    last_failure_code: int | None = None
    recent: deque[tuple[float, AlertOutcome]] = field(default_factory=_recent)
    # Its incidents muted in Alertmanager at the last poll (adapter/poller.py): by dedup key,
    # (reason, what was sent: acknowledge, resolve or keep, alertname, since).
    muted: dict[str, tuple[str, str, str, float]] = field(default_factory=dict)

    def note(self, status: int, now: float, outcomes: Iterable[AlertOutcome] = ()) -> None:
        if status == 200:
            self.last_success = now
        else:
            self.last_failure, self.last_failure_code = now, status
        recent = self.recent
        for outcome in outcomes:  # a tuple each: formatting waits until someone looks
            recent.append((now, outcome))

    def record(self, now: float, outcomes: Iterable[AlertOutcome]) -> None:
        recent = self.recent
        for outcome in outcomes:
            recent.append((now, outcome))

    def as_json(self, detailed: bool = False) -> dict[str, object]:
        return {
            "last_success": iso(self.last_success),
            "last_failure": iso(self.last_failure),
            "last_failure_code": self.last_failure_code,
            "recent": [_delivery_json(when, o, detailed) for when, o in reversed(self.recent)],
        }


def with_shared(
    activity: dict[str, Activity], shared: dict[str, list[tuple[float, list[Any]]]]
) -> dict[str, Activity]:
    """Each receiver's record with the last deliveries of every replica (from the shared
    store: when, and the fields of an AlertOutcome) in place of this replica's own."""
    from adapter.report import AlertOutcome

    out = dict(activity)
    for name, rows in shared.items():
        recent = deque(((when, AlertOutcome(*fields)) for when, fields in rows), maxlen=RECENT)
        out[name] = replace(activity.get(name) or Activity(), recent=recent)
    return out


def _delivery_json(when: float, outcome: AlertOutcome, detailed: bool) -> dict[str, Any]:
    return {
        "time": iso(when),
        "alertname": outcome.alertname,
        "dedup_key": outcome.dedup_key,
        "action": outcome.action,
        "outcome": outcome.result,
        "upstream_status": outcome.status,
        "reason": outcome.detail if detailed else outcome.reason,
    }


def iso(when: float | None) -> str | None:
    if when is None:
        return None
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="seconds")
