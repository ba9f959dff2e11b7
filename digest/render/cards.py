"""What a card shows for one paper: the view the templates lay out. Pure.

Everything from sources stays text here (the templates escape it); only http(s) URLs
become links; LaTeX is cleaned for reading; the abstract is cut at a word near 300
characters, and the words a keyword matched are marked as highlighted segments.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote_plus, urlsplit

from anyascii import anyascii

from digest.match import plural_forms, words
from digest.model import Item, Paper, Reason, Subscriber, reason_values
from digest.render.subject import one_line
from digest.text import latex_to_text, name_key
from digest.vocab import CARD_ACTIONS, Action, Note, ReasonKind

SNIPPET_CHARS = 300
# A long digest shows shorter snippets, so that 50 cards with their links stay under the
# 100 KB at which Gmail clips a mail.
LONG_DIGEST_CARDS = 20
SHORT_SNIPPET_CHARS = 200
SHOWN_AUTHORS = 3
NO_VOTES = "–"  # the vote box of a paper whose source counts no upvotes
NO_DATE = "no date given"  # the meta of a paper whose source gives no date
THUMBNAIL_ALT = "Preview image"  # short: the card's title comes right after it
_TASTES = tuple(spec for spec in CARD_ACTIONS if spec.taste)  # more / less like this
LIKED_TITLE_CHARS = 80  # of the liked paper a recommendation names
_ARXIV_TARGET = re.compile(r"[\w./-]{1,32}")
_NOTES = frozenset(Note)  # a trending reason's note the card says; any other is not shown


# Link, Author and Segment are named tuples: a card has dozens, made and hashed (as cache
# keys) for each new way a card is shown, several times faster than frozen dataclasses.
class Link(NamedTuple):
    label: str
    url: str


class Author(NamedTuple):
    name: str
    followed: bool


class Segment(NamedTuple):
    text: str
    highlight: bool


class Card(NamedTuple):
    """One paper as the digest shows it (a named tuple: a pass makes one for each new way
    a card is shown, and keys caches by its parts)."""

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
    # follow / unfollow / mute, more / less like this: signed for the subscriber
    actions: tuple[Link, ...] = ()
    # The source's thumbnail (``label`` is its alt text), when the operator turns images on.
    image: Link | None = None

    @property
    def byline(self) -> str:
        """Votes (when the source counts them), authors and meta on one plain line, for
        the text part."""
        if self.authors:
            names = ", ".join(a.name for a in self.authors)
            names += f" +{self.more_authors}" if self.more_authors else (
                " et al." if self.et_al else "")
        else:
            names = plural(self.author_count, "author") if self.author_count else ""  # not vocab
        votes = f"▲ {self.upvotes}" if self.upvotes != NO_VOTES else ""
        return " · ".join(x for x in (votes, names, *self.meta) if x)

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


def plural(n: int, noun: str) -> str:
    """``1 author``, ``3 authors``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def card(item: Item, subscriber: Subscriber,
         action: Callable[[str, str], str] | None = None,
         snippet_chars: int = SNIPPET_CHARS, followed: set[str] | None = None,
         images: bool = False) -> Card:
    """The card of a digest item for ``subscriber``; ``action(kind, target)`` gives the
    URL of a follow, unfollow, mute, like or dislike link (none without it). ``followed``:
    the name keys of the subscriber's authors, when the caller has them already.
    ``images``: show the source's thumbnail (remote images are off unless the operator
    turns them on). A paper with an arXiv id gets "more / less like this" links too."""
    base = _base(item.paper, snippet_chars, images)
    if followed is None:
        followed = {name_key(a) for a in subscriber.authors}
    # The first three, and any followed author further down, so the reader sees them.
    further = sorted(i for k in followed for i in base.places.get(k, ()) if i >= SHOWN_AUTHORS)
    shown = tuple(Author(n, k in followed) for n, k in
                  (base.names[i] for i in (*range(min(SHOWN_AUTHORS, len(base.names))),
                                           *further)))
    total = base.total
    keywords = _keywords(item)
    return base.card._replace(
        authors=shown,
        more_authors=max(0, total - len(shown)) if base.names and total is not None else 0,
        snippet=_highlighted(base.snippet, tuple(keywords)),
        reasons=_reasons(item),
        actions=_actions(shown, keywords, action) + _likes(item.paper, action),
    )


@dataclass(frozen=True)
class _Base:
    """What a card shows of a paper whoever reads it."""

    card: Card  # authors, snippet highlights, reasons and actions still to fill in
    names: tuple[tuple[str, str], ...]  # (shown name, name key) of every author
    places: dict[str, tuple[int, ...]]  # where each name key is in ``names``
    total: int | None  # how many authors it has, when known
    snippet: str


