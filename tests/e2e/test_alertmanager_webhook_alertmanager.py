"""The alertmanager-webhook dialect end to end: a real Alertmanager 0.25 through the adapter
process (one incident per alert) and straight to the tool (one per group)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.builders import (
    HMAC_SECRET,
    HOOK_TOKEN,
    TOKEN,
    amwebhook_config,
)
from tests.harness.adapter import AdapterProcess
from tests.harness.alertmanager import Alertmanager
from tests.harness.process import wait_for
from tests.harness.server import Server
from tests.standins.amwebhook import InboundAlertmanager


@pytest.mark.alertmanager
def test_alertmanager_through_the_adapter_is_one_incident_per_alert_and_straight_one_per_group(
    tmp_path: Path,
) -> None:
    """Two alerts fire in one group, AM re-sends, one resolves while the other fires, then the
    rest. Through the adapter: two incidents, each opened once, the right one closed first,
    none left open. The same webhooks straight to the tool: one incident for the group, which
    one host recovering does not close."""
    (tmp_path / "hook-token").write_text(HOOK_TOKEN + "\n")
    (tmp_path / "hmac").write_text(HMAC_SECRET + "\n")
    per_alert = InboundAlertmanager(bearer=HOOK_TOKEN, signature=(HMAC_SECRET, "X-Signature", ""))
    per_group = InboundAlertmanager(bearer=TOKEN)  # AM's own token: the tool's, straight
    with Server(per_alert.app()) as tool, Server(per_group.app()) as straight:
        (tmp_path / "tokens").write_text(TOKEN + "\n")
        http = {
            "authorization": {"credentials_file": str(tmp_path / "hook-token")},
            "signature": {"secret_file": str(tmp_path / "hmac")},
        }
        doc = amwebhook_config(
            name="hook", url=tool.url + "/integrations/alertmanager/key-123", http_config=http
        )
        doc["auth"] = {"bearer_tokens_file": str(tmp_path / "tokens")}
        # memo off: each AM re-send reaches the tool, so updates (not second incidents) show
        doc["delivery"] = {"timeout": "5s", "attempt_timeout": "1s", "memo_ttl": "0s"}
        adapter = AdapterProcess(tmp_path, doc, "--log.level=debug")
        token_file = tmp_path / "am-token"
        token_file.write_text(TOKEN)
        am = Alertmanager(tmp_path, f"http://127.0.0.1:{adapter.port}/alerts/hook", token_file)
        am_config = yaml.safe_load(am.config.read_text())
        hooks = am_config["receivers"][0]["webhook_configs"]
        hooks.append({**hooks[0], "url": straight.url + "/integrations/alertmanager/key-456"})
        am.config.write_text(yaml.safe_dump(am_config))
        adapter.start()
        try:
            with am:
                one = {"alertname": "HighErrorRate", "instance": "api-01", "severity": "critical"}
                two = {"alertname": "HighErrorRate", "instance": "api-02", "severity": "warning"}
                am.alert(**one)
                am.alert(**two)
                wait_for(lambda: len(per_alert.open_keys()) == 2, what="two incidents")
                wait_for(
                    lambda: all(i.updates >= 1 for i in per_alert.incidents),
                    20,
                    "a re-send of the group to update both incidents",
                )
                wait_for(lambda: per_group.incidents, what="the straight webhook")
                by_host = {i.alerts[0]["labels"]["instance"]: i for i in per_alert.incidents}
                assert set(by_host) == {"api-01", "api-02"}

                am.alert(resolve=True, **one)
                wait_for(
                    lambda: by_host["api-01"].status == "resolved", what="api-01's incident closed"
                )
                assert by_host["api-02"].status == "open"
                # straight: the group still fires (api-02), so its one incident stays open
                wait_for(
                    lambda: any(a["status"] == "resolved" for a in per_group.incidents[0].alerts),
                    20,
                    "AM to post the half-resolved group straight",
                )
                assert per_group.open_keys() == {per_group.incidents[0].group_key}

                am.alert(resolve=True, **two)
                wait_for(lambda: not per_alert.open_keys(), what="the last resolve")
                wait_for(lambda: not per_group.open_keys(), what="the group's resolve")
        finally:
            adapter.stop()
            logs = adapter.log.read_text()
            assert HOOK_TOKEN not in logs and HMAC_SECRET not in logs and TOKEN not in logs
    assert len(per_alert.incidents) == 2
    assert [per_alert.opened(i.group_key) for i in per_alert.incidents] == [1, 1]
    assert per_alert.refused == []
    assert len(per_group.incidents) == 1  # what the dialect replaces: one for the whole group
