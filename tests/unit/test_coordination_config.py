"""The `coordination:` block: checked at load like every other key, each problem with its
path and never the value (a URL may carry a pasted password); absent by default."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapter.config.loader import ConfigError, load_config
from tests.builders import pd_config


def load(tmp_path: Path, coordination: object) -> list[str]:
    doc = pd_config(url="http://127.0.0.1:9/v2/enqueue")
    doc["coordination"] = coordination
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(doc))
    try:
        load_config(path)
    except ConfigError as exc:
        return exc.problems
    return []


def test_no_store_by_default() -> None:
    assert load_config(None).coordination is None


def test_a_full_block_loads_and_its_password_file_is_a_secret(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("hunter2-redis\n")
    doc = {
        "redis": {
            "url": "redis://redis:6379/2",
            "username": "adapter",
            "password_file": str(tmp_path / "pw"),
            "timeout": "250ms",
            "key_prefix": "ia",
        },
        "replicas": 3,
    }
    assert load(tmp_path, doc) == []
    path = tmp_path / "config.yml"
    config = load_config(path)
    assert config.coordination is not None
    redis = config.coordination.redis
    assert (redis.timeout, redis.database, config.coordination.replicas) == (0.25, 2, 3)
    assert "hunter2-redis" not in repr(config) and "hunter2-redis" in config.secret_values()


@pytest.mark.parametrize(
    ("redis", "problem"),
    [
        ({"url": "http://redis:6379"}, "coordination.redis.url"),
        ({"url": "redis://user:pa55word@redis:6379/0"}, "coordination.redis.url"),
        ({"url": "redis://redis:6379/zero"}, "coordination.redis.url"),
        ({"url": "redis:///0"}, "coordination.redis.url"),
        ({"url": "redis://redis:6379", "timeout": "0s"}, "coordination.redis.timeout"),
        ({"url": "redis://redis:6379", "tls_config": {}}, "coordination.redis"),
        (
            {"url": "redis://redis:6379", "password": "a", "password_file": "/x"},
            "coordination.redis",
        ),
        ({"url": "redis://redis:6379", "port": 1}, "coordination.redis.port"),
    ],
)
def test_a_bad_block_is_a_config_error_with_its_path(
    tmp_path: Path, redis: dict[str, object], problem: str
) -> None:
    problems = load(tmp_path, {"redis": redis})
    assert problems and any(p.startswith(problem) for p in problems), problems
    assert not any("pa55word" in p for p in problems)


def test_replicas_must_be_at_least_one(tmp_path: Path) -> None:
    problems = load(tmp_path, {"redis": {"url": "redis://r:6379"}, "replicas": 0})
    assert any(p.startswith("coordination.replicas") for p in problems)
