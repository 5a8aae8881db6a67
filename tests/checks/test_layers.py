"""The package's layers import downward only, without cycles, and docs/explanation/design.md lists them.

Every module under adapter/ is parsed (not imported) and each import of another adapter
module is checked against LAYERS: a module may import its own layer or any below, never one
above. Imports under `if TYPE_CHECKING:` and inside functions count too: a layer that needs a
type from above has the layers wrong. A module missing from the table fails, so a new one is
placed on purpose; so does a module that docs/explanation/design.md's "## Layout" section does not list.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "adapter"

# Top to bottom. What each layer is, and why a module sits where it does: docs/explanation/design.md.
ORDER = (
    "presentation",  # the command line, the entry point
    "edge",  # HTTP in: the app, the server, the webhook and the other endpoints
    "views",  # what the edge shows a person: the page at `/`
    "runtime",  # what a loaded config becomes: state, credentials, recent activity, probes
    "delivery",  # sending: concurrency, retries, rate windows, the memo; the report of it
    "plan",  # from a payload to the requests to send: split, filter, key, storm, render;
    #          the receivers they go to, with their rate windows
    "config",  # the document and its loader (config/document.py, loader.py): they name every dialect
    "dialects",  # integrations/: one module per incident API, behind one interface
    "settings",  # config/ models below the dialects: what receivers share, http_config, auth
    "rules",  # pure rules over alerts: keys, severity, matchers, time intervals, templates,
    #           vendor size limits and fitting
    "model",  # the values that flow between stages: payload, events
    "base",  # small utilities: durations, urls, secrets, logs, the version
)

LAYERS: dict[str, str] = {
    # presentation
    "adapter.__main__": "presentation",
    "adapter.cli": "presentation",  # a package or a module: every module under it
    # edge
    "adapter.app": "edge",
    "adapter.server": "edge",
    "adapter.webhook": "edge",
    "adapter.endpoints": "edge",
    "adapter.bodies": "edge",
    # views
    "adapter.landing": "views",  # served by endpoints: below them, above what it shows
    # runtime
    "adapter.state": "runtime",
    "adapter.auth": "runtime",  # built by state from the web config, used by the edge
    "adapter.activity": "runtime",
    "adapter.testalert": "runtime",  # a test incident through plan, delivery and report
    # delivery
    "adapter.delivery": "delivery",
    "adapter.transport": "delivery",
    "adapter.memo": "delivery",
    "adapter.coordination": "delivery",  # the store replicas share: rate windows, the memo
    "adapter.metrics": "delivery",
    "adapter.report": "delivery",  # a plan and its delivery results → outcomes, a status
    # plan
    "adapter.pipeline": "plan",
    "adapter.storm": "plan",
    "adapter.ratelimit": "plan",  # each planned-for Receiver carries its rate window
    # config
    "adapter.config": "settings",  # the package's __init__: a docstring, no imports
    "adapter.config.document": "config",
    "adapter.config.loader": "config",
    # dialects
    "adapter.integrations": "dialects",
    # settings
    "adapter.config.model": "settings",
    "adapter.config.http": "settings",
    "adapter.config.receivers": "settings",
    "adapter.config.timeintervals": "settings",
    "adapter.config.web": "settings",
    "adapter.config.coordination": "settings",
    "adapter.http_config": "settings",
    # rules
    "adapter.keys": "rules",
    "adapter.severity": "rules",
    "adapter.matchers": "rules",
    "adapter.timeintervals": "rules",
    "adapter.templating": "rules",
    "adapter.limits": "rules",
    "adapter.fitting": "rules",
    # model
    "adapter.payload": "model",
    "adapter.events": "model",
    # base
    "adapter": "base",  # __init__: the version
    "adapter.durations": "base",
    "adapter.urls": "base",
    "adapter.secrets": "base",
    "adapter.logs": "base",
}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def layer_of(module: str) -> str | None:
    """The layer of `module`, or of the nearest package above it that the table names as a
    whole (`adapter.integrations`, `adapter.cli`); the bare package only names __init__."""
    name = module
    while True:
        if name in LAYERS and (name == module or name != "adapter"):
            return LAYERS[name]
        if "." not in name:
            return None
        name = name.rpartition(".")[0]


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The adapter modules `module` imports, anywhere in its file."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, base] if base else here)
            # `from adapter import endpoints` imports a module; `from adapter import x` a name
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in known:  # `import adapter.x.y` as far as it is ours
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {module: imports(module, path, set(found)) for module, path in found.items()}


def upward(edges: dict[str, set[str]]) -> list[str]:
    rank = {name: i for i, name in enumerate(ORDER)}  # 0 = top
    problems = []
    for module, targets in sorted(edges.items()):
        for target in sorted(targets):
            mine, theirs = layer_of(module), layer_of(target)
            if mine is None or theirs is None:
                continue  # reported as missing
            if rank[theirs] < rank[mine]:
                problems.append(f"{module} ({mine}) imports {target} ({theirs})")
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def test_every_module_has_a_layer() -> None:
    missing = [m for m in modules() if layer_of(m) is None]
    assert not missing, f"place these in LAYERS (tests/checks/test_layers.py): {missing}"
    assert set(LAYERS.values()) <= set(ORDER)
    stale = [name for name in LAYERS if name not in modules()]
    assert not stale, f"LAYERS names modules that are gone: {stale}"


def test_imports_run_downward_only() -> None:
    problems = upward(graph())
    assert not problems, "imports of a higher layer:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    found = cycles(graph())
    assert not found, f"import cycles: {found}"


def test_the_checks_catch_an_upward_import_and_a_cycle() -> None:
    edges = graph()
    edges["adapter.payload"] = {*edges["adapter.payload"], "adapter.landing"}
    assert upward(edges) == ["adapter.payload (model) imports adapter.landing (views)"]
    assert any({"adapter.landing", "adapter.payload"} <= set(group) for group in cycles(edges))
    edges = graph()
    edges["adapter.keys"] = {*edges["adapter.keys"], "adapter.severity"}
    edges["adapter.severity"] = {*edges["adapter.severity"], "adapter.keys"}
    assert upward(edges) == []  # one layer: only the cycle check sees it
    assert cycles(edges) == [["adapter.keys", "adapter.severity"]]


def layout_section() -> str:
    text = (ROOT / "docs" / "explanation" / "design.md").read_text()
    start = text.index("\n## Layout\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_design_doc_lists_every_module_once() -> None:
    """One line per module, `adapter/x.py` — what it is; a package the table places as a
    whole (`adapter/cli/`) may be one line."""
    listed = re.findall(r"^- `(adapter/[\w/]*(?:\.py|/))` — \S", layout_section(), re.M)
    assert len(listed) == len(set(listed)), f"listed twice: {listed}"
    covered = set()
    for entry in listed:
        if entry.endswith("/"):
            covered |= {
                str(p.relative_to(ROOT)) for p in (ROOT / entry).rglob("*.py") if p.is_file()
            }
        else:
            covered.add(entry)
    files = {str(path.relative_to(ROOT)) for path in modules().values()}
    assert files - covered == set(), (
        f"not in docs/explanation/design.md's Layout: {sorted(files - covered)}"
    )
    assert covered - files == set(), f"listed but gone: {sorted(covered - files)}"
