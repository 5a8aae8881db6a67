"""Loading the configuration document (adapter/config/document.py): YAML with unique keys,
environment overrides, the cross-checks no single model can make, and errors that name
paths, with the given values left out where they could be secrets.

    load_config(path) -> Config      raises ConfigError with every problem at once
"""

from __future__ import annotations

import functools
import os
import re
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_settings import (
    SettingsError,
)

from adapter.config.document import Config
from adapter.config.timeintervals import time_interval_problems
from adapter.integrations import DIALECTS

DEFAULT_SOURCE = "<embedded default>"


class ConfigError(Exception):
    """Every problem of one config file; str() is the report check-config prints."""

    def __init__(self, source: str, problems: list[str], *, unexpected: bool = False) -> None:
        self.source = source
        self.problems = problems
        self.unexpected = unexpected  # a bug, not the config: a reload answers 500
        super().__init__(f"{source}: " + "; ".join(problems))

    def report(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s):"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML silently keeps the last of two equal keys; a config must not."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads `17:00` as the base-60 integer 1020 and `1:5` as 65; Alertmanager's YAML
# reads strings there (as YAML 1.2 does), so its time_intervals mean the same here.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: tuple[int | str, ...], root: Any = Config) -> type[BaseModel] | None:
    """The model a location points into, to list the keys it allows."""
    current: Any = root
    for part in loc:
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        else:
            current = None
        # unwrap Annotated[...] and X | None down to a model or a list
        while (
            current is not None
            and not (isinstance(current, type) and issubclass(current, BaseModel))
            and typing.get_origin(current) is not list
        ):
            args = tuple(a for a in typing.get_args(current) if a is not type(None))
            origin = typing.get_origin(current)
            if origin is Annotated or origin in (typing.Union, types.UnionType):
                current = args[0] if len(args) == 1 or origin is Annotated else None
            else:
                current = None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _strings_in(value: Any) -> set[str]:
    """Every string a YAML value holds (its leaves, and a mapping's keys too)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {s for k, v in value.items() for s in (*_strings_in(k), *_strings_in(v))}
    if isinstance(value, list | tuple):
        return {s for item in value for s in _strings_in(item)}
    return set()


SHOWN_VALUE = "<value>"


def _literals(annotation: Any, seen: set[type]) -> set[str]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return set()
        seen.add(annotation)
        return {w for f in annotation.model_fields.values() for w in _literals(f.annotation, seen)}
    if typing.get_origin(annotation) is Literal:
        return {a for a in typing.get_args(annotation) if isinstance(a, str)}
    return {w for a in typing.get_args(annotation) for w in _literals(a, seen)}


@functools.cache
def vocabulary() -> frozenset[str]:
    """Every word the config's schema offers as a choice (`type`, `strategy`, `flavor`...):
    such a value is never a secret, and a message is clearer with it."""
    models = [Config, *(settings for settings, _ in DIALECTS.values())]
    seen: set[type] = set()
    return frozenset(w for model in models for w in _literals(model, seen))


def without_values(message: str, given: Any) -> str:
    """The message with each value given at that place (quoted, as validators echo them) left
    out, unless the schema lists it as a choice: a secret pasted under the wrong key, or a
    URL with a token in it, must not reach check-config's output, a log or a reload answer.
    A quoted piece of a given value (a validator naming one end of `a:b`, one of `a,b`, a
    query's value) goes too. The path says where to look."""
    words = vocabulary()
    given_strings = _strings_in(given) - words
    for text in sorted(given_strings, key=len, reverse=True):
        for shown in (repr(text), f'"{text}"'):
            if shown in message:
                message = message.replace(shown, SHOWN_VALUE)

    pieces = {p for value in given_strings for p in _PIECES.split(value) if p} - words

    def hidden(match: re.Match[str]) -> str:
        text = match.group(1) if match.group(1) is not None else match.group(2)
        return SHOWN_VALUE if text in pieces else match.group(0)

    return _QUOTED.sub(hidden, message)


_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_PIECES = re.compile(r"[:,;=&?\s]+")


# Parts of a location that name a branch of a union schema, not a key a user wrote:
# `routing_key.function-after[Secret(), str]` is `routing_key`.
_SCHEMA_BRANCH = re.compile(r"^[a-z][a-z-]*\[.*\]$|^(str|int|float|bool|list|dict)$")


def _is_schema_branch(part: int | str) -> bool:
    return isinstance(part, str) and _SCHEMA_BRANCH.match(part) is not None


def _problems(exc: ValidationError, data: Any) -> list[str]:
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc: list[int | str] = [p for p in error["loc"] if not _is_schema_branch(p)]
        # a discriminated union puts the dialect's name in the path: receivers.0.log.url
        if len(loc) > 2 and loc[0] == "receivers" and loc[2] in DIALECTS:
            del loc[2]
        message = without_values(error["msg"].removeprefix("Value error, "), error.get("input"))
        kind = error["type"]
        if kind == "extra_forbidden":
            model = _model_at(tuple(loc[:-1])) if loc[0] != "receivers" else None
            if loc[0] == "receivers" and len(loc) >= 3:
                rtype = data["receivers"][loc[1]].get("type")
                model = _model_at(tuple(loc[2:-1]), root=DIALECTS[rtype][0])
            allowed = f" (allowed here: {', '.join(model.model_fields)})" if model else ""
            message = f"unknown key{allowed}"
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            loc.append("type")
            message = f"unknown or missing receiver type; use one of {', '.join(DIALECTS)}"
        problem = f"{_path(tuple(loc)) or 'config'}: {message}"
        if problem not in problems:  # one per branch of a union: say it once
            problems.append(problem)
    return problems


def yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what kind of YAML error, never the offending line: it may hold a secret."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = exc.problem or exc.context or "syntax error"
        if exc.problem and exc.context:
            start = exc.context_mark
            at = f" at line {start.line + 1}, column {start.column + 1}" if start else ""
            what += f" ({exc.context}{at})"
        return f"not valid YAML: {where}{what}"
    if isinstance(exc, yaml.reader.ReaderError):
        return f"not valid YAML: at character {exc.position}: {exc.reason}"
    return "not valid YAML"


def _environment_problem(exc: SettingsError) -> str:
    """pydantic-settings' error names the top-level field; say which variables feed it."""
    field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else ""
    prefix = f"INCIDENT_ADAPTER_{field.upper()}"
    names = sorted(n for n in os.environ if n.upper().startswith(prefix)) or [prefix]
    return (
        f"{field or 'config'}: the environment variable {', '.join(names)} cannot be read: "
        "lists and mappings are JSON, e.g. INCIDENT_ADAPTER_AUTH__BEARER_TOKENS='[\"...\"]'"
    )


def load_config(path: str | Path | None = None) -> Config:
    """The validated config from path, or the embedded default when path is None."""
    if path is None:
        source, text = (
            DEFAULT_SOURCE,
            resources.files("adapter").joinpath("default.yml").read_text(),
        )
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(source, [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 -- a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(source, [yaml_problem(exc)]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, ["the top level must be a mapping with at least `receivers:`"])
    try:
        config = Config(**data)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc, data)) from None
    except SettingsError as exc:
        raise ConfigError(source, [_environment_problem(exc)]) from None
    problems = _cross_checks(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def _cross_checks(config: Config) -> list[str]:
    problems = []
    seen: dict[str, int] = {}
    for index, receiver in enumerate(config.receivers):
        if receiver.name in seen:
            problems.append(
                f"receivers[{index}].name: {receiver.name!r} is already the name of "
                f"receivers[{seen[receiver.name]}]; names must be unique"
            )
        seen.setdefault(receiver.name, index)
        try:
            receiver.delivery.over(config.delivery)
        except ValueError as exc:
            problems.append(f"receivers[{index}].delivery: {exc}")
    problems.extend(time_interval_problems(config.time_intervals, config.receivers))
    if config.alertmanager is None:
        for index, receiver in enumerate(config.receivers):
            for name in ("on_silenced", "on_inhibited"):
                if getattr(receiver, name) != "keep":
                    problems.append(
                        f"receivers[{index}].{name}: {getattr(receiver, name)} needs the "
                        "top-level alertmanager: block (urls) to read silences and "
                        "inhibitions from; add it, or keep"
                    )
    return problems
