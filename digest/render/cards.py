"""What a card shows for one paper: the view the templates lay out. Pure.

Everything from sources stays text here (the templates escape it); only http(s) URLs
become links; LaTeX is cleaned for reading; the abstract is cut at a word near 300
characters, and the words a keyword matched are marked as highlighted segments.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from urllib.parse import quote_plus, urlsplit

from digest.match import plural_forms, words
from digest.model import Item, Paper, Subscriber
from digest.rank import appeared
from digest.render.subject import one_line
from digest.text import latex_to_text, name_key

SNIPPET_CHARS = 300
# A long digest shows shorter snippets, so that 50 cards with their links stay under the
# 100 KB at which Gmail clips a mail.
LONG_DIGEST_CARDS = 20
SHORT_SNIPPET_CHARS = 200
SHOWN_AUTHORS = 3


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Author:
    name: str
    followed: bool


@dataclass(frozen=True)
class Segment:
    text: str
    highlight: bool


@dataclass(frozen=True)
class Card:
    """One paper as the digest shows it."""

    title: str
    url: str
    upvotes: str  # the count, or a dash when the source has none
    authors: tuple[Author, ...]
    more_authors: int  # "+N" after the authors shown
    author_count: int | None  # shown instead of names when no name is known
    et_al: bool  # names shown are all we know, and the list was cut
    meta: tuple[str, ...]  # organisation, category, date
    badges: tuple[str, ...]
    snippet: tuple[Segment, ...]
    links: tuple[Link, ...]
    reasons: tuple[str, ...]
    actions: tuple[Link, ...] = ()  # follow / unfollow / mute, signed for the subscriber

    @property
    def byline(self) -> str:
        """Votes, authors and meta on one plain line, for the text part."""
        if self.authors:
            names = ", ".join(a.name for a in self.authors)
            names += f" +{self.more_authors}" if self.more_authors else (
                " et al." if self.et_al else "")
        else:
            names = f"{self.author_count} authors" if self.author_count else ""
        return " · ".join(x for x in (f"▲ {self.upvotes}", names, *self.meta) if x)

    @property
    def plain_snippet(self) -> str:
        return "".join(s.text for s in self.snippet)


def http_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL, else None (no javascript:, data:, ...)."""
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(
            c.isspace() or ord(c) < 32 for c in url):
        return None
    return url


def card(item: Item, subscriber: Subscriber,
         action: Callable[[str, str], str] | None = None,
         snippet_chars: int = SNIPPET_CHARS) -> Card:
    """The card of a digest item for ``subscriber``; ``action(kind, target)`` gives the
    URL of a follow, unfollow or mute link (none without it)."""
    base = _base(item.paper, snippet_chars)
    followed = {name_key(a) for a in subscriber.authors}
    # The first three, and any followed author further down, so the reader sees them.
    picked = [(n, k in followed) for i, (n, k) in enumerate(base.names)
              if i < SHOWN_AUTHORS or k in followed]
    shown = tuple(Author(n, is_followed) for n, is_followed in picked)
    total = base.total
    return replace(
        base.card,
        authors=shown,
        more_authors=max(0, total - len(shown)) if base.names and total is not None else 0,
        snippet=_highlighted(base.snippet, tuple(_keywords(item))),
        reasons=_reasons(item),
        actions=_actions(shown, _keywords(item), action),
    )


@dataclass(frozen=True)
class _Base:
    """What a card shows of a paper whoever reads it."""

    card: Card  # authors, snippet highlights, reasons and actions still to fill in
    names: tuple[tuple[str, str], ...]  # (shown name, name key) of every author
    total: int | None  # how many authors it has, when known
    snippet: str


@lru_cache(maxsize=8192)
def _base(p: Paper, snippet_chars: int) -> _Base:
    links = _links(p)
    names = tuple((one_line(n), name_key(n)) for n in p.all_authors)
    total = p.author_count if p.author_count is not None else (
        None if p.truncated else len(names))
    return _Base(Card(
        title=one_line(latex_to_text(p.title)),
        url=links[0].url if links and links[0].label == "arXiv" else _search_url(p.title),
        upvotes=str(p.upvotes) if p.upvotes is not None else "–",
        authors=(), more_authors=0,
        author_count=None if names else p.author_count,
        et_al=bool(names) and total is None,
        meta=tuple(x for x in (one_line(p.organization or ""), p.category or "",
                               _day(appeared(p))) if x),
        badges=_badges(p), snippet=(), links=tuple(links), reasons=()),
        names, total, snippet_text(p.abstract, snippet_chars))


