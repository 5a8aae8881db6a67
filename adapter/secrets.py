"""Secrets: a value that cannot print, and the `*_file` twins that read one from disk.

A `Secret` renders as ``<secret>`` in ``str``, ``repr``, f-strings, pydantic dumps and
JSON, so a config object can be logged or shown in an error without leaking anything.
Only `reveal()` hands the value out, and only the code that builds an upstream request
calls it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, GetCoreSchemaHandler
from pydantic_core import core_schema

REDACTED = "<secret>"


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
        from_str = core_schema.no_info_after_validator_function(cls, core_schema.str_schema())
        return core_schema.json_or_python_schema(
            json_schema=from_str,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_str]),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: REDACTED),
        )


def read_secret_file(path: str | Path) -> str:
    """The file's content without the trailing newline editors and `kubectl create secret` add."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        # exc.strerror, not str(exc): the message must not echo file content, only why.
        raise ValueError(f"cannot read secret file {path}: {exc.strerror or exc}") from None
    value = text.strip()
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
