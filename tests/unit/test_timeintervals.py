"""Time intervals mean what Alertmanager's mean: the facts of its own tests, as tables.

Source of the facts: prometheus/alertmanager `timeinterval/timeinterval_test.go`
(timeIntervalTestCases, timeStringTestCases, yamlUnmarshalTestCases, completeTestCases,
TestIntervener_Mutes). Times are written as Alertmanager's tests write them (Go's RFC822Z);
where its test expects an error, ours expects the path and our own wording of it.
"""

from __future__ import annotations

import re
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapter.config.document import Config
from adapter.config.loader import ConfigError, load_config
from adapter.timeintervals import Span, TimeInterval, TimeRange, active

SYDNEY = ZoneInfo("Australia/Sydney")
NEW_YORK = ZoneInfo("America/New_York")


def unquoted(words: str) -> str:
    """What a config error says: a value given in the config is never repeated (`<value>`
    stands for it, adapter/config/loader.py without_values), the path says where to look."""
    return re.sub(r"'[^']*'", "<value>", words)


SPEC = "time_intervals[0].time_intervals[0]"


def at(text: str) -> datetime:
    """Go's time.RFC822Z, as Alertmanager's tests write instants: '04 May 20 15:04 +0000'."""
    return datetime.strptime(text, "%d %b %y %H:%M %z")


def load(specs: str, tmp_path: Path) -> Config:
    """A config whose one named interval `t` has Alertmanager's YAML list `specs`, read by
    the adapter's own loader (so YAML's quirks are the adapter's)."""
    body = textwrap.indent(textwrap.dedent(specs).strip(), " " * 6)
    path = tmp_path / "config.yml"
    path.write_text(
        "receivers: [{name: default, type: log}]\n"
        f"time_intervals:\n  - name: t\n    time_intervals:\n{body}\n"
    )
    return load_config(path)


def entries(config: Config) -> tuple[TimeInterval, ...]:
    return config.time_intervals[0].intervals()


# ---- timeIntervalTestCases: an interval, instants inside it, instants outside ----------------

CONTAINS: list[tuple[str, TimeInterval, list[str], list[str]]] = [
    (
        "empty interval holds always",
        TimeInterval(),
        ["02 Jan 06 15:04 +0000", "03 Jan 07 10:04 +0000", "04 Jan 06 09:04 +0000"],
        [],
    ),
    (
        "9am to 5pm, monday to friday",
        TimeInterval(times=(TimeRange(540, 1020),), weekdays=(Span(1, 5),)),
        ["04 May 20 15:04 +0000", "05 May 20 10:04 +0000", "09 Jun 20 09:04 +0000"],
        ["03 May 20 15:04 +0000", "04 May 20 08:59 +0000", "05 May 20 05:00 +0000"],
    ),
    (
        "Easter 2020",
        TimeInterval(days_of_month=(Span(4, 6),), months=(Span(4, 4),), years=(Span(2020, 2020),)),
        ["04 Apr 20 15:04 +0000", "05 Apr 20 00:00 +0000", "06 Apr 20 23:05 +0000"],
        [
            "03 May 18 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
        ],
    ),
    (
        "negative days of month: the last 3 days of each month",
        TimeInterval(days_of_month=(Span(-3, -1),)),
        [
            "31 Jan 20 15:04 +0000",
            "30 Jan 20 15:04 +0000",
            "29 Jan 20 15:04 +0000",
            "30 Jun 20 00:00 +0000",
            "29 Feb 20 23:05 +0000",
        ],
        [
            "03 May 18 15:04 +0000",
            "27 Jan 20 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
            "01 Mar 20 00:00 +0000",
        ],
    ),
    (
        "out-of-bound days are clamped to the month",
        TimeInterval(months=(Span(6, 6),), days_of_month=(Span(-31, 31),)),
        ["30 Jun 20 00:00 +0000", "01 Jun 20 00:00 +0000"],
        ["31 May 20 00:00 +0000", "1 Jul 20 00:00 +0000"],
    ),
    (
        "another time zone: 9 to 5 in Sydney, monday to friday",
        TimeInterval(times=(TimeRange(540, 1020),), weekdays=(Span(1, 5),), location=SYDNEY),
        ["06 Apr 21 13:00 +1000"],
        ["06 Apr 21 13:00 +0000"],
    ),
    (
        "another time zone in daylight saving time",
        TimeInterval(
            times=(TimeRange(540, 1020),),
            weekdays=(Span(1, 5),),
            months=(Span(11, 11),),
            location=SYDNEY,
        ),
        ["01 Nov 21 09:00 +1100", "31 Oct 21 22:00 +0000"],
        ["31 Oct 21 21:00 +0000"],
    ),
    (
        "the last day does not shift in a spring-forward month",
        TimeInterval(days_of_month=(Span(-1, -1),), location=NEW_YORK),
        ["31 Mar 21 12:00 -0400"],
        ["30 Mar 21 12:00 -0400"],
    ),
]


