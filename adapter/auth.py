"""Inbound credentials: `Authorization: Bearer <token>` (any of several), or HTTP basic.

Every configured credential is compared, in constant time, whatever matched first, so
the time to answer says nothing about how much of a token was right.

    Authenticator(settings)          what a request must show; allows(header) -> bool
    exposure_problems(settings, host) why these credentials must not serve on `host`
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from adapter.config.web import AuthSettings

# Off loopback, a token is guessed over the network: 16 characters of `openssl rand -hex`
# are 64 bits. Shorter ones are refused there, whatever their source.
MIN_TOKEN_LENGTH = 16
MAKE_ONE = "make one with `openssl rand -hex 32`"


class Authenticator:
    def __init__(self, settings: AuthSettings) -> None:
        self.enabled = settings.enabled
        self.protects = frozenset(settings.protect)
        self._tokens = [t.reveal().encode() for t in settings.tokens]
        self._basic: tuple[bytes, bytes] | None = None
        challenges = []
        if self._tokens:
            challenges.append('Bearer realm="incident-adapter"')
        if settings.basic_auth is not None:
            basic = settings.basic_auth
            self._basic = (basic.username.encode(), basic.secret.reveal().encode())
            challenges.append('Basic realm="incident-adapter"')
        self.challenge = ", ".join(challenges)

    def allows(self, authorization: str | None) -> bool:
        if not self.enabled:
            return True
        if not authorization:
            return False
        scheme, _, credential = authorization.strip().partition(" ")
        given = credential.strip().encode("utf-8", "replace")
        if not given:  # `Bearer` and nothing else: never a credential, whatever is configured
            return False
        scheme = scheme.lower()
        if scheme == "bearer":
            ok = False
            for token in self._tokens:
                ok |= hmac.compare_digest(given, token)
            return ok
        if scheme == "basic" and self._basic is not None:
            try:
                user, _, password = base64.b64decode(given, validate=True).partition(b":")
            except (binascii.Error, ValueError):
                return False
            user_ok = hmac.compare_digest(user, self._basic[0])
            return hmac.compare_digest(password, self._basic[1]) & user_ok
        return False

    def guards(self, page: str) -> bool:
        """Whether `page` (landing, metrics) needs the credential (auth.protect)."""
        return page in self.protects


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The web config's basic_auth_users and the config's `auth:` both use the Authorization header,
# and a request (a webhook) carries one: a listener takes one of the two.
BESIDE_WEB_USERS = (
    "auth: the web config's basic_auth_users guard every endpoint, and a request carries one "
    "Authorization header: keep one of the two (remove auth: here, or basic_auth_users from "
    "the web config)"
)


def exposure_problems(settings: AuthSettings, host: str | None) -> list[str]:
    """Why these credentials must not guard a listener on `host` (None: not known here, as
    in a test's in-process app), each naming where the credential came from."""
    if host is None or is_loopback(host):
        return []
    if not settings.enabled:
        return [
            f"auth: refusing to listen on {host} without an inbound credential: anyone who can "
            "reach it could open incidents. Set auth.bearer_tokens_file (one token a line; "
            "point Alertmanager's http_config.authorization.credentials_file at the same "
            f"token; {MAKE_ONE}) or auth.basic_auth in the config, or listen on 127.0.0.1."
        ]
    short = f"shorter than {MIN_TOKEN_LENGTH} characters, too easy to guess on {host}; {MAKE_ONE}"
    problems = [
        f"auth.bearer_tokens[{i}]: {short}"
        for i, token in enumerate(settings.bearer_tokens)
        if len(token.reveal()) < MIN_TOKEN_LENGTH
    ]
    problems.extend(token_file_problems(settings, host))
    basic = settings.basic_auth
    if basic is not None and len(basic.secret.reveal()) < MIN_TOKEN_LENGTH:
        problems.append(f"{basic.secret_path}: {short}")
    return problems


def token_file_problems(settings: AuthSettings, host: str | None) -> list[str]:
    """The tokens read from bearer_tokens_file that are too short for `host` (also checked
    when the file is rotated)."""
    if host is None or is_loopback(host) or settings.bearer_tokens_file is None:
        return []
    tokens = settings.file_tokens
    short = [str(n) for n, t in enumerate(tokens, 1) if len(t.reveal()) < MIN_TOKEN_LENGTH]
    if not short:
        return []
    return [
        f"auth.bearer_tokens_file: token {', '.join(short)} of the {len(tokens)} in "
        f"{settings.bearer_tokens_file} is shorter than {MIN_TOKEN_LENGTH} characters, too easy "
        f"to guess on {host}; {MAKE_ONE}"
    ]
