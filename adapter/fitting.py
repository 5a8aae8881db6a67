"""The one mechanism that fits a rendered request into its vendor's size limits
(adapter/limits.py). `fit(body, limits)` turns a rendered JSON body into bytes the API accepts:

1. every limited field: a `Text` cut to its characters, `Items` to their count and length,
   a `Total` to its characters in all, the longest values first;
2. the whole body within `body_bytes`: the parts named in `cut_first` give way in that order
   (custom details, long annotations), the longest strings first, then, if need be, any string
   the limits do not protect;
3. what was cut is named, with its original size, in a note at `mark`, so a responder knows
   the full text is at the alert's source; with `mark_line`, the note is the last line of the
   text at `mark` (a text a person reads: a description, a writer's input), not a field.

What routes and pages is protected: the `keep` paths (routing key, action, dedup key,
severity, status-page marker) and any string equal to a `protected` value (the dedup key,
the receiver's secrets) are never cut; keys.py hashes a long key to fit instead. A body that
cannot fit even so raises `CannotFit`, a RenderError: the event fails alone, named (424).
The common small alert pays one size check per limited field and one length check of the
body it serializes anyway.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import orjson

from adapter.events import RenderError
from adapter.limits import Items, Limit, SizeLimits, Text, Total, path_parts, units

ELLIPSIS = "…"
MARK_BYTES = 600  # the note of what was cut, serialized, at most
_RESERVE = MARK_BYTES + 40  # room kept for it: `,"truncated":` and the note


class CannotFit(RenderError):
    """A body that cannot fit its vendor's limits without cutting what routes or pages."""


