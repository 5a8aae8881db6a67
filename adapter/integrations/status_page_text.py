"""A status page's create: the size limits it is fitted into, and the text `raw_input`.

    size_limits_for(shape, limits)        the vendor's limits at the paths this flavor uses
    text_size_limits_for(shape, ...)      the same once raw_input is a text, written from facts
    raw_input_text(facts)            those facts as an on-call person would write them

Each flavor's limits are data beside its preset (status_page_presets.py, docs/limits.md);
the flow that sends the creates is status_page.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from adapter.fitting import cut_chars, note_line
from adapter.integrations.status_page_presets import Limits, Shape
from adapter.limits import SizeLimits, Text

# A text raw_input is fitted as facts, then written out: it may come out longer than the facts
# by the header line's "where" (WHERE_CHARS at most) and its words; this much room is kept.
TEXT_MARGIN = 4096
WHERE_CHARS = 300

TEXT_ANNOTATIONS = ("summary", "description", "runbook_url")
# Where an alert is, as an on-call person names it: most specific last.
WHERE_LABELS = ("service", "cluster", "namespace", "job", "instance", "pod", "container")


def raw_input_text(raw: dict[str, Any]) -> str:
    """The facts of `raw_input` as an on-call person would write them for the page's writer:
    what fired, where, how bad, since when, what it means, and where to look. Facts cut to fit
    the API's limits read as cut; the note of what was cut is the last line."""
    labels: dict[str, str] = raw.get("labels") or {}
    where = ", ".join(f"{name} {labels[name]}" for name in WHERE_LABELS if labels.get(name))
    where = cut_chars(where, WHERE_CHARS)
    lines = [f"{raw.get('alertname') or 'An alert'} is firing" + (f" on {where}" if where else "")]
    lines[0] += f"; severity {raw.get('severity', '')}."
    if summary := raw.get("summary"):
        lines.append(f"Summary: {summary}")
    if description := raw.get("description"):
        lines.append(f"Details: {description}")
    since = f"Started {_readable(raw.get('starts_at', ''))}"
    firing_for = raw.get("firing_for")
    lines.append(since + (f", firing for {firing_for}." if firing_for else "."))
    for name, value in (raw.get("annotations") or {}).items():
        lines.append(f"{name}: {value}")
    if runbook := raw.get("runbook_url"):
        lines.append(f"Runbook: {runbook}")
    if graph := raw.get("source"):
        lines.append(f"Graph: {graph}")
    lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if note := raw.get("truncated"):
        lines.append(note_line(note))
    return "\n".join(lines)


def _readable(starts_at: str) -> str:
    try:
        started = datetime.fromisoformat(starts_at).astimezone(UTC)
    except (ValueError, TypeError):
        return starts_at
    return started.strftime("%Y-%m-%d %H:%M:%S UTC")


def size_limits_for(
    shape: Shape, limits: Limits, extra: Sequence[str] = (), as_text: bool = False
) -> SizeLimits:
    """A create's size limits, at the paths this shape puts things. The writer's input gives way
    first (its description, then its labels, then the rest); what routes is kept: the marker,
    the page, the severity, the components, the draft flag and the constant create fields.
    `as_text`: the size limits of the facts a text raw_input is written from, with room for the
    words the text adds (TEXT_MARGIN)."""
    wrap = shape.wrap + "." if shape.wrap else ""
    raw = wrap + shape.raw_input
    kept = (
        shape.marker,
        shape.page_id,
        shape.impact,
        shape.component_ids,
        shape.component_statuses,
        shape.draft,
        *extra,
    )
    texts = [Text(wrap + shape.title, limits.title_chars)] if shape.title else []
    texts += [Text(wrap + path, chars) for path, chars in limits.text_chars]
    return SizeLimits(
        vendor=limits.vendor,
        doc_url=limits.doc_url,
        body_bytes=limits.create_bytes - (TEXT_MARGIN if as_text else 0),
        fields=tuple(texts),
        cut_first=(f"{raw}.description", f"{raw}.labels", raw) if shape.raw_input else (),
        keep=frozenset(wrap + p for p in kept if p),
        mark=f"{raw}.truncated" if shape.raw_input else "",
        key_chars=255,
    )


def text_size_limits_for(shape: Shape, facts: SizeLimits, limits: Limits) -> SizeLimits:
    """The create with raw_input as a text, once written from fitted facts: the whole body
    within `create_bytes`; should it not be, the text is cut out of its middle (its first
    lines and its links stay) and the note is its last line."""
    raw = (shape.wrap + "." if shape.wrap else "") + shape.raw_input
    return replace(
        facts,
        body_bytes=limits.create_bytes,
        fields=(*facts.fields, Text(raw, limits.create_bytes, middle=True)),
        cut_first=(),
        mark=raw,
        mark_line=True,
    )
