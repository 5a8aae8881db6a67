"""What tests build: Alertmanager payloads and the adapter's config, one builder a dialect.

Test modules import these from here, never from each other or from conftest.py, so a
dialect's receiver is written once and every table test (upstream answers, vendor limits,
isolation) loops over the same receivers the dialect's own tests use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapter.config.document import Config
from adapter.config.loader import ConfigError, load_config
from tests.standins.statuspage import SimpleAPI, StatuspageAPI

ROOT = Path(__file__).parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = ROOT / "examples"
SECRETS_DIR = "/etc/incident-adapter/secrets/"  # where examples/ read their secret files

TOKEN = "inbound-token-0123456789-SECRET"  # Alertmanager's bearer token to the adapter
ROUTING_KEY = "R0UTINGKEY0123456789abcdefSECRET"
OPSGENIE_KEY = "0pSg3n1e-key-SECRET-0123456789"
STATUS_PAGE_KEY = "st4tuspage-key-SECRET-0123456789"
ALERT24_KEY = "ak_live_ALERT24-KEY-0123456789-SECRET"
ALERT24_INTEGRATION_KEY = "alert24-INTEGRATION-KEY-SECRET"
ALERT24_ALIAS = "{{ labels.alertname }}:{{ labels.instance }}"
HOOK_TOKEN = "inbound-am-hook-token-0123-SECRET"
HMAC_SECRET = "hmac-signing-secret-0123-SECRET"  # http_config.signature
HOOK_URL = "https://app.alert24.example/integrations/alertmanager/key-123"
TEMPLATE_TOKEN = "tmpl-api-token-SECRET-42"


# --- payloads ---------------------------------------------------------------------------


def fixture(name: str) -> dict[str, Any]:
    """A payload captured from a real Alertmanager or Grafana (tests/fixtures/README.md)."""
    return json.loads((FIXTURES / name).read_text())


def make_alert(
    status: str = "firing", annotations: dict[str, str] | None = None, **labels: str
) -> dict[str, Any]:
    labels = {"alertname": "HighErrorRate", **labels}
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations
        if annotations is not None
        else {"summary": f"{labels['alertname']} on {labels.get('instance', '?')}"},
        "startsAt": "2026-11-23T10:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-23T10:05:00Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
    }


def make_payload(*alerts: dict[str, Any], receiver: str = "pd", **extra: Any) -> dict[str, Any]:
    alerts = alerts or (make_alert(instance="api-01", severity="critical"),)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": list(alerts),
        **extra,
    }


# --- config -----------------------------------------------------------------------------


def config_from(doc: dict[str, Any], tmp_path: Path) -> Config:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(doc))
    return load_config(path)


def config_problems(tmp_path: Path, doc: dict[str, Any]) -> list[str]:
    """The problems load_config reports for `doc`, which must be refused."""
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return raised.value.problems


def one_receiver(receiver: dict[str, Any]) -> dict[str, Any]:
    """A config of one receiver named pd, the test token and fast delivery settings."""
    return {
        "auth": {"bearer_tokens": [TOKEN]},
        "delivery": {"timeout": "2s", "attempt_timeout": "500ms", "max_attempts": 4},
        "receivers": [{"name": "pd", **receiver}],
    }


def pd_config(**receiver: Any) -> dict[str, Any]:
    return one_receiver(
        {
            "type": "events-v2",
            "url": "http://upstream.test/v2/enqueue",
            "routing_key": ROUTING_KEY,
            **receiver,
        }
    )


def alias_config(**receiver: Any) -> dict[str, Any]:
    """Opsgenie's Alert API (`type: alias`)."""
    return one_receiver(
        {
            "type": "alias",
            "url": "https://api.opsgenie.test/v2/alerts",
            "api_key": OPSGENIE_KEY,
            **receiver,
        }
    )


def alert24_config(**receiver: Any) -> dict[str, Any]:
    """The incidents API, keyed as the hand-written Alert24 example keyed it."""
    return one_receiver(
        {
            "type": "alert24",
            "api_key": ALERT24_KEY,
            "dedup_key": {"strategy": "template", "template": ALERT24_ALIAS},
            **receiver,
        }
    )


def alert24_events_config(**receiver: Any) -> dict[str, Any]:
    """Events API v2 in Alert24's flavor (the blog post's body)."""
    return one_receiver(
        {
            "type": "events-v2",
            "flavor": "alert24",
            "routing_key": ALERT24_INTEGRATION_KEY,
            "api_key": ALERT24_KEY,
            **receiver,
        }
    )


def amwebhook_config(**receiver: Any) -> dict[str, Any]:
    """A receiver for a tool that takes a bearer token (Alert24's Kubernetes post, incident.io)."""
    return one_receiver(
        {
            "type": "alertmanager-webhook",
            "url": HOOK_URL,
            "http_config": {"authorization": {"credentials": HOOK_TOKEN}},
            **receiver,
        }
    )


