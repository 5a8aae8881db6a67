"""The optional `coordination:` block: a shared store (Redis, or Valkey) that two or more
replicas use for each receiver's rate window and the delivery memo (adapter/coordination/).
Absent: each replica keeps its own, as one process always did.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from adapter.config.http import TLSClientSettings
from adapter.config.model import Model
from adapter.durations import Duration
from adapter.secrets import Secret, SecretFile, secret_forms


class RedisSettings(Model):
    url: str
    username: str | None = None
    password: Secret | None = None
    password_file: SecretFile | None = None
    tls_config: TLSClientSettings | None = None
    timeout: Duration = Field(default=0.1, gt=0)  # per store operation; past it: fall back
    key_prefix: str = Field(default="incident-adapter", min_length=1, max_length=100)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        # Nothing of the value in the message: a password pasted into it must not be shown.
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError("not a valid URL (redis://host:6379/0 or rediss://...)") from None
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("must start with redis:// or rediss:// (TLS)")
        if not parts.hostname:
            raise ValueError("names no host (redis://host:6379/0)")
        if "@" in parts.netloc:
            raise ValueError("must not hold a user or password: use username and password_file")
        if parts.query or parts.fragment:
            raise ValueError("takes no query or fragment; set timeout and tls_config instead")
        database = parts.path.strip("/")
        if database and not database.isdigit():
            raise ValueError("its path is the database number, e.g. /0")
        if port == 0:
            raise ValueError("port 0 is not a port")
        return url

    @model_validator(mode="after")
    def _one_password(self) -> RedisSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set at most one of password or password_file")
        if self.tls_config is not None and not self.url.startswith("rediss://"):
            raise ValueError("tls_config needs a rediss:// url")
        return self

    def secret(self) -> Secret | None:
        return self.password if self.password is not None else self.password_file

    @property
    def database(self) -> int:
        return int(urlsplit(self.url).path.strip("/") or 0)


class CoordinationSettings(Model):
    redis: RedisSettings
    # How many replicas share the store: used only while it is unreachable, when each
    # replica spends 1/replicas of each rate limit on its own.
    replicas: int = Field(default=2, ge=1, le=1000)

    def secret_values(self) -> list[str]:
        secret = self.redis.secret()
        return secret_forms(secret.reveal()) if secret is not None else []
