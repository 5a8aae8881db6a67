"""Jinja2 in its immutable sandbox: the one place templates are compiled and rendered.

Every template in the config (the `template` dialect's requests, template dedup keys)
goes through here, with the same rules:

- compiled when the config loads: a syntax error is a config error naming the line;
- a name that does not exist at all (`alertt`, `annotatons`) is a StrictUndefined: a typo
  fails the config check, never a 3 a.m. alert;
- a label or annotation the alert lacks (`alert.annotations.description`) renders as
  empty, as in Alertmanager's own templates (`{{ .Annotations.description }}`), and is
  still Undefined to `default(...)`, `is defined` and `if`: a missing key never fails an
  alert, whatever alert comes.

Filters: `tojson` (safe embedding in JSON; a missing label is ""), `urlquote` (quotes
every reserved character, `/` included, for a path segment) and `sha256` (the hex digest of
the text's UTF-8: `{{ group_key | sha256 }}` is the key Alertmanager's own PagerDuty and
Opsgenie notifiers use); Jinja2's own otherwise.

URL templates (`compile_url_template`: the `template` dialect's `path`) encode what every
`{{ }}` prints as `urlquote` does, the way an HTML template escapes: a label is data in the
URL, never syntax, whether or not the template says `| urlquote` (what `urlquote` already
encoded is not encoded twice). So `/incidents/{{ alert.labels.service }}` with
`service=../../admin` requests `/incidents/..%2F..%2Fadmin`, and `x?token=a` adds no query
parameter. The literal text of the template is the config's: it may hold `/`, `?` and `&`.
Jinja2 is imported on first use: an adapter without templates never loads it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapter.urls import path_segment

if TYPE_CHECKING:
    import jinja2


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    _add_filters(env)
    return env


@functools.cache
def url_environment() -> jinja2.Environment:
    """The sandbox for URL templates: every `{{ }}` prints URL-encoded (`_encoded`)."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, finalize=_encoded
    )
    _add_filters(env)
    return env


def _add_filters(env: jinja2.Environment) -> None:
    env.filters["tojson"] = _tojson
    env.filters["urlquote"] = urlquote
    env.filters["sha256"] = lambda value: hashlib.sha256(str(value).encode()).hexdigest()


class Encoded(str):
    """Text already URL-encoded by `urlquote`: a URL template prints it as it is."""

    __slots__ = ()


def urlquote(value: Any) -> Encoded:
    """Every reserved character quoted (`/` too); a bare `.` or `..` as `%2E` (adapter/urls.py)."""
    return Encoded(path_segment(str(value)))


def _encoded(value: Any) -> Any:
    """What a `{{ }}` of a URL template prints: urlquote'd unless it already is."""
    if isinstance(value, Encoded):
        return value
    text = str(value)  # a StrictUndefined raises here, as it would when printed
    return urlquote(text) if text else text


@functools.cache
def _missing_class() -> type[jinja2.Undefined]:
    import jinja2

    class Missing(jinja2.ChainableUndefined):
        """A key the alert lacks: renders as "", chains (`.upper()`), counts as undefined."""

        __slots__ = ()

    return Missing


class Fields(dict[str, str]):
    """Labels or annotations as templates see them: a missing key is empty, not an error."""

    def __missing__(self, key: str) -> Any:
        return _missing_class()(name=key)


def fields(values: Mapping[str, str]) -> Fields:
    return values if isinstance(values, Fields) else Fields(values)


def _tojson(value: Any) -> str:
    import jinja2

    if isinstance(value, jinja2.Undefined):
        value = str(value)  # a StrictUndefined raises "... is undefined"; a missing key is ""
    return json.dumps(value, ensure_ascii=False)


def compile_template(source: str) -> jinja2.Template:
    """The compiled template; ValueError names the line of a syntax error."""
    import jinja2

    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template error on line {exc.lineno}: {exc.message}") from None


def compile_url_template(source: str) -> jinja2.Template:
    """`compile_template` for a URL: every `{{ }}` prints URL-encoded."""
    import jinja2

    try:
        return url_environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template error on line {exc.lineno}: {exc.message}") from None


def names_read(source: str) -> set[str]:
    """The top-level names a template reads (its free variables), e.g. {"labels"}."""
    from jinja2 import meta

    return set(meta.find_undeclared_variables(environment().parse(source)))


def template_error() -> type[Exception]:
    """What rendering raises for an undefined name or a sandbox refusal."""
    import jinja2

    return jinja2.TemplateError
