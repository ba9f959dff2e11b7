"""The shared words are spelled once, in ``digest/vocab.py``: no module of digest writes
a cadence, an outbox state, a section, a reason, a card or token action, a source kind,
a card's note or a citation format as a string literal; it names the vocab member.
Read from the source with ast.

Not counted: docstrings; a word used as a mapping key (``prefs["authors"]``,
``form.get("keywords")``, ``{"trending": 5}``), which is a settings field or a YAML key
named like a section, not the section; and a line marked ``# not vocab``, where the word
means something else (a DSN's ``Action: failed``, a click parameter called ``path``).
The migrations keep the strings they were written with: they are history.
"""

from __future__ import annotations

import ast
from pathlib import Path

from digest.vocab import (
    Action,
    Cadence,
    ChannelKind,
    ChannelState,
    CiteFormat,
    Note,
    OutboxState,
    ReasonKind,
    SectionName,
    SourceKind,
)
from tests.conftest import ROOT

WORDS = {str(m) for enum in (Cadence, OutboxState, SectionName, ReasonKind, Action, SourceKind,
                              Note, ChannelKind, ChannelState, CiteFormat)
         for m in enum}
MARK = "# not vocab"
_KEYED = ("get", "pop", "setdefault")


def sources() -> list[Path]:
    return [p for p in sorted((ROOT / "digest").rglob("*.py"))
            if p.name != "vocab.py" and "migrations" not in p.parts]


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _exempt(node: ast.Constant, parent: ast.AST | None) -> bool:
    """A docstring, a piece of an f-string, or a mapping key."""
    if isinstance(parent, (ast.Expr, ast.JoinedStr)):
        return True
    if isinstance(parent, ast.Subscript) and parent.slice is node:
        return True
    if isinstance(parent, ast.Dict) and node in parent.keys:
        return True
    return (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute)
            and parent.func.attr in _KEYED and bool(parent.args) and parent.args[0] is node)


def literals(path: Path) -> list[str]:
    """``file:line: 'word'`` for each vocab word spelled as a literal in ``path``."""
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text, str(path))
    parents = _parents(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and node.value in WORDS) or _exempt(node, parents.get(node)):
            continue
        if any(MARK in lines[n - 1] for n in range(node.lineno, (node.end_lineno or
                                                                  node.lineno) + 1)):
            continue
        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return found


def test_no_vocabulary_word_is_spelled_outside_vocab() -> None:
    found = [hit for path in sources() for hit in literals(path)]
    assert not found, "spell these with digest.vocab:\n" + "\n".join(found)


def test_the_check_sees_a_literal(tmp_path: Path) -> None:
    module = tmp_path / "digest" / "m.py"
    module.parent.mkdir()
    module.write_text('"""weekly"""\nif cadence == "weekly":\n    x = prefs["authors"]\n'
                      'state = "sent"  # not vocab\nSection("trending", ())\n'
                      'f"{x} weekly"\nform.get("keywords")\n')
    import tests.test_vocabulary as me
    old, me.ROOT = me.ROOT, tmp_path
    try:
        assert literals(module) == ["digest/m.py:2: 'weekly'", "digest/m.py:5: 'trending'"]
    finally:
        me.ROOT = old


def test_the_words_are_the_stored_strings() -> None:
    # StrEnum members equal, hash and print as the strings the database and files hold.
    assert Cadence.WEEKLY == "weekly" and {"weekly": 1}[Cadence.WEEKLY] == 1
    assert f"{OutboxState.SENT}" == "sent" and str(SourceKind.HF_DAILY) == "hf-daily"
