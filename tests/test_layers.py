"""Imports point down: the words every layer shares (vocab), the records and pure rules
(model, text, merge, defaults, errors) import nothing above them, and the store, which
every stage uses, imports none of the stages (ingest, plan, render, deliver, bounces,
web, bot, cli). Delivery imports nothing of planning, ranking or matching
(``digest.passes`` runs the one, then the other), and no two digest modules import each
other, however far round. Read from the source with ast, typing-only imports included: a
cycle hidden behind TYPE_CHECKING is still one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

# What each lower layer may import of digest (itself always). The vocabulary, the words
# every layer shares, imports nothing.
BASE = {"digest.defaults", "digest.errors", "digest.text", "digest.model", "digest.merge",
        "digest.vocab", "digest.prefs", "digest.zones", "digest.terms"}
ALLOWED = {
    "digest/vocab.py": set(),
    "digest/defaults.py": {"digest.vocab"},
    "digest/errors.py": set(),
    "digest/zones.py": set(),
    "digest/text.py": {"digest.defaults", "digest.errors", "digest.vocab"},
    "digest/terms.py": set(),
    "digest/model.py": BASE,
    "digest/merge.py": BASE,
    "digest/prefs.py": BASE,  # the subscriber-settings schema the store reads
    "digest/store": BASE | {"digest.store"},
}


def digest_imports(path: Path) -> set[str]:
    """The digest modules ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in found if name == "digest" or name.startswith("digest.")}


def files(where: str) -> list[Path]:
    target = ROOT / where
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def upward(path: Path, allowed: set[str]) -> set[str]:
    """What ``path`` imports of digest beyond ``allowed`` (a module, or a name in it)."""
    return {name for name in digest_imports(path) if name != "digest" and not any(
        name == ok or name.startswith(ok + ".") for ok in allowed)}


@pytest.mark.parametrize("where", sorted(ALLOWED))
def test_lower_layers_import_nothing_above_them(where: str) -> None:
    for path in files(where):
        found = upward(path, ALLOWED[where])
        assert not found, f"{path.relative_to(ROOT)} imports {sorted(found)}"


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from digest.ingest.runner import x\nif 1:\n    import digest.web\n")
    assert upward(module, BASE | {"digest.store"}) == {"digest.ingest.runner",
                                                       "digest.ingest.runner.x", "digest.web"}


