from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from adapter.cli import main
from tests.builders import FIXTURES, ROUTING_KEY, TOKEN, make_alert, make_payload, pd_config
from tests.harness.adapter import AdapterProcess
from tests.harness.adapter import run_adapter as run
from tests.harness.server import Server
from tests.standins.events import EventsAPI


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("incident-adapter ")


def test_check_config_accepts_good_and_rejects_bad_naming_each_path(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(yaml.safe_dump(pd_config()))
    bad = tmp_path / "bad.yml"
    doc = pd_config(severity={"default": "urgent"}, dedup_key={"strategy": "hash"})
    bad.write_text(yaml.safe_dump(doc))
    assert main(["check-config", str(good)]) == 0
    result = run("check-config", str(good), str(bad))
    assert result.returncode == 1
    assert f"Checking '{good}'  SUCCESS" in result.stdout
    assert "receivers[0].severity.default: <value> is not a severity" in result.stderr
    assert "receivers[0].dedup_key.strategy:" in result.stderr
    assert ROUTING_KEY not in result.stdout + result.stderr


def test_refuses_to_listen_beyond_loopback_without_a_credential(tmp_path: Path) -> None:
    result = run("--web.listen-address=0.0.0.0:0")
    assert result.returncode == 1
    assert "refusing to listen on 0.0.0.0 without an inbound credential" in result.stderr
    assert "bearer_tokens_file" in result.stderr


def test_bad_listen_address() -> None:
    result = run("--web.listen-address=nowhere")
    assert result.returncode == 2 and "HOST:PORT" in result.stderr


def test_render_prints_requests_with_secrets_redacted(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(pd_config()))
    payload = json.dumps(
        make_payload(make_alert(instance="a"), make_alert("resolved", instance="b"))
    ).encode()
    result = run("render", f"--config.file={config}", "-", stdin=payload)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [r["body"]["event_action"] for r in out["requests"]] == ["trigger", "resolve"]
    assert all(r["body"]["routing_key"] == "<secret>" for r in out["requests"])
    assert ROUTING_KEY not in result.stdout


def test_serve_end_to_end_with_aiohttp_against_the_stand_in(tmp_path: Path) -> None:
    """The real process: config file from the environment, bearer token, aiohttp to a real server."""
    api = EventsAPI()
    with Server(api.app()) as upstream:
        doc = pd_config(url=upstream.url + "/v2/enqueue")
        (tmp_path / "tokens").write_text(TOKEN + "\n")
        doc["auth"] = {"bearer_tokens_file": str(tmp_path / "tokens")}
        adapter = AdapterProcess(tmp_path, doc, config_from_env=True)
        with adapter:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            payload = json.loads((FIXTURES / "am025_firing_two.json").read_text())
            response = httpx.post(adapter.url + "/alerts/pd", json=payload, headers=headers)
            assert response.status_code == 200, response.text
            assert api.open_keys() == {a["fingerprint"] for a in payload["alerts"]}
            assert httpx.post(adapter.url + "/alerts/pd", json=payload).status_code == 401
            assert adapter.proc is not None
            proc = adapter.proc
        assert proc.returncode == 0
        assert any(line["event"] == "event.delivered" for line in adapter.events())
        logs = adapter.log.read_text()
        assert ROUTING_KEY not in logs and TOKEN not in logs


@pytest.mark.parametrize(
    "fixture_name", ["am025_firing_one.json", "am025_mixed.json", "am025_resolved.json"]
)
def test_real_payloads_render(tmp_path: Path, fixture_name: str) -> None:
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(pd_config()))
    result = run("render", f"--config.file={config}", "--receiver=pd", str(FIXTURES / fixture_name))
    assert result.returncode == 0, result.stderr
    payload = json.loads((FIXTURES / fixture_name).read_text())
    keys = {r["dedup_key"] for r in json.loads(result.stdout)["requests"]}
    assert keys == {a["fingerprint"] for a in payload["alerts"]}


