"""The deploy/ files, checked offline the way a cluster and a reviewer would check them.

Every kustomization renders with `kubectl kustomize`; core kinds validate strictly against the
Kubernetes schemas bundled with kubernetes-validate; prometheus-operator kinds (no schema
there) against small schemas of the fields we use, unknown fields refused; checkov finds no
failure without a written reason; the wiring between objects (selectors, ports, secret keys,
mount paths, URLs) holds; the adapter's config in the ConfigMap passes `check-config`; the
Alertmanager example passes `amtool check-config`; the PrometheusRule carries exactly the rules
of deploy/monitoring/rules.yml (tested with promtool in tests/checks/test_monitoring.py).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from adapter.server import GRACEFUL_SECONDS
from tests.harness.adapter import run_adapter
from tests.harness.server import free_port
from tests.harness.system import require

ROOT = Path(__file__).parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
# What renders on its own: a Component (components/) only goes on top of one of these.
KUSTOMIZATIONS = sorted(
    p.parent
    for p in KUBERNETES.rglob("kustomization.yaml")
    if yaml.safe_load(p.read_text())["kind"] == "Kustomization"
)
BASE = KUBERNETES / "base"
OPERATOR = KUBERNETES / "overlays" / "prometheus-operator"
REDIS_OVERLAY = KUBERNETES / "overlays" / "redis"
REDIS_COMPONENT = KUBERNETES / "components" / "redis"
ALERTMANAGER_YML = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
MONITORING_RULES = ROOT / "deploy" / "monitoring" / "rules.yml"
DEPLOYMENT_DOC = ROOT / "docs" / "how-to" / "deployment.md"

# The oldest Kubernetes the manifests claim to work on, and the newest schemas we have.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
SECRETS_DIR = "/etc/incident-adapter/secrets"


def _name(path: Path) -> str:
    return str(path.relative_to(KUBERNETES))


@cache
def render(directory: Path) -> tuple[dict[str, Any], ...]:
    kubectl = require("kubectl", "kubectl")
    version = json.loads(
        subprocess.run(
            [kubectl, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    kustomize = version.get("kustomizeVersion", "v0")
    assert int(kustomize.lstrip("v").split(".")[0]) >= 4, (
        f"kubectl's kustomize {kustomize} is too old (labels, resources from directories): "
        "use kubectl >= 1.21"
    )
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def one(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    (doc,) = (d for d in docs if d["kind"] == kind)
    return doc


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


# -- prometheus-operator kinds: the fields we use, as in the operator's CRDs ------------------
def _obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_STR: dict[str, Any] = {"type": "string"}
_DURATION: dict[str, Any] = {"type": "string", "pattern": r"^(([0-9]+)(y|w|d|h|m|s|ms))+$"}
_LABELS: dict[str, Any] = {"type": "object", "additionalProperties": _STR}
_SELECTOR = _obj(matchLabels=_LABELS)
_METADATA = _obj(("name", "namespace"), name=_STR, namespace=_STR, labels=_LABELS)
_SECRET_KEY = _obj(("name", "key"), name=_STR, key=_STR, optional={"type": "boolean"})


def _crd(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _obj(
        ("apiVersion", "kind", "metadata", "spec"),
        apiVersion={"const": api_version},
        kind={"const": kind},
        metadata=_METADATA,
        spec=spec,
    )


CRD_SCHEMAS = {
    "ServiceMonitor": _crd(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        _obj(
            ("selector", "endpoints"),
            selector=_SELECTOR,
            endpoints={
                "type": "array",
                "minItems": 1,
                "items": _obj(
                    ("port",),
                    port=_STR,
                    path=_STR,
                    scheme={"enum": ["http", "https"]},
                    interval=_DURATION,
                    scrapeTimeout=_DURATION,
                    authorization=_obj(("credentials",), type=_STR, credentials=_SECRET_KEY),
                ),
            },
        ),
    ),
    "PrometheusRule": _crd(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        _obj(
            ("groups",),
            groups={
                "type": "array",
                "items": _obj(
                    ("name", "rules"),
                    name=_STR,
                    interval=_DURATION,
                    rules={
                        "type": "array",
                        "items": _obj(
                            ("alert", "expr"),
                            alert=_STR,
                            expr=_STR,
                            **{"for": _DURATION},
                            labels=_LABELS,
                            annotations=_LABELS,
                        ),
                    },
                ),
            },
        ),
    ),
    "AlertmanagerConfig": _crd(
        "monitoring.coreos.com/v1alpha1",
        "AlertmanagerConfig",
        _obj(
            ("route", "receivers"),
            route=_obj(
                ("receiver",),
                receiver=_STR,
                groupBy={"type": "array", "items": _STR},
                groupWait=_DURATION,
                groupInterval=_DURATION,
                repeatInterval=_DURATION,
            ),
            receivers={
                "type": "array",
                "items": _obj(
                    ("name",),
                    name=_STR,
                    webhookConfigs={
                        "type": "array",
                        "items": _obj(
                            ("url",),
                            url={"type": "string", "pattern": "^https?://"},
                            sendResolved={"type": "boolean"},
                            maxAlerts={"type": "integer", "minimum": 0},
                            httpConfig=_obj(
                                authorization=_obj(
                                    ("credentials",), type=_STR, credentials=_SECRET_KEY
                                )
                            ),
                        ),
                    },
                ),
            },
        ),
    ),
}


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_kustomization_renders_to_valid_objects(directory: Path) -> None:
    """Core kinds pass the strict Kubernetes schemas; operator kinds pass ours; all namespaced."""
    docs = render(directory)
    assert docs
    for doc in docs:
        where = f"{_name(directory)}: {doc['kind']}/{doc['metadata']['name']}"
        assert doc["metadata"].get("namespace") == "monitoring", where
        if doc["kind"] in CRD_SCHEMAS:
            errors = [
                f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in jsonschema.Draft202012Validator(CRD_SCHEMAS[doc["kind"]]).iter_errors(doc)
            ]
            assert not errors, f"{where}: {errors}"
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{where} (Kubernetes {version}): {exc.message} at {exc.path}")
            except kubernetes_validate.SchemaNotFoundError:
                pytest.fail(f"{where}: no schema for this kind; add one to CRD_SCHEMAS")


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_name)
def test_checkov_finds_nothing_unexplained(directory: Path, tmp_path: Path) -> None:
    """Every checkov failure is fixed, or skipped with a reason written next to the resource."""
    (tmp_path / "rendered.yaml").write_text(yaml.safe_dump_all(render(directory)))
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
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert not results["parsing_errors"]
    unexplained = [
        c["check_id"]
        for c in results["skipped_checks"]
        if len((c["check_result"].get("suppress_comment") or "").strip()) < 20
    ]
    assert not unexplained, f"skipped without a reason: {unexplained}"
    assert report["summary"]["passed"] > 50  # the checks ran at all


def test_base_deployment_is_restricted_spread_and_drains_gracefully() -> None:
    docs = render(BASE)
    deployment = one(docs, "Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["replicas"] >= 2
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} >= {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # INCIDENT_ADAPTER_* service variables
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 65532
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pause + GRACEFUL_SECONDS
    assert "--web.listen-address=0.0.0.0:9095" in container["args"]
    assert not container.get("env"), "secrets come as files, config from the ConfigMap"


def test_base_objects_select_and_reference_each_other() -> None:
    docs = render(BASE)
    deployment = one(docs, "Deployment")
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    (container,) = pod["spec"]["containers"]
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}

    def selects(selector: dict[str, str]) -> bool:
        return bool(selector) and selector.items() <= pod_labels.items()

    service = one(docs, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert selects(service["spec"]["selector"])
    ((service_port),) = service["spec"]["ports"]
    assert service_port["name"] == "http" and service_port["targetPort"] in port_names
    assert selects(one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    assert pod["spec"]["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is False

    policy = one(docs, "NetworkPolicy")["spec"]
    assert selects(policy["podSelector"]["matchLabels"])
    assert policy["policyTypes"] == ["Ingress"]
    ((rule),) = policy["ingress"]
    admitted = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in rule["from"]}
    assert admitted == {"alertmanager", "prometheus"}
    assert [p["port"] for p in rule["ports"]] == ["http"]

    # generated names carry a content hash (a change rolls the pods) and the pod uses them
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    configmap, secret = one(docs, "ConfigMap"), one(docs, "Secret")
    assert re.fullmatch(r"incident-adapter-config-[a-z0-9]{10}", configmap["metadata"]["name"])
    assert re.fullmatch(r"incident-adapter-secrets-[a-z0-9]{10}", secret["metadata"]["name"])
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert volumes["secrets"]["secret"]["secretName"] == secret["metadata"]["name"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["secrets"]["mountPath"] == SECRETS_DIR and "subPath" not in mounts["secrets"]
    assert mounts["config"]["mountPath"] == "/etc/incident-adapter/config.yml"
    assert "--config.file=/etc/incident-adapter/config.yml" in container["args"]
    # the placeholders say what they are
    assert all(v.startswith("EXAMPLE-") for v in secret_data(secret).values())


@pytest.mark.parametrize("directory", [BASE, REDIS_OVERLAY], ids=_name)
def test_config_in_the_configmap_passes_check_config(directory: Path, tmp_path: Path) -> None:
    """`check-config` on the ConfigMap's config.yml, with the Secret's keys where the pod has them."""
    docs = render(directory)
    text = one(docs, "ConfigMap")["data"]["config.yml"]
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


def test_operator_overlay_wires_scrape_rules_and_alertmanager_to_the_base() -> None:
    docs = render(OPERATOR)
    service = one(docs, "Service")
    namespace = service["metadata"]["namespace"]
    monitor = one(docs, "ServiceMonitor")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["endpoints"]} <= {
        p["name"] for p in service["spec"]["ports"]
    }

    config = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yml"])
    receivers = {r["name"] for r in config["receivers"]}
    secret = one(docs, "Secret")
    amc = one(docs, "AlertmanagerConfig")["spec"]
    assert amc["route"]["receiver"] in {r["name"] for r in amc["receivers"]}
    ((webhook,),) = (r["webhookConfigs"] for r in amc["receivers"])
    port = service["spec"]["ports"][0]["port"]
    host = f"{service['metadata']['name']}.{namespace}.svc:{port}"
    match = re.fullmatch(rf"http://{re.escape(host)}/alerts/([\w.-]+)", webhook["url"])
    assert match and match[1] in receivers, webhook["url"]
    assert webhook["sendResolved"] is True
    credentials = webhook["httpConfig"]["authorization"]["credentials"]
    assert credentials["name"] == secret["metadata"]["name"]  # follows the hashed name
    token = secret_data(secret)[credentials["key"]]
    # Alertmanager sends the key's whole content as the credential: one token, one line.
    assert re.fullmatch(r"\S+", token), "the token Alertmanager reads must be a single line"
    # /metrics is behind the token (auth.protect): Prometheus scrapes with the same key
    assert "metrics" in config["auth"]["protect"]
    for endpoint in monitor["endpoints"]:
        scrape = endpoint["authorization"]
        assert scrape["type"] == "Bearer"
        assert scrape["credentials"] == credentials  # the hashed name, the same key


def test_the_docs_rotation_patch_sends_a_single_token_key(tmp_path: Path) -> None:
    """docs/how-to/deployment.md's patch for a rotation (two tokens in `tokens`), applied in an overlay
    as the docs say: the ServiceMonitor and the AlertmanagerConfig send `scrape-token` of the
    hashed Secret, a key holding one of the tokens alone."""
    (patches,) = re.findall(r"```yaml\n(patches:\n.*?)```", DEPLOYMENT_DOC.read_text(), re.DOTALL)
    overlay = tmp_path / "my-adapter"
    (overlay / "secrets").mkdir(parents=True)
    tokens = {"tokens": "EXAMPLE-old-token-0000000000000000\nEXAMPLE-new-token-1111111111111111\n"}
    tokens |= {"scrape-token": "EXAMPLE-new-token-1111111111111111", "pd-routing-key": "EXAMPLE-k"}
    for name, value in tokens.items():
        (overlay / "secrets" / name).write_text(value)
    kustomization = {
        "resources": [os.path.relpath(OPERATOR, overlay)],
        "secretGenerator": [
            {
                "name": "incident-adapter-secrets",
                "behavior": "replace",
                "files": [f"{name}=secrets/{name}" for name in tokens],
            }
        ],
    } | yaml.safe_load(patches)
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    docs = render(overlay)
    secret = one(docs, "Secret")
    sent = {"name": secret["metadata"]["name"], "key": "scrape-token"}
    for endpoint in one(docs, "ServiceMonitor")["spec"]["endpoints"]:
        assert endpoint["authorization"]["credentials"] == sent
    for receiver in one(docs, "AlertmanagerConfig")["spec"]["receivers"]:
        for webhook in receiver["webhookConfigs"]:
            assert webhook["httpConfig"]["authorization"]["credentials"] == sent
    keys = secret_data(secret)
    assert re.fullmatch(r"\S+", keys["scrape-token"])
    assert keys["scrape-token"] in keys["tokens"].split()


def test_operator_prometheusrule_carries_the_rules_of_deploy_monitoring(tmp_path: Path) -> None:
    """The PrometheusRule wraps deploy/monitoring/rules.yml, the rules' single source, unchanged.

    tests/checks/test_monitoring.py tests the rules themselves (promtool check and unit tests).
    """
    spec = one(render(OPERATOR), "PrometheusRule")["spec"]
    source = yaml.safe_load(MONITORING_RULES.read_text())
    assert spec["groups"] == source["groups"], (
        "prometheusrule.yaml's spec.groups differ from deploy/monitoring/rules.yml: copy them "
        "again with the command at the top of prometheusrule.yaml"
    )
    # and what kustomize rendered is still a rule file promtool accepts
    promtool = require("promtool", "prometheus")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(spec))
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_example_passes_amtool_and_reaches_the_adapter() -> None:
    amtool = require("amtool", "prometheus-alertmanager")
    result = subprocess.run(
        [amtool, "check-config", str(ALERTMANAGER_YML)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr

    doc = yaml.safe_load(ALERTMANAGER_YML.read_text())
    docs = render(BASE)
    service = one(docs, "Service")
    receivers = {
        r["name"] for r in yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yml"])["receivers"]
    }
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc:9095"
    (target,) = (r for r in doc["receivers"] if r["name"] == doc["route"]["receiver"])
    (webhook,) = target["webhook_configs"]
    match = re.fullmatch(rf"http://{re.escape(host)}/alerts/([\w.-]+)", webhook["url"])
    assert match and match[1] in receivers, webhook["url"]
    assert webhook["send_resolved"] is True
    assert webhook["http_config"]["authorization"]["credentials_file"].startswith("/")


def test_an_overlay_as_the_readme_writes_it_replaces_every_example(tmp_path: Path) -> None:
    """The README's own overlay: image, secrets and config replaced; references follow."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "tokens").write_text("a-real-token-0123456789abcdef")
    (tmp_path / "secrets" / "pd-routing-key").write_text("a-real-routing-key-0123456789")
    config = (BASE / "config.yml").read_text().replace('prefix: ""', 'prefix: "prod-eu1/"')
    (tmp_path / "config.yml").write_text(config)
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(OPERATOR, tmp_path)],
        "images": [
            {
                "name": "incident-adapter",
                "newName": "registry.example.org/ops/incident-adapter",
                "newTag": "0.1.0",
            }
        ],
        "configMapGenerator": [
            {"name": "incident-adapter-config", "behavior": "replace", "files": ["config.yml"]}
        ],
        "secretGenerator": [
            {
                "name": "incident-adapter-secrets",
                "behavior": "replace",
                "files": ["tokens=secrets/tokens", "pd-routing-key=secrets/pd-routing-key"],
            }
        ],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    docs = render(tmp_path)
    assert "EXAMPLE" not in yaml.safe_dump_all(docs)
    secret, configmap = one(docs, "Secret"), one(docs, "ConfigMap")
    assert secret_data(secret) == {
        "tokens": "a-real-token-0123456789abcdef",
        "pd-routing-key": "a-real-routing-key-0123456789",
    }
    assert configmap["data"]["config.yml"] == config
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example.org/ops/incident-adapter:0.1.0"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]
    webhook = one(docs, "AlertmanagerConfig")["spec"]["receivers"][0]["webhookConfigs"][0]
    assert (
        webhook["httpConfig"]["authorization"]["credentials"]["name"] == secret["metadata"]["name"]
    )
    assert all(d["metadata"]["namespace"] == "monitoring" for d in docs)


