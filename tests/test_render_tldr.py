"""The TL;DR on a card: the source's one-line AI summary (Hugging Face's ``ai_summary``),
labelled as such, before the abstract snippet, in the HTML and the text part; the
snippet beside it shorter, and none in a long digest, so that 50 cards stay under 100 KB.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

from digest.model import Digest, Paper, Subscriber
from digest.plan import build_digests
from digest.render import render_digest
from digest.render.cards import SNIPPET_CHARS, TLDR_LABEL, TLDR_SNIPPET_CHARS
from digest.store import Store
from digest.text import one_line
from tests.conftest import DATA, GOLDEN, REGEN
from tests.test_rank import ingest
from tests.test_render import UNSUBSCRIBE, fifty_papers, normalise

DAY = DATA / "hf-daily" / "2026-04-16.json"
NOW = datetime(2026, 4, 16, 9, tzinfo=UTC)


def _digest(tmp_path: Path, **settings: object) -> Digest:
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    ingest(store, DAY, now=NOW)
    sub = Subscriber("t@example.org", name="Tess", max_age_days=3650,  # type: ignore[arg-type]
                     **settings)
    (digest,) = build_digests(store, [sub], NOW)
    return digest


def _tldr_line(p: Paper) -> str:
    assert p.ai_summary
    return f"{TLDR_LABEL}: {one_line(p.ai_summary)}"


def _plain(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def test_a_short_digest_shows_the_tldr_before_a_shorter_snippet(tmp_path: Path) -> None:
    digest = _digest(tmp_path, keywords=("agent",), trending=6, max_papers=8)
    mail = render_digest(digest, UNSUBSCRIBE)
    papers = [i.paper for i in digest.items]
    with_tldr = [p for p in papers if p.ai_summary]
    assert 0 < len(with_tldr) <= len(papers) <= 8
    html, text = _plain(mail.html), " ".join(mail.text.split())
    for p in with_tldr:
        line = _tldr_line(p)
        assert html.count(line) == 1 and text.count(line) == 1, p.title
        after = html[html.index(line) + len(line):]
        # the snippet follows: at most TLDR_SNIPPET_CHARS of the abstract's opening
        opening = one_line(p.abstract)[:40]
        assert opening in after[:TLDR_SNIPPET_CHARS + 2 + 40] or "…" in after[:5], p.title
    for suffix, body in (("html", mail.html), ("txt", mail.text)):
        path = GOLDEN / "mail" / f"tldr.{suffix}"
        if REGEN:
            path.write_text(normalise(body), encoding="utf-8")
        assert normalise(body) == path.read_text(encoding="utf-8"), f"{path} differs"


def test_a_paper_without_a_tldr_keeps_its_whole_snippet(tmp_path: Path) -> None:
    digest = _digest(tmp_path, keywords=("agent",), trending=6, max_papers=8)
    item = digest.items[0]
    bare = replace(item.paper, ai_summary=None,
                   abstract=" ".join(["word"] * 200))
    digest = replace(digest, sections=tuple(
        replace(s, items=tuple(replace(i, paper=bare) if i is item else i for i in s.items))
        for s in digest.sections))
    mail = render_digest(digest, UNSUBSCRIBE)
    snippets = re.findall(r"(?:word ){10,}word…", mail.html)
    assert len(snippets) == 1
    assert TLDR_SNIPPET_CHARS < len(snippets[0]) <= SNIPPET_CHARS + 1
    assert mail.html.count(TLDR_LABEL) == len([i for i in digest.items if i.paper.ai_summary])


def test_a_long_digest_shows_the_tldr_instead_of_the_snippet(tmp_path: Path) -> None:
    """50 real cards, 49 with a TL;DR: each shows it, none of those a snippet too, and
    the mail stays under 100 KB (test_render checks the size with every link)."""
    digest, links = fifty_papers(tmp_path)
    mail = render_digest(digest, links)
    with_tldr = [i.paper for i in digest.items if i.paper.ai_summary]
    assert len(digest.items) == 50 and len(with_tldr) >= 45
    html = _plain(mail.html)
    assert all(html.count(_tldr_line(p)) == 1 for p in with_tldr)
    assert mail.html.count(f"<b>{TLDR_LABEL}:</b>") == len(with_tldr)
    assert mail.html.count("padding-top:8px;font-size:14px") == 50 - len(with_tldr)  # snippets
    assert len(mail.html.encode()) < 100_000


def test_a_tldr_is_text_not_markup(tmp_path: Path) -> None:
    digest = _digest(tmp_path, keywords=("agent",), trending=0, max_papers=1)
    (item,) = digest.items
    evil = replace(item.paper, ai_summary='<script>alert(1)</script> & "$\\alpha$" wins')
    digest = replace(digest, sections=tuple(
        replace(s, items=tuple(replace(i, paper=evil) for i in s.items))
        for s in digest.sections))
    mail = render_digest(digest, UNSUBSCRIBE)
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;α&#34; wins" in mail.html
    assert f'{TLDR_LABEL}: <script>alert(1)</script> & "α" wins' in " ".join(mail.text.split())
