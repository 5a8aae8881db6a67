"""The base of every config model, and the small field types and checks the receiver models
share: matchers in Alertmanager's syntax, a severity level, one secret of `x` or `x_file`,
an absolute http(s) URL. Models reject unknown keys and are frozen.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
)

from adapter.matchers import Matcher, parse_matchers
from adapter.secrets import Secret, redact_url
from adapter.severity import SEVERITIES


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _matchers(values: object) -> tuple[Matcher, ...]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ValueError("expected a list of matcher strings, e.g. ['service=\"api\"']")
    parsed: list[Matcher] = []
    for value in values:
        parsed.extend(parse_matchers(value))
    return tuple(parsed)


# YAML gives strings in Alertmanager's matcher syntax; the model holds them parsed.
Matchers = Annotated[
    tuple[Matcher, ...],
    PlainValidator(_matchers),
    PlainSerializer(lambda ms: [str(m) for m in ms]),
]


def _level(value: str) -> str:
    if value not in SEVERITIES:
        raise ValueError(f"{value!r} is not a severity; use one of {', '.join(SEVERITIES)}")
    return value


Level = Annotated[str, AfterValidator(_level)]


def one_secret(name: str, inline: Secret | None, from_file: Secret | None) -> Secret:
    """The secret given as `name` or as `name_file`: exactly one of them must be set."""
    value = inline if inline is not None else from_file
    if value is None or (inline is not None and from_file is not None):
        raise ValueError(f"set exactly one of {name} or {name}_file")
    return value


def check_http_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        parts = urlsplit("")
    # printable ASCII, percent-encoded: the transports send it as written (adapter/urls.py)
    if parts.scheme not in ("http", "https") or not parts.hostname or not _ENCODED.match(url):
        raise ValueError(
            f"url {redact_url(url)!r} must be an absolute http(s) URL, percent-encoded "
            "(no spaces or characters outside ASCII)"
        )


_ENCODED = re.compile(r"[!-~]+\Z")
