"""No secret on any surface: every kind of secret, every output, an upstream that echoes.

One adapter, run as a real process at log level debug, with a receiver for each kind of
secret: an inline routing key, a key file, a header from a file, a template's named secret
put in a URL query, a token in the url's query, a password in the url's userinfo (which the
client turns into a Basic header), a client TLS key (its path may show, its content never),
inbound bearer tokens and a basic-auth password. Its upstreams answer 400 or 503 with
everything they received: URL, headers, body (tests/standins/echo.py). Then every surface is
read and searched for every secret, in every form it was sent in: the webhook's answers, the
process's log at every level, /metrics, the landing page (HTML and JSON, with and without the
credential), `POST /-/test` (JSON and the form), a failed reload's answer and log line,
`render`, `check-config` (good and bad config) and `test`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.builders import TOKEN, make_alert, make_payload
from tests.harness.adapter import AdapterProcess, run_adapter
from tests.harness.certs import make_cert
from tests.harness.server import Server
from tests.standins.echo import Echo

ROUTING_KEY = "R0UTING-key-SECRET-0001"
QUERY_TOKEN = "QUERY+token/SECRET=0002"  # percent-encoded in the url
KEY_FILE = "0PSGENIE-key-SECRET-0003"
USERINFO_PASSWORD = "USERINFO@pw-SECRET-0004"  # percent-encoded in the url
HEADER_FILE = "X-api-key-SECRET-0005"
TEMPLATE_TOKEN = "TEMPLATE-token/SECRET-0006"  # a `/`: percent-encoded where a template puts it
BASIC_PASSWORD = "basic-pw-SECRET-0007"
STATUS_QUERY = "STATUS-key-SECRET-0008"
STATUS_KEY = "STATUSAPI-key-SECRET-0011"
# only in the config a reload and check-config refuse
RELOAD_PASSWORD = "RELOAD-pw-SECRET-0009"
RELOAD_TOKEN = "RELOAD-token-SECRET-0010"
RELOAD_TEMPLATE = "RELOAD-tmpl-SECRET-0012"

SECRETS = (
    ROUTING_KEY,
    QUERY_TOKEN,
    "QUERY%2Btoken%2FSECRET%3D0002",
    KEY_FILE,
    USERINFO_PASSWORD,
    "USERINFO%40pw-SECRET-0004",
    base64.b64encode(f"ops:{USERINFO_PASSWORD}".encode()).decode(),  # the Basic header
    HEADER_FILE,
    TEMPLATE_TOKEN,
    "TEMPLATE-token%2FSECRET-0006",
    BASIC_PASSWORD,
    base64.b64encode(f"am:{BASIC_PASSWORD}".encode()).decode(),
    TOKEN,
    STATUS_QUERY,
    STATUS_KEY,
    RELOAD_PASSWORD,
    RELOAD_TOKEN,
    RELOAD_TEMPLATE,
    # The heads of those secrets that a client re-encodes its own way (yarl requoted
    # `%2F` to `/` and kept `%3D`): found in any form.
    "R0UTING-key",
    "QUERY%2Btoken",
    "QUERY+token",
    "0PSGENIE-key",
    "USERINFO@pw",
    "USERINFO%40pw",
    "X-api-key-SECRET",
    "TEMPLATE-token",
    "basic-pw-SECRET",
    "STATUS-key-SECRET",
    "STATUSAPI-key",
    "RELOAD-",
)
RECEIVERS = ("pd", "og", "tm", "sp")


@pytest.fixture
def echoes() -> Iterator[tuple[Echo, Server, Echo, Server]]:
    refusing, failing = Echo(status=400), Echo(status=503)
    with Server(refusing) as refuse, Server(failing) as fail:
        yield refusing, refuse, failing, fail


def _config(tmp_path: Path, refuse: Server, fail: Server) -> tuple[dict[str, Any], list[str]]:
    """The config, and the lines of the TLS key's content (secret; its path is not)."""
    (tmp_path / "og-key").write_text(KEY_FILE + "\n")
    (tmp_path / "x-api-key").write_text(HEADER_FILE + "\n")
    make_cert("client", None, tmp_path)
    key_lines = [
        line
        for line in (tmp_path / "client.key").read_text().splitlines()
        if line and not line.startswith("-----")
    ]
    port = refuse.port
    request = {
        "method": "POST",
        "path": "/incidents?api_key={{ secrets.token }}&key={{ dedup_key }}",
        "headers": {"Authorization": "Bearer {{ secrets.token }}"},
        "body": '{"key": {{ dedup_key | tojson }}}',
    }
    doc = {
        "auth": {
            "bearer_tokens": [TOKEN],
            "basic_auth": {"username": "am", "password": BASIC_PASSWORD},
        },
        "delivery": {"timeout": "3s", "attempt_timeout": "1s", "max_attempts": 2},
        "receivers": [
            {
                "name": "pd",
                "type": "events-v2",
                "url": f"http://ops:USERINFO%40pw-SECRET-0004@127.0.0.1:{port}/v2/enqueue"
                "?token=QUERY%2Btoken%2FSECRET%3D0002",
                "routing_key": ROUTING_KEY,
                "http_config": {"header_files": {"X-Api-Key": str(tmp_path / "x-api-key")}},
            },
            {
                "name": "og",
                "type": "alias",
                "url": f"{refuse.url}/v2/alerts",
                "api_key_file": str(tmp_path / "og-key"),
                "http_config": {
                    "tls_config": {
                        "cert_file": str(tmp_path / "client.crt"),
                        "key_file": str(tmp_path / "client.key"),
                    }
                },
            },
            {
                "name": "tm",
                "type": "template",
                "url": f"{fail.url}/api",
                "secrets": {"token": TEMPLATE_TOKEN},
                "trigger": request,
                "resolve": request,
            },
            {
                "name": "sp",
                "type": "status-page",
                "flavor": "simple",
                "url": f"{refuse.url}/status/v1?apikey={STATUS_QUERY}",
                "api_key": STATUS_KEY,
                "page_id": "page-1",
                "components": {"api": "cmp-1"},
                "publish": True,
            },
        ],
    }
    return doc, key_lines