PAGE = "pg1"
COMPONENTS = {"api": "cmp_api", "db": "cmp_db"}
STATUS_PAGE_BASES: dict[str, dict[str, Any]] = {
    "statuspage": {"url": f"https://api.statuspage.test/v1/pages/{PAGE}", "publish": True},
    "simple": {"url": "https://status.test/api/v1", "page_id": PAGE},
    "pagecalm": {"url": "https://pagecalm.test", "page_id": PAGE},
    "alert24-status": {  # Alert24 services; only customer-facing alerts go to the page
        "url": "https://app.alert24.test/api/v1",
        "components": {"api": "svc-api", "db": "svc-db"},
        "matchers": ['customer_facing="true"'],
    },
}


def status_page_config(flavor: str = "statuspage", **receiver: Any) -> dict[str, Any]:
    return one_receiver(
        {
            "type": "status-page",
            "flavor": flavor,
            "api_key": STATUS_PAGE_KEY,
            "components": COMPONENTS,
            **STATUS_PAGE_BASES[flavor],
            **receiver,
        }
    )


def status_page_standin(flavor: str) -> StatuspageAPI | SimpleAPI:
    """The stand-in that status_page_config(flavor) talks to."""
    cls = StatuspageAPI if flavor == "statuspage" else SimpleAPI
    return cls(STATUS_PAGE_KEY, PAGE, list(COMPONENTS.values()))


TEMPLATE_TRIGGER = {
    "method": "POST",
    "path": "/api/incidents",
    "headers": {"Authorization": "Bearer {{ secrets.token }}", "X-Severity": "{{ severity }}"},
    "body": '{"key": {{ dedup_key | tojson }}, "title": {{ alert.annotations.summary | tojson }},\n'
    ' "severity": {{ severity | tojson }}, "team": {{ alert.labels.team | default("none") | tojson }}}',
}
TEMPLATE_RESOLVE = {
    "method": "POST",
    "path": "/api/incidents/{{ dedup_key | urlquote }}/resolve",
    "headers": {"Authorization": "Bearer {{ secrets.token }}"},
}


def template_config(**receiver: Any) -> dict[str, Any]:
    spec = {
        "type": "template",
        "url": "https://incidents.test",
        "secrets": {"token": TEMPLATE_TOKEN},
        "trigger": TEMPLATE_TRIGGER,
        "resolve": TEMPLATE_RESOLVE,
    }
    spec.update(receiver)
    return one_receiver(spec)


def localised(example: Path, tmp_path: Path) -> Path:
    """The example with its secret files pointing at made-up files in tmp_path."""
    text = example.read_text()
    for line in text.splitlines():
        if SECRETS_DIR in line:
            name = line.split(SECRETS_DIR, 1)[1].split()[0]
            value = f"example-{name}-value"
            if name.endswith("-url"):  # a URL that carries its key (url_file)
                value = f"https://hooks.example/{value}"
            (tmp_path / name).write_text(value + "\n")
    path = tmp_path / example.name
    path.write_text(text.replace(SECRETS_DIR, f"{tmp_path}/"))
    return path


def api_alert(
    name: str = "Down",
    state: str = "active",
    silenced: tuple[str, ...] = (),
    inhibited: tuple[str, ...] = (),
    receivers: tuple[str, ...] = ("pd",),
    **labels: str,
) -> dict[str, Any]:
    """An alert as Alertmanager's `GET /api/v2/alerts` lists it (adapter/mutes.py)."""
    return {
        "fingerprint": f"fp-{name}",
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} now"},
        "startsAt": "2026-12-05T07:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "status": {
            "state": state,
            "silencedBy": list(silenced),
            "inhibitedBy": list(inhibited),
        },
        "receivers": [{"name": r} for r in receivers],
    }


def silenced(name: str = "Down", **kw: Any) -> dict[str, Any]:
    return api_alert(name, "suppressed", silenced=("s1",), **kw)


def inhibited(name: str = "Down", **kw: Any) -> dict[str, Any]:
    return api_alert(name, "suppressed", inhibited=("fp-src",), **kw)


def poller_config(**receiver: Any) -> dict[str, Any]:
    """pd_config serving Alertmanager's receiver `team`, acknowledging silences, and an
    `alertmanager:` block of two urls polled every second (adapter/poller.py)."""
    out = pd_config(**{"alertmanager_receiver": "team", "on_silenced": "acknowledge", **receiver})
    out["alertmanager"] = {"urls": ["http://am0:9093", "http://am1:9093"], "poll_interval": "1s"}
    return out
