"""Severity: from an alert's label to one of the four levels every dialect understands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from adapter.matchers import Matcher, all_match

LEVELS = ("critical", "error", "warning", "info")


@dataclass(frozen=True, slots=True)
class SeverityOverride:
    matchers: tuple[Matcher, ...]
    severity: str


@dataclass(frozen=True, slots=True)
class SeverityRule:
    label: str = "severity"
    map: Mapping[str, str] | None = None
    default: str = "warning"
    overrides: tuple[SeverityOverride, ...] = ()


def severity_for(labels: Mapping[str, str], rule: SeverityRule) -> str:
    """First matching override; else the label's value through the map (exact, then
    lower-cased); else the default. Config validation keeps every result in LEVELS."""
    return severity_by_rule(labels, rule) or rule.default


def severity_by_rule(labels: Mapping[str, str], rule: SeverityRule) -> str | None:
    """What an override or the map makes of the labels; None when neither knows them (no
    label, or a value the map lacks) and `severity_for` gives the default: a dialect with a
    default of its own for an unknown severity (Alert24's `medium`) tells the two apart."""
    for override in rule.overrides:
        if all_match(override.matchers, labels):
            return override.severity
    value = labels.get(rule.label)
    if value is not None and rule.map is not None:
        return rule.map.get(value) or rule.map.get(value.lower())
    return None