def _broken(doc: dict[str, Any]) -> dict[str, Any]:
    """The same config with urls a config check refuses, each holding a secret."""
    broken = json.loads(json.dumps(doc))
    pd, _, tm, _ = broken["receivers"]
    pd["url"] = f"ftp://ops:{RELOAD_PASSWORD}@h/x?token={RELOAD_TOKEN}"
    tm["url"] = f"http://h/api?k={RELOAD_TEMPLATE}"
    return broken


def _leaks(texts: dict[str, str], secrets: tuple[str, ...] | list[str]) -> list[str]:
    return [
        f"{secret!r} in {where}"
        for where, text in texts.items()
        for secret in secrets
        if secret in text
    ]


def test_no_secret_on_any_surface_with_an_upstream_that_echoes_everything(
    tmp_path: Path, echoes: tuple[Echo, Server, Echo, Server]
) -> None:
    refusing, refuse, failing, fail = echoes
    doc, key_lines = _config(tmp_path, refuse, fail)
    texts: dict[str, str] = {}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    payload_file = tmp_path / "payload.json"

    with AdapterProcess(tmp_path, doc, "--log.level=debug") as adapter:
        client = httpx.Client(base_url=adapter.url, timeout=30)
        for name in RECEIVERS:
            payload = make_payload(
                make_alert(instance="api-01", severity="critical", service="api"), receiver=name
            )
            answer = client.post(f"/alerts/{name}", json=payload, headers=auth)
            assert answer.status_code in (424, 503), answer.text
            texts[f"webhook answer {name}"] = answer.text
            texts[f"POST /-/test/{name} (JSON)"] = client.post(
                f"/-/test/{name}", json={"resolve_after": "0"}, headers=auth
            ).text
            texts[f"POST /-/test/{name} (form)"] = client.post(
                f"/-/test/{name}", data={"token": TOKEN, "resolve_after": "0"}
            ).text
        payload_file.write_text(json.dumps(payload))
        texts["/metrics"] = client.get("/metrics").text
        texts["landing page"] = client.get("/").text
        texts["landing page, credential"] = client.get("/", headers=auth).text
        as_json = {"Accept": "application/json"}
        texts["landing JSON"] = client.get("/", headers=as_json).text
        texts["landing JSON, credential"] = client.get("/", headers=as_json | auth).text
        adapter.config.write_text(yaml.safe_dump(_broken(doc)))
        reload = client.post("/-/reload", headers=auth)
        texts["reload answer"] = reload.text
        client.close()
    texts["log (debug)"] = adapter.log.read_text()

    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(yaml.safe_dump(doc))
    bad.write_text(yaml.safe_dump(_broken(doc)))
    for name in RECEIVERS:
        rendered = run_adapter(
            "render", f"--config.file={good}", f"--receiver={name}", str(payload_file)
        )
        texts[f"render {name}"] = rendered.stdout + rendered.stderr
        tested = run_adapter(
            "test",
            f"--config.file={good}",
            f"--receiver={name}",
            "--resolve-after=0",
            "--log.level=debug",
        )
        texts[f"test {name}"] = tested.stdout + tested.stderr
        assert tested.returncode == 1, texts[f"test {name}"]
    for path in (good, bad):
        checked = run_adapter("check-config", str(path))
        texts[f"check-config {path.name}"] = checked.stdout + checked.stderr

    # The surfaces did see the echoes and the refusals: nothing passes for having been empty.
    assert refusing.requests and failing.requests
    assert "upstream answered 400: refused" in texts["webhook answer pd"]
    assert "upstream answered 503: refused" in texts["webhook answer tm"]
    assert "authorization: Basic <secret>" in texts["webhook answer pd"]  # from the userinfo
    assert reload.status_code == 400 and "<secret>" in texts["reload answer"]
    assert "config.reload_failed" in texts["log (debug)"]
    assert '"level":"debug"' in texts["log (debug)"]
    assert "upstream answered 400" in texts["landing page"]
    assert "<secret>" in texts["render pd"] and "<secret>" in texts["render tm"]
    assert "FAILED" in texts["check-config bad.yml"] and "url" in texts["check-config bad.yml"]
    # Everything sent upstream held the secrets, so each surface could have leaked them.
    sent = "".join(
        r.raw_path + r.query + json.dumps(r.headers) + r.body.decode()
        for r in refusing.requests + failing.requests
    )
    for secret in (ROUTING_KEY, KEY_FILE, HEADER_FILE, STATUS_KEY, STATUS_QUERY):
        assert secret in sent
    assert _leaks(texts, [*SECRETS, *key_lines]) == []


