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
    for override in rule.overrides:
        if all_match(override.matchers, labels):
            return override.severity
    value = labels.get(rule.label)
    if value is not None and rule.map is not None:
        mapped = rule.map.get(value) or rule.map.get(value.lower())
        if mapped is not None:
            return mapped
    return rule.default
