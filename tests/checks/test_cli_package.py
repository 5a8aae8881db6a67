"""The command line is presentation: adapter/cli/ imports the rest, nothing imports it back
but `python -m adapter`, so a subcommand's parsing never leaks into the service."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "adapter"


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_nothing_below_the_command_line_imports_it() -> None:
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent.name != "cli" and path.name != "__main__.py"
        for name in imported(path)
        if name == "adapter.cli" or name.startswith("adapter.cli.")
    ]
    assert offenders == []