def test_the_landing_page_shows_upstream_words_only_to_a_reader_with_the_credential(
    tmp_path: Path, echoes: tuple[Echo, Server, Echo, Server]
) -> None:
    """An upstream's error body can echo labels, annotations, anything it was sent: a visitor
    without the credential sees the status and the adapter's own reason only."""
    _, refuse, _, fail = echoes
    doc, _ = _config(tmp_path, refuse, fail)
    doc["receivers"] = doc["receivers"][:1]
    with AdapterProcess(tmp_path, doc) as adapter:
        client = httpx.Client(base_url=adapter.url, timeout=30)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        client.post("/alerts/pd", json=make_payload(receiver="pd"), headers=auth)
        as_json = {"Accept": "application/json"}
        anonymous = [client.get("/").text, client.get("/", headers=as_json).text]
        (recent,) = client.get("/", headers=as_json).json()["receivers"]["pd"]["recent"]
        known = [client.get("/", headers=auth).text, client.get("/", headers=as_json | auth).text]
        client.close()
    assert recent["reason"] == "upstream answered 400" and recent["upstream_status"] == 400
    # the echo's words: its first line, and a header it was sent
    for text in anonymous:
        assert "refused POST" not in text and "incident-adapter/0.1" not in text
    for text in known:
        assert "refused POST" in text and "incident-adapter/0.1" in text


