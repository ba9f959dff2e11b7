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
from urllib.parse import quote, quote_plus, urlsplit

from anyascii import anyascii

from digest import defaults
from digest.match import fits, plural_forms, sentence_starts, words
from digest.model import Item, Paper, Reason, Subscriber, reason_values
from digest.prefs import arxiv_ids
from digest.render.subject import one_line
from digest.text import latex_to_text, name_key, plain_markdown, plural
from digest.vocab import AI_SUMMARY_LABEL, CARD_ACTIONS, Action, Area, Note, ReasonKind

SNIPPET_CHARS = 300
# A long digest shows shorter snippets, so that 50 cards with their links stay under the
# 100 KB at which Gmail clips a mail.
LONG_DIGEST_CARDS = 20
SHORT_SNIPPET_CHARS = 200
SHOWN_AUTHORS = 3
# The source's one-line summary (Hugging Face's ``ai_summary``), shown before the abstract
# and labelled as the source's AI summary, not the authors' words.
TLDR_LABEL = AI_SUMMARY_LABEL
# Beside a TL;DR the snippet is shorter, as the TL;DR says what the abstract's opening
# would; a long digest's card shows the TL;DR instead (50 cards stay under 100 KB).
TLDR_SNIPPET_CHARS = 200
TLDR_CHARS = 300  # a TL;DR is one line (Hugging Face's: 211 characters in the median)
NO_VOTES = "–"  # the vote box of a paper whose source counts no upvotes
NO_DATE = "no date given"  # the meta of a paper whose source gives no date
THUMBNAIL_ALT = "Preview image"  # short: the card's title comes right after it
_TASTES = tuple(spec for spec in CARD_ACTIONS if spec.taste)  # more / less like this
_PERSON = tuple(spec for spec in CARD_ACTIONS if spec.person)  # yes, that's them / not them
LIKED_TITLE_CHARS = 80  # of the liked paper a recommendation names
_ARXIV_TARGET = re.compile(r"[\w./-]{1,32}")
# Where a keyword matched, as a card's reason says it.
_WHERE = {Area.TITLE: "in the title", Area.ABSTRACT: "in the abstract",
          Area.KEYWORDS: "in the source's keywords"}
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


class Tldr(NamedTuple):
    label: str
    text: str


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
    tldr: Tldr | None = None  # the source's one-line AI summary, when it gives one

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


def card(item: Item, subscriber: Subscriber,
         action: Callable[[str, str], str] | None = None,
         snippet_chars: int = SNIPPET_CHARS, followed: set[str] | None = None,
         images: bool = False, possibly: bool = False) -> Card:
    """The card of a digest item for ``subscriber``; ``action(kind, target)`` gives the
    URL of a follow, unfollow, mute, like or dislike link (none without it). ``followed``:
    the name keys of the subscriber's authors, when the caller has them already.
    ``images``: show the source's thumbnail (remote images are off unless the operator
    turns them on). A paper with an arXiv id gets "more / less like this" links too.
    ``possibly``: the item is in the "Possibly by" section: its reasons say "Possibly by
    Hao Li", and its only links ask whether the paper is theirs."""
    # Beside a TL;DR a snippet is shorter; a long digest (its renderer asks for short
    # snippets) shows none.
    tldr = _tldr(item.paper) is not None
    no_snippet = tldr and snippet_chars <= SHORT_SNIPPET_CHARS
    if tldr:
        snippet_chars = min(snippet_chars, TLDR_SNIPPET_CHARS)
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
        snippet=() if no_snippet else
        _highlighted(_snippet(item, base, snippet_chars), tuple(keywords)),
        reasons=_possibly_lines(item.reasons) if possibly else _reasons(item, base),
        actions=_person_links(item, action) if possibly else
        _actions(shown, keywords, action) + _likes(item.paper, action),
    )


def _tldr(p: Paper) -> Tldr | None:
    text = _cut(one_line(latex_to_text(p.ai_summary)), TLDR_CHARS) if p.ai_summary else ""
    return Tldr(TLDR_LABEL, text) if text else None


@dataclass(frozen=True)
class _Base:
    """What a card shows of a paper whoever reads it."""

    card: Card  # authors, snippet highlights, reasons and actions still to fill in
    names: tuple[tuple[str, str], ...]  # (shown name, name key) of every author
    places: dict[str, tuple[int, ...]]  # where each name key is in ``names``
    total: int | None  # how many authors it has, when known
    snippet: str  # the abstract's opening
    abstract: str  # the whole abstract, LaTeX cleaned, on one line


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
        image=_image(p) if images else None, tldr=_tldr(p)),
        names, {k: tuple(v) for k, v in places.items()}, total,
        snippet_text(p.abstract, snippet_chars), plain_abstract(p.abstract))


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