@lru_cache(maxsize=8192)
def _base(p: Paper, snippet_chars: int, images: bool = False) -> _Base:
    links = _links(p)
    names = tuple((one_line(n), name_key(n)) for n in p.all_authors)
    places: dict[str, list[int]] = {}
    for i, (_, key) in enumerate(names):
        places.setdefault(key, []).append(i)
    total = p.author_count if p.author_count is not None else (
        None if p.truncated else len(names))
    return _Base(Card(
        title=one_line(latex_to_text(p.title)),
        url=links[0].url if links and links[0].label == "arXiv" else _search_url(p.title),
        upvotes=str(p.upvotes) if p.upvotes is not None else NO_VOTES,
        authors=(), more_authors=0,
        author_count=None if names else p.author_count,
        et_al=bool(names) and total is None,
        meta=tuple(x for x in (one_line(p.organization or ""), p.category or "",
                               _day(p.featured or p.published)) if x),
        badges=_badges(p), snippet=(), links=tuple(links), reasons=(),
        image=_image(p) if images else None),
        names, {k: tuple(v) for k, v in places.items()}, total,
        snippet_text(p.abstract, snippet_chars))


def _actions(shown: tuple[Author, ...], keywords: list[str],
             action: Callable[[str, str], str] | None) -> tuple[Link, ...]:
    """Follow the first author when not followed, unfollow each followed author shown,
    mute each keyword that matched. ``action`` is called in the order of the links (the
    renderer numbers them by its calls)."""
    if action is None:
        return ()
    found = []
    if shown and not shown[0].followed:
        found.append(Link(f"Follow {shown[0].name}", action(Action.FOLLOW, shown[0].name)))
    found += [Link(f"Unfollow {a.name}", action(Action.UNFOLLOW, a.name))
              for a in shown if a.followed]
    found += [Link(f"Mute “{k}”", action(Action.MUTE, k)) for k in dict.fromkeys(keywords)]
    return tuple(found)


def _likes(p: Paper, action: Callable[[str, str], str] | None) -> tuple[Link, ...]:
    """More / less like this, naming the paper by its arXiv id."""
    if action is None or not p.arxiv_id or not _ARXIV_TARGET.fullmatch(p.arxiv_id):
        return ()
    return tuple(Link(spec.button, action(spec.action, p.arxiv_id)) for spec in _TASTES)


