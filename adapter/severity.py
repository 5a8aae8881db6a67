"""Severity: from an alert's label to one of the four levels every dialect understands.

An override may hold only in named time intervals (Alertmanager's `time_intervals`), judged
at the alert's `startsAt`, not at the time of the send: every send of one alert (trigger,
Alertmanager's re-sends and retries, `render`) then carries the same severity, so the
incident never says one thing at 21:50 and another at 22:00 (docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from adapter.matchers import Matcher, all_match
from adapter.timeintervals import TimeInterval, active

SEVERITIES = ("critical", "error", "warning", "info")


@dataclass(frozen=True, slots=True)
class SeverityOverride:
    matchers: tuple[Matcher, ...]
    severity: str
    # The entries of every interval named in `active_time_intervals`: the override holds when
    # any of them does (as Alertmanager's route does). Empty: at any time.
    intervals: tuple[TimeInterval, ...] = ()


@dataclass(frozen=True, slots=True)
class SeverityRule:
    label: str = "severity"
    map: Mapping[str, str] | None = None
    default: str = "warning"
    overrides: tuple[SeverityOverride, ...] = ()


def severity_for(labels: Mapping[str, str], rule: SeverityRule, starts_at: str = "") -> str:
    """First matching override; else the label's value through the map (exact, then
    lower-cased); else the default. Config validation keeps every result in SEVERITIES.

    An override with intervals matches only when the alert's `starts_at` (RFC 3339) lies in
    one of them; it is read only then, so alerts that no such override's matchers select
    never pay for it. Without a readable time, such an override never matches."""
    return severity_by_rule(labels, rule, starts_at) or rule.default


def severity_by_rule(
    labels: Mapping[str, str], rule: SeverityRule, starts_at: str = ""
) -> str | None:
    """What an override or the map makes of the labels; None when neither knows them (no
    label, or a value the map lacks) and `severity_for` gives the default: a dialect with a
    default of its own for an unknown severity (Alert24's `medium`) tells the two apart."""
    for override in rule.overrides:
        if all_match(override.matchers, labels) and (
            not override.intervals or _began_inside(starts_at, override.intervals)
        ):
            return override.severity
    value = labels.get(rule.label)
    if value is not None and rule.map is not None:
        return rule.map.get(value) or rule.map.get(value.lower())
    return None


def _began_inside(starts_at: str, intervals: tuple[TimeInterval, ...]) -> bool:
    when = parse_starts_at(starts_at)
    return when is not None and active(intervals, when)


def parse_starts_at(text: str) -> datetime | None:
    """An alert's startsAt (RFC 3339, Alertmanager's nanoseconds cut to micro), or None when
    missing, unreadable or Go's zero time."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.year <= 1:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
