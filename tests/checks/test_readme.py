"""The README's promises point at tests that exist, and its example config is valid."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.builders import SECRETS_DIR
from tests.harness.adapter import run_adapter

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    return README[start : README.index("\n## ", start + 1)]


def test_every_test_the_guarantees_name_exists() -> None:
    table = section("Guarantees")
    named: set[tuple[str, str]] = set()
    for row in table.splitlines():
        current = None
        for file, test in re.findall(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", row):
            current = file or current
            if test:
                assert current, row
                named.add((current, test))
    assert len(named) > 20
    for file, test in named:
        tree = ast.parse((ROOT / file).read_text())
        functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert test in functions, f"README names {file}::{test}, which does not exist"


def test_the_annotated_config_passes_check_config(tmp_path: Path) -> None:
    block = section("Configuration").split("```yaml\n", 1)[1].split("```", 1)[0]
    for line in block.splitlines():
        if SECRETS_DIR in line and not line.lstrip().startswith("#"):
            name = line.split(SECRETS_DIR, 1)[1].split()[0]
            (tmp_path / name).write_text(f"example-{name}\n")
    config = tmp_path / "config.yml"
    config.write_text(block.replace(SECRETS_DIR, f"{tmp_path}/"))
    result = run_adapter("check-config", str(config))
    assert result.returncode == 0, result.stderr
