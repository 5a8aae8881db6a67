"""Dedup keys: the one thing that makes a stateless adapter correct.

Trigger and resolve of an alert must produce the same key, so a key is built only from
what Alertmanager keeps stable for an alert: its labels (or the fingerprint of them) or
its group. Annotations and startsAt change between sends and never enter a key.

Strategy `template` renders a Jinja2 expression over exactly those stable names
(`labels`, `fingerprint`, `group_key`, `receiver`), for keys a migration must keep
(`alertname:instance`). The config check (adapter/config/receivers.py) refuses any other name.
A template that renders empty (every label it names is missing) falls back to the
fingerprint: an empty key would merge every such alert into one incident.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from adapter.payload import Alert, fingerprint
from adapter.templating import fields, template_error

Strategy = Literal["fingerprint", "labels", "group", "template"]
# The only names a key template may read: what stays the same from trigger to resolve.
TEMPLATE_NAMES = ("labels", "fingerprint", "group_key", "receiver")


class KeyTemplate(Protocol):
    """A compiled template (jinja2.Template); compiled once, when the config loads."""

    def render(self, *args: Any, **kwargs: Any) -> str: ...


def _escape(value: str) -> str:
    # Escaping the separators keeps `a=x,y` and `a=x` + `b=y` apart; `%` first so it round-trips.
    return value.replace("%", "%25").replace(",", "%2C").replace("=", "%3D")


@dataclass(frozen=True, slots=True)
class DedupRule:
    strategy: Strategy = "fingerprint"
    labels: tuple[str, ...] = ()
    prefix: str = ""
    template: KeyTemplate | None = field(default=None, compare=False)
    receiver: str = ""  # the configured receiver's name, for templates


def dedup_key_for(alert: Alert, rule: DedupRule, group_key: str, limit: int) -> str:
    """The prefixed key, hashed to sha256 hex when longer than the API's limit (in UTF-8 bytes).

    Hashing keeps a long key stable and within the limit; cutting it would let two alerts
    that differ only at the end share one incident.
    """
    if rule.strategy == "fingerprint":
        raw = alert.fingerprint or fingerprint(alert.labels)
    elif rule.strategy == "labels":
        # Named pairs: a missing label is `name=` (explicit empty), never a shifted position.
        raw = ",".join(f"{name}={_escape(alert.labels.get(name, ''))}" for name in rule.labels)
    elif rule.strategy == "template":
        raw = _from_template(alert, rule, group_key)
    else:
        raw = group_key
    key = rule.prefix + raw
    if len(key.encode()) > limit:
        key = hashlib.sha256(key.encode()).hexdigest()
    return key


def _from_template(alert: Alert, rule: DedupRule, group_key: str) -> str:
    assert rule.template is not None
    own = alert.fingerprint or fingerprint(alert.labels)
    context = {
        "labels": fields(alert.labels),
        "fingerprint": own,
        "group_key": group_key,
        "receiver": rule.receiver,
    }
    try:
        raw = rule.template.render(context)
    except (template_error(), TypeError, ValueError, ArithmeticError):
        return own  # the same labels fail the same way at trigger and resolve: still stable
    # Empty: the labels it names are all missing. One shared "" key would merge them all.
    return raw if raw.strip() else own