# Cycles allowed: none. (Each entry would be a strongly connected set of modules.)
KNOWN_CYCLES: list[frozenset[str]] = []


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every digest module by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted((root / "digest").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Which digest modules each one imports, anywhere in it. ``from digest.store import
    schema`` imports the module ``digest.store.schema``; ``from digest.store import
    Store`` imports the package's ``__init__``, ``digest.store``. Importing a submodule is
    no edge to its package's ``__init__``: that is how Python runs, and it would make
    every package a cycle."""
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                          for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The sets of modules that import each other, round and round (the strongly
    connected components of more than one module, Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(start: str) -> None:
        # iterative: a deep chain of imports must not reach the recursion limit
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while (member := stack.pop()) != node:
                    component.add(member)
                if component:
                    found.append(frozenset(component | {node}))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def described(cycle: frozenset[str], graph: dict[str, set[str]]) -> str:
    return "; ".join(f"{m} imports {sorted(graph[m] & cycle)}" for m in sorted(cycle))


def test_no_digest_modules_import_each_other() -> None:
    graph = import_graph(module_files())
    new = [c for c in cycles(graph) if c not in KNOWN_CYCLES]
    assert not new, "import cycles: " + " | ".join(described(c, graph) for c in new)


def test_the_cycle_check_sees_a_cycle_through_a_package(tmp_path: Path) -> None:
    """A package's ``__init__`` and its module importing each other is a cycle; a module
    importing its sibling through the package (``from digest.p import b``) is not one with
    the ``__init__``, and a typing-only import counts."""
    package = tmp_path / "digest" / "p"
    package.mkdir(parents=True)
    (tmp_path / "digest" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from digest.p.a import x\n")
    (package / "a.py").write_text("from digest.p import b\nfrom typing import TYPE_CHECKING\n"
                                  "if TYPE_CHECKING:\n    from digest.p import Thing\n")
    (package / "b.py").write_text("from . import c\n")
    (package / "c.py").write_text("import digest.p.b\n")
    graph = import_graph(module_files(tmp_path))
    assert graph["digest.p.a"] == {"digest.p", "digest.p.b"}
    assert sorted(map(sorted, cycles(graph))) == [["digest.p", "digest.p.a"],
                                                   ["digest.p.b", "digest.p.c"]]


def test_delivery_imports_nothing_of_planning() -> None:
    """Delivery sends what the outbox holds; planning, ranking and matching fill it. Nor
    does anything delivery imports, however far down, reach planning or the pass."""
    graph = import_graph(module_files())
    deliver = {name for name in graph if name.split(".")[:2] == ["digest", "deliver"]}
    stages = {"digest.plan", "digest.rank", "digest.match"}
    direct = {(name, m) for name in deliver for m in graph[name]
              if m in stages or m.rpartition(".")[0] in stages}
    assert not direct, f"delivery imports {sorted(direct)}"
    reached, todo = set(), list(deliver)
    while todo:
        if (name := todo.pop()) not in reached:
            reached.add(name)
            todo += graph[name]
    assert not reached & {"digest.plan", "digest.passes"}


# The layers of docs/architecture.md, bottom up: a module may import its own layer's
# (without cycles, checked above) and the ones below, never one above.
LAYERS = (
    {"vocab"},
    {"digest", "defaults", "errors", "settings", "terms", "text", "yamlcheck", "zones"},
    {"model", "merge", "prefs"},
    {"store"},
    {"ingest", "config", "config_problems", "config_sources", "match", "pins", "rising",
     "recommend", "rank", "schedule", "plan", "render", "deliver", "bounces", "metrics",
     "heap", "trending", "cite"},
    {"passes"},
    {"app"},
    {"cli", "bot", "web"},
    {"__main__"},
)
# On top, only the command line reaches the others: `digest run` starts the bot, `digest
# serve` the pages.
TOP_ALLOWED = {("cli", "bot"), ("cli", "web")}


def top_name(module: str) -> str:
    """The top-level module or package of a digest module (``digest`` for the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "digest"


def test_every_module_has_a_layer() -> None:
    named = set().union(*LAYERS)
    missing = {top_name(m) for m in module_files()} - named
    assert not missing, f"add {sorted(missing)} to LAYERS and to docs/architecture.md"


def upward_pairs(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) top-level names where an import goes up the layers, or
    across the top one other than from the command line to the bot or the pages."""
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    pairs = {(top_name(a), top_name(b)) for a, targets in graph.items() for b in targets}
    top = layer["cli"]
    return sorted((a, b) for a, b in pairs if layer[b] > layer[a] or (
        layer[a] == layer[b] == top and a != b and (a, b) not in TOP_ALLOWED))


def test_imports_point_down_the_layers() -> None:
    up = upward_pairs(import_graph(module_files()))
    assert not up, f"imports up the layers (importer, imported): {up}"


def test_the_layer_check_sees_an_import_going_up() -> None:
    graph = {"digest.store.papers": {"digest.plan", "digest.model"},
             "digest.web.app": {"digest.bot", "digest.store"},
             "digest.cli.bot": {"digest.bot"}}
    assert upward_pairs(graph) == [("store", "plan"), ("web", "bot")]


def test_the_architecture_names_every_layer() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    for names in LAYERS[:-1]:
        for name in names - {"digest", "config_problems", "config_sources"}:
            assert f"`{name}" in text, f"docs/architecture.md says nothing of {name}"
