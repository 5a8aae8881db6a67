"""Every Alertmanager release since 0.25, and Grafana's compatible webhook, through the real app.

One payload per release (tests/fixtures/README.md says which were captured from a real binary
and which were written from the release's source), posted the way that sender posts it: compact
JSON, its headers. Each must become one delivered event per alert, keyed by the alert's own
fingerprint, trigger or resolve by the alert's own status. docs/alertmanager-versions.md lists
what each release adds to the payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.builders import TOKEN, fixture
from tests.harness.system import ALERTMANAGER_ENV, require

MakeClient = Callable[..., TestClient]

# fixture, its sender's headers, the fields that release added which the payload must carry
RELEASES = [
    pytest.param("am028_firing_one.json", "am028_headers.json", (), id="0.28.1-captured-firing"),
    pytest.param("am028_mixed.json", "am028_headers.json", (), id="0.28.1-captured-mixed"),
    pytest.param("am028_resolved.json", "am028_headers.json", (), id="0.28.1-captured-resolved"),
    pytest.param("am026_mixed.json", "am025_headers.json", (), id="0.26"),
    pytest.param("am027_utf8_mixed.json", "am025_headers.json", (), id="0.27-utf8-label-names"),
    pytest.param("am029_truncated.json", "am028_headers.json", (), id="0.29-max_alerts"),
    pytest.param("am030_mixed.json", "am030_headers.json", (), id="0.30-traceparent"),
    pytest.param("am031_mixed.json", "am030_headers.json", (), id="0.31"),
    pytest.param("am032_mixed.json", "am030_headers.json", ("notification_reason",), id="0.32"),
    pytest.param(
        "am033_firing_one.json",
        "am033_headers.json",
        ("notification_reason",),
        id="0.33.1-captured-firing-traced",
    ),
    pytest.param(
        "am033_mixed.json",
        "am033_headers.json",
        ("notification_reason",),
        id="0.33.1-captured-mixed-traced",
    ),
    pytest.param(
        "am033_resolved.json",
        "am033_headers.json",
        ("notification_reason",),
        id="0.33.1-captured-resolved-traced",
    ),
    pytest.param(
        "am034_route_labels.json",
        "am030_headers.json",
        ("notification_reason", "routeLabels"),
        id="0.34-route-labels",
    ),
    pytest.param(
        "grafana12_v1_mixed.json",
        "grafana12_headers.json",
        ("orgId", "title", "state", "message", "appVersion"),
        id="grafana-12-version-1",
    ),
]

# Set by the HTTP client or the test client itself; the rest are what the sender adds.
TRANSPORT_HEADERS = {"host", "content-length"}


def sender_headers(name: str) -> dict[str, str]:
    headers: dict[str, str] = fixture(name)["headers"]
    return {k: v for k, v in headers.items() if k.lower() not in TRANSPORT_HEADERS}


@pytest.mark.parametrize(("payload_file", "headers_file", "added"), RELEASES)
def test_each_releases_payload_becomes_one_delivered_event_per_alert(
    make_client: MakeClient, payload_file: str, headers_file: str, added: tuple[str, ...]
) -> None:
    """The release's whole payload, extra fields and all, reaches the incident API alert by alert."""
    sent: list[dict[str, Any]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(202, json={"status": "success"})

    client = make_client(upstream)
    payload = fixture(payload_file)
    assert set(added) <= payload.keys(), f"{payload_file} lacks what its release adds"
    # As Go's json.Encoder writes it: compact, one trailing newline.
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    headers = {**sender_headers(headers_file), "Authorization": f"Bearer {TOKEN}"}

    response = client.post("/alerts/pd", content=body, headers=headers)

    assert response.status_code == 200, response.text
    report = response.json()
    count = len(payload["alerts"])
    assert (report["received"], report["delivered"]) == (count, count)
    assert {e["dedup_key"]: e["event_action"] for e in sent} == {
        a["fingerprint"]: "trigger" if a["status"] == "firing" else "resolve"
        for a in payload["alerts"]
    }


def test_grafana_values_null_is_what_grafana_sends_for_an_alert_without_values() -> None:
    """The fixture keeps Grafana's `"values": null`, so the test above covers it."""
    alerts = fixture("grafana12_v1_mixed.json")["alerts"]
    assert [a["values"] for a in alerts if a["status"] == "resolved"] == [None]


def test_alertmanager_override_picks_the_binary_and_the_amtool_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """INCIDENT_ADAPTER_TEST_ALERTMANAGER points the real-Alertmanager tests at another build."""
    for name in ("prometheus-alertmanager", "amtool"):
        program = tmp_path / name
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    monkeypatch.setenv(ALERTMANAGER_ENV, str(tmp_path / "prometheus-alertmanager"))
    assert require("prometheus-alertmanager", "prometheus-alertmanager") == str(
        tmp_path / "prometheus-alertmanager"
    )
    assert require("amtool", "prometheus-alertmanager") == str(tmp_path / "amtool")


def test_alertmanager_override_to_a_missing_file_fails_instead_of_falling_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong path must not run the tests against the Alertmanager on PATH and claim otherwise."""
    monkeypatch.setenv(ALERTMANAGER_ENV, str(tmp_path / "nowhere" / "alertmanager"))
    with pytest.raises(pytest.fail.Exception, match=ALERTMANAGER_ENV):
        require("prometheus-alertmanager", "prometheus-alertmanager")
