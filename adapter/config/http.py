"""A receiver's `http_config`: outbound TLS, proxy, authorization, basic auth, a request
signature and extra headers, as Prometheus' http_config names them. Made ready for the
transport (an SSL context, headers) by adapter/http_config.py.
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from adapter.config.model import Model, one_secret
from adapter.secrets import Secret, SecretFile, url_secrets


class TLSClientSettings(Model):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _pair(self) -> TLSClientSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no file at {path}")
        return self

    def context(self) -> ssl.SSLContext:
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            if self.cert_file and self.key_file:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"cannot load the TLS files: {exc}") from None
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class AuthorizationSettings(Model):
    """Prometheus' `http_config.authorization`: `Authorization: <type> <credentials>`."""

    type: str = "Bearer"
    credentials: Secret | None = None
    credentials_file: SecretFile | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> AuthorizationSettings:
        if not self.type.strip() or any(c.isspace() for c in self.type):
            raise ValueError(f"type {self.type!r} must be one word, e.g. Bearer")
        if self.type.lower() == "basic":  # as Prometheus says: the password would go unencoded
            raise ValueError("type Basic is not allowed here; use basic_auth: {username, password}")
        one_secret("credentials", self.credentials, self.credentials_file)
        return self

    def header(self) -> str:
        credentials = one_secret("credentials", self.credentials, self.credentials_file)
        return f"{self.type} {credentials.reveal()}"


class ClientBasicAuthSettings(Model):
    """Prometheus' `http_config.basic_auth`; the password is optional there, as here."""

    username: str = Field(min_length=1)
    password: Secret | None = None
    password_file: SecretFile | None = None

    @model_validator(mode="after")
    def _one_password(self) -> ClientBasicAuthSettings:
        if ":" in self.username:  # RFC 7617: the first colon ends the user-id
            raise ValueError("username must not contain ':'")
        if self.password is not None and self.password_file is not None:
            raise ValueError("set at most one of password or password_file")
        return self

    def token(self) -> str:
        """The base64 `user:password` of the header; a secret too, as anyone can decode it."""
        secret = self.password if self.password is not None else self.password_file
        pair = f"{self.username}:{secret.reveal() if secret is not None else ''}"
        return base64.b64encode(pair.encode()).decode("ascii")


class SignatureSettings(Model):
    """An HMAC of the exact body bytes sent, in a header: `<prefix><hex digest>`.

    For receivers that check a shared-secret signature instead of (or besides) a token."""

    secret: Secret | None = None
    secret_file: SecretFile | None = None
    header: str = Field(default="X-Signature", pattern=r"^[A-Za-z0-9-]+$")
    algorithm: Literal["sha256", "sha512", "sha1"] = "sha256"
    prefix: str = ""  # e.g. "sha256=" (GitHub's style)

    @model_validator(mode="after")
    def _one_secret(self) -> SignatureSettings:
        one_secret("secret", self.secret, self.secret_file)
        if any(c in self.prefix for c in "\r\n"):
            raise ValueError("prefix must not contain a line break")
        return self

    @property
    def key(self) -> Secret:
        return one_secret("secret", self.secret, self.secret_file)


class HTTPClientSettings(Model):
    tls_config: TLSClientSettings | None = None
    proxy_url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    header_files: dict[str, SecretFile] = Field(default_factory=dict)
    authorization: AuthorizationSettings | None = None
    basic_auth: ClientBasicAuthSettings | None = None
    signature: SignatureSettings | None = None

    @field_validator("proxy_url")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("proxy_url must be an http(s) URL, e.g. http://proxy:3128")
        return value

    @model_validator(mode="after")
    def _context_loads(self) -> HTTPClientSettings:
        if self.tls_config is not None:
            self.tls_config.context()  # bad PEM files are config errors, not 3 a.m. failures
        both = set(self.headers) & set(self.header_files)
        if both:
            raise ValueError(f"headers set both inline and from a file: {sorted(both)}")
        if self.authorization is not None and self.basic_auth is not None:
            raise ValueError(
                "set at most one of authorization or basic_auth: both are Authorization"
            )
        named = {n.lower() for n in (*self.headers, *self.header_files)}
        if (self.authorization or self.basic_auth) and "authorization" in named:
            raise ValueError(
                "an Authorization header is set in headers/header_files and by "
                "authorization/basic_auth; keep one"
            )
        if self.signature is not None and self.signature.header.lower() in named:
            raise ValueError(f"signature.header {self.signature.header!r} is also in headers")
        return self

    def auth_header(self) -> str | None:
        """The Authorization header's value from `authorization` or `basic_auth`, if set."""
        if self.authorization is not None:
            return self.authorization.header()
        if self.basic_auth is not None:
            return f"Basic {self.basic_auth.token()}"
        return None

    def secret_values(self) -> list[str]:
        values = [s.reveal() for s in self.header_files.values()]
        if self.proxy_url:
            values += url_secrets(self.proxy_url)
        if self.authorization is not None:
            values.append(self.authorization.header().partition(" ")[2])
        if self.basic_auth is not None:
            secret = self.basic_auth.password or self.basic_auth.password_file
            values += [secret.reveal()] if secret is not None else []
            values.append(self.basic_auth.token())
        if self.signature is not None:
            values.append(self.signature.key.reveal())
        return values