def _head(text: str, chars: int) -> str:
    out = text[:chars]
    while (size := units(out)) > chars:
        out = out[: len(out) - max(1, (size - chars) // 2)]  # a character is one or two units
    return out


def _tail(text: str, chars: int) -> str:
    out = text[len(text) - chars :] if chars > 0 else ""
    while (size := units(out)) > chars:
        out = out[max(1, (size - chars) // 2) :]
    return out


def cut_chars(text: str, chars: int, middle: bool = False) -> str:
    """`text` in at most `chars` characters (UTF-16 units), with … where it was cut."""
    if len(text) * 2 <= chars or units(text) <= chars:
        return text
    if chars < 1:
        return ""
    room = chars - 1
    back = room // 2 if middle else 0
    return _head(text, room - back) + ELLIPSIS + _tail(text, back)


def _json_len(text: str) -> int:
    return len(orjson.dumps(text)) - 2


def _head_bytes(text: str, room: int) -> str:
    out = text.encode()[:room].decode("utf-8", "ignore")
    while (size := _json_len(out)) > room:
        out = out[: len(out) - max(1, (size - room) // 6)]  # a character is 1 to 6 bytes in JSON
    return out


def _tail_bytes(text: str, room: int) -> str:
    out = text.encode()[len(text.encode()) - room :].decode("utf-8", "ignore") if room > 0 else ""
    while (size := _json_len(out)) > room:
        out = out[max(1, (size - room) // 6) :]
    return out


def cut_bytes(text: str, limit: int, middle: bool = False) -> str:
    """`text` in at most `limit` bytes of JSON (escapes counted), with … where it was cut:
    at its end, or (`middle`) out of its middle, keeping both ends."""
    if _json_len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode())
    if room <= 0:
        return ""
    back = room // 2 if middle else 0
    return _head_bytes(text, room - back) + ELLIPSIS + _tail_bytes(text, back)


def note_line(note: str) -> str:
    """The note of what was cut as the last line of a text a person reads."""
    return f"{ELLIPSIS} ({note})"


def _get(body: Any, path: str) -> Any:
    for part in path_parts(path):
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def _within(body: Any, limits: SizeLimits) -> bytes | None:
    """The body as JSON if nothing in it is over `limits` (the common case), else None."""
    if limits.over(body):
        return None
    raw = orjson.dumps(body)
    return raw if limits.body_bytes is None or len(raw) <= limits.body_bytes else None


def fit(body: Any, limits: SizeLimits, protected: Collection[str] = ()) -> bytes:
    """The body as JSON within `limits`; CannotFit if only cutting what routes would do."""
    if (raw := _within(body, limits)) is not None:
        return raw  # the common case: nothing to cut
    return _Fitter(limits, protected).fit(orjson.loads(orjson.dumps(body)))  # a copy to cut


def fitted(body: Any, limits: SizeLimits, protected: Collection[str] = ()) -> Any:
    """`body` itself if it fits `limits`, else a copy cut to fit: for facts that are cut as
    fields and then written out as a text (a status page writer's input)."""
    return body if _within(body, limits) is not None else orjson.loads(fit(body, limits, protected))


class _Fitter:
    def __init__(self, limits: SizeLimits, protected: Collection[str]) -> None:
        self.limits = limits
        self.protected = set(protected)
        self.cuts: dict[str, str] = {}  # path -> original size, first cut only
        # Cut out of their middle when the body is over, too.
        self.middle = {lim.path for lim in limits.fields if isinstance(lim, Text) and lim.middle}

    def fit(self, body: Any) -> bytes:
        mark = self.limits.mark
        room_at = mark if self.limits.mark_line else mark.rpartition(".")[0]
        for limit in self.limits.fields:
            reserve = _RESERVE if limit.path == room_at and mark else 0
            self._limit(body, limit, reserve)
        if self.limits.body_bytes is not None:
            self._body(body, self.limits.body_bytes - (_RESERVE if self.limits.mark else 0))
        if self.cuts and self.limits.mark and isinstance(body, dict):
            self._mark(body)
        raw = orjson.dumps(body)
        most = self.limits.body_bytes
        if most is not None and len(raw) > most:  # only what routes and pages is left
            raise CannotFit(
                f"a body of {len(raw):,} bytes is over {self.limits.vendor}'s {most:,} even "
                "with every part that may be cut cut; what is left routes the event"
            )
        return raw

    # -- field limits --------------------------------------------------------------------

    def _limit(self, body: dict[str, Any], limit: Limit, reserve: int) -> None:
        *parents, leaf = path_parts(limit.path)
        parent = _get(body, ".".join(parents))
        if not isinstance(parent, dict) or limit.path in self.limits.keep:
            return
        value = parent.get(leaf)
        if isinstance(limit, Text) and isinstance(value, str):
            cut = cut_chars(value, limit.chars - reserve, limit.middle)
            if cut != value:
                self._record(limit.path, f"{units(value):,} characters")
                parent[leaf] = cut
        elif isinstance(limit, Items) and isinstance(value, list):
            items = [cut_chars(v, limit.chars) if isinstance(v, str) else v for v in value]
            items = list(dict.fromkeys(items))[: limit.count]
            if items != value:
                self._record(limit.path, f"{len(value)} items")
                parent[leaf] = items
        elif isinstance(limit, Total) and isinstance(value, dict):
            self._total(limit.path, value, limit.chars - reserve)

    def _total(self, path: str, values: dict[str, Any], chars: int) -> None:
        def size() -> int:
            return units(orjson.dumps(values).decode())

        for _ in range(64):  # each pass cuts at least a third of what is over
            excess = size() - chars
            if excess <= 0:
                return
            if not self._shave(list(self._leaves(values, path)), excess):
                break
        while values and size() > chars:  # the names alone are over: drop the last entries
            name = next(reversed(values))
            self._record(f"{path}.{name}", "dropped")
            del values[name]

    # -- the body's size -----------------------------------------------------------------

    def _body(self, body: Any, limit: int) -> None:
        for stage in (*self.limits.cut_first, ""):
            for _ in range(8):
                excess = len(orjson.dumps(body)) - limit
                if excess <= 0:
                    return
                leaves = list(self._stage(body, stage))
                if not self._shave(leaves, excess):
                    break
            node = _get(body, stage)
            if stage and isinstance(node, dict) and len(orjson.dumps(body)) > limit:
                self._drop(node, stage)  # its names alone are over

    def _stage(self, body: Any, stage: str) -> Iterator[tuple[Any, Any, str]]:
        """What may be cut at `stage`: the strings under it, or the string it names."""
        if not stage:
            yield from self._leaves(body, "")
            return
        *parents, leaf = path_parts(stage)
        parent = _get(body, ".".join(parents))
        value = parent.get(leaf) if isinstance(parent, dict) else None
        if isinstance(value, str):
            if value and value not in self.protected and stage not in self.limits.keep:
                yield parent, leaf, stage
        else:
            yield from self._leaves(value, stage)

    def _drop(self, node: dict[str, Any], path: str) -> None:
        """Empty a part, but for what the limits keeps in it (a status page's marker)."""
        for name in list(node):
            sub = f"{path}.{name}"
            if sub in self.limits.keep:
                continue
            if any(k.startswith(sub + ".") for k in self.limits.keep):
                if isinstance(node[name], dict):
                    self._drop(node[name], sub)
                continue
            self._record(sub, f"{len(orjson.dumps(node[name])):,} bytes, dropped")
            del node[name]

    # -- shared: cut the longest strings first -------------------------------------------

    def _leaves(self, node: Any, path: str) -> Iterator[tuple[Any, Any, str]]:
        """(container, key, path) of every string under `node` that may be cut."""
        items: Iterator[tuple[Any, Any]]
        if isinstance(node, dict):
            items = iter(node.items())
        elif isinstance(node, list):
            items = iter(enumerate(node))
        else:
            return
        for key, value in items:
            sub = f"{path}.{key}" if path else str(key)
            if sub in self.limits.keep or (sub == self.limits.mark and not self.limits.mark_line):
                continue
            if isinstance(value, str):
                if value and value not in self.protected:
                    yield node, key, sub
            else:
                yield from self._leaves(value, sub)

    def _shave(self, leaves: list[tuple[Any, Any, str]], excess: int) -> bool:
        """Cut the longest strings down to one level until `excess` bytes are saved; False
        when there was nothing left to cut."""
        sizes = [_json_len(c[k]) for c, k, _ in leaves]
        if not any(sizes):
            return False
        low, high = 0, max(sizes)  # the highest cap that saves enough
        while low < high:
            cap = (low + high + 1) // 2
            if sum(s - cap for s in sizes if s > cap) >= excess:
                low = cap
            else:
                high = cap - 1
        for (container, key, path), size in zip(leaves, sizes, strict=True):
            if size > low:
                self._record(path, f"{len(container[key].encode()):,} bytes")
                container[key] = cut_bytes(container[key], low, path in self.middle)
        return True

    # -- the note ------------------------------------------------------------------------

    def _record(self, path: str, size: str) -> None:
        self.cuts.setdefault(path, size)

    def _mark(self, body: dict[str, Any]) -> None:
        *parents, leaf = path_parts(self.limits.mark)
        prefix = ".".join(parents) + "." if parents else ""
        named = [f"{p.removeprefix(prefix)[:60]} ({size})" for p, size in self.cuts.items()]
        note = cut_bytes(
            f"cut to fit {self.limits.vendor}'s limits; the full alert is at its source: "
            + "; ".join(named),
            MARK_BYTES,
        )
        node = body
        for part in parents:
            value = node.get(part)
            if isinstance(value, str):  # a text where a map was expected: never replace it
                node[part] = f"{value}\n{note_line(note)}"
                return
            if not isinstance(value, dict):
                node[part] = value = {}
            node = value
        if self.limits.mark_line:
            text = node.get(leaf)
            line = note_line(note)
            node[leaf] = f"{text}\n{line}" if isinstance(text, str) and text else line
            return
        if leaf in node:  # e.g. a label of that name in Opsgenie's details
            leaf += " (incident-adapter)"
        node[leaf] = note