# -- the redis overlay: the base plus a shared store ------------------------------------------
def by_name(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    (doc,) = (d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)
    return doc


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


def redis_parts() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The overlay's Redis Deployment, its container, Service and NetworkPolicy."""
    docs = render(REDIS_OVERLAY)
    deployment = by_name(docs, "Deployment", "incident-adapter-redis")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    service = by_name(docs, "Service", "incident-adapter-redis")
    policy = by_name(docs, "NetworkPolicy", "incident-adapter-redis")
    return deployment, container, service, policy


def test_redis_overlay_runs_one_hardened_redis_without_persistence() -> None:
    deployment, container, _, _ = redis_parts()
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    assert container["image"].startswith("redis:")  # the official image
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] is True and security["runAsUser"] >= 10000
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["tcpSocket"]["port"] == "redis", probe
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    script = " ".join(container["args"])
    assert '--save "" --appendonly no' in script
    # the password never in the arguments or the environment: only its file's path
    assert "requirepass" not in script.split("redis-server", 1)[1]
    assert not container.get("env")
    assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v]


def test_redis_overlay_lets_only_the_adapter_reach_redis() -> None:
    docs = render(REDIS_OVERLAY)
    deployment, container, service, policy = redis_parts()
    redis_labels = deployment["spec"]["template"]["metadata"]["labels"]
    adapter = by_name(docs, "Deployment", "incident-adapter")
    adapter_labels = adapter["spec"]["template"]["metadata"]["labels"]
    assert matches(service["spec"]["selector"], redis_labels)
    assert not matches(service["spec"]["selector"], adapter_labels)
    ((port),) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}

    spec = policy["spec"]
    assert matches(spec["podSelector"]["matchLabels"], redis_labels)
    assert spec["policyTypes"] == ["Ingress", "Egress"] and spec["egress"] == []
    ((rule),) = spec["ingress"]
    ((peer),) = rule["from"]
    assert set(peer) == {"podSelector"}  # this namespace only
    assert matches(peer["podSelector"]["matchLabels"], adapter_labels)
    assert not matches(peer["podSelector"]["matchLabels"], redis_labels)
    assert [p["port"] for p in rule["ports"]] == ["redis"]
    # the base's policy for the adapter is unchanged: Redis is reached by the adapter, not it
    base_policy = by_name(docs, "NetworkPolicy", "incident-adapter")["spec"]
    assert base_policy == one(render(BASE), "NetworkPolicy")["spec"]


