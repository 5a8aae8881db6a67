"""Test incidents: `incident-adapter test` against stand-ins, POST /-/test/{receiver}, and
the test alert's key, which no real alert can share."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from adapter.keys import DedupRule, dedup_key_for
from adapter.payload import Alert
from adapter.pipeline import plan, receivers_from
from adapter.testalert import ALERTNAME, KEY_MARK, MARK_LABEL, Probe
from tests.builders import ROUTING_KEY, TOKEN, config_from, make_payload, pd_config
from tests.harness.adapter import run_adapter as run
from tests.harness.server import Server
from tests.standins.events import EventsAPI

MakeClient = Callable[..., TestClient]


def write_config(tmp_path: Path, **receiver: Any) -> Path:
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(pd_config(**receiver)))
    return path


def test_cli_opens_the_incident_then_resolves_it(
    tmp_path: Path, events_api: tuple[EventsAPI, Server]
) -> None:
    """While the CLI waits the incident is open; Ctrl-C ends the wait and still resolves it."""
    api, server = events_api
    config = write_config(tmp_path, url=server.url + "/v2/enqueue")
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapter", "test", f"--config.file={config}", "--receiver=pd"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("waiting 30s"):
            (key,) = api.open_keys()  # opened, and only the test incident
            proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0, "".join(lines) + proc.stderr.read()
    out = "".join(lines)
    assert "trigger: accepted (upstream 202)" in out
    assert "interrupted: resolving now" in out and "resolve: accepted (upstream 202)" in out
    assert api.open_keys() == set()
    incident = api.incidents[key]
    assert incident.status == "resolved" and key.startswith(KEY_MARK)
    assert socket.gethostname() in incident.summary and "TEST" in incident.summary
    assert incident.payload["custom_details"]["labels"]["alertname"] == ALERTNAME
    assert incident.severity == "info"
    assert [e["event_action"] for e in api.events] == ["trigger", "resolve"]
    proc.stderr.close()
    proc.stdout.close()


def test_cli_resolve_after_zero_with_a_severity_and_labels(
    tmp_path: Path, events_api: tuple[EventsAPI, Server]
) -> None:
    api, server = events_api
    config = write_config(
        tmp_path,
        url=server.url + "/v2/enqueue",
        matchers=['team="db"'],
        dedup_key={"prefix": "eu1/"},
    )
    args = ("test", f"--config.file={config}", "--resolve-after=0", "--severity=critical")
    filtered = run(*args)  # the receiver's matchers want team="db"
    assert filtered.returncode == 1
    assert "filters the test alert out" in filtered.stdout and api.events == []
    result = run(*args, "--label=team=db")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: the incident API accepted the trigger and the resolve" in result.stdout
    (incident,) = api.incidents.values()
    assert incident.status == "resolved" and incident.severity == "critical"
    assert incident.dedup_key.startswith("eu1/" + KEY_MARK)


def refusing_api(request: Request) -> JSONResponse:
    """An upstream that refuses every event and echoes it back, routing key and all."""
    return JSONResponse({"status": "invalid event", "echo": "key " + ROUTING_KEY}, 400)


def test_cli_against_a_refusing_api_says_why_and_leaks_no_secret(tmp_path: Path) -> None:
    app = Starlette(routes=[Route("/v2/enqueue", refusing_api, methods=["POST"])])
    with Server(app) as server:
        config = write_config(tmp_path, url=server.url + "/v2/enqueue")
        result = run("test", f"--config.file={config}", "--receiver=pd", "--resolve-after=0")
    assert result.returncode == 1
    assert "trigger: refused (upstream 400): upstream answered 400:" in result.stdout
    assert "invalid event" in result.stdout
    assert "resolving at once" in result.stdout
    assert "FAILED: the incident API did not accept the trigger and the resolve" in result.stdout
    assert ROUTING_KEY not in result.stdout + result.stderr


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    doc = pd_config()
    doc["receivers"].append({"name": "dry", "type": "log"})
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(doc))
    for args, words in [
        ((), "several receivers; pass --receiver (one of pd, dry)"),
        (("--receiver=nope",), "no receiver named 'nope'"),
        (("--receiver=dry", "--resolve-after=soon"), "'soon' is not a duration"),
        (("--receiver=dry", "--label=novalue"), "must be NAME=VALUE"),
    ]:
        result = run("test", f"--config.file={config}", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr
    dry = run("test", f"--config.file={config}", "--receiver=dry", "--resolve-after=0")
    assert dry.returncode == 0 and "nothing sent" in dry.stdout


@pytest.mark.parametrize(
    "rule",
    [
        DedupRule(),
        DedupRule("labels", ("alertname", "instance")),
        DedupRule("labels", ("service",)),  # a label the test alert lacks: `service=`
        DedupRule("group", prefix="prod/"),
    ],
    ids=["fingerprint", "labels", "labels-missing", "group"],
)
def test_the_test_key_is_the_rule_with_a_mark_no_real_alert_carries(
    tmp_path: Path, rule: DedupRule
) -> None:
    doc = pd_config(
        dedup_key={"strategy": rule.strategy, "labels": list(rule.labels), "prefix": rule.prefix}
    )
    config = config_from(doc, tmp_path)
    (receiver,) = receivers_from(config.receivers, config.delivery).values()
    probe = Probe.for_receiver(receiver, host="h1")
    payload = probe.payload(firing=True)
    ((delivery,),) = [plan(probe.receiver, payload).deliveries]
    key = delivery.events[0].dedup_key
    assert key.startswith(f"{rule.prefix}{KEY_MARK}{probe.run_id}/")
    assert payload.alerts[0].labels[MARK_LABEL] == probe.run_id
    # The same labels without the mark, as a real alert, keyed by the real rule:
    twin = {k: v for k, v in payload.alerts[0].labels.items() if k != MARK_LABEL}
    real = Alert(status="firing", labels=twin)
    assert dedup_key_for(real, receiver.dedup, '{}:{alertname="X"}', 255) != key
    # trigger and resolve share the key; a second test run gets its own
    resolve = plan(probe.receiver, probe.payload(firing=False)).deliveries[0]
    assert resolve.events[0].dedup_key == key
    again = Probe.for_receiver(receiver, host="h1")
    assert plan(again.receiver, again.payload(firing=True)).deliveries[0].events[0].dedup_key != key


def test_page_action_needs_the_credential_and_is_never_a_get(make_client: MakeClient) -> None:
    calls: list[httpx.Request] = []
    client = make_client(lambda r: calls.append(r) or httpx.Response(202))
    del client.headers["Authorization"]
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/-/test/pd").status_code == 405
    refused = [
        client.post("/-/test/pd", data={"token": ""}),
        client.post("/-/test/pd", data={"token": TOKEN + "x"}),
        client.post(
            "/-/test/pd", data={"token": "wrong"}, headers=bearer
        ),  # a form's header is not looked at
        client.post("/-/test/pd", json={}),
        client.post("/-/test/pd", json={}, headers={"Authorization": "Bearer wrong"}),
    ]
    for response in refused:
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert calls == []
    assert client.post("/-/test/pd", content=b"token=x", headers=bearer).status_code == 415
    assert client.post("/-/test/nope", json={}, headers=bearer).status_code == 404
    page = client.post("/-/test/pd", data={"token": TOKEN, "resolve_after": "0"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("accepted (upstream 202)") == 2
    assert TOKEN not in page.text  # never echoed back
    answer = client.post("/-/test/pd", json={"resolve_after": "0s"}, headers=bearer).json()
    assert answer["accepted"] is True
    assert [answer["trigger"]["action"], answer["resolve"]["action"]] == ["trigger", "resolve"]
    assert answer["trigger"]["dedup_key"].startswith(KEY_MARK)
    assert len(calls) == 4
    too_long = client.post("/-/test/pd", json={"resolve_after": "1m"}, headers=bearer)
    assert too_long.status_code == 400 and "between 0 and 5s" in too_long.text


def test_page_form_takes_user_colon_password_for_basic_auth(make_client: MakeClient) -> None:
    doc = pd_config()
    doc["auth"] = {"basic_auth": {"username": "am", "password": "hunter2-SECRET"}}
    client = make_client(doc=doc)
    wrong = client.post("/-/test/pd", data={"token": "am:hunter3"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="incident-adapter"'  # no dialog
    right = client.post("/-/test/pd", data={"token": "am:hunter2-SECRET"})
    assert right.status_code == 200 and "hunter2-SECRET" not in right.text


def test_page_action_shows_a_refusal_without_the_secret(make_client: MakeClient) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad key in {request.content.decode()}")

    client = make_client(echo)
    answer = client.post("/-/test/pd", json={}).json()
    assert answer["accepted"] is False
    assert answer["trigger"]["answer"].startswith("refused (upstream 400): upstream answered 400")
    page = client.post("/-/test/pd", data={"token": TOKEN})
    assert page.status_code == 502 and "did not go through" in page.text
    index = client.get("/", headers={"Accept": "application/json"}).text
    for text in (json.dumps(answer), page.text, index, client.get("/").text):
        assert ROUTING_KEY not in text and TOKEN not in text


def test_landing_page_lists_the_last_deliveries_bounded_newest_first(
    make_client: MakeClient,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["payload"]["source"] == "bad":
            return httpx.Response(400, text=f"no such routing key {ROUTING_KEY}")
        return httpx.Response(202)

    client = make_client(answer)
    alerts = [{**make_payload()["alerts"][0]} for _ in range(2)]
    for i in range(60):
        alerts[0]["labels"] = {"alertname": f"Alert{i}", "instance": f"i{i}"}
        client.post("/alerts/pd", json=make_payload(alerts[0]))
    alerts[1]["labels"] = {"alertname": "Broken", "instance": "bad"}
    assert client.post("/alerts/pd", json=make_payload(alerts[1])).status_code == 424
    recent = client.get("/", headers={"Accept": "application/json"}).json()["receivers"]["pd"][
        "recent"
    ]
    assert len(recent) == 50
    assert [r["alertname"] for r in recent[:3]] == ["Broken", "Alert59", "Alert58"]
    broken = recent[0]
    assert (broken["action"], broken["outcome"], broken["upstream_status"]) == (
        "trigger",
        "rejected",
        400,
    )
    assert "no such routing key <secret>" in broken["reason"]
    assert recent[1]["outcome"] == "delivered" and recent[1]["dedup_key"]
    page = client.get("/").text
    assert "<td>Broken</td>" in page and 'class="rejected">rejected</td><td>400</td>' in page
    assert "Alert9<" not in page  # pushed out of the 50
    assert ROUTING_KEY not in page
