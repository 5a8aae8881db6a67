"""One table of vendor limits, and one of odd payloads, that every dialect's tests loop over
(tests/test_vendor_limits.py), the way tests/upstream_answers.py is one table of answers.

The figures are written here from the vendors' docs (docs/limits.md), apart from the
adapter's own tables in adapter/integrations/*, so a wrong figure there fails here.
Characters are counted as UTF-16 code units (an astral-plane emoji is two): the strictest
reading of "characters", and the one Java and JavaScript backends apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Unit = Literal["body bytes", "chars", "chars in all", "items"]


@dataclass(frozen=True)
class Limit:
    path: str  # dotted path in the JSON body; a trailing ".[]" means each item of a list
    most: int
    unit: Unit
    source: str  # where the figure comes from


PD = "https://developer.pagerduty.com/docs/events-api-v2/overview/#size-limits"
PD_FIELDS = "https://developer.pagerduty.com/docs/events-api-v2/trigger-events/"
OG = "https://docs.opsgenie.com/docs/alert-api#create-alert"
SP = "https://developer.statuspage.io/#operation/postPagesPageIdIncidents"

LIMITS: dict[str, list[Limit]] = {
    "events-v2": [
        Limit("", 512_000, "body bytes", PD),
        Limit("payload.summary", 1024, "chars", PD_FIELDS),
        Limit("dedup_key", 255, "chars", PD_FIELDS),
    ],
    "alias": [
        Limit("message", 130, "chars", OG),
        Limit("alias", 512, "chars", OG),
        Limit("description", 15_000, "chars", OG),
        Limit("details", 8000, "chars in all", OG),
        Limit("entity", 512, "chars", OG),
        Limit("source", 100, "chars", OG),
        Limit("tags", 20, "items", OG),
        Limit("tags.[]", 50, "chars", OG),
        Limit("note", 25_000, "chars", OG),
        Limit("user", 100, "chars", OG),
        Limit("actions", 10, "items", OG),
        Limit("actions.[]", 50, "chars", OG),
    ],
    "status-page": [
        Limit("incident.name", 255, "chars", SP),
        Limit("incident.body", 25_000, "chars", SP),
        Limit("", 65_536, "body bytes", "the adapter's own: metadata has no documented limit"),
    ],
    "template": [Limit("", 65_536, "body bytes", "max_body_bytes in the test's config")],
}

# Where each dialect notes what it cut (the template's is set by its config).
MARKS = {
    "events-v2": "payload.custom_details.truncated",
    "alias": "details.truncated",
    "status-page": "incident.metadata.raw_input.truncated",
    "template": "details.truncated",
}
# What routes an event and must arrive whole (never cut).
KEYS = {
    "events-v2": "dedup_key",
    "alias": "alias",
    "status-page": "incident.metadata.incident_adapter.dedup_key",
    "template": "key",
}


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _at(body: Any, path: str) -> list[Any]:
    values = [body]
    for part in path.split(".") if path else ():
        nxt: list[Any] = []
        for v in values:
            if part == "[]" and isinstance(v, list):
                nxt.extend(v)
            elif isinstance(v, dict) and part in v:
                nxt.append(v[part])
        values = nxt
    return values


def violations(dialect: str, raw: bytes) -> list[str]:
    """Every limit of `dialect` that the request body `raw` breaks."""
    out = []
    body = json.loads(raw) if raw else None
    for limit in LIMITS[dialect]:
        if limit.unit == "body bytes":
            sizes = [len(raw)]
        elif limit.unit == "items":
            sizes = [len(v) for v in _at(body, limit.path) if isinstance(v, list)]
        elif limit.unit == "chars in all":
            text = [
                json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                for v in _at(body, limit.path)
            ]
            sizes = [units(t) for t in text]
        else:
            sizes = [units(v) for v in _at(body, limit.path) if isinstance(v, str)]
        name = limit.path or "body"
        out += [f"{name}: {s:,} {limit.unit} > {limit.most:,}" for s in sizes if s > limit.most]
    return out


def mark(dialect: str, raw: bytes) -> str | None:
    found = _at(json.loads(raw), MARKS[dialect])
    return found[0] if found else None


FIRE = "🔥"  # astral plane: 4 bytes of UTF-8, 2 UTF-16 units


def _labels(**extra: str) -> dict[str, str]:
    return {"alertname": "HugeAlert", "severity": "critical", "service": "api", **extra}


ALL = frozenset(LIMITS)


@dataclass(frozen=True)
class Odd:
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    cut: frozenset[str]  # the dialects whose body must be cut (and marked) to fit


ODD = [
    Odd(
        "long unicode summary",
        _labels(instance="api-01"),
        {"summary": ("Ошибка 数据库 " + FIRE) * 400, "description": "d"},
        frozenset({"events-v2", "alias", "status-page"}),
    ),
    Odd(
        "40 labels of 400 characters",
        _labels(**{f"label_{i:02}": (f"{i}-é{FIRE}" * 80)[:400] for i in range(40)}),
        {"summary": "fat labels"},
        frozenset({"alias"}),
    ),
    Odd(
        "a 600 KB description",
        _labels(instance="api-01"),
        {
            "summary": "stack trace",
            "description": 'Traceback line "quoted" \\ \t\n' * 22_000,
            "runbook_url": "https://runbooks.example/huge",
        },
        ALL,
    ),
    Odd(
        "a 700-character instance",
        _labels(instance="h" * 700),
        {"summary": "long instance"},
        frozenset({"alias"}),
    ),
    Odd(
        "escapes and emoji everywhere",
        _labels(instance=FIRE * 300, job="\x01" * 300),
        {"summary": "\x00\x1f" * 600, "description": FIRE * 200_000},
        ALL,
    ),
    Odd(
        "all at once",
        _labels(instance="i" * 700, **{f"l{i:02}": "v" * 400 for i in range(40)}),
        {"summary": FIRE * 2000, "description": "x" * 600_000, "note": "n" * 30_000},
        ALL,
    ),
]