def test_redis_overlay_config_is_the_bases_plus_coordination() -> None:
    """The overlay's config.yml: the base's, with `coordination:` naming the overlay's Redis,
    the replicas the Deployment runs, and a password file that both pods get from one key."""
    docs = render(REDIS_OVERLAY)
    text = one(docs, "ConfigMap")["data"]["config.yml"]
    assert text.startswith((BASE / "config.yml").read_text()), "the base's config, then more"
    config = yaml.safe_load(text)
    base = yaml.safe_load((BASE / "config.yml").read_text())
    assert {k: v for k, v in config.items() if k != "coordination"} == base
    coordination = config["coordination"]
    adapter = by_name(docs, "Deployment", "incident-adapter")
    assert coordination["replicas"] == adapter["spec"]["replicas"] == 2

    deployment, _, service, _ = redis_parts()
    port = service["spec"]["ports"][0]["port"]
    assert coordination["redis"]["url"] == f"redis://{service['metadata']['name']}:{port}/0"
    password_file = coordination["redis"]["password_file"]
    key = password_file.removeprefix(f"{SECRETS_DIR}/")
    secret = one(docs, "Secret")
    assert key in secret_data(secret), f"the Secret has no key {key}"
    assert set(secret_data(secret)) == {"tokens", "pd-routing-key", key}  # merged, not replaced
    # Redis mounts that one key of the same (hashed) Secret, and reads it in its script
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    (password,) = (v["secret"] for v in volumes if "secret" in v)
    assert password["secretName"] == secret["metadata"]["name"]
    assert password["items"] == [{"key": key, "path": key}]
    adapter_pod = adapter["spec"]["template"]["spec"]
    (adapter_secret,) = (v["secret"] for v in adapter_pod["volumes"] if "secret" in v)
    assert adapter_secret["secretName"] == secret["metadata"]["name"]
    assert re.fullmatch(r"\S+", secret_data(secret)[key]), "one line: Redis reads it whole"


