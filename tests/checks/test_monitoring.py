"""deploy/monitoring/: the adapter's own alert rules and Grafana dashboard, checked offline.

The rules pass `promtool check rules` and their unit tests (`promtool test rules`), every alert
has a test where it fires and one where it stays silent, every metric they name is one the
adapter exports, and every runbook_url is the one declared runbook base plus an anchor that is a
section of docs/runbooks.md. The dashboard decodes
into Grafana's own dashboard types (grafana-foundation-sdk, generated from Grafana's schema)
without losing or mistyping a field, and each of its queries parses with promtool and returns
data from the series the adapter really exports.
"""

from __future__ import annotations

import enum
import json
import re
import subprocess
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from adapter.metrics import Metrics
from tests.harness.system import require

ROOT = Path(__file__).parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "rules.yml"
RULES_TEST = MONITORING / "rules_test.yml"
DASHBOARD = MONITORING / "dashboard.json"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
# rules.yml declares the base of every runbook_url once, in a comment a fork edits
RUNBOOK_BASE = re.compile(r"^#\s+runbook base: (\S+)$", re.MULTILINE)

METRIC = re.compile(r"\bincident_adapter_\w+")
SEVERITIES = {"critical", "warning"}
# What Grafana puts in place of its variables when it runs a query; ".*" is what the
# dashboard's "All" means for job and receiver.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$job": ".*", "$receiver": ".*"}


