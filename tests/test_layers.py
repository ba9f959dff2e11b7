"""Imports point down: the records and pure rules (model, text, merge, defaults, errors)
import nothing above them, and the store, which every stage uses, imports none of the
stages (ingest, plan, render, deliver, bounces, web, bot, cli). Read from the source
with ast, typing-only imports included: a cycle hidden behind TYPE_CHECKING is still one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# What each lower layer may import of digest (itself always).
BASE = {"digest.defaults", "digest.errors", "digest.text", "digest.model", "digest.merge",
        "digest.vocab", "digest.prefs"}
ALLOWED = {
    "digest/defaults.py": {"digest.vocab"},
    "digest/vocab.py": set(),
    "digest/errors.py": set(),
    "digest/text.py": {"digest.defaults", "digest.errors", "digest.vocab"},
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
