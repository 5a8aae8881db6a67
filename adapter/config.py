"""The configuration document: loading, environment overrides, and errors that name paths.

    load_config(path) -> Config      raises ConfigError with every problem at once

Order of precedence: command-line flags (adapter/cli.py) > INCIDENT_ADAPTER_* environment
variables (pydantic-settings, `__` between levels: INCIDENT_ADAPTER_DELIVERY__TIMEOUT=5s)
> the YAML file > the defaults here.
"""

from __future__ import annotations

import re
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from adapter.integrations import DIALECTS, AnyReceiverSettings
from adapter.secrets import Secret, SecretFile, read_token_file
from adapter.settings import DeliverySettings, Model, ReceiverSettings
from adapter.timeinterval_settings import TimeIntervalSettings, time_interval_problems

DEFAULT_SOURCE = "<embedded default>"


class BasicAuthSettings(Model):
    username: str = Field(min_length=1)
    password: Secret | None = None
    password_file: SecretFile | None = None

    @model_validator(mode="after")
    def _one_password(self) -> BasicAuthSettings:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("set exactly one of password or password_file")
        return self

    @property
    def secret(self) -> Secret:
        value = self.password or self.password_file
        assert value is not None
        return value


class AuthSettings(Model):
    bearer_tokens: list[Secret] = Field(default_factory=list)
    # One token a line. Watched: replacing the file rotates tokens without a reload.
    bearer_tokens_file: Path | None = None
    basic_auth: BasicAuthSettings | None = None
    _file_tokens: list[Secret] = PrivateAttr(default_factory=list)

    @field_validator("bearer_tokens_file")
    @classmethod
    def _readable(cls, path: Path | None) -> Path | None:
        if path is not None:
            read_token_file(path)
        return path

    @model_validator(mode="after")
    def _load_file(self) -> AuthSettings:
        if self.bearer_tokens_file is not None:
            self._file_tokens = read_token_file(self.bearer_tokens_file)
        return self

    def with_file_tokens(self, tokens: list[Secret]) -> AuthSettings:
        """A copy holding freshly read tokens from bearer_tokens_file (rotation)."""
        copy = self.model_copy()
        copy._file_tokens = tokens
        return copy

    @property
    def tokens(self) -> list[Secret]:
        return [*self.bearer_tokens, *self._file_tokens]

    @property
    def enabled(self) -> bool:
        return bool(self.tokens) or self.basic_auth is not None

    def secret_values(self) -> list[str]:
        values = [t.reveal() for t in self.tokens]
        if self.basic_auth:
            values.append(self.basic_auth.secret.reveal())
        return values


class LimitsSettings(Model):
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)  # 413 above
    max_alerts: int = Field(default=10_000, ge=1)  # alerts in one webhook; 413 above
    max_label_bytes: int = Field(default=16_384, ge=64)  # one label's name + value; 422 above
    max_header_bytes: int = Field(default=16_384, ge=1024)  # request line + headers; 431 above


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INCIDENT_ADAPTER_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    receivers: list[AnyReceiverSettings] = Field(min_length=1)
    # Alertmanager's named intervals, for severity overrides' active_time_intervals.
    time_intervals: list[TimeIntervalSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bind_time_intervals(self) -> Config:
        # Names not defined are left unbound here and reported with their paths by _cross_checks.
        named = {t.name: t.intervals() for t in self.time_intervals}
        for receiver in self.receivers:
            receiver.severity.bind(named)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: the environment overrides what the YAML file (passed as init) says.
        return (env_settings, init_settings)

    def receiver(self, name: str) -> ReceiverSettings | None:
        return next((r for r in self.receivers if r.name == name), None)

    def secret_values(self) -> list[str]:
        values = self.auth.secret_values()
        for receiver in self.receivers:
            values.extend(receiver.secret_values())
        return values


class ConfigError(Exception):
    """Every problem of one config file; str() is the report check-config prints."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
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
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r} (line {mark.line + 1})", problem_mark=mark
                )
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


def _problems(exc: ValidationError, data: Any) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc: list[int | str] = list(error["loc"])
        # a discriminated union puts the dialect's name in the path: receivers.0.log.url
        if len(loc) > 2 and loc[0] == "receivers" and loc[2] in DIALECTS:
            del loc[2]
        message = error["msg"].removeprefix("Value error, ")
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
        problems.append(f"{_path(tuple(loc)) or 'config'}: {message}")
    return problems


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
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, ["the top level must be a mapping with at least `receivers:`"])
    try:
        config = Config(**data)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc, data)) from None
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
    return problems
