"""Alertmanager's time intervals: the syntax of their parts, and whether an instant is inside.

    parse_times(start, end) -> TimeRange        '22:00', '24:00'
    parse_weekdays('monday:friday') -> Span     also days_of_month, months, years
    TimeInterval(...).contains(when) -> bool
    active(intervals, when) -> bool             any of a named interval's parts holds

The meaning is Alertmanager's (prometheus/alertmanager timeinterval/, and the `time_interval`
section of its configuration docs): every part given must hold, and a part holds when any of
its entries does; a part left out holds always. Times are minutes of the day, the start
inclusive and the end exclusive, so `17:00`-`24:00` ends just before midnight; the other
ranges include both ends. Weekdays go by name only, months by name or number, days of the
month count back from its end when negative (-1 is the last day) and are clamped to the
month's length. Everything is judged in the interval's `location` (default UTC).

Pure: no clock, no files. The caller resolves `location` to a tzinfo and passes the instant in.
Parse errors are ValueErrors that say how to write the value instead.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

# Alertmanager numbers weekdays as Go does: Sunday is 0.
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
MINUTES_IN_DAY = 24 * 60

# HH:MM with two-digit hours, up to 23:59, and 24:00 as the end of the day.
_TIME_OF_DAY = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Minutes of the day: `start` inclusive, `end` exclusive (at most 1440)."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Span:
    """An inclusive range of weekdays (0 = Sunday), days of the month, months or years."""

    first: int
    last: int


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """One entry of a named interval's `time_intervals`. An empty part holds always."""

    times: tuple[TimeRange, ...] = ()
    weekdays: tuple[Span, ...] = ()
    days_of_month: tuple[Span, ...] = ()
    months: tuple[Span, ...] = ()
    years: tuple[Span, ...] = ()
    location: tzinfo = UTC

    def contains(self, when: datetime) -> bool:
        """Whether `when` (timezone-aware) falls inside, read on the clocks of `location`."""
        local = when.astimezone(self.location)
        if self.times:
            minute = local.hour * 60 + local.minute
            if not any(r.start <= minute < r.end for r in self.times):
                return False
        if self.days_of_month and not _day_of_month_in(local, self.days_of_month):
            return False
        if self.months and not _in(local.month, self.months):
            return False
        if self.weekdays and not _in(local.isoweekday() % 7, self.weekdays):
            return False
        return not self.years or _in(local.year, self.years)


def active(intervals: Iterable[TimeInterval], when: datetime) -> bool:
    """A named interval holds when any of its entries does."""
    return any(interval.contains(when) for interval in intervals)


def _in(value: int, spans: tuple[Span, ...]) -> bool:
    return any(span.first <= value <= span.last for span in spans)


def _day_of_month_in(local: datetime, spans: tuple[Span, ...]) -> bool:
    length = calendar.monthrange(local.year, local.month)[1]
    for span in spans:
        # Negative days count back from the month's end. A range reaching past either end
        # stops there (1:31 runs to February's last day), and one starting past it holds no
        # day of this month (30:31 in February): Alertmanager's clamping, in one comparison.
        first = span.first if span.first > 0 else length + span.first + 1
        last = span.last if span.last > 0 else length + span.last + 1
        if first <= local.day <= last:
            return True
    return False


# ---- parsing: Alertmanager's strings into the values above ------------------------------------


def parse_time_of_day(text: str) -> int:
    """'HH:MM' (00:00 to 23:59, or 24:00) as minutes since midnight."""
    if not _TIME_OF_DAY.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a time of day; write HH:MM with two-digit hours, from '00:00' "
            "to '23:59', or '24:00' for the end of the day"
        )
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_times(start_time: str, end_time: str) -> TimeRange:
    start, end = parse_time_of_day(start_time), parse_time_of_day(end_time)
    if start >= end:
        raise ValueError(
            f"start_time {start_time!r} is not before end_time {end_time!r}; the end is "
            "exclusive and a range cannot cross midnight: split it in two, e.g. "
            "{start_time: '22:00', end_time: '24:00'} and {start_time: '00:00', end_time: '07:00'}"
        )
    return TimeRange(start, end)


def _bounds(text: str) -> tuple[str, str]:
    """'a:b' or 'a' (as 'a:a'), lower-cased."""
    parts = text.strip().lower().split(":")
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"{text!r} is not a range; write one value or two joined by ':'")


def _integer(text: str, what: str, example: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"{text!r} is not a valid {what}; write a number, e.g. {example}")
    return int(text)


def _weekday(name: str) -> int:
    if name not in WEEKDAYS:
        raise ValueError(f"{name!r} is not a weekday; use a name: {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)


def parse_weekdays(text: str) -> Span:
    """'monday', 'monday:friday' (by name only, any case; the week starts on Sunday)."""
    first, last = (_weekday(day) for day in _bounds(text))
    if first > last:
        raise ValueError(
            f"{text!r} starts after it ends (the week runs sunday to saturday); split it, e.g. "
            "'friday:monday' as 'friday:saturday' and 'sunday:monday'"
        )
    return Span(first, last)


def parse_days_of_month(text: str) -> Span:
    """'1', '1:5', '-3:-1' (the last three days), '1:-1' (the whole month)."""
    first, last = (_integer(day, "day of the month", "'1:5' or '-3:-1'") for day in _bounds(text))
    for day in (first, last):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(
                f"{day} is not a day of the month; use 1 to 31, or -1 (the last day) to -31"
            )
    if first < 0 < last:
        raise ValueError(
            f"{text!r} counts its start from the month's end and its end from the start; "
            "when the start is negative the end must be too, e.g. '-7:-1'"
        )
    # Which of two mixed days comes first depends on the month's length; like Alertmanager,
    # refuse what is backwards even in the shortest month (28 days).
    if (first if first > 0 else 28 + first) > (last if last > 0 else 28 + last):
        raise ValueError(f"{text!r} ends before it starts; write the earlier day first")
    return Span(first, last)


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS.index(text) + 1
    number = _integer(text, "month", "'january', '1' or 'march:may'")
    if not 1 <= number <= 12:
        raise ValueError(f"{number} is not a month; use 1 (january) to 12 (december) or a name")
    return number


def parse_months(text: str) -> Span:
    """'may', '5', 'january:march', '1:3' (names in any case)."""
    first, last = (_month(month) for month in _bounds(text))
    if first > last:
        raise ValueError(
            f"{text!r}: {MONTHS[last - 1]} is before {MONTHS[first - 1]}; a range cannot cross "
            "the new year: split it, e.g. 'december:january' as 'december' and 'january'"
        )
    return Span(first, last)


def parse_years(text: str) -> Span:
    """'2026', '2020:2022'."""
    first, last = (_integer(year, "year", "'2026' or '2026:2027'") for year in _bounds(text))
    if first < 1:
        raise ValueError(f"{first} is not a year; write a year of the calendar, e.g. 2026")
    if first > last:
        raise ValueError(f"{text!r}: {last} is before {first}; write the earlier year first")
    return Span(first, last)