def test_render_shows_a_shared_keys_action_as_the_incidents(tmp_path: Path) -> None:
    """A resolved and a firing alert sharing one key: one request, a trigger, shown as one."""
    config = tmp_path / "c.yml"
    key = {"strategy": "template", "template": "{{ group_key }}-{{ labels.alertname }}"}
    config.write_text(yaml.safe_dump(pd_config(dedup_key=key)))
    payload = json.dumps(
        make_payload(make_alert("resolved", instance="a"), make_alert(instance="b"))
    ).encode()
    result = run("render", f"--config.file={config}", "-", stdin=payload)
    assert result.returncode == 0, result.stderr
    ((request,),) = [json.loads(result.stdout)["requests"]]
    assert request["dedup_key"] == '{}:{alertname="HighErrorRate"}-HighErrorRate'
    assert request["action"] == request["body"]["event_action"] == "trigger"


def test_check_config_fails_what_the_start_would_fail(tmp_path: Path) -> None:
    """check-config passed `password: ""`, which then failed at start with an AssertionError;
    and it now checks the credentials against the listen address, as the start does."""
    config = tmp_path / "c.yml"
    doc = pd_config()
    doc["auth"] = {"basic_auth": {"username": "am", "password": ""}}
    config.write_text(yaml.safe_dump(doc))
    result = run("check-config", str(config))
    assert result.returncode == 1 and f"Checking '{config}'  FAILED" in result.stderr
    assert "auth.basic_auth.password: must not be empty or only whitespace" in result.stderr
    doc["auth"] = {"bearer_tokens": ["short-SECRET"]}
    config.write_text(yaml.safe_dump(doc))
    assert run("check-config", str(config)).returncode == 0  # fine on loopback
    for args, env in (
        (["--web.listen-address=0.0.0.0:9095"], {}),
        ([], {"INCIDENT_ADAPTER_WEB_LISTEN_ADDRESS": "0.0.0.0:9095"}),
    ):
        result = run("check-config", *args, str(config), env=env)
        assert result.returncode == 1
        assert "auth.bearer_tokens[0]: shorter than 16 characters" in result.stderr
        assert "openssl rand -hex 32" in result.stderr
        assert "SECRET" not in result.stdout + result.stderr


def test_a_short_token_is_refused_at_start_off_loopback(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\nshort-SECRET\n")
    doc = pd_config()
    doc["auth"] = {"bearer_tokens_file": str(tokens)}
    config.write_text(yaml.safe_dump(doc))
    result = run(f"--config.file={config}", "--web.listen-address=0.0.0.0:0")
    assert result.returncode == 1
    assert "auth.bearer_tokens_file: token 2 of the 2" in result.stderr
    assert "openssl rand -hex 32" in result.stderr
    assert "SECRET" not in result.stdout + result.stderr


def test_a_web_config_that_uvicorn_would_fail_on_is_refused_by_check_config_and_start(
    tmp_path: Path,
) -> None:
    """Files that exist but hold no certificate passed, and uvicorn failed at start with a
    traceback; a YAML error printed the offending line."""
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump(pd_config()))
    (tmp_path / "tls.crt").write_text("not a certificate\n")
    (tmp_path / "tls.key").write_text("not a key\n")
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {tmp_path / 'tls.crt'}\n  key_file: {tmp_path / 'tls.key'}\n"
    )
    checked = run("check-config", f"--web.config.file={web}", str(config))
    started = run(f"--config.file={config}", f"--web.config.file={web}")
    for result in (checked, started):
        assert result.returncode in (1, 2)
        assert "tls_server_config.cert_file, key_file: cannot load them" in result.stderr
        assert "Traceback" not in result.stderr
    web.write_text('tls_server_config: {cert_file: "web-SECRET-token\n')
    result = run("check-config", f"--web.config.file={web}", str(config))
    assert result.returncode == 1 and "not valid YAML: line " in result.stderr
    assert "SECRET" not in result.stderr
