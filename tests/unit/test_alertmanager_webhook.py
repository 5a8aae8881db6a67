"""The `alertmanager-webhook` dialect: each alert re-sent as its own Alertmanager webhook, to a
stand-in of a tool that opens one incident per group (tests/standins/amwebhook.py); and the
`http_config` auth every dialect shares (authorization, basic_auth, signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from adapter.integrations.alertmanager_webhook import group_key_for
from adapter.payload import parse_payload
from adapter.pipeline import Receiver, plan
from tests.builders import (
    HMAC_SECRET,
    HOOK_TOKEN,
    amwebhook_config,
    config_from,
    make_alert,
    make_payload,
    pd_config,
)
from tests.builders import HOOK_URL as URL
from tests.builders import config_problems as problems
from tests.harness.adapter import run_adapter
from tests.harness.server import Server
from tests.standins.amwebhook import InboundAlertmanager

MakeClient = Callable[..., TestClient]


def bodies(tmp_path: Path, doc: dict[str, Any], *alerts: dict[str, Any]) -> list[dict[str, Any]]:
    config = config_from(doc, tmp_path)
    rx = Receiver.from_settings(config.receivers[0], config.delivery)
    payload = parse_payload(json.dumps(make_payload(*alerts)).encode())
    out = []
    for delivery in plan(rx, payload).deliveries:
        assert delivery.request is not None, delivery.error
        assert delivery.request.url == URL and delivery.request.method == "POST"
        out.append(json.loads(delivery.request.body))
    return out


# -- the body ----------------------------------------------------------------------------


def test_each_alert_is_its_own_version_4_webhook_grouped_by_its_dedup_key(tmp_path: Path) -> None:
    one = make_alert(instance="api-01", severity="critical")
    two = make_alert("resolved", instance="api-02", severity="warning")
    first, second = bodies(tmp_path, amwebhook_config(), one, two)
    payload = parse_payload(json.dumps(make_payload(one, two)).encode())
    fp_one, fp_two = (a.fingerprint for a in payload.alerts)
    assert first == {
        "version": "4",
        "groupKey": f'{{}}:{{incident_adapter_key="{fp_one}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "pd",
        "groupLabels": {"incident_adapter_key": fp_one},
        "commonLabels": one["labels"],
        "commonAnnotations": one["annotations"],
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": one["labels"],
                "annotations": one["annotations"],
                "startsAt": one["startsAt"],
                "endsAt": one["endsAt"],
                "generatorURL": one["generatorURL"],
                "fingerprint": fp_one,
            }
        ],
    }
    # a firing group may carry a resolved alert: its own webhook says resolved
    assert second["status"] == second["alerts"][0]["status"] == "resolved"
    assert second["groupKey"] == f'{{}}:{{incident_adapter_key="{fp_two}"}}'
    assert second["alerts"][0]["endsAt"] == two["endsAt"]


def test_trigger_and_resolve_share_the_group_whatever_the_key_rule(tmp_path: Path) -> None:
    doc = amwebhook_config(dedup_key={"strategy": "labels", "labels": ["alertname", "instance"]})
    (fire,) = bodies(tmp_path, doc, make_alert(instance="a", severity="critical"))
    (done,) = bodies(tmp_path, doc, make_alert("resolved", instance="a", severity="warning"))
    assert fire["groupKey"] == done["groupKey"]
    assert fire["groupLabels"] == done["groupLabels"]


def test_the_group_key_quotes_a_key_as_alertmanager_does() -> None:
    assert group_key_for('a"b\\c') == '{}:{incident_adapter_key="a\\"b\\\\c"}'


def test_severity_label_carries_the_mapped_severity_into_the_copy(tmp_path: Path) -> None:
    doc = amwebhook_config(
        severity_label="severity",
        severity={"map": {"page": "critical"}, "default": "warning"},
    )
    paged, odd = bodies(
        tmp_path, doc, make_alert(instance="a", severity="page"), make_alert(instance="b")
    )
    assert paged["alerts"][0]["labels"]["severity"] == "critical"
    assert paged["commonLabels"]["severity"] == "critical"
    assert odd["alerts"][0]["labels"]["severity"] == "warning"
    # unset: the labels go as Alertmanager sent them
    (plain,) = bodies(tmp_path, amwebhook_config(), make_alert(instance="a", severity="page"))
    assert plain["alerts"][0]["labels"]["severity"] == "page"


def test_long_annotations_are_cut_alike_in_both_places_and_noted(tmp_path: Path) -> None:
    """The body stays within max_body_bytes; labels, status and the group are never cut."""
    huge = {"summary": "s" * 3000, "description": "d" * 40_000}
    doc = amwebhook_config(max_body_bytes=16_384)
    config = config_from(doc, tmp_path)
    rx = Receiver.from_settings(config.receivers[0], config.delivery)
    alert = make_alert(annotations=huge, instance="api-01")
    payload = parse_payload(json.dumps(make_payload(alert)).encode())
    (delivery,) = plan(rx, payload).deliveries
    assert delivery.request is not None
    assert len(delivery.request.body) <= 16_384
    body = json.loads(delivery.request.body)
    annotations = body["alerts"][0]["annotations"]
    assert annotations == body["commonAnnotations"]
    assert "description" in annotations["incident_adapter_truncated"]
    assert annotations["summary"] == "s" * 3000  # the longest gave way first
    assert body["alerts"][0]["labels"] == alert["labels"] and body["status"] == "firing"


def test_labels_alone_over_the_limit_give_their_longest_values_and_the_key_stays(
    tmp_path: Path,
) -> None:
    doc = amwebhook_config(max_body_bytes=8192)
    alert = make_alert(instance="x" * 9000, team="sre", severity="critical")
    (body,) = bodies(tmp_path, doc, alert)
    assert len(json.dumps(body, separators=(",", ":")).encode()) <= 8192
    labels = body["alerts"][0]["labels"]
    assert labels == body["commonLabels"]
    assert labels["instance"].startswith("xxx") and labels["instance"].endswith("…")
    assert (labels["team"], labels["severity"], labels["alertname"]) == (
        "sre",
        "critical",
        "HighErrorRate",
    )
    fp = parse_payload(json.dumps(make_payload(alert)).encode()).alerts[0].fingerprint
    assert body["alerts"][0]["fingerprint"] == fp == body["groupLabels"]["incident_adapter_key"]
    assert "labels.instance" in body["commonAnnotations"]["incident_adapter_truncated"]


def test_a_link_over_the_limit_fails_that_alert_alone(make_client: MakeClient) -> None:
    api = InboundAlertmanager(bearer=HOOK_TOKEN)
    client = make_client(api, amwebhook_config(max_body_bytes=4096))
    huge = make_alert(instance="x")
    huge["generatorURL"] = "http://prometheus.example/graph?g0.expr=" + "u" * 5000
    response = client.post("/alerts/pd", json=make_payload(huge, make_alert(instance="ok")))
    assert response.status_code == 424
    assert [a["result"] for a in response.json()["alerts"]] == ["rejected", "delivered"]
    assert "over max_body_bytes" in response.json()["alerts"][0]["detail"]
    assert len(api.incidents) == 1


# -- against the stand-in of a tool that opens one incident per group ---------------------


def test_two_alerts_of_one_group_are_two_incidents_and_the_right_one_closes(
    make_client: MakeClient,
) -> None:
    api = InboundAlertmanager(bearer=HOOK_TOKEN)
    doc = amwebhook_config()
    doc["delivery"]["memo_ttl"] = "0s"  # each re-send reaches the tool: updates, not new ones
    client = make_client(api, doc)
    one, two = make_alert(instance="api-01"), make_alert(instance="api-02")
    assert client.post("/alerts/pd", json=make_payload(one, two)).status_code == 200
    assert client.post("/alerts/pd", json=make_payload(one, two)).status_code == 200  # re-send
    assert len(api.open_keys()) == 2 and [i.updates for i in api.incidents] == [1, 1]
    resolved_one = make_alert("resolved", instance="api-01")
    assert client.post("/alerts/pd", json=make_payload(resolved_one, two)).status_code == 200
    (still_open,) = api.open_keys()
    assert api.by_key()[still_open].alerts[0]["labels"]["instance"] == "api-02"
    resolved_two = make_alert("resolved", instance="api-02")
    assert (
        client.post("/alerts/pd", json=make_payload(resolved_one, resolved_two)).status_code == 200
    )
    assert api.open_keys() == set()
    assert [api.opened(i.group_key) for i in api.incidents] == [1, 1]


def test_the_same_group_straight_from_alertmanager_is_one_incident(
    make_client: MakeClient,
) -> None:
    """What the dialect replaces: the group as Alertmanager posts it is one incident, and one
    host recovering closes nothing."""
    api = InboundAlertmanager()
    one, two = make_alert(instance="api-01"), make_alert(instance="api-02")
    status, _ = api.handle("POST", httpx.Headers(), json.dumps(make_payload(one, two)).encode())
    assert status == 200
    partly = make_payload(make_alert("resolved", instance="api-01"), two)
    assert api.handle("POST", httpx.Headers(), json.dumps(partly).encode())[0] == 200
    assert len(api.incidents) == 1 and len(api.open_keys()) == 1


def test_the_tool_refuses_a_wrong_token_for_good_and_it_is_never_printed(
    make_client: MakeClient,
) -> None:
    api = InboundAlertmanager(bearer="another-token")
    with capture_logs() as logs:
        client = make_client(api, amwebhook_config())
        response = client.post("/alerts/pd", json=make_payload())
    assert response.status_code == 424
    assert api.refused == [(401, "invalid credential or signature")]
    texts = [response.text, *(json.dumps(e, default=str) for e in logs)]
    assert not any(HOOK_TOKEN in t for t in texts)


def test_the_tool_refuses_what_is_not_version_4() -> None:
    api = InboundAlertmanager()
    grafana = make_payload(version="1")
    assert api.handle("POST", httpx.Headers(), json.dumps(grafana).encode())[0] == 400
    assert api.handle("POST", httpx.Headers(), b"not json")[0] == 400
    assert api.incidents == []


# -- everything else the adapter does, for this dialect too -------------------------------


def test_matchers_filter_and_the_memo_skips_an_unchanged_resend(make_client: MakeClient) -> None:
    api = InboundAlertmanager(bearer=HOOK_TOKEN)
    client = make_client(api, amwebhook_config(matchers=['team="sre"']))
    payload = make_payload(make_alert(instance="a", team="sre"), make_alert(instance="b"))
    first = client.post("/alerts/pd", json=payload).json()
    assert (first["delivered"], first["filtered"]) == (1, 1)
    again = client.post("/alerts/pd", json=payload).json()
    outcomes = [a["result"] for a in again["alerts"]]
    assert outcomes == ["skipped", "filtered"] and api.received == 1  # the memo answered
    assert [i.alerts[0]["labels"]["instance"] for i in api.incidents] == ["a"]


def test_retries_a_5xx_and_a_rate_window_holds(make_client: MakeClient) -> None:
    calls: list[httpx.Request] = []
    api = InboundAlertmanager(bearer=HOOK_TOKEN)

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503) if len(calls) == 1 else api(request)

    doc = amwebhook_config(rate_limit={"requests": 2, "per": "1m"})
    client = make_client(flaky, doc)
    payload = make_payload(*(make_alert(instance=f"h{i}") for i in range(3)))
    response = client.post("/alerts/pd", json=payload)
    assert response.status_code == 503  # the third alert has no budget left this minute
    assert [a["result"] for a in response.json()["alerts"]].count("delivered") == 1
    assert len(api.incidents) == 1 and len(calls) == 2


def test_test_incident_opens_and_closes_one_incident_and_the_page_lists_the_type(
    make_client: MakeClient,
) -> None:
    api = InboundAlertmanager(bearer=HOOK_TOKEN)
    client = make_client(api, amwebhook_config())
    answer = client.post("/-/test/pd", json={"resolve_after": "0s"}).json()
    assert answer["accepted"] is True
    (incident,) = api.incidents
    assert incident.status == "resolved" and incident.group_key.startswith(
        '{}:{incident_adapter_key="incident-adapter-test-'
    )
    assert incident.alerts[0]["labels"]["alertname"] == "IncidentAdapterTest"
    index = client.get("/", headers={"Accept": "application/json"}).json()
    assert index["receivers"]["pd"]["type"] == "alertmanager-webhook"
    assert "alertmanager-webhook" in client.get("/").text


def test_the_cli_test_incident_opens_and_resolves_one_incident(tmp_path: Path) -> None:
    """`incident-adapter test` (the real process, aiohttp) through this dialect to the tool."""
    api = InboundAlertmanager(bearer=HOOK_TOKEN)
    with Server(api.app()) as tool:
        config = tmp_path / "c.yml"
        config.write_text(yaml.safe_dump(amwebhook_config(url=tool.url + "/hook")))
        result = run_adapter("test", f"--config.file={config}", "--resolve-after=0s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: the incident API accepted the trigger and the resolve" in result.stdout
    (incident,) = api.incidents
    assert incident.status == "resolved" and len(incident.webhooks) == 2
    assert HOOK_TOKEN not in result.stdout + result.stderr


def test_render_shows_the_webhook_and_check_config_names_the_type(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(amwebhook_config()))
    result = run_adapter(
        "render", f"--config.file={config}", "-", stdin=json.dumps(make_payload()).encode()
    )
    assert result.returncode == 0, result.stderr
    (request,) = json.loads(result.stdout)["requests"]
    assert request["url"] == URL and request["body"]["version"] == "4"
    assert HOOK_TOKEN not in result.stdout
    checked = run_adapter("check-config", str(config))
    assert checked.returncode == 0 and "pd (alertmanager-webhook)" in checked.stdout


def test_a_url_with_the_key_in_it_from_a_file_is_a_secret(tmp_path: Path) -> None:
    """Alert24's inbound URL carries its key: read from url_file, it renders as <secret>."""
    secret_url = "https://app.alert24.io/integrations/alertmanager/KEY-0123-SECRET"
    (tmp_path / "url").write_text(secret_url + "\n")
    doc = amwebhook_config(url_file=str(tmp_path / "url"))
    del doc["receivers"][0]["url"]
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(doc))
    out = run_adapter(
        "render", f"--config.file={config}", "-", stdin=json.dumps(make_payload()).encode()
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["requests"][0]["url"] == "<secret>"
    assert "KEY-0123-SECRET" not in out.stdout
    (tmp_path / "url").write_text("app.alert24.io/integrations/alertmanager/KEY-0123-SECRET\n")
    found = problems(tmp_path, doc)
    assert any("url_file must hold an absolute http(s) URL" in p for p in found), found
    assert not any("KEY-0123-SECRET" in p for p in found)
    # http(s), but not one a transport can send (a space): still the secret stays unsaid
    (tmp_path / "url").write_text("https://app.alert24.io/integrations/alertmanager/KEY 0123\n")
    found = problems(tmp_path, doc)
    assert any("url_file must hold an absolute http(s) URL" in p for p in found), found
    assert not any("KEY 0123" in p for p in found), found
    doc["receivers"][0]["url"] = URL
    assert any("exactly one of url or url_file" in p for p in problems(tmp_path, doc))


# -- http_config: authorization, basic_auth, signature (every dialect) ---------------------


def test_basic_auth_from_a_file_reaches_the_tool(tmp_path: Path, make_client: MakeClient) -> None:
    (tmp_path / "pw").write_text("hunter2-SECRET\n")
    api = InboundAlertmanager(basic=("am", "hunter2-SECRET"))
    http = {"basic_auth": {"username": "am", "password_file": str(tmp_path / "pw")}}
    client = make_client(api, amwebhook_config(http_config=http))
    assert client.post("/alerts/pd", json=make_payload()).status_code == 200
    assert len(api.incidents) == 1


def test_a_signature_over_the_exact_body_sent_after_fitting(
    tmp_path: Path, make_client: MakeClient
) -> None:
    """The tool recomputes the HMAC over the bytes it got: it matches, for a body cut to fit too."""
    (tmp_path / "hmac").write_text(HMAC_SECRET + "\n")
    api = InboundAlertmanager(signature=(HMAC_SECRET, "X-Webhook-Signature-256", "sha256="))
    http = {
        "signature": {
            "secret_file": str(tmp_path / "hmac"),
            "header": "X-Webhook-Signature-256",
            "prefix": "sha256=",
        }
    }
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return api(request)

    client = make_client(record, amwebhook_config(http_config=http, max_body_bytes=8192))
    long = make_alert(annotations={"description": "d" * 20_000}, instance="a")
    assert client.post("/alerts/pd", json=make_payload(long)).status_code == 200
    (sent,) = seen
    assert len(sent.content) <= 8192
    expected = hmac.new(HMAC_SECRET.encode(), sent.content, hashlib.sha256).hexdigest()
    assert sent.headers["X-Webhook-Signature-256"] == "sha256=" + expected
    assert len(api.incidents) == 1
    wrong = InboundAlertmanager(signature=("another-secret", "X-Webhook-Signature-256", "sha256="))
    client = make_client(wrong, amwebhook_config(http_config=http))
    assert client.post("/alerts/pd", json=make_payload()).status_code == 424


def test_authorization_reaches_every_dialect(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    doc = pd_config(http_config={"authorization": {"type": "Token", "credentials": HOOK_TOKEN}})
    assert make_client(record, doc).post("/alerts/pd", json=make_payload()).status_code == 200
    assert seen[0].headers["Authorization"] == f"Token {HOOK_TOKEN}"


@pytest.mark.parametrize(
    ("http_config", "path", "message"),
    [
        (
            {"authorization": {"credentials": "a"}, "basic_auth": {"username": "u"}},
            "receivers[0].http_config",
            "at most one of authorization or basic_auth",
        ),
        (
            {"authorization": {"credentials": "a", "credentials_file": "/etc/hostname"}},
            "receivers[0].http_config.authorization",
            "exactly one of credentials or credentials_file",
        ),
        (
            {"authorization": {"type": "Basic", "credentials": "a"}},
            "receivers[0].http_config.authorization",
            "use basic_auth",
        ),
        (
            {"basic_auth": {"username": "u", "password": "p", "password_file": "/etc/hostname"}},
            "receivers[0].http_config.basic_auth",
            "at most one of password or password_file",
        ),
        (
            {"authorization": {"credentials": "a"}, "headers": {"authorization": "x"}},
            "receivers[0].http_config",
            "keep one",
        ),
        (
            {"signature": {"header": "X-Sig"}},
            "receivers[0].http_config.signature",
            "exactly one of secret or secret_file",
        ),
        (
            {"signature": {"secret": "s", "algorithm": "md5"}},
            "receivers[0].http_config.signature.algorithm",
            "sha256",
        ),
        (
            {"authorization": {"credentials_file": "/nonexistent/token"}},
            "receivers[0].http_config.authorization.credentials_file",
            "cannot read secret file",
        ),
    ],
)
def test_http_config_auth_errors_name_the_path(
    tmp_path: Path, http_config: dict[str, Any], path: str, message: str
) -> None:
    found = problems(tmp_path, amwebhook_config(http_config=http_config))
    assert any(p.startswith(path + ":") and message in p for p in found), found


def test_auth_secrets_print_as_secret_and_are_scrubbed_from_upstream_answers(
    tmp_path: Path, make_client: MakeClient
) -> None:
    """A hostile tool echoes the Authorization header (bearer or basic) and the signature
    secret; nothing of them gets out, in the response, the logs or the config's dump."""

    def echo(request: httpx.Request) -> httpx.Response:
        signed = "X-Signature" in request.headers  # then it knows the signing secret
        said = f"{request.headers.get('authorization')} {HMAC_SECRET if signed else ''}"
        return httpx.Response(400, text=said)

    basic = {"username": "am", "password": "hunter2-SECRET"}
    sig = {"secret": HMAC_SECRET}
    for http in (
        {"authorization": {"credentials": HOOK_TOKEN}, "signature": sig},
        {"basic_auth": basic},
    ):
        doc = amwebhook_config(http_config=http)
        shown = config_from(doc, tmp_path)
        with capture_logs() as logs:
            client = make_client(echo, doc)
            texts = [client.post("/alerts/pd", json=make_payload()).text]
        texts += [json.dumps(e, default=str) for e in logs]
        texts += [repr(shown), shown.model_dump_json()]
        token = base64.b64encode(b"am:hunter2-SECRET").decode()
        for secret in (HOOK_TOKEN, HMAC_SECRET, "hunter2-SECRET", token):
            assert not any(secret in t for t in texts), secret
        assert "<secret>" in texts[0]


def test_storm_guard_sends_one_aggregated_webhook(make_client: MakeClient) -> None:
    """Past the storm threshold the group becomes one incident; its resolve closes it."""
    api = InboundAlertmanager(bearer=HOOK_TOKEN)
    client = make_client(api, amwebhook_config(storm_guard={"threshold": 2}))
    firing = [make_alert(instance=f"h{i}") for i in range(3)]
    assert client.post("/alerts/pd", json=make_payload(*firing)).status_code == 200
    (incident,) = api.incidents
    assert "3 alerts firing" in incident.alerts[0]["annotations"]["summary"]
    resolved = [make_alert("resolved", instance=f"h{i}") for i in range(3)]
    assert client.post("/alerts/pd", json=make_payload(*resolved)).status_code == 200
    assert api.open_keys() == set()