def _links(p: Paper) -> list[Link]:
    links = []
    if p.arxiv_id and re.fullmatch(r"[\w./-]+", p.arxiv_id):
        links += [Link("arXiv", f"https://arxiv.org/abs/{p.arxiv_id}"),
                  Link("PDF", f"https://arxiv.org/pdf/{p.arxiv_id}"),
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
    if p.comments:
        badges.append(plural(p.comments, "comment"))
    return tuple(badges)


def _image(p: Paper) -> Link | None:
    """The thumbnail, when it is an https URL, with its alt text (the title follows it)."""
    url = http_url(p.thumbnail)
    if url is None or not url.lower().startswith("https://"):
        return None
    return Link(THUMBNAIL_ALT, url)


def _day(day: date | None) -> str:
    """``7 Apr 2026``; a paper whose sources give no date says so (never the day it was
    read)."""
    return NO_DATE if day is None else f"{day.day} {day:%b %Y}"


def trending_reason(p: Paper) -> str:
    """Why a paper counts as trending, naming the signal: upvotes come only from the
    Daily Papers feed and its API; a listing's score only from author-profile pages."""
    return _trending_line(p.upvotes, p.score)


def _trending_line(upvotes: int | None, score: float | None, note: str = "") -> str:
    """Trending, naming the signal; with a ``vocab.Note`` ("in your area") when the paper
    is close to what the reader follows."""
    if upvotes:
        return (f"Trending {note}: {plural(upvotes, 'upvote')} on Daily Papers" if note
                else f"Trending on Daily Papers: {plural(upvotes, 'upvote')}")
    if score:
        where = f" {note}" if note else ""
        return f"Trending{where}: a score of {score:g} on an author's profile page"
    return "New, and no votes yet"


def _iso_day(text: str) -> str:
    """``3 Jun`` for an ISO day, "" when it is not one."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return ""
    return f"{day.day} {day:%b}"


def _keywords(item: Item) -> list[str]:
    return item.values(ReasonKind.KEYWORD)


def _reasons(item: Item) -> tuple[str, ...]:
    p = item.paper
    trending = any(r.kind == ReasonKind.TRENDING for r in item.reasons)
    return _reason_lines(item.reasons, (p.upvotes, p.score) if trending else None)


@lru_cache(maxsize=1 << 14)
def _reason_lines(why: tuple[Reason, ...], votes: tuple[int | None, float | None] | None
                  ) -> tuple[str, ...]:
    """The lines saying why a paper is there (the same reasons read the same in every
    card: kept); ``votes``: the paper's upvotes and score, when it is trending."""
    # A pinned author's reason says how the paper is theirs: "Ada (on their profile)".
    followed = {r.value: r.area for r in reversed(why) if r.kind == ReasonKind.AUTHOR}
    authors = [f"{name} ({followed[name]})" if followed[name] else name
               for name in reason_values(why, ReasonKind.AUTHOR)]
    keywords = reason_values(why, ReasonKind.KEYWORD)
    reasons = []
    if authors:
        reasons.append("You follow " + ", ".join(authors))
    if keywords:
        reasons.append("Matches: " + ", ".join(keywords))
    if votes is not None:
        notes = [r.area for r in why if r.kind == ReasonKind.TRENDING and r.area in _NOTES]
        reasons.append(_trending_line(*votes, *notes[:1]))
    for r in why:
        if r.kind == ReasonKind.RISING and r.value.isdigit():
            since = _iso_day(r.area)
            reasons.append(f"Rising: +{plural(int(r.value), 'upvote')}"
                           + (f" since {since}" if since else ""))
        elif r.kind == ReasonKind.RECOMMENDED:
            liked = snippet_text(r.value or r.area, LIKED_TITLE_CHARS)
            reasons.append(f"Recommended: like “{liked}”" if liked else "Recommended for you")
    return tuple(one_line(r) for r in reasons)


def snippet_text(abstract: str, limit: int = SNIPPET_CHARS) -> str:
    """The abstract, LaTeX cleaned, cut at a word near ``limit`` characters."""
    text = one_line(latex_to_text(abstract))
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


# Every way a card is shown is kept (``Renderer``), so these see only new ones.
@lru_cache(maxsize=1 << 14)
def _highlighted(text: str, keywords: tuple[str, ...]) -> tuple[Segment, ...]:
    """``text`` in segments, those a keyword matched highlighted. Words are read as the
    matcher reads them (each character transliterated to ASCII, lower case, split at
    anything that is not a letter or digit), so whatever made a paper match is marked:
    the words of a phrase in a row, a final plural alike; the leftmost match first (at
    one place, the first keyword that matches there), then the next after it."""
    if not keywords:
        return (Segment(text, False),) if text else ()
    found, _ = _words_of(text)
    places = sorted((start, order, end) for order, k in enumerate(keywords)
                    for start, end in _matches(text, k))
    segments: list[Segment] = []
    at = next_word = 0
    for start, _, end in places:
        if start < next_word:
            continue
        begin = found[start][0]
        if begin > at:
            segments.append(Segment(text[at:begin], False))
        segments.append(Segment(text[begin:found[end][1]], True))
        at, next_word = found[end][1], end + 1
    if at < len(text):
        segments.append(Segment(text[at:], False))
    return tuple(segments)


_ASCII_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=8192)
def _words_of(text: str) -> tuple[list[tuple[int, int, str]], dict[str, list[int]]]:
    """The words of ``text`` as ``match.words`` reads them, each with the span of the
    characters it came from: (start, end, word); and where each word is."""
    if text.isascii():
        ascii_text, owner = text.lower(), None
    else:  # transliterate character by character, remembering whose each letter is
        pieces = [anyascii(ch).lower() for ch in text]
        ascii_text = "".join(pieces)
        owner = [i for i, piece in enumerate(pieces) for _ in piece]
    found = [(m.start(), m.end(), m.group()) if owner is None else
             (owner[m.start()], owner[m.end() - 1] + 1, m.group())
             for m in _ASCII_WORD.finditer(ascii_text)]
    where: dict[str, list[int]] = {}
    for i, (_, _, word) in enumerate(found):
        where.setdefault(word, []).append(i)
    return found, where


@lru_cache(maxsize=1 << 12)
def _matches(text: str, keyword: str) -> tuple[tuple[int, int], ...]:
    """Where ``keyword`` matches in ``text``: (first word, last word) of each place, by
    word number; looked up from the place of its first word, not by a walk of the text."""
    tokens = words(keyword)
    if not tokens:
        return ()
    head, lasts = tokens[:-1], plural_forms(tokens[-1])
    found, where = _words_of(text)
    starts = where.get(head[0], []) if head else sorted(
        i for form in lasts for i in where.get(form, []))
    return tuple((i, i + len(head)) for i in starts
                 if i + len(head) < len(found) and found[i + len(head)][2] in lasts
                 and all(found[i + j][2] == word for j, word in enumerate(head)))