def test_a_secret_cut_by_the_answer_limit_is_still_scrubbed(tmp_path: Path) -> None:
    """The detail keeps the first 300 characters of an upstream's answer: scrubbed before
    the cut, or a secret across it would leave its head."""
    from starlette.testclient import TestClient

    from adapter.app import create_app
    from adapter.transport import HttpxTransport
    from tests.builders import config_from, pd_config

    for offset in range(280, 300, 3):

        def handler(_: httpx.Request, offset: int = offset) -> httpx.Response:
            return httpx.Response(400, text="x" * offset + ROUTING_KEY)

        doc = pd_config(routing_key=ROUTING_KEY)
        transport = HttpxTransport(httpx.MockTransport(handler))
        with TestClient(create_app(config_from(doc, tmp_path), transport=transport)) as client:
            answer = client.post(
                "/alerts/pd", json=make_payload(), headers={"Authorization": f"Bearer {TOKEN}"}
            )
            client.portal.call(transport.aclose)
        assert ROUTING_KEY[:10] not in answer.text, offset


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h/hook?token=abc&x=", "https://h/hook?token=<secret>&x=<secret>"),
        ("https://user:pw@h:8443/p", "https://<secret>@h:8443/p"),
        ("https://TOKEN@h/p", "https://<secret>@h/p"),
        ("https://h/p?justatoken", "https://h/p?<secret>"),
        ("https://h/p?a=1&&b", "https://h/p?a=<secret>&<secret>"),
        ("https://h/p#frag", "https://h/p#<secret>"),
        ("https://h/p", "https://h/p"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    from adapter.secrets import redact_url

    assert redact_url(url) == shown


def test_url_secrets_are_scrubbed_in_every_form_short_values_only_with_their_name() -> None:
    from adapter.secrets import scrub, url_secrets

    secrets = url_secrets("https://ops:p%40ssw0rd-long@h/hook?token=a%2Bb%2Fc-long-value&fmt=json")
    text = (
        "got token=a%2Bb%2Fc-long-value, a+b/c-long-value, a%2Bb%2Fc-long-value; "
        "user ops:p@ssw0rd-long, p%40ssw0rd-long; Basic "
        + base64.b64encode(b"ops:p@ssw0rd-long").decode()
        + "; application/json; fmt=json"
    )
    out = scrub(text, secrets)
    for gone in (
        "a+b/c-long-value",
        "a%2Bb%2Fc-long-value",
        "p@ssw0rd-long",
        "p%40ssw0rd",
        "fmt=json",
    ):
        assert gone not in out
    assert "application/json" in out  # a short value is not scrubbed on its own


@pytest.mark.parametrize(
    "receiver",
    [
        {"type": "alias", "api_key": "k"},
        {
            "type": "events-v2",
            "routing_key": "k",
            "http_config": {"headers": {"authorization": "x"}},
        },
        # the events flavor alert24 sends its api_key as `Authorization: Bearer`
        {"type": "events-v2", "flavor": "alert24", "routing_key": "k", "api_key": "a"},
    ],
)
def test_a_url_user_password_and_an_authorization_header_are_a_config_error(
    tmp_path: Path, receiver: dict[str, Any]
) -> None:
    """Both would be the Authorization header: aiohttp refused every request with a
    ValueError (the webhook answered 500); now the config check names it."""
    from adapter.config.loader import ConfigError
    from tests.builders import config_from

    doc = {"receivers": [{"name": "r", "url": "https://ops:pw-SECRET-77@h/v2/alerts", **receiver}]}
    with pytest.raises(ConfigError) as info:
        config_from(doc, tmp_path)
    assert info.value.problems == [
        "receivers[0]: url: its user:password is sent as the Authorization header, which "
        "this receiver sets too (its key, or http_config); keep the credential in one place"
    ]


def test_a_key_in_a_url_files_path_is_scrubbed_where_only_the_path_is_echoed(
    tmp_path: Path,
) -> None:
    """Tools that put their key in the URL's path (alertmanager-webhook's url_file): an
    upstream echoing its request line shows the path, not the whole URL."""
    from adapter.secrets import scrub
    from tests.builders import config_from

    key = "K3Y-0123456789abcdef"
    (tmp_path / "url").write_text(f"https://app.alert24.test/integrations/alertmanager/{key}\n")
    receiver = {"name": "r", "type": "alertmanager-webhook", "url_file": str(tmp_path / "url")}
    config = config_from({"receivers": [receiver]}, tmp_path)
    echoed = f"404: no route POST /integrations/alertmanager/{key} (key {key})"
    out = scrub(echoed, config.receivers[0].secret_values())
    assert key not in out and "K3Y" not in out, out