@pytest.mark.parametrize(
    ("interval", "inside", "outside"), [c[1:] for c in CONTAINS], ids=[c[0] for c in CONTAINS]
)
def test_contains_as_alertmanager_does(
    interval: TimeInterval, inside: list[str], outside: list[str]
) -> None:
    """An instant is inside exactly when Alertmanager's ContainsTime says so."""
    for text in inside:
        assert interval.contains(at(text)), text
    for text in outside:
        assert not interval.contains(at(text)), text


# ---- timeStringTestCases: one time range -----------------------------------------------------

TIME_RANGES: list[tuple[str, str | None, TimeRange | str]] = [
    ("00:00", "24:00", TimeRange(0, 1440)),
    ("01:35", "17:39", TimeRange(95, 1059)),
    ("09:35", "09:39", TimeRange(575, 579)),
    ("17:31", "17:31", "start_time '17:31' is not before end_time '17:31'"),  # equal
    ("12:30", "24:01", "'24:01' is not a time of day"),  # end out of range
    ("09:30", "07:41", "start_time '09:30' is not before end_time '07:41'"),
    ("24:00", "17:41", "start_time '24:00' is not before end_time '17:41'"),
    ("14:03", None, "end_time: Field required"),  # no end
]


@pytest.mark.parametrize(("start", "end", "expected"), TIME_RANGES)
def test_time_ranges(
    start: str, end: str | None, expected: TimeRange | str, tmp_path: Path
) -> None:
    """Start inclusive, end exclusive, 24:00 the end of the day; the start must come first."""
    times = f"start_time: '{start}'" + (f", end_time: '{end}'" if end else "")
    if isinstance(expected, TimeRange):
        assert entries(load(f"- times: [{{{times}}}]", tmp_path)) == (
            TimeInterval(times=(expected,)),
        )
    else:
        with pytest.raises(ConfigError) as caught:
            load(f"- times: [{{{times}}}]", tmp_path)
        (problem,) = caught.value.problems
        assert problem.startswith(f"{SPEC}.times[0]"), problem
        assert unquoted(expected) in problem


# ---- yamlUnmarshalTestCases: Alertmanager's YAML, what it reads as, or the error -------------

