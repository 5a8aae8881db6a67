"""Inbound credentials: `Authorization: Bearer <token>` (any of several), or HTTP basic.

Every configured credential is compared, in constant time, whatever matched first, so
the time to answer says nothing about how much of a token was right.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from adapter.config import AuthSettings


class Authenticator:
    def __init__(self, settings: AuthSettings) -> None:
        self.enabled = settings.enabled
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
