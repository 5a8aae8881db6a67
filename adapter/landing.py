"""The page at `/`: what runs here and how each receiver is doing, readable without scripts.
No secrets: only names, dialects, times, keys, status codes and reasons.

A reason is the adapter's own words (`upstream answered 400`, `cannot render`: report.py,
`AlertOutcome.reason`) unless the request carries the inbound credential (`detailed`): only
then does it go on with what the upstream said or a template quoted, scrubbed of the
receiver's secrets. An upstream's error body can echo anything it was sent (a label, an
annotation, a URL, a header), and anyone who can reach the page can read it.

Per receiver: the last webhook answers, the last RECENT deliveries this replica made
(adapter/activity.py), and a form that sends a test incident (POST /-/test/{receiver},
adapter/testalert.py).
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.metadata
from typing import TYPE_CHECKING
from urllib.parse import quote

from adapter.activity import RECENT, Activity, iso

if TYPE_CHECKING:
    from adapter.testalert import ProbeStep


def readme() -> str | None:
    """The README, as the installed distribution carries it (its long description)."""
    try:
        meta = importlib.metadata.metadata("incident-adapter")
    except importlib.metadata.PackageNotFoundError:
        return None
    body = meta.get_payload()  # type: ignore[attr-defined]
    return body if isinstance(body, str) and body.strip() else None


def _clock(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


_STYLE = """
body{font-family:sans-serif;margin:2em;max-width:80em;line-height:1.4}
td,th{padding:.2em 1em;text-align:left;vertical-align:top}
table.deliveries{border-collapse:collapse;font-size:95%}
table.deliveries td,table.deliveries th{border-bottom:1px solid #ddd}
td.when{white-space:nowrap}
td.key{font-family:monospace;word-break:break-all;max-width:24em}
.delivered,.skipped,.ok{color:#060}.failed,.rejected,.bad{color:#a00;font-weight:bold}
.filtered{color:#666}
form{margin:.5em 0 1em;padding:.5em 1em;background:#f4f4f4;display:inline-block}
section{margin-top:2em}
"""


def _head(title: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
    )


def _test_form(name: str, auth_enabled: bool, base: str = "") -> str:
    action = base + "/-/test/" + quote(name, safe="")
    required = " required" if auth_enabled else ""
    hint = (
        "the inbound bearer token; for basic auth, user:password"
        if auth_enabled
        # or its listener is guarded by the web config's basic auth (adapter/edge.py)
        else "none in the adapter's config: it listens on loopback, or its web config's users "
        "guard it"
    )
    return (
        f'<form method="post" action="{html.escape(action)}">'
        f'<label>Credential <input type="password" name="token" autocomplete="off"{required}>'
        f"</label> <small>({html.escape(hint)})</small><br>"
        '<label>Resolve <select name="resolve_after">'
        '<option value="0">at once</option><option value="2">after 2 s</option>'
        '<option value="5">after 5 s</option></select></label> '
        f'<button type="submit">Send test incident</button></form>'
    )


def deliveries_table(seen: Activity, detailed: bool = False) -> str:
    if not seen.recent:
        return "<p>No deliveries since this replica started.</p>"
    rows = []
    now = dt.datetime.now(dt.UTC).timestamp()
    for when, o in reversed(seen.recent):
        age = max(0, int(now - when))
        ago = f"{age} s ago" if age < 120 else f"{age // 60} min ago"
        status = "" if o.status is None else str(o.status)
        rows.append(
            f'<tr><td class="when">{_clock(when)} <small>({ago})</small></td>'
            f"<td>{html.escape(o.alertname)}</td>"
            f'<td class="key">{html.escape(o.dedup_key)}</td><td>{html.escape(o.action)}</td>'
            f'<td class="{html.escape(o.result)}">{html.escape(o.result)}</td>'
            f"<td>{status}</td><td>{html.escape(o.detail if detailed else o.reason)}</td></tr>"
        )
    return (
        '<table class="deliveries"><tr><th>when (UTC)</th><th>alertname</th><th>dedup key</th>'
        "<th>action</th><th>outcome</th><th>upstream</th><th>reason</th></tr>\n"
        + "\n".join(rows)
        + "\n</table>"
    )


def muted_table(seen: Activity) -> str:
    """The receiver's incidents whose alerts Alertmanager silenced or inhibited at the last
    poll of its API (adapter/poller.py), and what the adapter sent for each."""
    if not seen.muted:
        return ""
    rows = [
        f'<tr><td class="when">{_clock(since)}</td><td>{html.escape(alertname)}</td>'
        f'<td class="key">{html.escape(key)}</td><td>{html.escape(reason)}</td>'
        f"<td>{html.escape(action)}</td></tr>"
        for key, (reason, action, alertname, since) in sorted(seen.muted.items())
    ]
    return (
        f"<h3>Muted in Alertmanager ({len(rows)}, at the last poll)</h3>\n"
        '<table class="muted"><tr><th>since (UTC)</th><th>alertname</th><th>dedup key</th>'
        "<th>reason</th><th>sent</th></tr>\n" + "\n".join(rows) + "\n</table>\n"
    )


def _section(
    name: str, kind: str, seen: Activity, auth_enabled: bool, detailed: bool, base: str = ""
) -> str:
    return (
        f'<section id="receiver-{html.escape(name)}"><h2>{html.escape(name)} '
        f"<small>({html.escape(kind)})</small></h2>\n"
        f"{_test_form(name, auth_enabled, base)}\n"
        f"{muted_table(seen)}"
        f"<h3>Last deliveries (newest first, at most {RECENT}, this replica only)</h3>\n"
        f"{deliveries_table(seen, detailed)}</section>\n"
    )


def page(
    version: str,
    receivers: dict[str, str],
    activity: dict[str, Activity],
    auth_enabled: bool = True,
    detailed: bool = False,
    base: str = "",
) -> str:
    """`base`: what links start with, the external URL or the route prefix (adapter/edge.py)."""
    rows = []
    link = html.escape(base)
    sections = []
    for name, kind in sorted(receivers.items()):
        seen = activity.get(name) or Activity()
        failure = iso(seen.last_failure) or "never"
        if seen.last_failure_code:
            failure += f" ({seen.last_failure_code})"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(kind)}</td>"
            f"<td>{iso(seen.last_success) or 'never'}</td><td>{html.escape(failure)}</td>"
            f'<td><a href="#receiver-{html.escape(name)}">deliveries and test</a></td></tr>'
        )
        sections.append(_section(name, kind, seen, auth_enabled, detailed, base))
    return f"""{_head("incident-adapter")}
<h1>incident-adapter {html.escape(version)}</h1>
<p>Alertmanager webhooks in, one incident event per alert out.</p>
<table><tr><th>receiver</th><th>dialect</th><th>last success</th><th>last failure</th><th></th></tr>
{"".join(rows)}
</table>
<p><a href="{link}/metrics">metrics</a> · <a href="{link}/-/healthy">healthy</a>
· <a href="{link}/-/ready">ready</a> · <a href="{link}/docs">docs</a></p>
{"".join(sections)}
</body></html>
"""


def result_page(
    name: str,
    kind: str,
    answers: list[ProbeStep],
    seen: Activity,
    auth_enabled: bool,
    host: str,
    base: str = "",
) -> str:
    """The page after "Send test incident": what the API answered for each step. Its
    reader gave the credential, so reasons are shown in full (scrubbed)."""
    ok = bool(answers) and all(a.accepted for a in answers)
    verdict = (
        '<p class="ok">The incident API accepted the trigger and the resolve.</p>'
        if ok
        else '<p class="bad">The test did not go through: see the answers below.</p>'
    )
    rows = "\n".join(
        f"<tr><td>{html.escape(a.action)}</td><td class='key'>{html.escape(a.dedup_key)}</td>"
        f'<td class="{"ok" if a.accepted else "bad"}">{html.escape(a.text)}</td></tr>'
        for a in answers
    )
    return f"""{_head(f"test incident: {name}")}
<h1>Test incident for receiver {html.escape(name)} <small>({html.escape(kind)})</small></h1>
{verdict}
<table class="deliveries" id="answers">
<tr><th>step</th><th>dedup key</th><th>the API's answer</th></tr>
{rows}
</table>
<p>Sent from {html.escape(host)} as alertname <code>IncidentAdapterTest</code>, through this
receiver's own key rule, severity, budget and retries.</p>
<p><a href="{html.escape(base)}/">Back to all receivers</a></p>
{_section(name, kind, seen, auth_enabled, detailed=True, base=base)}
</body></html>
"""


def refused_page(reason: str, base: str = "") -> str:
    return f"""{_head("incident-adapter: refused")}
<h1>Refused</h1>
<p class="bad">{html.escape(reason)}</p>
<p><a href="{html.escape(base)}/">Back to all receivers</a></p>
</body></html>
"""
