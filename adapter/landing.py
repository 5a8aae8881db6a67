"""The page at `/`: what runs here and how each receiver is doing. No secrets: only names,
dialects, times and status codes."""

from __future__ import annotations

import datetime as dt
import html
import importlib.metadata
from dataclasses import dataclass


def readme() -> str | None:
    """The README, as the installed distribution carries it (its long description)."""
    try:
        meta = importlib.metadata.metadata("incident-adapter")
    except importlib.metadata.PackageNotFoundError:
        return None
    body = meta.get_payload()  # type: ignore[attr-defined]
    return body if isinstance(body, str) and body.strip() else None


@dataclass
class Activity:
    """The last webhook answers of one receiver (wall-clock times)."""

    last_success: float | None = None
    last_failure: float | None = None
    last_failure_code: int | None = None

    def note(self, status: int, now: float) -> None:
        if status == 200:
            self.last_success = now
        else:
            self.last_failure, self.last_failure_code = now, status

    def as_json(self) -> dict[str, object]:
        return {
            "last_success": _iso(self.last_success),
            "last_failure": _iso(self.last_failure),
            "last_failure_code": self.last_failure_code,
        }


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="seconds")


def page(version: str, receivers: dict[str, str], activity: dict[str, Activity]) -> str:
    rows = []
    for name, kind in sorted(receivers.items()):
        seen = activity.get(name, Activity())
        failure = _iso(seen.last_failure) or "never"
        if seen.last_failure_code:
            failure += f" ({seen.last_failure_code})"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(kind)}</td>"
            f"<td>{_iso(seen.last_success) or 'never'}</td><td>{html.escape(failure)}</td></tr>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>incident-adapter</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em 1em;text-align:left}}</style>
</head><body>
<h1>incident-adapter {html.escape(version)}</h1>
<p>Alertmanager webhooks in, one incident event per alert out.</p>
<table><tr><th>receiver</th><th>dialect</th><th>last success</th><th>last failure</th></tr>
{"".join(rows)}
</table>
<p><a href="/metrics">metrics</a> · <a href="/-/healthy">healthy</a> · <a href="/-/ready">ready</a>
· <a href="/docs">docs</a></p>
</body></html>
"""
