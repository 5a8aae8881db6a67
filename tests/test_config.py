from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapter.config import DEFAULT_SOURCE, ConfigError, load_config
from tests.conftest import ROUTING_KEY, pd_config


def write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "c.yml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def problems(tmp_path: Path, doc: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, doc))
    return info.value.problems


def test_embedded_default_is_one_log_receiver() -> None:
    config = load_config(None)
    assert [(r.name, r.type) for r in config.receivers] == [("default", "log")]
    assert config.delivery.timeout == 8.0 and config.delivery.concurrency == 32
    assert not config.auth.enabled


def test_every_error_is_reported_at_once_with_its_path(tmp_path: Path) -> None:
    doc = pd_config(severity={"map": {"critical": "crit"}}, dedup_key={"strategy": "labels"})
    doc["delivery"] = {"timeout": 8, "concurency": 3}
    doc["receivers"].append({"name": "x", "type": "nope"})
    found = problems(tmp_path, doc)
    assert any(p.startswith("delivery.timeout: ") and "'8s'" in p for p in found)
    assert any(
        p.startswith("delivery.concurency: unknown key") and "concurrency" in p for p in found
    )
    assert any(
        p.startswith("receivers[0].severity.map.critical: 'crit' is not a severity") for p in found
    )
    assert any(p.startswith("receivers[0].dedup_key: ") and "labels" in p for p in found)
    assert any(p.startswith("receivers[1].type: ") and "events-v2" in p for p in found)
    assert len(found) == 5


def test_errors_never_echo_secret_values(tmp_path: Path) -> None:
    doc = pd_config(routing_keyy=ROUTING_KEY)
    doc["receivers"][0]["routing_key"] = 12345678901234
    report = "\n".join(problems(tmp_path, doc))
    assert ROUTING_KEY not in report and "12345678901234" not in report
    assert "receivers[0].routing_keyy: unknown key" in report


def test_duplicate_yaml_keys_and_duplicate_receiver_names_are_errors(tmp_path: Path) -> None:
    assert "duplicate key 'receivers'" in problems(tmp_path, "receivers: []\nreceivers: []\n")[0]
    doc = pd_config()
    doc["receivers"].append({"name": "pd", "type": "log"})
    assert problems(tmp_path, doc) == [
        "receivers[1].name: 'pd' is already the name of receivers[0]; names must be unique"
    ]


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, "receivers: [")[0].startswith("not valid YAML")
    assert "top level must be a mapping" in problems(tmp_path, "- a\n")[0]
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "nope.yml")


def test_secret_files_are_read_and_never_printed(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(ROUTING_KEY + "\n")
    (tmp_path / "tokens").write_text("# rotation: old and new\nold-token\n\nnew-token\n")
    doc = pd_config(routing_key_file=str(tmp_path / "key"))
    del doc["receivers"][0]["routing_key"]
    doc["auth"] = {"bearer_tokens_file": str(tmp_path / "tokens")}
    config = load_config(write(tmp_path, doc))
    receiver = config.receivers[0]
    assert receiver.key.reveal() == ROUTING_KEY  # type: ignore[union-attr]
    assert [t.reveal() for t in config.auth.tokens] == ["old-token", "new-token"]
    for shown in (repr(config), str(config), config.model_dump_json()):
        assert ROUTING_KEY not in shown and "new-token" not in shown
        assert "<secret>" in shown


def test_missing_secret_file_and_both_key_forms(tmp_path: Path) -> None:
    doc = pd_config(routing_key_file=str(tmp_path / "absent"))
    found = problems(tmp_path, doc)
    assert any(
        p.startswith("receivers[0].routing_key_file: cannot read secret file") for p in found
    )
    assert (
        any("exactly one of routing_key or routing_key_file" in p for p in found) or len(found) == 1
    )


def test_receiver_delivery_overrides_are_checked_against_the_defaults(tmp_path: Path) -> None:
    doc = pd_config(delivery={"attempt_timeout": "5s"})
    assert problems(tmp_path, doc) == [
        "receivers[0].delivery: attempt_timeout must be above 0 and at most timeout"
    ]
    doc = pd_config(delivery={"concurrency": 4})
    config = load_config(write(tmp_path, doc))
    effective = config.receivers[0].delivery.over(config.delivery)
    assert effective.concurrency == 4 and effective.timeout == 2.0


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCIDENT_ADAPTER_DELIVERY__TIMEOUT", "5s")
    monkeypatch.setenv("INCIDENT_ADAPTER_LIMITS__MAX_BODY_BYTES", "2048")
    config = load_config(write(tmp_path, pd_config()))
    assert config.delivery.timeout == 5.0
    assert config.delivery.attempt_timeout == 0.5  # the file's other values stay
    assert config.limits.max_body_bytes == 2048


def test_default_source_name() -> None:
    assert DEFAULT_SOURCE == "<embedded default>"


def test_a_rate_limit_reserve_must_leave_room_for_the_rest(tmp_path: Path) -> None:
    found = problems(tmp_path, pd_config(rate_limit={"requests": 10, "per": "1m", "reserve": 10}))
    assert (
        found
        and "receivers[0]" in found[0]
        and "reserve (10) must be below requests (10)" in found[0]
    )
    found = problems(tmp_path, pd_config(rate_limit={"requests": 10, "per": "0s"}))
    assert found and "per must be longer than 0s" in found[0]
    config = load_config(write(tmp_path, pd_config(rate_limit={"requests": 10, "reserve": 0})))
    rate_limit = config.receivers[0].rate_limit
    assert not isinstance(rate_limit, str) and rate_limit is not None and rate_limit.reserve == 0
