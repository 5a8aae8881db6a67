from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.testclient import TestClient

from adapter.config.loader import ConfigError
from adapter.matchers import parse_matchers
from adapter.severity import SeverityOverride, SeverityRule, parse_starts_at, severity_for
from adapter.timeintervals import TimeInterval, TimeRange
from tests.builders import config_from, make_alert, make_payload, pd_config

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


# ---- overrides by the clock ------------------------------------------------------------------

NIGHTS = {
    "name": "nights",
    "time_intervals": [
        {
            "times": [
                {"start_time": "22:00", "end_time": "24:00"},
                {"start_time": "00:00", "end_time": "07:00"},
            ],
            "location": "Europe/Berlin",
        }
    ],
}
PAYMENTS_AT_NIGHT = {
    "overrides": [
        {
            "matchers": ['service="payments"', 'severity="warning"'],
            "severity": "critical",
            "active_time_intervals": ["nights"],
        }
    ]
}


def night_config() -> dict[str, Any]:
    doc = pd_config(severity=PAYMENTS_AT_NIGHT)
    doc["time_intervals"] = [NIGHTS]
    doc["delivery"]["memo_ttl"] = "0s"  # every re-send reaches the upstream, to be looked at
    return doc


def sent_severity(client: TestClient, sent: list[dict[str, Any]], **alert: Any) -> str:
    starts_at = alert.pop("startsAt")
    body = make_alert(instance="api-01", **alert)
    body["startsAt"] = starts_at
    sent.clear()
    response = client.post("/alerts/pd", json=make_payload(body))
    assert response.status_code == 200, response.text
    (event,) = sent
    return str(event["payload"]["severity"])


