"""From where a user's alert starts: a Prometheus rule on a scraped metric, to an incident.

A real Prometheus 2.42 scrapes a target whose gauge the test sets; a rule (`for: 2s`) with
templated annotations fires when the gauge crosses its threshold; Prometheus hands the alert
to a real Alertmanager 0.25, which posts it to the adapter process, which opens the incident
at the stateful stand-in of the Events API. When the gauge recovers the rule resolves and
the same incident closes. The incident carries the rule's labels, its rendered description
and the link back to Prometheus' graph of the rule's expression.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, make_asgi_app

from adapter.payload import fingerprint
from tests.harness.adapter import AlertmanagerAdapter as Adapter
from tests.harness.process import wait_for
from tests.harness.prometheus import Prometheus
from tests.harness.server import Server
from tests.harness.stack import running_stack
from tests.standins.events import EventsAPI

pytestmark = [pytest.mark.alertmanager, pytest.mark.timeout(120)]

THRESHOLD = 100
RULES = {
    "groups": [
        {
            "name": "orders",
            "rules": [
                {
                    "alert": "QueueBacklog",
                    "expr": f"orders_queue_depth > {THRESHOLD}",
                    "for": "2s",
                    "labels": {"severity": "critical", "service": "orders"},
                    "annotations": {
                        "summary": "Queue backlog on {{ $labels.instance }}",
                        "description": (
                            "{{ $labels.queue }} holds {{ $value }} messages"
                            " on {{ $labels.instance }}"
                        ),
                    },
                }
            ],
        }
    ]
}


@pytest.fixture
def queue_depth() -> Iterator[tuple[Gauge, str]]:
    """The scraped target: one gauge the test sets, at /metrics."""
    registry = CollectorRegistry()
    gauge = Gauge("orders_queue_depth", "Messages waiting", ["queue"], registry=registry)
    with Server(make_asgi_app(registry)) as target:
        yield gauge, f"127.0.0.1:{target.port}"


def test_a_rule_on_a_scraped_metric_opens_then_resolves_one_incident(
    tmp_path: Path, queue_depth: tuple[Gauge, str]
) -> None:
    gauge, target = queue_depth
    gauge.labels(queue="orders").set(5)
    api = EventsAPI()

    def adapter(upstream: str) -> Adapter:
        return Adapter(tmp_path, upstream + "/v2/enqueue")

    with running_stack(tmp_path, api.app(), adapter) as stack:
        am = stack.alertmanager
        rules, am_address = RULES, f"127.0.0.1:{am.port}"
        with Prometheus(tmp_path, target, am_address, rules, job="orders") as prometheus:
            # below the threshold: scraped, evaluated, nothing fires
            wait_for(lambda: scraped(prometheus.url), 30, "the first scrape")
            assert not api.incidents
            gauge.labels(queue="orders").set(250)
            wait_for(lambda: api.open_keys(), 60, "the incident")
            ((key, incident),) = api.incidents.items()
            labels = {
                "alertname": "QueueBacklog",
                "instance": target,
                "job": "orders",
                "queue": "orders",
                "service": "orders",
                "severity": "critical",
            }
            assert key == fingerprint(labels)  # one incident per alert, keyed by its labels
            assert (incident.status, incident.severity) == ("triggered", "critical")
            assert incident.summary == f"Queue backlog on {target}"
            payload = incident.payload
            assert payload["source"] == target
            assert payload["custom_details"]["labels"] == labels
            description = payload["custom_details"]["annotations"]["description"]
            assert description == f"orders holds 250 messages on {target}"
            (trigger,) = [e for e in api.events if e["event_action"] == "trigger"][:1]
            (source,) = [link["href"] for link in trigger["links"] if link["text"] == "Source"]
            graph = urlsplit(source)
            assert f"{graph.scheme}://{graph.netloc}{graph.path}" == prometheus.url + "/graph"
            assert parse_qs(graph.query)["g0.expr"] == [f"orders_queue_depth > {THRESHOLD}"]
            assert urlsplit(trigger["client_url"]).port == am.port  # AM names its host itself

            gauge.labels(queue="orders").set(3)
            wait_for(lambda: api.incidents[key].status == "resolved", 60, "the resolve")
            assert list(api.incidents) == [key] and not api.open_keys()
        assert not api.refused


def scraped(prometheus_url: str) -> bool:
    answer = httpx.get(
        prometheus_url + "/api/v1/query", params={"query": "orders_queue_depth"}, timeout=5
    )
    return bool(answer.json()["data"]["result"])