def _person_links(item: Item, action: Callable[[str, str], str] | None
                  ) -> tuple[Link, ...]:
    """"Yes, that's them" and "Not them" for each followed name that brought a "Possibly
    by" paper (naming the name when there are several), when a link can name the paper."""
    if action is None:
        return ()
    names = item.values(ReasonKind.AUTHOR)
    links = []
    for name in names:
        target = person_target(item.paper.arxiv_id, name)
        if target is not None:
            which = f" ({name})" if len(names) > 1 else ""
            links += [Link(spec.button + which, action(spec.action, target))
                      for spec in _PERSON]
    return tuple(links)


def person_target(arxiv_id: str | None, name: str) -> str | None:
    """The target of a "Possibly by" card's links: the paper's arXiv id, a space (an
    arXiv id holds none) and the followed name, ``2604.01234 Hao Li``; None when the
    paper has no arXiv id a pin can hold, or the two pass ``MAX_TARGET`` (a name of some
    170 characters)."""
    if not arxiv_id or not name.strip() or not _ARXIV_TARGET.fullmatch(arxiv_id):
        return None
    try:
        arxiv_ids([arxiv_id])
    except ValueError:
        return None
    target = f"{arxiv_id} {name.strip()}"
    return target if len(target) <= defaults.MAX_TARGET else None


def read_person_target(target: str) -> tuple[str, str] | None:
    """``person_target``'s (arXiv id, followed name), or None when ``target`` is not one."""
    arxiv_id, _, name = target.partition(" ")
    found = person_target(arxiv_id, name)
    return None if found is None or found != target else (arxiv_id, name)


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
    if p.doi:  # a bioRxiv or medRxiv preprint: its DOI is where it lives
        links.insert(0, Link("DOI", "https://doi.org/" + quote(p.doi, safe="/")))
    elif not p.arxiv_id:
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
    if p.comments and p.comments > 1:  # one is, on 78% of papers, the source's bot's
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


def _reasons(item: Item, base: _Base) -> tuple[str, ...]:
    p = item.paper
    trending = any(r.kind == ReasonKind.TRENDING for r in item.reasons)
    return _reason_lines(item.reasons, (p.upvotes, p.score) if trending else None,
                         _seen_as(item, base))


def _area_text(area: str, base: _Base) -> str:
    """The text of a paper's ``area`` as a card shows it ("" for the source's keywords)."""
    return base.card.title if area == Area.TITLE else (
        base.abstract if area == Area.ABSTRACT else "")


def _seen_as(item: Item, base: _Base) -> tuple[str, ...]:
    """For each keyword the paper is there for (in ``reason_values`` order), the words it
    stands as where it matched, when only with an extra word inside ("diffusion large
    language models" for "diffusion language model"); "" when word for word."""
    areas = {r.value: r.area for r in reversed(item.reasons) if r.kind == ReasonKind.KEYWORD}
    seen = []
    for phrase in reason_values(item.reasons, ReasonKind.KEYWORD):
        text = _area_text(areas[phrase], base)
        place = _place(text, phrase)
        seen.append(text[place[0]:place[1]] if place is not None and place[2] else "")
    return tuple(seen)


