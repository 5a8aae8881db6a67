"""One table of vendor limits, and one of odd payloads, that every dialect's tests loop over
(tests/unit/test_vendor_limits.py), the way tests/standins/upstream_answers.py is one table of answers.

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
OURS = "not documented: ours"  # conservative figures any sane API accepts (docs/limits.md)

# Every configured system: a dialect, or a dialect/flavor where a flavor has limits of its own.
LIMITS: dict[str, list[Limit]] = {
    "events-v2": [
        Limit("", 512_000, "body bytes", PD),
        Limit("payload.summary", 1024, "chars", PD_FIELDS),
        Limit("dedup_key", 255, "chars", PD_FIELDS),
    ],
    "events-v2/alert24": [  # PagerDuty's event; Alert24 documents no limits
        Limit("", 65_536, "body bytes", OURS),
        Limit("payload.summary", 1024, "chars", PD_FIELDS),
        Limit("payload.source", 1024, "chars", OURS),
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
    "alert24": [  # https://alert24.net/docs/api-incidents names the fields, no sizes
        Limit("", 65_536, "body bytes", OURS),
        Limit("title", 255, "chars", OURS),
        Limit("description", 20_000, "chars", OURS),
        Limit("source", 255, "chars", OURS),
        Limit("tags", 25, "items", OURS),  # the marker and 24 labels
        Limit("tags.[]", 128, "chars", OURS),
        Limit("alias", 255, "chars", OURS),
    ],
    "status-page": [
        Limit("incident.name", 255, "chars", SP),
        Limit("incident.body", 25_000, "chars", SP),
        Limit("", 65_536, "body bytes", "the adapter's own: metadata has no documented limit"),
    ],
    "status-page/simple": [
        Limit("title", 255, "chars", OURS),
        Limit("", 65_536, "body bytes", OURS),
    ],
    "status-page/pagecalm": [  # https://pagecalm.com/docs names no sizes
        Limit("title", 255, "chars", OURS),
        Limit("", 65_536, "body bytes", OURS),
    ],
    "status-page/alert24-status": [  # https://alert24.net/docs/api-services: no sizes
        Limit("", 65_536, "body bytes", OURS),
    ],
    "template": [Limit("", 65_536, "body bytes", "max_body_bytes in the test's config")],
    # No tool that takes Alertmanager's webhook documents a size (docs/alertmanager-webhook.md)
    "alertmanager-webhook": [Limit("", 65_536, "body bytes", OURS)],
}

# Where each system notes what it cut (the template's is set by its config): a field, or
# the last line of a text a person reads. None: its bodies hold nothing that could be cut.
MARKS: dict[str, tuple[str, Literal["field", "last line"]] | None] = {
    "events-v2": ("payload.custom_details.truncated", "field"),
    "events-v2/alert24": ("payload.custom_details.truncated", "field"),
    "alias": ("details.truncated", "field"),
    "alert24": ("description", "last line"),
    "status-page": ("incident.metadata.raw_input.truncated", "field"),
    "status-page/simple": ("raw_input.truncated", "field"),
    "status-page/pagecalm": ("raw_input", "last line"),
    "status-page/alert24-status": None,
    "template": ("details.truncated", "field"),
    "alertmanager-webhook": ("commonAnnotations.incident_adapter_truncated", "field"),
}
# The dedup key, which must arrive whole (never cut); None: the body carries no key.
KEYS = {
    "events-v2": "dedup_key",
    "events-v2/alert24": "dedup_key",
    "alias": "alias",
    "alert24": "alias",
    "status-page": "incident.metadata.incident_adapter.dedup_key",
    "status-page/simple": "metadata.incident_adapter.dedup_key",
    "status-page/pagecalm": None,  # no listing, no marker: docs/pagecalm.md
    "status-page/alert24-status": None,
    "template": "key",
    "alertmanager-webhook": "groupLabels.incident_adapter_key",
}
# The rest of what routes and pages: present in every create and never cut.
ROUTES = {
    "events-v2": ("routing_key", "event_action", "payload.severity"),
    "events-v2/alert24": ("integration_key", "event_action", "payload.severity"),
    "alias": ("priority",),
    "alert24": ("severity",),
    "status-page": ("incident.component_ids", "incident.components", "incident.impact_override"),
    "status-page/simple": (
        "status_page_id",
        "severity",
        "affected_component_ids",
        "draft",
        "metadata.incident_adapter",
    ),
    "status-page/pagecalm": (
        "status_page_id",
        "severity",
        "affected_component_ids",
        "generate_ai_update",
        "tone",
    ),
    "status-page/alert24-status": ("status",),
    "template": (),
    "alertmanager-webhook": ("status", "groupKey", "alerts.[].status", "alerts.[].labels"),
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


def at(body: Any, path: str) -> list[Any]:
    return _at(body, path)


NOTE = "the full alert is at its source"


def mark(system: str, raw: bytes) -> str | None:
    """The note of what was cut in the body `raw`, if any."""
    where = MARKS[system]
    if where is None:
        return None
    path, how = where
    found = _at(json.loads(raw), path)
    if not found or not isinstance(found[0], str):
        return None
    if how == "field":
        return found[0]
    last = found[0].rpartition("\n")[2]
    return last if last.startswith("… (") and NOTE in last else None


FIRE = "🔥"  # astral plane: 4 bytes of UTF-8, 2 UTF-16 units


def _labels(**extra: str) -> dict[str, str]:
    return {"alertname": "HugeAlert", "severity": "critical", "service": "api", **extra}


ALL = frozenset(LIMITS) - {"status-page/alert24-status"}  # it sends a status, nothing to cut


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
        frozenset(
            {
                "events-v2",
                "events-v2/alert24",
                "alias",
                "alert24",
                "status-page",
                "status-page/simple",
                "status-page/pagecalm",
            }
        ),
    ),
    Odd(
        "40 labels of 400 characters",
        _labels(**{f"label_{i:02}": (f"{i}-é{FIRE}" * 80)[:400] for i in range(40)}),
        {"summary": "fat labels"},
        frozenset({"alias"}),  # Alert24's tags are bounded and hashed, not cut and noted
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
