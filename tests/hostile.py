"""Hostile input for the tests of issue 11: files made to blow up memory, stacks or columns,
and a way to run digest in a process that may use only so much memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from digest.ingest import hf_json
from digest.ingest.common import ParseContext
from digest.model import Paper
from tests.conftest import DATA, ROOT

GOOD = DATA / "hf-daily" / "2026-01-02.json"


def laughs(levels: int = 9, where: str = "key") -> str:
    """A "billion laughs" subscriptions file: nine anchors each repeating the one before
    nine times (9^9 strings when expanded), used as a mapping key or as a value."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghi"[:levels]
    for before, name in pairwise(names):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{before}"] * 9) + "]")
    last = names[levels - 1]
    use = f"? *{last}\n: x\n" if where == "key" else f"keywords: *{last}\n"
    return "\n".join(lines) + "\n" + use + "subscribers: []\n"


def deep_json(levels: int = 100_000) -> str:
    return "[" * levels + "]" * levels


def digest_process(*args: str, env: dict[str, str] | None = None, memory_mb: int = 512,
                   timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m digest ARGS`` with its address space capped at ``memory_mb``."""
    return subprocess.run([sys.executable, "-m", "digest", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=capped(memory_mb), check=False)


def capped(memory_mb: int) -> Callable[[], None]:
    """A ``preexec_fn`` for subprocess.Popen that caps the child's address space."""

    def cap() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return cap


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def hf_items(**paper: Any) -> list[dict[str, Any]]:
    """Two items of the good file, the first with ``paper`` fields replaced."""
    items = json.loads(GOOD.read_text())[:2]
    items[0]["paper"].update(paper)
    return items


BUGGY_ID = "2601.99998"  # the paper of authors.json, on which ``parser_bug`` fails


def parser_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the hf-json parser fail on paper ``BUGGY_ID`` as a bug would: with an error no
    check foresees (the parser's own checks leave none to find: the property tests see
    to that)."""
    real = hf_json._paper

    def buggy(item: Any, n: int, ctx: ParseContext) -> Paper:
        paper = item.get("paper") if isinstance(item, dict) else None
        if isinstance(paper, dict) and paper.get("id") == BUGGY_ID:
            raise TypeError("'int' object is not iterable")
        return real(item, n, ctx)

    monkeypatch.setattr(hf_json, "_paper", buggy)


def bad_folder(folder: Path) -> Path:
    """A folder of four: a good file, one with an upvotes above 2^63 (kept, the number
    unknown), one with a title the database cannot encode (kept, the character replaced),
    and one whose authors are a number, on which ``parser_bug`` makes the parser fail (the
    file is an error)."""
    folder.mkdir()
    items = json.loads(GOOD.read_text())
    (folder / "good.json").write_text(json.dumps(items[2:]))
    write(folder / "bigint.json", json.dumps(hf_items(upvotes=2**64)))
    write(folder / "surrogate.json", json.dumps(hf_items(title="Lone \ud800 surrogate",
                                                          id="2601.99999")))
    write(folder / "authors.json", json.dumps(hf_items(authors=5, id=BUGGY_ID)))
    return folder


UNITS = {"plain": "Lorem ipsum dolor sit amet ", "escapes": "Lorem & <ipsum> ",
         "cjk": "Lorem 漢字漢字漢字 ", "emoji": "Lorem 😀😀😀😀 "}


def long_text(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars]


def huge_papers(kind: str, count: int = 25, chars: int = 20_000) -> str:
    """A daily_papers response of ``count`` papers with every text field far past its
    bound (the first paper's title 5 MB), written in ``kind`` of characters; every other
    paper has no arXiv id (its card links an arXiv search for its title)."""
    unit = UNITS[kind]
    items = []
    for i in range(count):
        text = long_text(unit, chars)
        items.append({"paper": {
            "id": f"2601.{10000 + i}" if i % 2 == 0 else None,
            "title": f"{i} " + long_text(unit, 5_000_000 if i == 0 else chars),
            "summary": text, "ai_summary": text, "upvotes": 10 + i, "githubStars": 12_345,
            "authors": [{"name": f"{i}.{j} {text[:1000]}"} for j in range(3 if i else 2000)],
            "organization": {"fullname": text},
            "githubRepo": "https://github.com/" + "a&b" * 200,
            "projectPage": "https://example.org/" + "a&b" * 90,
            "ai_keywords": [text[:300]] * (3 if i else 500),
            "publishedAt": "2026-01-02T00:00:00.000Z",
            "submittedOnDailyAt": "2026-01-02T00:00:00.000Z"}})
    return json.dumps(items, ensure_ascii=False)
