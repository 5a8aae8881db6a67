"""Secrets: a value that cannot print, and the `*_file` twins that read one from disk.

A `Secret` renders as ``<secret>`` in ``str``, ``repr``, f-strings, pydantic dumps and
JSON, so a config object can be logged or shown in an error without leaking anything.
Only `reveal()` hands the value out, and only the code that builds an upstream request
calls it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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


def scrub(text: str, secrets: list[str] | tuple[str, ...] | frozenset[str]) -> str:
    """Replace every occurrence of each secret value in text (for text that came from outside)."""
    for value in secrets:
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text
