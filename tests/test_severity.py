from __future__ import annotations

import pytest

from adapter.matchers import parse_matchers
from adapter.severity import SeverityOverride, SeverityRule, severity_for

MAP = {
    "critical": "critical",
    "error": "error",
    "warning": "warning",
    "info": "info",
    "page": "critical",
}
RULE = SeverityRule(
    map=MAP,
    default="warning",
    overrides=(
        SeverityOverride(tuple(parse_matchers('service="payments"')), "critical"),
        SeverityOverride(tuple(parse_matchers('env="dev"')), "info"),
    ),
)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "critical"}, "critical"),
        ({"severity": "page"}, "critical"),
        ({"severity": "WARNING"}, "warning"),  # case-insensitive fallback
        ({"severity": "disaster"}, "warning"),  # unknown value -> default, never sent as is
        ({}, "warning"),
        ({"severity": "info", "service": "payments"}, "critical"),  # override wins over the label
        ({"service": "payments", "env": "dev"}, "critical"),  # first override wins
        ({"severity": "critical", "env": "dev"}, "info"),
    ],
)
def test_severity_for(labels: dict[str, str], expected: str) -> None:
    assert severity_for(labels, RULE) == expected


def test_custom_label_name() -> None:
    rule = SeverityRule(label="priority", map={"p1": "critical"}, default="info")
    assert severity_for({"priority": "p1", "severity": "info"}, rule) == "critical"
    assert severity_for({"severity": "critical"}, rule) == "info"
