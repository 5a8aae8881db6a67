"""Alertmanager matcher syntax: `name="value"`, `name!="v"`, `name=~"re"`, `name!~"re"`.

As in Alertmanager: values may be quoted (with `\\"`, `\\\\`, `\\n` escapes) or bare; regexes
are anchored at both ends; a missing label matches as the empty string; one string may hold
several matchers separated by commas, optionally inside braces: `{a="b", c=~"d|e"}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_NAME = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!~|!=|=)\s*")
_OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self._regex is not None:
            return (self._regex.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def _make(name: str, op: str, value: str) -> Matcher:
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return Matcher(name, op, value, regex)


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise ValueError(f"unterminated quoted value in {text!r}")


def parse_matchers(text: str) -> list[Matcher]:
    """Every matcher in text; ValueError names what is wrong and shows the form."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise ValueError(f"missing closing '}}' in {text!r}")
        body = body[1:-1]
    matchers: list[Matcher] = []
    pos = 0
    while pos < len(body):
        head = _NAME.match(body, pos)
        if not head:
            raise ValueError(
                f'bad matcher {text!r}: expected name="value" (operators {", ".join(_OPS)})'
            )
        name, op = head.group(1), head.group(2)
        pos = head.end()
        if pos < len(body) and body[pos] == '"':
            value, pos = _read_quoted(body, pos)
        else:
            end = body.find(",", pos)
            end = len(body) if end < 0 else end
            value, pos = body[pos:end].strip(), end
            if '"' in value:  # `a=="x"` or a stray quote: surely a typo, so say so
                raise ValueError(f'bad matcher {text!r}: quote the whole value, e.g. name="value"')
        matchers.append(_make(name, op, value))
        rest = body[pos:].lstrip()
        if rest.startswith(","):
            pos = len(body) - len(rest) + 1
        elif rest:
            raise ValueError(f"unexpected {rest!r} after matcher in {text!r}")
        else:
            break
    if not matchers:
        raise ValueError(f"no matcher in {text!r}")
    return matchers


def all_match(matchers: tuple[Matcher, ...] | list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