def _actions(shown: tuple[Author, ...], keywords: list[str],
             action: Callable[[str, str], str] | None) -> tuple[Link, ...]:
    """Unfollow each followed author shown, follow the first author when not followed,
    mute each keyword that matched."""
    if action is None:
        return ()
    found = [Link(f"Unfollow {a.name}", action("unfollow", a.name)) for a in shown if a.followed]
    if shown and not shown[0].followed:
        found.insert(0, Link(f"Follow {shown[0].name}", action("follow", shown[0].name)))
    found += [Link(f"Mute “{k}”", action("mute", k)) for k in dict.fromkeys(keywords)]
    return tuple(found)


def _links(p: Paper) -> list[Link]:
    links = []
    if p.arxiv_id and re.fullmatch(r"[\w./-]+", p.arxiv_id):
        links += [Link("arXiv", f"https://arxiv.org/abs/{p.arxiv_id}"),
                  Link("Hugging Face", f"https://huggingface.co/papers/{p.arxiv_id}")]
    for label, url in (("GitHub", p.github_repo), ("Project page", p.project_page)):
        safe = http_url(url)
        if safe:
            links.append(Link(label, safe))
    if not p.arxiv_id:
        links.insert(0, Link("Search arXiv", _search_url(p.title)))
    return links


def _search_url(title: str) -> str:
    return ("https://arxiv.org/search/?searchtype=title&query="
            + quote_plus(one_line(latex_to_text(title))))


def _badges(p: Paper) -> tuple[str, ...]:
    badges = []
    if p.has_code:
        badges.append("Code")
    if p.github_stars:
        stars = p.github_stars
        badges.append(f"★ {stars / 1000:.1f}k" if stars >= 1000 else f"★ {stars}")
    if http_url(p.project_page):
        badges.append("Project page")
    return tuple(badges)


def _day(day: date) -> str:
    return "" if day == date.min else f"{day.day} {day:%b %Y}"


def _keywords(item: Item) -> list[str]:
    return item.values("keyword")


def _reasons(item: Item) -> tuple[str, ...]:
    authors = item.values("author")
    keywords = _keywords(item)
    reasons = []
    if authors:
        reasons.append("You follow " + ", ".join(authors))
    if keywords:
        reasons.append("Matches: " + ", ".join(keywords))
    if any(r.kind == "trending" for r in item.reasons):
        reasons.append("Trending on Daily Papers")
    return tuple(one_line(r) for r in reasons)


def snippet_text(abstract: str, limit: int = SNIPPET_CHARS) -> str:
    """The abstract, LaTeX cleaned, cut at a word near ``limit`` characters."""
    text = one_line(latex_to_text(abstract))
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


@lru_cache(maxsize=16384)
def _highlighted(text: str, keywords: tuple[str, ...]) -> tuple[Segment, ...]:
    """``text`` in segments, those a keyword matched highlighted: whole words, the words
    of a phrase apart by spaces or hyphens only, any case, a final plural alike (as the
    matcher reads them); the leftmost match first, then the next after it."""
    phrases = [(tokens[:-1], plural_forms(tokens[-1])) for k in keywords
               if (tokens := words(k))]
    if not phrases:
        return (Segment(text, False),) if text else ()
    found = [(m.start(), m.end(), m.group().lower()) for m in _ASCII_WORD.finditer(text)]
    segments: list[Segment] = []
    at = i = 0
    while i < len(found):
        end = _phrase_end(text, found, i, phrases)
        if end is None:
            i += 1
            continue
        start = found[i][0]
        if start > at:
            segments.append(Segment(text[at:start], False))
        segments.append(Segment(text[start:found[end][1]], True))
        at, i = found[end][1], end + 1
    if at < len(text):
        segments.append(Segment(text[at:], False))
    return tuple(segments)


_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_GAP = re.compile(r"[\s\-]+")


def _phrase_end(text: str, found: list[tuple[int, int, str]], i: int,
                phrases: list[tuple[tuple[str, ...], set[str]]]) -> int | None:
    """The index of the last word of the first phrase that starts at word ``i``."""
    for head, lasts in phrases:
        end = i + len(head)
        if end >= len(found) or found[end][2] not in lasts:
            continue
        if all(found[i + j][2] == word for j, word in enumerate(head)) and all(
                _GAP.fullmatch(text, found[j][1], found[j + 1][0]) for j in range(i, end)):
            return end
    return None
