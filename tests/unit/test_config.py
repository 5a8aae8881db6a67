from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from adapter.config.loader import DEFAULT_SOURCE, ConfigError, load_config
from tests.builders import ROUTING_KEY, pd_config


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
        p.startswith("receivers[0].severity.map.critical: <value> is not a severity") for p in found
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


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        ({"bearer_tokens": [""]}, "auth.bearer_tokens[0]"),
        ({"bearer_tokens": ["inbound-token-0123456789", " \t"]}, "auth.bearer_tokens[1]"),
        ({"basic_auth": {"username": "am", "password": ""}}, "auth.basic_auth.password"),
        (
            {"basic_auth": {"username": " ", "password": "pw-0123456789abcdef"}},
            "auth.basic_auth.username",
        ),
    ],
)
def test_an_empty_or_blank_credential_is_an_error_naming_its_path(
    tmp_path: Path, auth: dict[str, object], path: str
) -> None:
    """An empty token matched `Authorization: Bearer` with nothing after it: an open door."""
    doc = pd_config()
    doc["auth"] = auth
    assert problems(tmp_path, doc) == [f"{path}: must not be empty or only whitespace"]


def test_a_blank_credential_from_the_environment_or_a_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a templated config with an unset variable produces, from every other source."""
    (tmp_path / "blank").write_text(" \n\t\n")
    doc = pd_config()
    doc["auth"] = {"basic_auth": {"username": "am", "password_file": str(tmp_path / "blank")}}
    (found,) = problems(tmp_path, doc)
    assert found.startswith("auth.basic_auth.password_file: ") and "is empty" in found
    doc["auth"] = {"bearer_tokens_file": str(tmp_path / "blank")}
    (found,) = problems(tmp_path, doc)
    assert "bearer_tokens_file" in found and "holds no token" in found
    del doc["auth"]
    monkeypatch.setenv("INCIDENT_ADAPTER_AUTH__BEARER_TOKENS", '[""]')
    assert problems(tmp_path, doc) == [
        "auth.bearer_tokens[0]: must not be empty or only whitespace"
    ]


def test_an_unreadable_environment_override_is_a_config_error_without_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCIDENT_ADAPTER_AUTH__BEARER_TOKENS", "not-json-SECRET")
    (found,) = problems(tmp_path, pd_config())
    assert found.startswith("auth: the environment variable INCIDENT_ADAPTER_AUTH__BEARER_TOKENS")
    assert "SECRET" not in found


def test_a_byte_order_mark_is_dropped_from_secret_files_with_a_warning(tmp_path: Path) -> None:
    """Notepad's UTF-8 starts with U+FEFF, which no editor shows: kept, every request got 401."""
    (tmp_path / "tokens").write_text("\ufeffinbound-token-0123456789\n", encoding="utf-8")
    (tmp_path / "key").write_text("\ufeff" + ROUTING_KEY, encoding="utf-8")
    doc = pd_config(routing_key_file=str(tmp_path / "key"))
    del doc["receivers"][0]["routing_key"]
    doc["auth"] = {"bearer_tokens_file": str(tmp_path / "tokens")}
    with capture_logs() as logs:
        config = load_config(write(tmp_path, doc))
    assert [t.reveal() for t in config.auth.tokens] == ["inbound-token-0123456789"]
    assert config.receivers[0].key.reveal() == ROUTING_KEY  # type: ignore[union-attr]
    warned = [e for e in logs if e["event"] == "secret_file.bom_stripped"]
    assert {e["path"] for e in warned} == {str(tmp_path / "tokens"), str(tmp_path / "key")}
    assert all(e["log_level"] == "warning" for e in warned)
    assert "inbound-token" not in repr(logs) and ROUTING_KEY not in repr(logs)


@pytest.mark.parametrize(
    "text",
    [
        'auth:\n  bearer_tokens: ["inbound-SECRET-token"\nreceivers: []\n',
        "auth:\n  bearer_tokens: [inbound-SECRET-token]\n\tbasic_auth: {}\n",
        'receivers:\n  - name: pd\n    routing_key: "inbound-SECRET-\\q"\n',
        "auth: {bearer_tokens: inbound-SECRET-token, bearer_tokens: inbound-SECRET-2}\n",
    ],
)
def test_a_yaml_error_names_the_place_and_kind_never_the_line(tmp_path: Path, text: str) -> None:
    (found,) = problems(tmp_path, text)
    assert found.startswith("not valid YAML: line ") and ", column " in found
    assert "SECRET" not in found


def test_validation_errors_never_echo_a_value_that_could_be_a_secret(tmp_path: Path) -> None:
    """A secret pasted one key off, or indented wrongly, lands where a duration, a severity
    or a matcher was expected; the error must name the place and not print it."""
    secret = "pd-SECRET-0123456789abcdef"
    doc = pd_config(
        severity={"default": secret, "map": {"crit": secret}},
        matchers=[secret],
        delivery={"timeout": secret},
        url=secret,
    )
    found = problems(tmp_path, doc)
    assert found and all(secret not in p and "SECRET" not in p for p in found)
    assert (
        "receivers[0].severity.default: <value> is not a severity; use one of critical, error, warning, info"
        in found
    )
    assert any(
        p.startswith("receivers[0].delivery.timeout: <value> is not a duration") for p in found
    )
    assert any(p.startswith("receivers[0].matchers: ") for p in found)
    # a value the schema offers as a choice is no secret, and helps
    (found_type,) = problems(tmp_path, pd_config(dedup_key={"strategy": "group", "labels": ["a"]}))
    assert "not 'group'" in found_type