@pytest.fixture
def night_client(make_client: Callable[..., TestClient]) -> tuple[TestClient, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(202, json={"status": "success"})

    return make_client(upstream, doc=night_config()), sent


@pytest.mark.parametrize(
    ("starts_at", "labels", "expected"),
    [
        # Berlin is UTC+1 in November: the night is 21:00 to 06:00 UTC.
        ("2026-11-23T21:30:00Z", {"service": "payments", "severity": "warning"}, "critical"),
        ("2026-11-23T12:00:00Z", {"service": "payments", "severity": "warning"}, "warning"),
        (
            "2026-11-23T20:59:59.999999999Z",
            {"service": "payments", "severity": "warning"},
            "warning",
        ),
        ("2026-11-23T21:00:00Z", {"service": "payments", "severity": "warning"}, "critical"),
        ("2026-11-24T05:59:59Z", {"service": "payments", "severity": "warning"}, "critical"),
        (
            "2026-11-24T06:00:00Z",
            {"service": "payments", "severity": "warning"},
            "warning",
        ),  # end exclusive
        ("2026-11-23T23:30:00+01:00", {"service": "payments", "severity": "warning"}, "critical"),
        # Summer time, UTC+2: 20:30 UTC is 22:30 in Berlin, 21:30 in winter's reckoning.
        ("2026-07-01T20:30:00Z", {"service": "payments", "severity": "warning"}, "critical"),
        ("2026-07-01T04:59:00Z", {"service": "payments", "severity": "warning"}, "critical"),
        ("2026-07-01T05:00:00Z", {"service": "payments", "severity": "warning"}, "warning"),
        # The matchers still decide: other services and other severities keep their own.
        ("2026-11-23T21:30:00Z", {"service": "search", "severity": "warning"}, "warning"),
        ("2026-11-23T21:30:00Z", {"service": "payments", "severity": "info"}, "info"),
        # No time known, no override by the clock.
        ("", {"service": "payments", "severity": "warning"}, "warning"),
        ("0001-01-01T00:00:00Z", {"service": "payments", "severity": "warning"}, "warning"),
    ],
)
def test_override_by_the_clock_end_to_end(
    night_client: tuple[TestClient, list[dict[str, Any]]],
    starts_at: str,
    labels: dict[str, str],
    expected: str,
) -> None:
    """A payments warning that starts at night in Berlin reaches the upstream as critical."""
    client, sent = night_client
    assert sent_severity(client, sent, startsAt=starts_at, **labels) == expected


def test_every_send_of_one_alert_carries_the_severity_it_started_with(
    night_client: tuple[TestClient, list[dict[str, Any]]],
) -> None:
    """Started at 21:50 Berlin: its trigger and every re-send say warning, whenever they are
    sent, with one key; started at 22:10: critical, every time."""
    client, sent = night_client
    for began, expected in (
        ("2026-11-23T20:50:00Z", "warning"),
        ("2026-11-23T21:10:00Z", "critical"),
    ):
        answers = set()
        for _ in range(3):  # Alertmanager's re-sends post the same alert again
            severity = sent_severity(
                client, sent, startsAt=began, service="payments", severity="warning"
            )
            answers.add((severity, sent[0]["dedup_key"]))
        assert len(answers) == 1
        assert answers.pop()[0] == expected


def test_resolve_keeps_the_key_of_an_escalated_trigger(
    night_client: tuple[TestClient, list[dict[str, Any]]],
) -> None:
    client, sent = night_client
    alert = make_alert(instance="api-01", service="payments", severity="warning")
    alert["startsAt"] = "2026-11-23T21:30:00Z"
    client.post("/alerts/pd", json=make_payload(alert))
    resolved = {**alert, "status": "resolved", "endsAt": "2026-11-24T08:00:00Z"}
    client.post("/alerts/pd", json=make_payload(resolved))
    trigger, resolve = sent
    assert trigger["payload"]["severity"] == "critical"
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"]


def test_an_unknown_interval_name_is_a_config_error_naming_its_path(tmp_path: Path) -> None:
    doc = night_config()
    doc["receivers"][0]["severity"]["overrides"][0]["active_time_intervals"] = ["nights", "night"]
    with pytest.raises(ConfigError) as caught:
        config_from(doc, tmp_path)
    (problem,) = caught.value.problems
    assert problem.startswith(
        "receivers[0].severity.overrides[0].active_time_intervals[1]: 'night' is not defined"
    )
    assert "(nights)" in problem


def test_a_bad_interval_is_a_config_error_naming_its_path(tmp_path: Path) -> None:
    doc = night_config()
    doc["time_intervals"][0]["time_intervals"] = [{"weekdays": ["monday:friday", "funday"]}]
    with pytest.raises(ConfigError) as caught:
        config_from(doc, tmp_path)
    assert caught.value.problems == [
        "time_intervals[0].time_intervals[0].weekdays[1]: <value> is not a weekday; use a "
        "name: sunday, monday, tuesday, wednesday, thursday, friday, saturday"
    ]


BERLIN_NIGHT = TimeInterval(
    times=(TimeRange(1320, 1440), TimeRange(0, 420)), location=ZoneInfo("Europe/Berlin")
)
TIMED = SeverityRule(
    map=MAP,
    overrides=(
        SeverityOverride(tuple(parse_matchers('service="payments"')), "critical", (BERLIN_NIGHT,)),
        SeverityOverride(tuple(parse_matchers('service="payments"')), "error"),
    ),
)


def test_severity_for_takes_the_time_it_is_given() -> None:
    """Pure: the same labels, two start times; a timed override with no readable time never
    holds, and the next override is tried."""
    labels = {"service": "payments", "severity": "warning"}
    assert severity_for(labels, TIMED, "2026-11-23T22:30:00Z") == "critical"  # 23:30 in Berlin
    assert severity_for(labels, TIMED, "2026-11-23T12:00:00Z") == "error"
    assert severity_for(labels, TIMED) == "error"
    assert severity_for(labels, TIMED, "not a time") == "error"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T10:00:00.123456789Z", datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-23T11:00:00+01:00", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        ("2026-11-23T10:00:00", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        ("", None),
        ("yesterday", None),
        ("0001-01-01T00:00:00Z", None),  # Go's zero time
    ],
)
def test_parse_starts_at(text: str, expected: datetime | None) -> None:
    assert parse_starts_at(text) == expected
