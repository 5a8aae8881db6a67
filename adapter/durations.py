"""Durations in Alertmanager's form: "8s", "500ms", "1m30s", "2h", "1d", "1w", "0"."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}
# Same grammar as prometheus/common model.ParseDuration: units largest first, each at most once.
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_ORDER = ("y", "w", "d", "h", "m", "s", "ms")


def parse_duration(text: str) -> float:
    """Seconds in a duration string; ValueError says what the form is."""
    if text == "0":
        return 0.0
    match = _DURATION.match(text) if text else None
    if not match or not any(match.groups()):
        raise ValueError(
            f"{text!r} is not a duration; use Alertmanager's form, e.g. '8s', '500ms', '1m30s'"
        )
    return sum(int(n) * _UNITS[u] for n, u in zip(match.groups(), _ORDER, strict=True) if n)


def _validate(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            f"durations are strings in Alertmanager's form, e.g. '8s' or '500ms', not {value!r}"
        )
    return parse_duration(value.strip())


# A config field of this type holds seconds as a float.
Duration = Annotated[float, BeforeValidator(_validate)]
