"""The docs hold together: every relative link in README.md and docs/ reaches a file (and its
#anchor a heading), every page is reachable from the index, and the configuration reference names
every key the config models accept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"
PAGES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", page.read_text()), re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(page: Path) -> list[str]:
    return [t for t in LINK.findall(FENCE.sub("", page.read_text())) if "://" not in t]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_reaches_a_file_and_heading(page: Path) -> None:
    broken = []
    for target in links(page):
        if target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_the_slug_is_githubs() -> None:
    assert slug("Severity by the clock") == "severity-by-the-clock"
    assert slug("`memo_ttl`: re-sends, restarts") == "memo_ttl-re-sends-restarts"
    assert slug("Alert24 (incidents API)") == "alert24-incidents-api"


def test_every_doc_page_is_reachable_from_the_index() -> None:
    reached, todo = set(), [INDEX]
    while todo:
        page = todo.pop()
        if page in reached:
            continue
        reached.add(page)
        for target in links(page):
            path = target.partition("#")[0]
            file = (page.parent / path).resolve() if path else page
            if file.suffix == ".md" and file.is_relative_to(DOCS) and file.exists():
                todo.append(file)
    orphans = [str(p.relative_to(ROOT)) for p in DOCS.rglob("*.md") if p.resolve() not in reached]
    assert not orphans, f"no path from docs/README.md to {orphans}"


def models() -> list[type[BaseModel]]:
    """Every pydantic model the config document is built from, walked from the root."""
    from adapter.config.document import Config

    found: list[type[BaseModel]] = []
    todo: list[object] = [Config]
    while todo:
        kind = todo.pop()
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if kind in found:
                continue
            found.append(kind)
            todo.extend(f.annotation for f in kind.model_fields.values())
        todo.extend(getattr(kind, "__args__", ()))
    return found


def test_the_configuration_reference_names_every_key() -> None:
    text = (DOCS / "reference" / "configuration.md").read_text()
    keys = {field.alias or name for model in models() for name, field in model.model_fields.items()}
    assert len(keys) > 30
    table = text[text.index("\n## Every key\n") :]
    missing = sorted(k for k in keys if f"| `{k}` |" not in table)
    assert not missing, f"docs/reference/configuration.md does not name: {missing}"
