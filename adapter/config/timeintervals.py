"""The top-level `time_intervals:` of the config: Alertmanager's keys, checked at load.

    time_intervals:
      - name: nights
        time_intervals:
          - times:
              - {start_time: "22:00", end_time: "24:00"}
              - {start_time: "00:00", end_time: "07:00"}
            weekdays: ["monday:friday"]
            location: Europe/Berlin

The syntax and its meaning live in adapter/timeintervals.py; this module turns the YAML into
those values, so every error names its path (`time_intervals[0].time_intervals[1].weekdays[0]`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PlainSerializer, PlainValidator, field_validator, model_validator

from adapter.config.model import Model
from adapter.config.receivers import ReceiverSettings
from adapter.timeintervals import (
    WEEKDAYS,
    Span,
    TimeInterval,
    TimeRange,
    parse_days_of_month,
    parse_months,
    parse_times,
    parse_weekdays,
    parse_years,
)


def _text(value: object) -> str:
    # YAML reads `days_of_month: [1]` or `years: [2026]` as numbers; Alertmanager takes those.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a string such as '1:5', not {type(value).__name__}")
    return value


def _numbers(span: Span) -> str:
    return str(span.first) if span.first == span.last else f"{span.first}:{span.last}"


def _weekday_names(span: Span) -> str:
    first, last = WEEKDAYS[span.first], WEEKDAYS[span.last]
    return first if span.first == span.last else f"{first}:{last}"


Weekdays = Annotated[
    Span, PlainValidator(lambda v: parse_weekdays(_text(v))), PlainSerializer(_weekday_names)
]
DaysOfMonth = Annotated[
    Span, PlainValidator(lambda v: parse_days_of_month(_text(v))), PlainSerializer(_numbers)
]
Months = Annotated[
    Span, PlainValidator(lambda v: parse_months(_text(v))), PlainSerializer(_numbers)
]
Years = Annotated[Span, PlainValidator(lambda v: parse_years(_text(v))), PlainSerializer(_numbers)]


def location(name: str) -> tzinfo:
    """An IANA zone (`Europe/Berlin`, `UTC`): from the system's zone database, else from the
    `tzdata` package, a dependency so that images without one work too."""
    if name == "Local":
        raise ValueError(
            "'Local' (the machine's zone) is not supported: replicas on different machines "
            "would disagree; name the zone, e.g. 'Europe/Berlin', or 'UTC'"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder
        raise ValueError(
            f"{name!r} is not a time zone in the IANA database; use a name like "
            "'Europe/Berlin', 'America/New_York' or 'UTC'"
        ) from None


def _location(value: object) -> tzinfo:
    if not isinstance(value, str):
        raise ValueError("expected a time zone name, e.g. 'Europe/Berlin'")
    return location(value)


Location = Annotated[tzinfo, PlainValidator(_location), PlainSerializer(str)]


class TimeRangeSettings(Model):
    start_time: str
    end_time: str

    @model_validator(mode="after")
    def _ordered(self) -> TimeRangeSettings:
        self.range()
        return self

    def range(self) -> TimeRange:
        return parse_times(self.start_time, self.end_time)


class TimeIntervalSpec(Model):
    """One entry of a named interval's `time_intervals`: every part given must hold."""

    times: list[TimeRangeSettings] | None = None
    weekdays: list[Weekdays] | None = None
    days_of_month: list[DaysOfMonth] | None = None
    months: list[Months] | None = None
    years: list[Years] | None = None
    location: Location = UTC

    @field_validator("times", "weekdays", "days_of_month", "months", "years")
    @classmethod
    def _not_empty(cls, values: list[Any] | None) -> list[Any] | None:
        if values is not None and not values:
            # Alertmanager's docs speak of left-out keys and non-empty lists only: leave no doubt.
            raise ValueError("an empty list; leave the key out to match any value")
        return values

    def interval(self) -> TimeInterval:
        return TimeInterval(
            times=tuple(t.range() for t in self.times or ()),
            weekdays=tuple(self.weekdays or ()),
            days_of_month=tuple(self.days_of_month or ()),
            months=tuple(self.months or ()),
            years=tuple(self.years or ()),
            location=self.location,
        )


class TimeIntervalSettings(Model):
    """A named interval, referred to by `active_time_intervals` of a severity override."""

    name: str = Field(min_length=1)
    time_intervals: list[TimeIntervalSpec] = Field(min_length=1)

    def intervals(self) -> tuple[TimeInterval, ...]:
        return tuple(spec.interval() for spec in self.time_intervals)


def time_interval_problems(
    intervals: Sequence[TimeIntervalSettings], receivers: Sequence[ReceiverSettings]
) -> list[str]:
    """Names defined twice, and overrides naming an interval that is not defined, each with
    its path; Alertmanager refuses both the same way."""
    problems = []
    first: dict[str, int] = {}
    for index, interval in enumerate(intervals):
        if interval.name in first:
            problems.append(
                f"time_intervals[{index}].name: {interval.name!r} is already the name of "
                f"time_intervals[{first[interval.name]}]; names must be unique"
            )
        first.setdefault(interval.name, index)
    defined = ", ".join(sorted(first)) or "none"
    for r, receiver in enumerate(receivers):
        for o, override in enumerate(receiver.severity.overrides):
            for n, name in enumerate(override.active_time_intervals):
                if name not in first:
                    problems.append(
                        f"receivers[{r}].severity.overrides[{o}].active_time_intervals[{n}]: "
                        f"{name!r} is not defined; add it to the top-level time_intervals: "
                        f"or use one defined there ({defined})"
                    )
    return problems
