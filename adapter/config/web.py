"""The inbound side of the config: `auth:`, the credentials a caller must present (bearer
tokens or HTTP basic, each inline or from a file) and what they protect beyond the webhook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from adapter.config.model import Model
from adapter.secrets import Secret, SecretFile, read_token_file


class WebBasicAuthSettings(Model):
    username: str = Field(min_length=1)
    password: Secret | None = None
    password_file: SecretFile | None = None

    @field_validator("username")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or only whitespace")
        return value

    @model_validator(mode="after")
    def _one_password(self) -> WebBasicAuthSettings:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("set exactly one of password or password_file")
        return self

    @property
    def secret(self) -> Secret:
        value = self.password if self.password is not None else self.password_file
        if value is None:  # _one_password makes this unreachable for a validated model
            raise ValueError("auth.basic_auth: set exactly one of password or password_file")
        return value

    @property
    def secret_path(self) -> str:
        """Where the password came from, for a message about it."""
        return "auth.basic_auth." + ("password" if self.password is not None else "password_file")


# What `auth.protect` can put behind the inbound credential: the landing page (`/`, its
# HTML and JSON) and `/metrics`. Health and readiness never: a kubelet sends no token.
Protectable = Literal["landing", "metrics"]


class AuthSettings(Model):
    bearer_tokens: list[Secret] = Field(default_factory=list)
    # One token a line. Watched: replacing the file rotates tokens without a reload.
    bearer_tokens_file: Path | None = None
    basic_auth: WebBasicAuthSettings | None = None
    protect: list[Protectable] = Field(default_factory=list)
    _file_tokens: list[Secret] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _load_file(self) -> AuthSettings:
        if self.bearer_tokens_file is not None:
            try:
                self._file_tokens = read_token_file(self.bearer_tokens_file)
            except ValueError as exc:
                raise ValueError(f"bearer_tokens_file: {exc}") from None
        if self.protect and not self.enabled:
            raise ValueError(
                "protect needs a credential to check: set bearer_tokens_file, bearer_tokens "
                "or basic_auth"
            )
        return self

    def with_file_tokens(self, tokens: list[Secret]) -> AuthSettings:
        """A copy holding freshly read tokens from bearer_tokens_file (rotation)."""
        copy = self.model_copy()
        copy._file_tokens = tokens
        return copy

    @property
    def file_tokens(self) -> list[Secret]:
        """The tokens read from bearer_tokens_file (the last rotation's)."""
        return list(self._file_tokens)

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
