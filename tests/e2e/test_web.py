"""The listener as a user deploys it: behind Debian's nginx under a path
(`--web.external-url`, `--web.route-prefix`), and with an exporter-toolkit web config's
`basic_auth_users` and `http_server_config`, each a real adapter process."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import httpx

from tests.builders import ROUTING_KEY, TOKEN, make_payload, pd_config
from tests.harness.adapter import AdapterProcess, run_adapter
from tests.harness.nginx import Nginx
from tests.harness.server import Server
from tests.standins.events import EventsAPI

PATH = "/incident-adapter/"
PASSWORD = "alertmanager-web-password-SECRET"


def test_a_webhook_through_nginx_under_a_path_opens_an_incident(tmp_path: Path) -> None:
    api = EventsAPI()
    with Server(api.app()) as upstream:
        adapter = AdapterProcess(tmp_path, pd_config(url=upstream.url + "/v2/enqueue"))
        with Nginx(tmp_path, PATH, f"http://127.0.0.1:{adapter.port}") as proxy:
            external = proxy.url + PATH
            adapter.flags = (f"--web.external-url={external}",)
            with adapter:
                bearer = {"Authorization": f"Bearer {TOKEN}"}
                answer = httpx.post(
                    external + "alerts/pd", json=make_payload(), headers=bearer, timeout=10
                )
                assert answer.status_code == 200, answer.text
                page = httpx.get(external, timeout=10).text
                scraped = httpx.get(external + "metrics", timeout=10).text
                # where a kubelet and a ServiceMonitor look: the pod itself, at the root
                assert httpx.get(adapter.url + "/-/healthy").status_code == 200
                assert httpx.get(adapter.url + "/metrics").status_code == 200
                off_prefix = httpx.post(adapter.url + "/alerts/pd", json={}, headers=bearer)
                started = [e for e in adapter.events() if e.get("event") == "adapter.starting"]
    assert [i.status for i in api.incidents.values()] == ["triggered"]
    assert off_prefix.status_code == 404
    assert f'href="{external}metrics"' in page and f'action="{external}-/test/pd"' in page
    assert 'incident_adapter_webhook_requests_total{code="200",receiver="pd"} 1.0' in scraped
    assert started[0]["route_prefix"] == "/incident-adapter"
    assert started[0]["external_url"] == external.rstrip("/")


def test_web_config_basic_auth_and_headers_on_a_real_process(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"basic_auth_users:\n  alertmanager: '{hashed}'\n"
        "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n"
    )
    doc = pd_config()
    del doc["auth"]  # the web config's users guard the listener
    api = EventsAPI()
    with Server(api.app()) as upstream:
        doc["receivers"][0]["url"] = upstream.url + "/v2/enqueue"
        adapter = AdapterProcess(tmp_path, doc, f"--web.config.file={web}")
        good = ("alertmanager", PASSWORD)
        adapter.start(ready_kwargs={"auth": good})
        try:
            refused = httpx.post(adapter.url + "/alerts/pd", json=make_payload())
            wrong = httpx.get(adapter.url + "/metrics", auth=("alertmanager", "nope"))
            health = httpx.get(adapter.url + "/-/healthy")
            delivered = httpx.post(adapter.url + "/alerts/pd", json=make_payload(), auth=good)
            again = httpx.post(adapter.url + "/alerts/pd", json=make_payload(), auth=good)
            scraped = httpx.get(adapter.url + "/metrics", auth=good)
        finally:
            assert adapter.stop() == 0
    assert (refused.status_code, wrong.status_code, health.status_code) == (401, 401, 401)
    assert refused.headers["www-authenticate"] == 'Basic realm="incident-adapter"'
    assert (delivered.status_code, again.status_code, scraped.status_code) == (200, 200, 200)
    for answer in (refused, delivered, scraped):
        assert answer.headers["x-frame-options"] == "deny"
    assert [i.status for i in api.incidents.values()] == ["triggered"]
    log = adapter.log.read_text()
    assert PASSWORD not in log and hashed not in log and ROUTING_KEY not in log
    assert '"basic_auth": true' in log or '"basic_auth":true' in log


def test_check_config_checks_the_web_config_with_each_config(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  alertmanager: '{hashed}'\n")
    bad = tmp_path / "bad-web.yml"
    bad.write_text(f"basic_auth_users:\n  alertmanager: '{hashed[:-2]}'\n")
    http2 = tmp_path / "http2.yml"
    http2.write_text("http_server_config:\n  http2: true\n")
    no_auth = tmp_path / "no-auth.yml"
    no_auth.write_text("receivers: [{name: dry, type: log}]\n")
    with_auth = tmp_path / "with-auth.yml"
    with_auth.write_text(
        f"auth: {{bearer_tokens: ['{TOKEN}']}}\nreceivers: [{{name: dry, type: log}}]\n"
    )
    everywhere = "--web.listen-address=0.0.0.0:9095"

    guarded = run_adapter("check-config", everywhere, f"--web.config.file={web}", str(no_auth))
    assert guarded.returncode == 0, guarded.stderr
    open_to_all = run_adapter("check-config", everywhere, str(no_auth))
    assert open_to_all.returncode == 1 and "without an inbound credential" in open_to_all.stderr
    both = run_adapter("check-config", f"--web.config.file={web}", str(with_auth))
    assert both.returncode == 1 and "keep one of the two" in both.stderr
    broken = run_adapter("check-config", f"--web.config.file={bad}", str(no_auth))
    assert broken.returncode == 1
    assert "basic_auth_users: Value error, user 'alertmanager': the value is not a bcrypt" in (
        broken.stderr
    )
    assert hashed[:-2] not in broken.stderr + broken.stdout
    no_http2 = run_adapter("check-config", f"--web.config.file={http2}", str(no_auth))
    assert no_http2.returncode == 1 and "http_server_config.http2" in no_http2.stderr
    start = run_adapter(f"--config.file={no_auth}", f"--web.config.file={http2}")
    assert start.returncode == 2 and "HTTP/1.1 only" in start.stderr