def _matches_line(found: list[tuple[str, str, str]]) -> str:
    """``Matches “flow matching” in the title, “diffusion language model” (as “diffusion
    large language models”) in the abstract``, from (phrase, area, words seen as)."""
    by_area: dict[str, list[str]] = {}
    for phrase, area, seen in found:
        by_area.setdefault(area, []).append(f"“{phrase}”" + (f" (as “{seen}”)" if seen else ""))
    return "Matches " + ", ".join(
        _and(shown) + (f" {_WHERE[Area(area)]}" if area in _WHERE else "")
        for area, shown in by_area.items())


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@lru_cache(maxsize=1 << 14)
def _reason_lines(why: tuple[Reason, ...], votes: tuple[int | None, float | None] | None,
                  seen_as: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The lines saying why a paper is there (the same reasons read the same in every
    card: kept); ``votes``: the paper's upvotes and score, when it is trending;
    ``seen_as``: for each keyword, the words a loose match stands as ("" if none)."""
    # A pinned author's reason says how the paper is theirs: "Ada (on their profile)".
    followed = {r.value: r.area for r in reversed(why) if r.kind == ReasonKind.AUTHOR}
    authors = [f"{name} ({followed[name]})" if followed[name] else name
               for name in reason_values(why, ReasonKind.AUTHOR)]
    keywords = reason_values(why, ReasonKind.KEYWORD)
    areas = {r.value: r.area for r in reversed(why) if r.kind == ReasonKind.KEYWORD}
    reasons = []
    if authors:
        reasons.append("You follow " + ", ".join(authors))
    if keywords:
        seen = (*seen_as, *[""] * (len(keywords) - len(seen_as)))
        reasons.append(_matches_line([(k, areas[k], seen[j]) for j, k in enumerate(keywords)]))
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


@lru_cache(maxsize=1 << 12)
def _possibly_lines(why: tuple[Reason, ...]) -> tuple[str, ...]:
    """The lines of a "Possibly by" card: ``Possibly by Hao Li``, and the spelling on the
    paper when it differs, ``Possibly by Yi-Fan Zhang (as Yifan Zhang)``."""
    spelt = {r.value: r.area for r in reversed(why) if r.kind == ReasonKind.AUTHOR}
    return tuple(one_line(f"Possibly by {name} ({spelt[name]})" if spelt[name] else
                          f"Possibly by {name}")
                 for name in reason_values(why, ReasonKind.AUTHOR))


def snippet_text(abstract: str, limit: int = SNIPPET_CHARS) -> str:
    """The abstract, LaTeX cleaned, cut at a word near ``limit`` characters."""
    return _cut(plain_abstract(abstract), limit)


def plain_abstract(abstract: str) -> str:
    """The abstract as plain text on one line: LaTeX and Markdown marks taken out."""
    return one_line(latex_to_text(plain_markdown(abstract)))


def _cut(text: str, limit: int) -> str:
    """``text`` cut at a word near ``limit`` characters, "…" marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


def _snippet(item: Item, base: _Base, limit: int) -> str:
    """The abstract's opening; for a paper there for a keyword (not a followed author)
    that matched in the abstract, not the title, the sentence holding it when the opening
    does not show it (``_holding``)."""
    if any(r.kind == ReasonKind.AUTHOR for r in item.reasons):
        return base.snippet
    phrase = next((r.value for r in item.reasons
                   if r.kind == ReasonKind.KEYWORD and r.area == Area.ABSTRACT), None)
    return base.snippet if phrase is None else _holding(base.abstract, phrase, limit)


@lru_cache(maxsize=1 << 12)
def _holding(text: str, keyword: str, limit: int) -> str:
    """``text``'s opening (cut as ``snippet_text`` cuts) when it shows where ``keyword``
    first matches; else from the start of the sentence holding that match, "…" before it,
    cut alike (from a word a quarter of ``limit`` before the match when the sentence is
    too long to show it)."""
    opening = _cut(text, limit)
    place = _place(text, keyword)
    if place is None or place[1] <= len(opening.removesuffix("…")):
        return opening
    begin, end, _ = place
    start = max(at for at in sentence_starts(text) if at <= begin)
    if end - start >= limit - 1:
        start = text.find(" ", max(start, begin - limit // 4), begin) + 1 or begin
    return ("…" if start else "") + _cut(text[start:], limit - 1)


# Every way a card is shown is kept (``Renderer``), so these see only new ones.
@lru_cache(maxsize=1 << 14)
def _highlighted(text: str, keywords: tuple[str, ...]) -> tuple[Segment, ...]:
    """``text`` in segments, those a keyword matched highlighted. Words are read as the
    matcher reads them (each character transliterated to ASCII, lower case, split at
    anything that is not a letter or digit), so whatever made a paper match is marked:
    the words of a phrase in a row, a final plural alike, or with one extra word inside
    (``match.loose``); the leftmost match first (at one place, the first keyword that
    matches there, word for word before loosely), then the next after it."""
    if not keywords:
        return (Segment(text, False),) if text else ()
    found, _ = _words_of(text)
    places = sorted((start, order, end) for order, k in enumerate(keywords)
                    for start, end, _ in _matches(text, k))
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
def _place(text: str, keyword: str) -> tuple[int, int, bool] | None:
    """Where ``keyword`` first stands in ``text`` word for word, else first with one
    extra word inside: (first character, end, loose)."""
    places = _matches(text, keyword)
    if not places:
        return None
    first, last, extra = min(places, key=lambda place: place[2])  # word for word, if any
    found, _ = _words_of(text)
    return found[first][0], found[last][1], extra


@lru_cache(maxsize=1 << 12)
def _matches(text: str, keyword: str) -> tuple[tuple[int, int, bool], ...]:
    """Where ``keyword`` matches in ``text``: (first word, last word, loose) of each place,
    by word number, word for word or with one extra word inside (``match.fits``); looked
    up from the places of its first word, not by a walk of the text."""
    tokens = words(keyword)
    if not tokens:
        return ()
    head, lasts = tokens[:-1], plural_forms(tokens[-1])
    _, where = _words_of(text)
    sequence = _sequence(text)
    starts = where.get(head[0], []) if head else sorted(
        i for form in lasts for i in where.get(form, []))
    return tuple((i, i + len(head) + extra, extra) for i in starts
                 if (extra := fits(sequence, i, head, lasts)) is not None)


@lru_cache(maxsize=8192)
def _sequence(text: str) -> tuple[str, ...]:
    """The words of ``text`` as ``_words_of`` reads them, in a row."""
    return tuple(word for _, _, word in _words_of(text)[0])