def test_redis_overlays_script_starts_a_redis_that_wants_the_password(tmp_path: Path) -> None:
    """The container's own command, run with Debian's redis-server: it answers PING only with
    the password from the mounted file, keeps nothing on disk, and the password is in no
    process's arguments."""
    redis_server = require("redis-server", "redis-server")
    redis_cli = require("redis-cli", "redis-server")
    _, container, _, _ = redis_parts()
    password = secret_data(one(render(REDIS_OVERLAY), "Secret"))["redis-password"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    run, secrets = tmp_path / "run", tmp_path / "secrets"
    run.mkdir()
    secrets.mkdir()
    (secrets / "redis-password").write_text(password)
    script = " ".join(container["args"])
    script = script.replace(mounts["run"], str(run)).replace(mounts["password"], str(secrets))
    port = free_port()
    script = script.replace("--port 6379", f"--port {port} --bind 127.0.0.1")
    assert container["command"] == ["sh", "-c"]
    env = {**os.environ, "PATH": f"{Path(redis_server).parent}:{os.environ['PATH']}"}
    process = subprocess.Popen(
        ["sh", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:

        def cli(*args: str, auth: bool = True) -> str:
            environment = {**os.environ, "REDISCLI_AUTH": password} if auth else None
            result = subprocess.run(
                [redis_cli, "-p", str(port), *args],
                capture_output=True, text=True, timeout=10, env=environment,
            )  # fmt: skip
            return result.stdout.strip()

        deadline = time.monotonic() + 20
        while cli("ping") != "PONG":
            assert process.poll() is None, process.communicate()[0].decode()
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.2)
        assert "NOAUTH" in cli("ping", auth=False)
        assert cli("config", "get", "save") == "save"  # and an empty value: no snapshots
        assert cli("config", "get", "appendonly").splitlines()[1:] == ["no"]
        assert cli("config", "get", "maxmemory-policy").splitlines()[1:] == ["noeviction"]
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert password.encode() not in cmdline
        assert (run / "redis.conf").stat().st_mode & 0o077 == 0
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert password not in output
    assert sorted(p.name for p in run.iterdir()) == ["redis.conf"]  # nothing kept on disk


def test_redis_component_goes_on_the_operator_overlay_too(tmp_path: Path) -> None:
    """The combination docs/how-to/replicas.md gives: the operator overlay plus the component."""
    overlay = {
        "resources": [os.path.relpath(OPERATOR, tmp_path)],
        "components": [os.path.relpath(REDIS_COMPONENT, tmp_path)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    docs = render(tmp_path)
    assert {"ServiceMonitor", "PrometheusRule", "AlertmanagerConfig"} <= {d["kind"] for d in docs}
    by_name(docs, "Deployment", "incident-adapter-redis")
    secret = one(docs, "Secret")
    assert set(secret_data(secret)) == {"tokens", "pd-routing-key", "redis-password"}
    # the operator overlay's references follow the Secret's new hash
    monitor = one(docs, "ServiceMonitor")["spec"]["endpoints"][0]
    assert monitor["authorization"]["credentials"]["name"] == secret["metadata"]["name"]
    config = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yml"])
    assert config["coordination"]["replicas"] == 2