def promtool(*args: str) -> None:
    program = require("promtool", "prometheus")
    result = subprocess.run([program, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@cache
def exposition() -> tuple[tuple[str, tuple[tuple[str, str], ...], str], ...]:
    """Every sample the adapter exports for one receiver: (name, labels, metric type), with a
    shared store (coordination:), whose series exist only when the config has one."""
    metrics = Metrics(CollectorRegistry(), ["pagerduty"])
    _, store_seconds = metrics.coordination()
    store_seconds.labels("rate")
    text = generate_latest(metrics.registry).decode()
    return tuple(
        (sample.name, tuple(sorted(sample.labels.items())), family.type)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    )


def exported_names() -> set[str]:
    return {name for name, _, _ in exposition()}


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


# -- rules -------------------------------------------------------------------------------------
def test_rules_pass_promtool_check() -> None:
    promtool("check", "rules", str(RULES))


def test_rules_pass_their_unit_tests() -> None:
    promtool("test", "rules", str(RULES_TEST))


def test_every_alert_is_tested_firing_and_silent() -> None:
    doc = yaml.safe_load(RULES_TEST.read_text())
    assert doc["rule_files"] == [RULES.name]
    firing, silent = set(), set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "no test where these fire"
    assert names - silent == set(), "no test where these stay silent"
    assert (firing | silent) <= names, "tests of alerts that do not exist"


def test_rules_name_exported_metrics_and_say_what_to_do() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= {
        "IncidentAdapterDown",
        "IncidentAdapterEventsFailing",
        "IncidentAdapterEventsRejected",
        "IncidentAdapterWebhooksRejected",
        "IncidentAdapterConfigReloadFailed",
    }
    used = {name for rule in rules for name in METRIC.findall(rule["expr"])}
    assert used and used <= exported_names(), f"not exported: {used - exported_names()}"
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(r"IncidentAdapter[A-Z]\w+", name)
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}, name


def _github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_base() -> str:
    (base,) = RUNBOOK_BASE.findall(RULES.read_text())
    return str(base)


def test_every_runbook_url_is_the_declared_base_and_the_alerts_anchor() -> None:
    """Absolute links a responder can open from a phone, all from the one declared base."""
    base = runbook_base()
    assert re.fullmatch(r"https://[^#\s]+", base), f"the runbook base must be absolute: {base}"
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["annotations"]["runbook_url"] == f"{base}#{name.lower()}", name
    # the unit tests expect the same links, so they change with the base
    expected = [
        alert["exp_annotations"]["runbook_url"]
        for test in yaml.safe_load(RULES_TEST.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        for alert in case.get("exp_alerts") or []
    ]
    assert expected
    assert all(url.startswith(f"{base}#") for url in expected), expected


def test_every_runbook_url_has_its_section_in_docs_runbooks() -> None:
    headings = re.findall(r"^#{1,4} (.+)$", RUNBOOKS.read_text(), re.MULTILINE)
    anchors = {_github_anchor(h) for h in headings}
    base = runbook_base()
    missing = [
        rule["annotations"]["runbook_url"]
        for rule in alert_rules()
        if rule["annotations"]["runbook_url"].removeprefix(f"{base}#") not in anchors
    ]
    assert not missing, f"docs/runbooks.md has no section for {missing}"


def test_a_runbook_link_without_a_section_is_caught() -> None:
    """The anchor check can fail: GitHub's anchor of a heading is what the link must name."""
    assert _github_anchor("IncidentAdapterDown") == "incidentadapterdown"
    assert (
        _github_anchor("`events-v2`: PagerDuty Events API v2")
        == "events-v2-pagerduty-events-api-v2"
    )
    assert "incidentadapterdown" not in {_github_anchor("IncidentAdapterDown now")}


# -- dashboard ---------------------------------------------------------------------------------
def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in doc["panels"] if p["type"] != "row"]


def queries(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable, as Grafana sends it."""
    found = [
        (f"panel {p['title']!r} {t['refId']}", t["expr"]) for p in panels(doc) for t in p["targets"]
    ]
    for variable in doc["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.+), *(\w+)\)", variable["query"])
            assert match, f"variable {variable['name']}: {variable['query']}"
            found.append((f"variable {variable['name']}", match[1]))
    out = []
    for where, expr in found:
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{where}: a variable the dashboard does not define: {expr}"
        out.append((where, expr))
    return out


def _problems(value: Any, hint: Any, path: str) -> list[str]:
    """Where `value`, decoded by grafana-foundation-sdk, does not fit the type `hint`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hasattr(value, "to_json") and hint in (object, typing.Any):
        hint = type(value)  # a panel's options and field config: the plugin's own types
    if hint in (object, typing.Any):
        return []
    if origin in (typing.Union, types.UnionType):
        if any(not _problems(value, arg, path) for arg in args):
            return []
        fitting = [a for a in args if value is not None and a is not type(None)]
        if hasattr(value, "to_json"):
            fitting = [a for a in fitting if isinstance(a, type) and isinstance(value, a)]
        if len(fitting) == 1:
            return _problems(value, fitting[0], path)
        return [f"{path}: {value!r} fits none of {hint}"]
    if value is None:
        return [] if hint is type(None) else [f"{path}: null where Grafana wants {hint}"]
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        return [p for i, v in enumerate(value) for p in _problems(v, args[0], f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        return [p for k, v in value.items() for p in _problems(v, args[1], f"{path}.{k}")]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = {m.value for m in hint}
        return [] if value in allowed else [f"{path}: {value!r} is not one of {sorted(allowed)}"]
    if hint is bool:
        return [] if isinstance(value, bool) else [f"{path}: {value!r} is not a boolean"]
    if hint in (int, float):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and (hint is float or float(value).is_integer()):
            return []
        return [f"{path}: {value!r} is not {hint.__name__}"]
    if hint is str:
        return [] if isinstance(value, str) else [f"{path}: {value!r} is not a string"]
    if isinstance(hint, type):
        if not isinstance(value, hint):
            return [f"{path}: {type(value).__name__} where Grafana wants {hint.__name__}"]
        if not hasattr(value, "to_json"):
            return []
        return [
            p
            for name, field in typing.get_type_hints(type(value)).items()
            for p in _problems(getattr(value, name, None), field, f"{path}.{name}")
        ]
    return [f"{path}: cannot check against {hint}"]


def _lost(original: Any, decoded: Any, path: str = "$") -> list[str]:
    """Fields of `original` that did not survive decoding: ones Grafana's schema lacks."""
    if isinstance(original, dict):
        if not isinstance(decoded, dict):
            return [f"{path}: became {decoded!r}"]
        return [
            p
            for key, value in original.items()
            for p in (
                _lost(value, decoded[key], f"{path}.{key}")
                if key in decoded
                else [f"{path}.{key}: not in Grafana's schema"]
            )
        ]
    if isinstance(original, list):
        if not isinstance(decoded, list) or len(decoded) != len(original):
            return [f"{path}: became {decoded!r}"]
        return [
            p
            for i, (a, b) in enumerate(zip(original, decoded, strict=True))
            for p in _lost(a, b, f"{path}[{i}]")
        ]
    return [] if original == decoded else [f"{path}: {original!r} became {decoded!r}"]


def test_dashboard_fits_grafanas_dashboard_schema() -> None:
    """Decoded by the types Grafana generates from its schema: nothing unknown, nothing mistyped."""
    from grafana_foundation_sdk.cog import plugins, runtime
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import dashboard as schema
    from grafana_foundation_sdk.models import prometheus

    plugins.register_default_plugins()
    doc = dashboard()
    decoded = schema.Dashboard.from_json(doc)
    mistyped = _problems(decoded, schema.Dashboard, "$")
    assert not mistyped, "\n".join(mistyped)
    lost = _lost(doc, json.loads(JSONEncoder().encode(decoded)))
    assert not lost, "\n".join(lost)
    for panel in decoded.panels or []:
        if isinstance(panel, schema.RowPanel):
            continue
        assert runtime.panelcfg_config(panel.type_val), (
            f"{panel.title}: no panel type {panel.type_val!r}"
        )
        assert panel.targets and all(isinstance(t, prometheus.Dataquery) for t in panel.targets)


def test_dashboard_uses_its_datasource_variable_and_shows_every_metric() -> None:
    doc = dashboard()
    assert 39 <= doc["schemaVersion"] <= 41
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    receiver = variables["receiver"]
    assert receiver["query"].startswith("label_values(incident_adapter_webhook_requests_total")
    assert receiver["query"].endswith(", receiver)")
    # refusals naming no configured receiver have an empty receiver label: "All" shows them
    assert receiver["includeAll"] and receiver["allValue"] == ".*"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    cells = [
        (p["title"], x, y)
        for p in doc["panels"]
        for x in range(p["gridPos"]["x"], p["gridPos"]["x"] + p["gridPos"]["w"])
        for y in range(p["gridPos"]["y"], p["gridPos"]["y"] + p["gridPos"]["h"])
    ]
    assert all(0 <= x < 24 for _, x, _ in cells), "the grid is 24 wide"
    taken: dict[tuple[int, int], str] = {}
    for title, x, y in cells:
        assert (x, y) not in taken, f"{title!r} overlaps {taken[x, y]!r}"
        taken[x, y] = title
    source = {"type": "prometheus", "uid": "${datasource}"}
    for panel in panels(doc):
        assert panel["datasource"] == source, panel["title"]
        assert panel.get("description"), panel["title"]
        assert all(t["datasource"] == source for t in panel["targets"]), panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == source

    used = {name for _, expr in queries(doc) for name in METRIC.findall(expr)}
    assert used <= exported_names(), f"not exported: {used - exported_names()}"
    families = {re.sub(r"_(total|bucket|sum|count|info)$", "", n) for n in exported_names()}
    shown = {re.sub(r"_(total|bucket|sum|count|info)$", "", n) for n in used}
    assert families - shown == set(), "exported but not on the dashboard"
    (storm,) = (p for p in panels(doc) if p["title"].lower().startswith("storm"))
    assert "no metric of its own" in storm["description"]


def test_dashboard_queries_parse_and_return_data_from_the_adapters_series(
    tmp_path: Path,
) -> None:
    """promtool parses every query; each returns data from the series the adapter exports."""
    found = queries(dashboard())
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {
                        "alert": f"NoData{i:02}",
                        "expr": f"absent({expr})",
                        "labels": {"where": where},
                    }
                    for i, (where, expr) in enumerate(found)
                ],
            }
        ]
    }
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(rules))
    promtool("check", "rules", str(tmp_path / "queries.yml"))

    def series(name: str, labels: tuple[tuple[str, str], ...]) -> str:
        pairs = [*labels, ("job", "incident-adapter"), ("instance", "10.0.0.1:9095")]
        return name + "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in pairs) + "}"

    values = {
        "incident_adapter_config_last_reload_successful": "1x20",
        "incident_adapter_config_last_reload_success_timestamp_seconds": "1700000000x20",
        "incident_adapter_build_info": "1x20",
    }
    input_series = [
        {"series": series(name, labels), "values": values.get(name, "0+1x20")}
        for name, labels, _ in exposition()
    ]
    input_series.append({"series": series("up", ()), "values": "1x20"})
    tests = {
        "rule_files": ["queries.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": input_series,
                "alert_rule_test": [
                    {"eval_time": "15m", "alertname": f"NoData{i:02}", "exp_alerts": []}
                    for i in range(len(found))
                ],
            }
        ],
    }
    (tmp_path / "queries_test.yml").write_text(yaml.safe_dump(tests))
    promtool("test", "rules", str(tmp_path / "queries_test.yml"))


def test_a_query_that_selects_nothing_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a label value the adapter never exports leaves absent() firing."""
    expr = 'sum(rate(incident_adapter_events_total{outcome="skiped"}[5m]))'
    rules = {"groups": [{"name": "q", "rules": [{"alert": "NoData", "expr": f"absent({expr})"}]}]}
    (tmp_path / "q.yml").write_text(yaml.safe_dump(rules))
    tests = {
        "rule_files": ["q.yml"],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'incident_adapter_events_total{outcome="skipped"}',
                        "values": "0+1x20",
                    }
                ],
                "alert_rule_test": [{"eval_time": "15m", "alertname": "NoData", "exp_alerts": []}],
            }
        ],
    }
    (tmp_path / "q_test.yml").write_text(yaml.safe_dump(tests))
    program = require("promtool", "prometheus")
    result = subprocess.run(
        [program, "test", "rules", str(tmp_path / "q_test.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "NoData" in result.stdout + result.stderr
