"""Every example config in examples/ loads and renders the example payload: docs that run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.builders import EXAMPLES, localised
from tests.harness.adapter import run_adapter


def payload_for(example: Path) -> Path:
    """The shared example payload, or the example's own (`NAME.payload.json`) where its
    receiver needs labels the shared one lacks (e.g. customer_facing)."""
    own = example.with_suffix(".payload.json")
    return own if own.exists() else EXAMPLES / "payload.json"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yml")), ids=lambda p: p.name)
def test_example_checks_and_renders(example: Path, tmp_path: Path) -> None:
    config = localised(example, tmp_path)
    check = run_adapter("check-config", str(config))
    assert check.returncode == 0, check.stderr
    render = run_adapter("render", f"--config.file={config}", str(payload_for(example)))
    assert render.returncode == 0, render.stderr
    out = json.loads(render.stdout)
    assert out["requests"], "the example payload should produce requests"
    assert "example-" not in render.stdout  # every secret shows as <secret>


DOCS = Path(__file__).parents[2] / "docs"
RENDERED = re.compile(r"<!-- render: (examples/[\w.-]+\.yml) -->\n```json\n(.*?)\n```", re.S)
PASTED = [
    (doc, example, text)
    for doc in sorted(DOCS.rglob("*.md"))
    for example, text in RENDERED.findall(doc.read_text())
]


@pytest.mark.parametrize(
    ("doc", "example", "pasted"), PASTED, ids=[f"{d.name}:{e}" for d, e, _ in PASTED]
)
def test_render_output_pasted_in_the_docs_is_what_render_prints(
    doc: Path, example: str, pasted: str, tmp_path: Path
) -> None:
    """A doc's `<!-- render: examples/X.yml -->` block is the real output on examples/payload.json."""
    config = localised(EXAMPLES.parent / example, tmp_path)
    render = run_adapter("render", f"--config.file={config}", str(EXAMPLES / "payload.json"))
    assert render.returncode == 0, render.stderr
    assert json.loads(pasted) == json.loads(render.stdout), f"{doc.name}: re-paste {example}"