BUSINESS_HOURS = TimeInterval(times=(TimeRange(540, 1020),), weekdays=(Span(1, 5),))
PARSED: list[tuple[str, str, tuple[TimeInterval, ...] | None, list[str], list[str]]] = [
    (
        "business hours",
        """
        - weekdays: ['monday:friday']
          times:
            - start_time: '09:00'
              end_time: '17:00'
        """,
        (BUSINESS_HOURS,),
        ["08 Jul 20 09:00 +0000", "08 Jul 20 16:59 +0000", "01 Apr 21 13:00 +0000"],
        ["08 Jul 20 05:00 +0000", "08 Jul 20 08:59 +0000"],
    ),
    (
        "negative indices and ranges: last week of Q1, not Saturday, 9 to 5, 2020-25 and 2030-35",
        """
        - weekdays: ['monday:friday', 'sunday']
          months: ['january:march']
          days_of_month: ['-7:-1']
          years: ['2020:2025', '2030:2035']
          times:
            - start_time: '09:00'
              end_time: '17:00'
        """,
        (
            TimeInterval(
                times=(TimeRange(540, 1020),),
                weekdays=(Span(1, 5), Span(0, 0)),
                days_of_month=(Span(-7, -1),),
                months=(Span(1, 3),),
                years=(Span(2020, 2025), Span(2030, 2035)),
            ),
        ),
        [
            "27 Jan 21 09:00 +0000",
            "28 Jan 21 16:59 +0000",
            "29 Jan 21 13:00 +0000",
            "31 Mar 25 13:00 +0000",
            "31 Jan 35 13:00 +0000",
        ],
        [
            "30 Jan 21 13:00 +0000",  # Saturday
            "01 Apr 21 13:00 +0000",  # 4th month
            "30 Jan 26 13:00 +0000",  # 2026
            "31 Jan 35 17:01 +0000",  # after 5pm
        ],
    ),
    (
        "negative end index: the whole month",
        "- days_of_month: ['1:-1']",
        (TimeInterval(days_of_month=(Span(1, -1),)),),
        [],
        [],
    ),
    (
        "month names in any case",
        "- months: ['January:december']",
        (TimeInterval(months=(Span(1, 12),)),),
        [],
        [],
    ),
    (
        "time zone by location",
        "- years: ['2020:2022']\n  location: 'Australia/Sydney'",
        (TimeInterval(years=(Span(2020, 2022),), location=SYDNEY),),
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("specs", "expected", "inside", "outside"), [c[1:] for c in PARSED], ids=[c[0] for c in PARSED]
)
def test_alertmanager_yaml_reads_the_same(
    specs: str,
    expected: tuple[TimeInterval, ...],
    inside: list[str],
    outside: list[str],
    tmp_path: Path,
) -> None:
    """Alertmanager's YAML gives the values its test expects, and holds where it holds."""
    got = entries(load(specs, tmp_path))
    assert got == expected
    for text in inside:
        assert active(got, at(text)), text
    for text in outside:
        assert not active(got, at(text)), text


INVALID: list[tuple[str, str, str, str]] = [
    # (Alertmanager's error, YAML, path under the spec, our words for it)
    (
        "couldn't parse timestamp 01:99",
        "- times: [{start_time: '01:99', end_time: '23:59'}]",
        ".times[0]",
        "'01:99' is not a time of day",
    ),
    (
        "couldn't parse timestamp 99:99",
        "- times: [{start_time: '00:00', end_time: '99:99'}]",
        ".times[0]",
        "'99:99' is not a time of day",
    ),
    (
        "start day cannot be before end day",
        "- weekdays: ['friday:monday']",
        ".weekdays[0]",
        "'friday:monday' starts after it ends",
    ),
    (
        "blurgsday is not a valid weekday",
        "- weekdays: ['blurgsday:flurgsday']",
        ".weekdays[0]",
        "'blurgsday' is not a weekday",
    ),
    ("1 is not a valid weekday", "- weekdays: ['1:3']", ".weekdays[0]", "'1' is not a weekday"),
    ("-2 is not a valid weekday", "- weekdays: ['-2:-1']", ".weekdays[0]", "'-2' is not a weekday"),
    (
        "0 is not a valid day of the month",
        "- days_of_month: ['0']",
        ".days_of_month[0]",
        "0 is not a day of the month",
    ),
    (
        "-50 is not a valid day of the month",
        "- days_of_month: ['-50:-20']",
        ".days_of_month[0]",
        "-50 is not a day of the month",
    ),
    (
        "50 is not a valid day of the month",
        "- days_of_month: ['1:50']",
        ".days_of_month[0]",
        "50 is not a day of the month",
    ),
    (
        "end day must be negative if start day is negative",
        "- days_of_month: ['-15:5']",
        ".days_of_month[0]",
        "the end must be too",
    ),
    (
        "end day -25 is always before start day 10",
        "- days_of_month: ['10:-25']",
        ".days_of_month[0]",
        "'10:-25' ends before it starts",
    ),
    (
        "martius is not a valid month",
        "- months: ['martius:june']",
        ".months[0]",
        "'martius' is not a valid month",
    ),
    (
        "junius is not a valid month",
        "- months: ['march:junius']",
        ".months[0]",
        "'junius' is not a valid month",
    ),
    (
        "end month january is before start month december",
        "- months: ['december:january']",
        ".months[0]",
        "january is before december",
    ),
    (
        "end year 2020 is before start year 2022",
        "- years: ['2022:2020']",
        ".years[0]",
        "2020 is before 2022",
    ),
]


@pytest.mark.parametrize(
    ("specs", "where", "words"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_alertmanager_refusals_are_config_errors_with_paths(
    specs: str, where: str, words: str, tmp_path: Path
) -> None:
    """What Alertmanager refuses, the adapter refuses too, naming the entry."""
    with pytest.raises(ConfigError) as caught:
        load(specs, tmp_path)
    (problem,) = caught.value.problems
    assert problem.startswith(SPEC + where + ": "), problem
    assert unquoted(words) in problem


# ---- completeTestCases: from YAML to an answer -----------------------------------------------

COMPLETE: list[tuple[str, str, list[str], list[str]]] = [
    (
        "weekdays, times, days, years and months together",
        """
        - weekdays: ['monday:wednesday', 'saturday', 'sunday']
          times:
            - start_time: '13:00'
              end_time: '15:00'
          days_of_month: ['1', '10', '20:-1']
          years: ['2020:2023']
          months: ['january:march']
        """,
        ["10 Jan 21 13:00 +0000", "30 Jan 21 14:24 +0000"],
        ["09 Jan 21 13:00 +0000", "20 Jan 21 12:59 +0000", "02 Feb 21 13:00 +0000"],
    ),
    (
        "a start past the month's end is not clamped into it",
        "- {days_of_month: ['30:31'], years: ['2020:2023'], months: ['february']}",
        [],
        ["28 Feb 21 13:00 +0000"],
    ),
]


@pytest.mark.parametrize(
    ("specs", "inside", "outside"), [c[1:] for c in COMPLETE], ids=[c[0] for c in COMPLETE]
)
def test_from_yaml_to_an_answer(
    specs: str, inside: list[str], outside: list[str], tmp_path: Path
) -> None:
    got = entries(load(specs, tmp_path))
    for text in inside:
        assert active(got, at(text)), text
    for text in outside:
        assert not active(got, at(text)), text


# ---- TestIntervener_Mutes: named intervals, which hold at an instant ----------------------------

EVENINGS = (TimeInterval(times=(TimeRange(0, 540), TimeRange(1020, 1440)), location=SYDNEY),)
WEEKENDS = (TimeInterval(weekdays=(Span(6, 6), Span(0, 0)), location=SYDNEY),)
NAMED: list[tuple[str, datetime, list[str]]] = [
    ("outside working hours", datetime(2024, 1, 1, 0, 0, tzinfo=SYDNEY), ["evenings"]),
    ("during working hours", datetime(2024, 1, 1, 9, 0, tzinfo=SYDNEY), []),
    ("during weekends", datetime(2024, 1, 6, 10, 0, tzinfo=SYDNEY), ["weekends"]),
    ("weekend evenings", datetime(2024, 1, 6, 17, 0, tzinfo=SYDNEY), ["evenings", "weekends"]),
    ("12pm UTC on a weekday", datetime.fromisoformat("2024-01-01T10:00:00+00:00"), ["evenings"]),
    (
        "12pm UTC on a weekend",
        datetime.fromisoformat("2024-01-06T10:00:00+00:00"),
        ["evenings", "weekends"],
    ),
]


@pytest.mark.parametrize(("when", "holding"), [c[1:] for c in NAMED], ids=[c[0] for c in NAMED])
def test_named_intervals_hold_as_alertmanager_mutes(when: datetime, holding: list[str]) -> None:
    named = {"evenings": EVENINGS, "weekends": WEEKENDS}
    assert [name for name, intervals in named.items() if active(intervals, when)] == holding


# ---- the adapter's own: what Alertmanager leaves loose, and YAML's quirks ---------------------


def test_unquoted_times_and_ranges_read_as_in_alertmanager(tmp_path: Path) -> None:
    """YAML 1.1 would read 17:00 as 1020 and 1:5 as 65; Alertmanager reads the strings."""
    got = entries(
        load(
            """
            - times: [{start_time: 09:00, end_time: 17:00}, {start_time: 22:00, end_time: 24:00}]
              days_of_month: [1:5, 15, -3:-1]
              years: [2026]
            """,
            tmp_path,
        )
    )
    assert got == (
        TimeInterval(
            times=(TimeRange(540, 1020), TimeRange(1320, 1440)),
            days_of_month=(Span(1, 5), Span(15, 15), Span(-3, -1)),
            years=(Span(2026, 2026),),
        ),
    )


@pytest.mark.parametrize(
    ("specs", "where", "words"),
    [
        ("- location: 'Invalid/Location'", ".location", "'Invalid/Location' is not a time zone"),
        ("- location: 'Local'", ".location", "name the zone"),
        ("- location: 'Europe'", ".location", "'Europe' is not a time zone"),
        ("- location: 'europe/berlin'", ".location", "is not a time zone"),
        ("- weekdays: []", ".weekdays", "leave the key out"),
        ("- months: ['13']", ".months[0]", "13 is not a month"),
        ("- months: ['0:3']", ".months[0]", "0 is not a month"),
        ("- days_of_month: ['1:2:3']", ".days_of_month[0]", "is not a range"),
        ("- days_of_month: ['first']", ".days_of_month[0]", "write a number"),
        ("- years: ['0:2020']", ".years[0]", "0 is not a year"),
        ("- times: [{start_time: '9:00', end_time: '17:00'}]", ".times[0]", "two-digit hours"),
        ("- times: [{start_time: '22:00', end_time: '07:00'}]", ".times[0]", "split it in two"),
        ("- weekdays: ['monday']\n  hours: ['1']", ".hours", "unknown key"),
    ],
)
def test_stricter_or_clearer_than_alertmanager(
    specs: str, where: str, words: str, tmp_path: Path
) -> None:
    """Values that could never match, or whose meaning is unclear, are config errors."""
    with pytest.raises(ConfigError) as caught:
        load(specs, tmp_path)
    (problem,) = caught.value.problems
    assert problem.startswith(SPEC + where + ": "), problem
    assert unquoted(words) in problem


def test_utc_by_default_and_by_name(tmp_path: Path) -> None:
    """No location means UTC, whatever the offset of the instant given."""
    (by_default,) = entries(load("- times: [{start_time: '22:00', end_time: '24:00'}]", tmp_path))
    (by_name,) = entries(
        load("- {times: [{start_time: '22:00', end_time: '24:00'}], location: UTC}", tmp_path)
    )
    for interval in (by_default, by_name):
        assert interval.contains(at("01 Jan 26 23:30 +0100"))  # 22:30 UTC
        assert not interval.contains(at("01 Jan 26 22:30 +0100"))  # 21:30 UTC


def test_a_name_defined_twice_is_an_error(tmp_path: Path) -> None:
    """Alertmanager refuses a time interval name given twice; so does the adapter."""
    nights = "{name: nights, time_intervals: [{times: [{start_time: '22:00', end_time: '24:00'}]}]}"
    path = tmp_path / "config.yml"
    path.write_text(
        f"receivers: [{{name: default, type: log}}]\ntime_intervals: [{nights}, {nights}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        "time_intervals[1].name: 'nights' is already the name of time_intervals[0]; "
        "names must be unique"
    ]
