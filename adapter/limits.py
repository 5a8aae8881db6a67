"""Vendor size limits as data: what one API documents about the size of a request, and how
the vendors count it. The mechanism that cuts a body to fit is adapter/fitting.py.

`SizeLimits` holds one API's documented limits, with the doc's URL beside them (each dialect
keeps its table next to its code, as it keeps its `RetryPolicy`; adapter/integrations/vendors.py
finds them by the vendor's name): a `Text` field has at most so many characters, `Items` a
count of strings each so long, a `Total` (a map of strings: Opsgenie's `details`) so many
characters in all, and the body as a whole `body_bytes`.

Counted as the vendors count: `body_bytes` in UTF-8 bytes of the JSON body; characters as
UTF-16 code units (what Java and JavaScript count: an astral-plane emoji is two), never fewer
than code points, so a limit counted either way holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Text:
    """A string field of at most `chars` characters; `middle`: cut out of the middle, keeping
    both ends (a stack trace's start, the links at the end of a description)."""

    path: str
    chars: int
    middle: bool = False


@dataclass(frozen=True, slots=True)
class Items:
    """A list of strings: at most `count` items of at most `chars` characters each."""

    path: str
    count: int
    chars: int


@dataclass(frozen=True, slots=True)
class Total:
    """A map of strings of at most `chars` characters in all, counted as its JSON text."""

    path: str
    chars: int


Limit = Text | Items | Total


@dataclass(frozen=True, slots=True)
class SizeLimits:
    """One API's documented size limits, and what fitting may and may not cut."""

    vendor: str
    doc_url: str
    body_bytes: int | None = None
    fields: tuple[Limit, ...] = ()
    cut_first: tuple[str, ...] = ()  # least important first
    keep: frozenset[str] = frozenset()  # paths (and what is under them) never cut
    mark: str = ""  # dotted path of the note of what was cut; "" = none
    mark_line: bool = False  # the note goes on a last line of the text at `mark`
    key_chars: int = 255  # longest dedup key; keys.py hashes longer ones
    _checks: tuple[tuple[Limit, tuple[str, ...]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:  # paths split once, not on every render
        checks = tuple((limit, tuple(path_parts(limit.path))) for limit in self.fields)
        object.__setattr__(self, "_checks", checks)

    def over(self, body: Any) -> bool:
        """Whether any limited field of `body` is over its limit (the cheap check)."""
        for limit, parts in self._checks:
            value = body
            for part in parts:
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None and over_limit(limit, value):
                return True
        return False


def units(text: str) -> int:
    """Characters as UTF-16 code units."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def path_parts(path: str) -> list[str]:
    return path.split(".") if path else []


def over_limit(limit: Limit, value: Any) -> bool:
    if isinstance(limit, Text):
        return (
            isinstance(value, str) and len(value) * 2 > limit.chars and units(value) > limit.chars
        )
    if isinstance(limit, Items):
        if not isinstance(value, list):
            return False
        return len(value) > limit.count or any(
            isinstance(v, str) and units(v) > limit.chars for v in value
        )
    if not isinstance(value, dict):
        return False
    # No character takes more than 6 in JSON (\u001f): a small map of strings needs no
    # serializing.
    values = value.values()
    if all(type(v) is str for v in values):
        chars = sum(map(len, value)) + sum(map(len, values)) + len(value)
        if 6 * chars + 2 <= limit.chars:
            return False
    raw = orjson.dumps(value)
    return len(raw) > limit.chars and units(raw.decode()) > limit.chars  # bytes >= units
