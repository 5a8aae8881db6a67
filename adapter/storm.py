"""Storm guard: past a threshold of firing alerts, one incident for the group instead of N.

Pure, like the rest of the pipeline. It works on the events merged by dedup key:

    firing alerts > threshold   their events become one trigger, keyed by the group
                                (the receiver's prefix + groupKey), its summary the count,
                                its description the alerts (the first `listed`), at the
                                worst severity among them; resolved alerts of the webhook
                                still resolve one by one, so no earlier incident is left open
    otherwise                   the alerts go out one by one as usual, plus a resolve of the
                                group's aggregated incident, so it closes once the storm is
                                over (a no-op upstream when there was none; the memo keeps it
                                to one request per few minutes and group)

The trade-off: during a storm responders see one incident with a list instead of N
incidents that can be acknowledged one by one.
"""

from __future__ import annotations

from dataclasses import replace

from adapter.events import AlertEvent
from adapter.keys import DedupRule, dedup_key_for
from adapter.payload import Alert, WebhookPayload, fingerprint
from adapter.severity import SEVERITIES

Merged = dict[str, tuple[AlertEvent, tuple[AlertEvent, ...]]]


def _aggregate(
    firing: list[AlertEvent], payload: WebhookPayload, key: str, listed: int
) -> AlertEvent:
    labels = {**payload.groupLabels, **payload.commonLabels}
    group_name = ", ".join(f"{k}={v}" for k, v in sorted(payload.groupLabels.items())) or "group"
    lines = []
    for event in firing[:listed]:
        a = event.alert
        what = a.annotations.get("summary") or a.labels.get("alertname", "")
        lines.append(f"- {a.labels.get('instance') or a.fingerprint}: {what}")
    if len(firing) > listed:
        lines.append(f"- ... and {len(firing) - listed} more")
    worst = min((e.severity for e in firing), key=SEVERITIES.index) if firing else "info"
    starts = min((e.alert.startsAt for e in firing if e.alert.startsAt), default="")
    alert = Alert(
        status="firing" if firing else "resolved",
        labels=labels,
        annotations={
            "summary": f"{len(firing)} alerts firing in {group_name} (storm guard)",
            "description": "\n".join(lines),
        },
        startsAt=starts,
        generatorURL=firing[0].alert.generatorURL if firing else "",
        fingerprint=fingerprint(labels),
    )
    return AlertEvent(alert, "trigger" if firing else "resolve", key, worst, payload)


def guard(
    merged: Merged,
    payload: WebhookPayload,
    threshold: int,
    listed: int,
    prefix: str,
    limit: int,
) -> Merged:
    key = dedup_key_for(
        Alert(status="firing", labels={}), DedupRule("group", (), prefix), payload.groupKey, limit
    )
    firing = [rep for rep, _ in merged.values() if rep.action == "trigger"]
    if len(firing) <= threshold:
        everyone = tuple(member for _, members in merged.values() for member in members)
        if not everyone:
            return merged
        return {**merged, key: (_aggregate([], payload, key, listed), everyone)}
    out: Merged = {}
    stormed: list[AlertEvent] = []
    for rep, members in merged.values():
        if rep.action == "trigger":
            stormed.extend(replace(m, dedup_key=key) for m in members)
        else:
            out[rep.dedup_key] = (rep, members)
    out[key] = (_aggregate(firing, payload, key, listed), tuple(stormed))
    return out
