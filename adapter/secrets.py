"""Secrets: a value that cannot print, and the `*_file` twins that read one from disk.

A `Secret` renders as ``<secret>`` in ``str``, ``repr``, f-strings, pydantic dumps and
JSON, so a config object can be logged or shown in an error without leaking anything.
Only `reveal()` hands the value out, and only the code that builds an upstream request
calls it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

import structlog
from pydantic import BeforeValidator, GetCoreSchemaHandler
from pydantic_core import core_schema

REDACTED = "<secret>"
BOM = "\ufeff"  # what Windows editors put first in a "UTF-8" file

log = structlog.get_logger("adapter.secrets")


def _not_blank(value: str) -> str:
    # An empty credential matches an empty Authorization header; an empty key is refused
    # by every API only when an alert fires. Either way: a config error, at load.
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Secret:
            if isinstance(value, cls):
                return value
            if not isinstance(value, str):  # e.g. an unquoted number in YAML
                raise ValueError("must be a string (quote it in YAML)")
            return cls(_not_blank(value))

        return core_schema.json_or_python_schema(
            json_schema=core_schema.no_info_after_validator_function(
                validate, core_schema.str_schema()
            ),
            python_schema=core_schema.no_info_plain_validator_function(validate),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: REDACTED),
        )


def _without_bom(text: str, path: str | Path) -> str:
    """The text without a leading byte-order mark, which would become part of the secret (and
    every request a 401) while no editor shows it; said in the log, by file name only."""
    if not text.startswith(BOM):
        return text
    log.warning("secret_file.bom_stripped", path=str(path))
    return text[len(BOM) :]


def read_secret_file(path: str | Path) -> str:
    """The file's content without the trailing newline editors and `kubectl create secret` add."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        # exc.strerror, not str(exc): the message must not echo file content, only why.
        raise ValueError(f"cannot read secret file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"secret file {path} is not UTF-8 text") from None
    value = _without_bom(text, path).strip()
    if not value:
        raise ValueError(f"secret file {path} is empty")
    return value


def _secret_from_file(value: Any) -> Any:
    if isinstance(value, str | Path):
        return Secret(read_secret_file(value))
    return value


# A field of this type takes a path in the YAML and holds the file's content.
SecretFile = Annotated[Secret, BeforeValidator(_secret_from_file)]


def read_token_file(path: str | Path) -> list[Secret]:
    """One token a line; blank lines and `#` comments are skipped (rotation: old and new)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read token file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"token file {path} is not UTF-8 text") from None
    text = _without_bom(text, path)
    tokens = [
        Secret(line.strip())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not tokens:
        raise ValueError(f"token file {path} holds no token")
    return tokens


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret value in text (for text that came from outside).

    `secrets` holds each value in the forms it can be echoed in (`secret_forms`): a receiver's
    are made once, at load, so this stays a few `in` tests on the path of a failure."""
    for value in secrets:
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text


# A query value shorter than this is scrubbed only as `name=value`: a bare `1`, `json` or
# `true` replaced in every text would wreck the text (`application/<secret>`) and hide
# nothing a guess would not find.
MIN_BARE = 8


def secret_forms(value: str) -> list[str]:
    """A secret as an upstream or a renderer may echo it: as is, percent-encoded (in a URL),
    form-encoded, JSON-escaped. Longest first, so a form that contains another goes whole."""
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return sorted((f for f in forms if f), key=len, reverse=True)


def url_secrets(url: str) -> list[str]:
    """What in a configured URL can carry a secret, in every form it can be echoed in: the
    userinfo (as a whole, each part, and the Basic credential clients make of it) and the
    query (as a whole, each `name=value`, each value); a part shorter than MIN_BARE only
    where it stands with its neighbours.

    `https://user:pw@host/hook?token=abc` gives `pw`, `user`, base64 `user:pw`,
    `token=abc`, `abc`, ... (decoded and as written)."""
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:  # a bad port: the config check names it; scrub what can be told
        return [url] if url else []
    found: list[str] = []
    if username is not None or password is not None:
        user, pw = unquote(username or ""), unquote(password or "")
        found.append(parts.netloc.rpartition("@")[0])
        found += [v for v in (username or "", password or "", user, pw) if len(v) >= MIN_BARE]
        found.append(base64.b64encode(f"{user}:{pw}".encode()).decode())
    if parts.query:
        found.append(parts.query if len(parts.query) >= MIN_BARE else "?" + parts.query)
        for pair in parts.query.split("&"):
            if "=" in pair or len(pair) >= MIN_BARE:
                found.append(pair)
            else:  # a short token on its own: only where it stands in a query
                found += ["?" + pair, "&" + pair]
            name, _, raw = pair.partition("=")
            value = unquote(raw.replace("+", " "))
            if len(value) >= MIN_BARE:
                found += [raw, value]
            elif value:
                found += [f"{name}={quote(value, safe='')}", f"{unquote(name)}={value}"]
    out: list[str] = []
    for value in found:
        out += secret_forms(value) if value else []
    return sorted(set(out), key=len, reverse=True)


def redact_url(url: str) -> str:
    """The URL with anything that can carry a secret replaced: the userinfo and each query
    value (names stay, to tell which). For printing a URL whose secrets are not known (a
    config error): `https://<secret>@host/hook?token=<secret>`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    # `name=value` keeps its name; a part without `=` may be a token itself (`?abc123`).
    query = "&".join(
        f"{name}={REDACTED}" if sep else REDACTED
        for name, sep, _ in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment and REDACTED))
