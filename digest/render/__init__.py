"""Rendering: a planned digest becomes a subject, a plain-text part and an HTML part.

Pure: Jinja2 templates from ``templates/`` (autoescaped HTML; only http(s) links), CSS
inlined with css-inline so mail clients that drop ``<style>`` still show the design.
Rendering never talks SMTP.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import css_inline
import jinja2
from markupsafe import Markup

from digest import defaults
from digest.errors import ConfigError
from digest.model import Digest, Item, Rendered, Subscriber
from digest.render.cards import (
    ACTION_KINDS,
    LONG_DIGEST_CARDS,
    SHORT_SNIPPET_CHARS,
    SNIPPET_CHARS,
    Author,
    Card,
    Link,
    Segment,
    card,
)
from digest.render.subject import TITLES, one_line, preheader, subject
from digest.text import name_key

__all__ = [
    "Links",
    "Rendered",
    "Renderer",
    "one_line",
    "render_digest",
    "subject",
    "templates_env",
]

HEADINGS = {"authors": "From authors you follow", "keywords": "Matching your keywords",
            "trending": "Trending", "rising": "Rising", "recommended": "Recommended for you"}
# Class attributes as Jinja writes them; source text cannot forge one (quotes are escaped).
_CLASS = re.compile(r' class="([\w -]*)"')
# Minified declarations, and no fetching of anything remote.
_INLINER = css_inline.CSSInliner(minify_css=True, load_remote_stylesheets=False)
_TBODY = re.compile(r"</?tbody>")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CSS_CLASS = re.compile(r"\.([A-Za-z_][\w-]*)")
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
# What follows the preheader: spaces that keep inboxes from showing the mail's first
# lines after it (a joiner and a no-break space, as mail templates use).
_PREHEADER_FILL = "\u200c\xa0" * 40
# About what a card's thumbnail adds to the HTML: how many to leave out when over the limit.
_THUMBNAIL_BYTES = 200
# The ways of showing a card a renderer keeps: each process of a pass of 100,000 readers
# who follow random authors and keywords (bench_fanout.py) shows 107,000, about 3.5 KB
# each with all that rendering holds for them (README, Benchmarks, footnote 5).
VIEWS = 250_000


@dataclass(frozen=True)
class Links:
    """Where a mail's own links go: unsubscribe, the subscriber's preferences page, and
    the actions on cards (``action("follow", "Ada Lovelace")`` -> URL); no ``action``
    when the subscriber cannot change what they follow (subscriptions.yaml does)."""

    unsubscribe: str
    manage: str
    action: Callable[[str, str], str] | None = None
    # The part of every action URL that differs between mails (the card token), when
    # there is one: a card's links are then filled in once, and each mail's token after.
    token: str = ""

    @classmethod
    def placeholders(cls, base_url: str, actions: bool = False) -> Links:
        """Links that go nowhere real, for previews and samples."""
        def action(kind: str, target: str) -> str:
            return f"{base_url}/{kind}/preview"
        return cls(f"{base_url}/unsubscribe/preview", f"{base_url}/manage/preview",
                   action if actions else None)


@dataclass(frozen=True)
class _Section:
    heading: str
    cards: tuple[str, ...]  # each card rendered already (Markup in HTML)


def templates_dir() -> Path:
    """``DIGEST_TEMPLATES``, else the templates installed with the package, else the
    project's ``templates/`` (a checkout or an editable install); raises ConfigError if
    there are none."""
    configured = os.environ.get("DIGEST_TEMPLATES")
    package = Path(__file__).resolve().parents[1]
    folder = Path(configured) if configured else next(
        (f for f in (package / "templates", package.parent / "templates")
         if (f / "digest.html").is_file()), package / "templates")
    if not (folder / "digest.html").is_file():
        raise ConfigError(f"no mail templates in {folder}; set DIGEST_TEMPLATES to a "
                          "folder holding them (the project's templates/)")
    return folder


@cache
def _environment(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # read once: no stat of every template for every mail
    )
    env.filters["wrap"] = _wrap
    return env


@lru_cache(maxsize=1 << 15)
def _wrap(text: str, width: int = 78, indent: str = "", first: str | None = None) -> str:
    """Wrap at ``width`` columns; ``first`` is the first line's indent (default ``indent``).
    Words apart by single spaces only (most text: titles, reasons, bylines, sentences) are
    laid out here, greedily as textwrap does, without its regular expressions and chunks;
    any other text goes to textwrap."""
    start = indent if first is None else first
    if not text or text != text.strip() or "  " in text or _SPECIAL_SPACE.search(text):
        return _textwrap(text, width, indent, start)
    if len(start) + len(text) <= width:
        return start + text
    lines: list[str] = []
    line, room = start, width - len(start)
    used = -1  # characters on the line, its indent aside (-1: none yet)
    for word in text.split(" "):
        if not word.strip():  # a word of other spaces only: textwrap drops it at line ends
            return _textwrap(text, width, indent, start)
        if used >= 0 and used + 1 + len(word) > room:
            lines.append(line)
            line, room, used = indent, width - len(indent), -1
        line += word if used < 0 else " " + word
        used += len(word) + 1
    lines.append(line)
    return "\n".join(lines)


def _textwrap(text: str, width: int, indent: str, first: str) -> str:
    return textwrap.fill(text, width=width, initial_indent=first, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)


_SPECIAL_SPACE = re.compile(r"[\t\n\x0b\x0c\r]")  # what textwrap turns into spaces


def templates_env() -> jinja2.Environment:
    """The Jinja2 environment over the templates folder (HTML autoescaped)."""
    return _environment(templates_dir())


def render_digest(
    digest: Digest, links: Links, digest_name: str = defaults.DIGEST_NAME,
    kind: str = "digest", images: bool = False,
) -> Rendered:
    """Subject, text and HTML of ``digest``; ``kind`` "alert" uses the short alert mail;
    ``images`` shows the sources' thumbnails."""
    return Renderer(digest_name, images=images).render(digest, links, kind)


def inline_css(html: str, head: str = "") -> str:
    """Move the <style> rules into style attributes, drop the classes that the ``head``
    stylesheet (kept as it is in a <style> block at the end of <head>) does not name, and
    add that block."""
    inlined = unclass(_INLINER.inline(html), kept_classes(head))
    at = inlined.find("</head>")
    if not head or at == -1:
        return inlined
    return f"{inlined[:at]}<style>{head}</style>\n{inlined[at:]}"


@lru_cache(maxsize=64)
def kept_classes(css: str) -> frozenset[str]:
    """The classes ``css`` names: they stay on the elements for its rules to match."""
    return frozenset(_CSS_CLASS.findall(_CSS_COMMENT.sub("", css)))


def head_stylesheet(env: jinja2.Environment) -> str:
    """``_head.css`` of the templates without its comments and spare blanks ("" when the
    templates have none): the rules kept in a <style> block, not inlined. A line ends
    before each rule's block, so that no line is long or starts with a dot, and what is
    not ASCII is a CSS escape: the mail's HTML can then go unencoded
    (``deliver.message``; a character reference means nothing inside <style>)."""
    try:
        source = _stylesheet(env, "_head.css")
    except jinja2.TemplateNotFound:
        return ""
    text = _CSS_COMMENT.sub("", source)
    text = re.sub(r"\s*([{};,:])\s*", r"\1", re.sub(r"\s+", " ", text)).strip()
    text = _NOT_ASCII.sub(lambda m: f"\\{ord(m[0]):x} ", text)
    return text if "'" in text or '"' in text else text.replace("{", "\n{")  # not in strings


def unclass(html: str, keep: frozenset[str]) -> str:
    """``html`` without the class names not in ``keep`` (and without emptied attributes),
    and without the bare ``<tbody>`` tags the inliner's parser writes into every table
    (every HTML parser implies them: 15 bytes a card)."""
    def kept(match: re.Match[str]) -> str:
        names = [n for n in match.group(1).split() if n in keep]
        return f' class="{" ".join(names)}"' if names else ""
    return _TBODY.sub("", _CLASS.sub(kept, html))


class Renderer:
    """Renders the mails of a pass, doing once what repeats between them.

    Each paper's card is built, rendered and its CSS inlined once for each way it is
    shown (the reasons it is there, which authors are bold, how long its snippet is,
    which action links it carries), and kept as pieces shared with the paper's other
    cards (the rest of the card) and with other cards showing a part alike, so that
    every way of a big pass fits in memory; each mail's frame (head, headline,
    section headings, footer) is rendered and inlined once per shape, with the mail's
    own values filled into slots. Slots and card action links are marked with a random
    nonce that source text cannot guess, and everything filled in is escaped as the
    templates would. The result is what rendering the whole mail through
    the templates and inlining it would give.
    """

    def __init__(self, digest_name: str = defaults.DIGEST_NAME, cards: int = 30_000,
                 images: bool = False, views: int = VIEWS) -> None:
        self.digest_name = digest_name
        self.images = images
        self.env = templates_env()
        self._nonce = secrets.token_hex(6)
        self._slot = re.compile(f"\ue000{self._nonce}([a-z0-9_]+)\ue001")
        self._css = _stylesheet(self.env)
        self._head = head_stylesheet(self.env)
        self._templates = {"html": _CardTemplate.html(self.env, self._css, self._head),
                           "txt": _CardTemplate.text(self.env)}
        # Card frames (a few per paper) and parts (one per way a part is shown) apart,
        # so that the many parts never push out the frames.
        self._card_frames: _Lru[tuple[Any, ...], list[str]] = _Lru(cards)
        self._pieces: _Lru[tuple[Any, ...], list[str]] = _Lru(5 * cards)
        # Action parts are seldom shown alike on two cards: kept apart, and fewer.
        self._actions: _Lru[tuple[Any, ...], list[str]] = _Lru(cards // 4)
        self._names: _Lru[int, frozenset[str]] = _Lru(cards)  # name keys of a paper
        # Each way a card is shown, as every reader who sees it so gets it: its pieces
        # (shared with the other cards of the paper and of the part) with the links in
        # but for the mail's token. Light enough to keep every way of a big pass.
        self._shown: _Lru[tuple[Any, ...], _Shown] = _Lru(views)
        # An action's (kind, target), one copy however many cards carry it.
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        self._frames: dict[tuple[Any, ...], list[str]] = {}
        # The text part's frame tidied alone when its cards are tidy (``_text``); off,
        # every text part is tidied whole, as a reference.
        self.tidy_frames = True

    def render_within(self, digest: Digest, links: Links, kind: str = "digest",
                      limit: int = defaults.MAX_HTML_BYTES) -> tuple[Rendered, Digest]:
        """The mail of ``digest`` with at most ``limit`` bytes of HTML: when its cards
        would make more, the last cards are left out (of the last sections first) until
        it fits. Returns the mail and the digest it shows."""
        thumbnails = len(digest.items) if self.images else 0
        rendered = self.render(digest, links, kind, thumbnails)
        while (excess := len(rendered.html.encode("utf-8")) - limit) > 0 and digest.items:
            if thumbnails:  # pictures go before papers do, from the last cards up
                thumbnails = max(0, thumbnails - excess // _THUMBNAIL_BYTES - 1)
            else:
                digest = _without_last(digest)
            rendered = self.render(digest, links, kind, thumbnails)
        return rendered, digest

    def render(self, digest: Digest, links: Links, kind: str = "digest",
               thumbnails: int | None = None) -> Rendered:
        """The mail of ``digest``; with images on, the first ``thumbnails`` cards (all by
        default) show the source's thumbnail."""
        if thumbnails is None:
            thumbnails = len(digest.items) if self.images else 0
        sub = digest.subscriber
        long = len(digest.items) > LONG_DIGEST_CARDS
        chars = SHORT_SNIPPET_CHARS if long else SNIPPET_CHARS
        seen: set[tuple[str, str]] = set()  # a long digest links each action once
        followed = {name_key(a) for a in sub.authors}
        shape = self._link_shape(links)
        sections: list[tuple[str, list[str], list[str]]] = []
        tidy = True
        for section in digest.sections:
            if not section.items:
                continue
            html: list[str] = []
            text: list[str] = []
            for number, item in enumerate(section.items, 1):
                card_html, card_text, card_tidy = self._card_as_shown(
                    item, sub, followed, links, shape, chars, thumbnails > 0,
                    seen if long else None, number)
                thumbnails -= 1
                html.append(card_html)
                text.append(card_text)
                tidy = tidy and card_tidy
            sections.append((HEADINGS[section.name], html, text))
        values = _frame_values(digest, links, self.digest_name)
        text_part = self._text(kind, values, [(h, texts) for h, _, texts in sections], tidy)
        html_part = self._html_frame(kind, values, [(h, cards) for h, cards, _ in sections])
        return Rendered(str(values["subject"]), text_part, html_part)

    def _text(self, kind: str, values: dict[str, object],
              sections: list[tuple[str, list[str]]], tidy: bool) -> str:
        """The text part, tidied (``_tidy``). When every card is tidy already, the frame
        is rendered with a mark for each card's text (and its final line ends), tidied
        alone, and the cards put in: the same text, for tidying treats each line and each
        run of blank lines alone, and a tidy card starts and ends with neither."""
        template = self.env.get_template(f"{kind}.txt")
        if not (tidy and self.tidy_frames):
            return _tidy(template.render({**values, "sections": [
                _Section(h, tuple(texts)) for h, texts in sections]}))
        cores: dict[str, str] = {}
        marked = []
        for heading, texts in sections:
            marks = []
            for card_text in texts:
                name = f"t{len(cores)}"
                cores[name] = core = card_text.rstrip("\n")
                marks.append(self._mark(name) + card_text[len(core):])
            marked.append(_Section(heading, tuple(marks)))
        frame = self._parts(_tidy(template.render({**values, "sections": marked})))
        return "".join(part if n % 2 == 0 else cores[part] for n, part in enumerate(frame))

    def _card_as_shown(self, item: Item, sub: Subscriber, followed: set[str], links: Links,
                       shape: str | None, chars: int, image: bool,
                       seen: set[tuple[str, str]] | None, number: int
                       ) -> tuple[str, str, bool]:
        """A card's HTML and text as this mail shows it, and whether the text is tidy
        (``_Filled.tidy``). Kept once filled in for links of this ``shape``, so that the
        next mail showing it so only puts in its token; ``seen``: in a long digest, the
        actions linked on earlier cards (left out here)."""
        actions = links.action is not None
        key = self._key(item, followed, actions, chars, image)
        shown = self._shown.get(key) if key is not None else None
        view = None
        if shown is None:
            view = self._view(item, sub, followed, actions, chars, image)
            shown = _Shown(view.actions)
            if key is not None:
                self._shown.put(key, shown)
        if seen is None:
            kept: tuple[bool, ...] = ()
        else:
            same = [_same_action(a) for a in shown.actions]
            kept = tuple(a not in seen for a in same)
            seen.update(same)
        if shape is not None and key is not None:
            filled = shown.filled(kept, shape)
            if filled is None:
                assert links.action is not None  # a shape is made of its URLs
                urls = _action_urls(shown.actions, kept, links.action)
                html, text = self._cuts(view or self._view(item, sub, followed, actions,
                                                           chars, image), kept)
                filled = (_filled(html, urls, links.token),
                          _tidy_checked(_filled(text, urls, links.token)))
                shown.fill(kept, shape, filled)
            return (_with_token(filled[0], links.token),
                    _with_token(filled[1], links.token, number), filled[1].tidy)
        # Links that cannot be cut at a token: the card is kept with slots for them.
        done = shown.done.get(kept) if shown.done else None
        if done is None:
            done = self._cuts(view or self._view(item, sub, followed, actions, chars, image),
                              kept)
            if key is not None:
                shown.done = shown.done or {}
                shown.done[kept] = done
        urls = _action_urls(shown.actions, kept, links.action) if links.action else []
        return _fill(done[0], urls), _fill(done[1], urls, number), False

    def _link_shape(self, links: Links) -> str | None:
        """What every action URL of ``links`` is made of but the token, when a card's
        links can be filled in once for every mail (the token appears once in each, and
        is written as it is in HTML and text, before the target); None when they cannot.
        Each kind of link is probed: a token that is also a path's part ("f") would be
        cut at the wrong place, and the card filled in wrongly for every later mail."""
        token, action = links.token, links.action
        if action is None or not _PLAIN_TOKEN.fullmatch(token):
            return None
        shape = []
        for kind in ACTION_KINDS:
            probe = action(kind, "x")
            at = probe.find(token)
            if probe.count(token) != 1 or action(kind, token).find(token) != at:
                return None
            shape.append(probe[:at] + probe[at + len(token):])
        # one copy for the pass: every card kept holds it
        return sys.intern("\n".join(shape))

    def _cuts(self, view: _View, kept: tuple[bool, ...]) -> tuple[_Cut, _Cut]:
        """A card's HTML and text with the actions ``kept``, in pieces with slots."""
        c = _keep_actions(view.card, kept)
        return self._card("html", c), self._card("txt", c)

    def _key(self, item: Item, followed: set[str], actions: bool, chars: int, image: bool
             ) -> tuple[Any, ...] | None:
        """Everything the card of ``item`` depends on, as the reader sees it (None: a
        paper not stored, whose card is not kept)."""
        if item.paper.id is None:
            return None
        names = self._names.get(item.paper.id)
        if names is None:
            names = frozenset(name_key(n) for n in item.paper.all_authors)
            self._names.put(item.paper.id, names)
        # which of its authors are bold: the reader's followed names it has
        return (item.paper.id, item.reasons, chars, actions, image,
                tuple(sorted(k for k in followed if k in names)))

    def _view(self, item: Item, sub: Subscriber, followed: set[str], actions: bool,
              chars: int, image: bool = False) -> _View:
        """The card of ``item`` as ``sub`` sees it, its action links slots."""
        wanted: list[tuple[str, str]] = []

        def mark(kind: str, target: str) -> str:
            wanted.append(self._pairs.setdefault((kind, target), (kind, target)))
            return self._mark(str(len(wanted) - 1))

        return _View(card(item, sub, mark if actions else None, chars, followed, image),
                     tuple(wanted))

    def _card(self, fmt: str, c: Card) -> _Cut:
        """A card rendered (HTML with its CSS inlined, or text), in pieces with slots (its
        links' URLs, and its number in the text). The parts that depend on the reader are
        rendered once per value and kept, and so is the rest of the card, per paper; the
        pieces are those kept strings, not copies."""
        template = self._templates[fmt]
        if not template.parted:
            return _cut(self._parts(template.whole(c, self._mark("n"))))
        frame_key = (fmt, *_frame_key(fmt, c))
        frame = self._card_frames.get(frame_key)
        if frame is None:
            frame = self._kept_parts(template.frame(c, self._mark))
            self._card_frames.put(frame_key, frame)
        pieces: list[str] = []
        slots: list[tuple[int, str]] = []
        for i, name in enumerate(frame):
            if not i % 2:
                _extend(pieces, slots, [name])
            elif name in template.names:
                _extend(pieces, slots, self._part(template, fmt, name, c))
            else:  # a slot of the frame's own (the number)
                _extend(pieces, slots, ["", name])
        return _Cut(tuple(pieces), tuple(slots))

    def _part(self, template: _CardTemplate, fmt: str, name: str, c: Card) -> list[str]:
        """One part of a card, split at its slots; kept per value."""
        cache = self._actions if name == "actions" else self._pieces
        key = (fmt, name, _part_key(name, c))
        piece = cache.get(key)
        if piece is None:
            piece = self._kept_parts(template.part(name, c))
            cache.put(key, piece)
        return piece

    def _html_frame(self, kind: str, values: dict[str, object],
                    sections: list[tuple[str, list[str]]]) -> str:
        # Empty values stay empty in the frame, so that the templates' {% if %} see them.
        empty = tuple(k for k, v in values.items() if v == "")
        shape = (kind, empty, values["self_managed"],
                 tuple((heading, len(cards)) for heading, cards in sections))
        frame = self._frames.get(shape)
        if frame is None:
            slots = {k: Markup(self._mark(k)) if isinstance(v, str) and v else v
                     for k, v in values.items()}
            marked = [_Section(heading, tuple(Markup(self._mark(f"card_{i}_{j}"))
                                              for j in range(len(cards))))
                      for i, (heading, cards) in enumerate(sections)]
            html = self.env.get_template(f"{kind}.html").render({**slots, "sections": marked})
            frame = self._parts(inline_css(html, self._head))
            self._frames[shape] = frame
        filled = {k: v for k, v in values.items() if isinstance(v, str)}
        # The cards go in as they are (rendered already), the values escaped.
        cards = {f"card_{i}_{j}": card_html for i, (_, htmls) in enumerate(sections)
                 for j, card_html in enumerate(htmls)}
        return "".join(part if n % 2 == 0 else cards[part] if part in cards else
                       _serialized(filled[part], frame[n - 1]) for n, part in enumerate(frame))

    def _mark(self, name: str) -> str:
        return f"\ue000{self._nonce}{name}\ue001"

    def _parts(self, text: str) -> list[str]:
        """``text`` split at its slots: literal, slot name, literal, ..."""
        return self._slot.split(text)

    def _kept_parts(self, text: str) -> list[str]:
        """``_parts`` of text that cards keep: each piece one copy (interned), however
        many cards hold it. The pieces between a card's links recur on most cards, and
        the cards kept outlive the caches that made them (``_shown``)."""
        return [sys.intern(part) for part in self._slot.split(text)]


class _CardTemplate:
    """A card template (``_card.html`` or ``_card.txt``) whose reader-dependent parts are
    macros of these ``names``: rendered alone as parts, or with slots in their place as the
    rest of the card. An HTML template has the stylesheet inlined into its source, once,
    when that gives the same cards as inlining each rendered card (checked on a probe card
    that uses every part); a template that does not qualify, or has no such macros (one
    written for an older digest), is rendered whole for every card."""

    def __init__(self, template: jinja2.Template, names: tuple[str, ...],
                 inline: Callable[[str], str] | None = None) -> None:
        self.template, self.names, self.inline = template, names, inline
        dummy = dict.fromkeys(names, "")
        module = template.make_module({"card": _probe_card(), "parts": dummy, "number": 0})
        self.macros = {n: getattr(module, n) for n in names if hasattr(module, n)}
        self.parted = len(self.macros) == len(names) and inline is None

    @classmethod
    def html(cls, env: jinja2.Environment, css: str, head: str) -> _CardTemplate:
        plain = env.get_template("_card.html")
        keep = kept_classes(head)
        reference = cls(plain, _HTML_PARTS, lambda html: unclass(
            _INLINER.inline_fragment(html, css), keep))
        try:
            inlined = cls(env.from_string(unclass(_INLINER.inline_fragment(
                _stylesheet(env, "_card.html"), css), keep)), _HTML_PARTS)
            probe = _probe_card()
            if inlined.macros and _INLINER.inline_fragment(inlined.whole(probe), "") == (
                    _INLINER.inline_fragment(reference.whole(probe), "")):
                return inlined
        except (jinja2.TemplateError, css_inline.InlineError, ValueError):
            pass
        return reference

    @classmethod
    def text(cls, env: jinja2.Environment) -> _CardTemplate:
        return cls(env.get_template("_card.txt"), _TEXT_PARTS)

    def part(self, name: str, c: Card) -> str:
        return str(self.macros[name](c))

    def frame(self, c: Card, mark: Callable[[str], str]) -> str:
        return self.template.render(card=c, number=mark("n"),
                                    parts={n: Markup(mark(n)) for n in self.names})

    def whole(self, c: Card, number: object = 0) -> str:
        out = self.template.render(card=c, number=number,
                                   parts={n: Markup(self.part(n, c)) if n in self.macros
                                          else "" for n in self.names})
        return self.inline(out) if self.inline else out


_HTML_PARTS = ("authors", "snippet", "reasons", "actions")
_TEXT_PARTS = ("byline", "reasons", "actions")


def _frame_key(fmt: str, c: Card) -> tuple[Any, ...]:
    """What the rest of a card (all but its parts) shows."""
    if fmt == "html":
        return c.title, c.url, c.upvotes, c.meta, c.badges, c.links, c.image
    return c.title, c.badges, c.plain_snippet, c.links


def _part_key(name: str, c: Card) -> Any:
    """What one part of a card shows."""
    if name == "authors":
        return c.authors, c.more_authors, c.author_count, c.et_al
    if name == "byline":
        return c.byline
    if name == "snippet":
        return c.snippet
    if name == "reasons":
        return c.reasons
    return c.actions  # URLs are slots here, the same for every reader


@dataclass(frozen=True)
class _View:
    """A card whose action links are slots, and the (kind, target) of each slot."""

    card: Card
    actions: tuple[tuple[str, str], ...]


K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    """A dict of at most ``size`` entries that forgets those unused longest, roughly: two
    halves, the newer taking what is put and what is used from the older; when the newer
    is full, the older is dropped and the newer becomes it. A hit costs a lookup, not the
    reordering an exact LRU does on every hit."""

    def __init__(self, size: int) -> None:
        self.half = max(1, size // 2)
        self._new: dict[K, V] = {}
        self._old: dict[K, V] = {}

    def __len__(self) -> int:
        return len(self._new) + len(self._old)

    def get(self, key: K) -> V | None:
        found = self._new.get(key)
        if found is None:
            found = self._old.pop(key, None)
            if found is not None:
                self.put(key, found)
        return found

    def put(self, key: K, value: V) -> None:
        self._new[key] = value
        if len(self._new) >= self.half:
            self._old, self._new = self._new, {}


@lru_cache(maxsize=1 << 14)
def _same_action(action: tuple[str, str]) -> tuple[str, str]:
    """What makes two card actions the same in a long digest (which links each once): an
    author's name in any spelling (``name_key``), anything else as it is."""
    kind, target = action
    return (kind, name_key(target)) if kind in ("follow", "unfollow") else action


def _action_urls(actions: tuple[tuple[str, str], ...], kept: tuple[bool, ...],
                 action: Callable[[str, str], str]) -> list[str]:
    """A card's action URLs by slot number, from the (kind, target) of each; a link left
    out of this mail needs none."""
    return [action(k, t) if not kept or kept[i] else "" for i, (k, t) in enumerate(actions)]


class _Cut(NamedTuple):
    """A card rendered, in pieces: its text, and at ``slots`` (place in ``pieces``, which
    holds "" there) the number of an action URL or "n" for the card's number."""

    pieces: tuple[str, ...]
    slots: tuple[tuple[int, str], ...]


class _Filled(NamedTuple):
    """A card with its action URLs in, in pieces: the mail's token goes at ``tokens``
    and the card's number at ``number`` (-1: none). ``tidy``: the text is what tidying
    leaves of it, its final line ends aside, whatever token and number go in (they are
    never empty and hold no space)."""

    pieces: tuple[str, ...]
    tokens: tuple[int, ...]
    number: int
    tidy: bool = False


class _Shown:
    """A way a card is shown: the (kind, target) of its actions, and the card filled in
    for each set of actions kept (a long digest links each action once) and shape of
    links (nearly always one: the first is held in slots, any others in ``more``); or,
    for links that cannot be cut at a token, with slots for them."""

    __slots__ = ("actions", "done", "kept", "more", "pair", "shape")

    def __init__(self, actions: tuple[tuple[str, str], ...]) -> None:
        self.actions = actions
        self.kept: tuple[bool, ...] = ()
        self.shape = ""
        self.pair: tuple[_Filled, _Filled] | None = None
        self.more: dict[tuple[tuple[bool, ...], str], tuple[_Filled, _Filled]] | None = None
        self.done: dict[tuple[bool, ...], tuple[_Cut, _Cut]] | None = None

    def filled(self, kept: tuple[bool, ...], shape: str) -> tuple[_Filled, _Filled] | None:
        """The card (HTML, text) filled in for these actions and links, if it is."""
        if self.pair is not None and self.kept == kept and self.shape == shape:
            return self.pair
        return self.more.get((kept, shape)) if self.more else None

    def pairs(self) -> list[tuple[_Filled, _Filled]]:
        """Every (HTML, text) filled in."""
        first = [self.pair] if self.pair is not None else []
        return first + list(self.more.values()) if self.more else first

    def fill(self, kept: tuple[bool, ...], shape: str, pair: tuple[_Filled, _Filled]) -> None:
        if self.pair is None:
            self.kept, self.shape, self.pair = kept, shape, pair
        else:
            self.more = self.more or {}
            self.more[(kept, shape)] = pair


def _cut(parts: list[str]) -> _Cut:
    """Text split at its slots (literal, slot name, literal, ...) as a ``_Cut``."""
    pieces: list[str] = []
    slots: list[tuple[int, str]] = []
    _extend(pieces, slots, parts)
    return _Cut(tuple(pieces), tuple(slots))


def _extend(pieces: list[str], slots: list[tuple[int, str]], parts: list[str]) -> None:
    """Add text split at its slots (literal, slot name, literal, ...) to a card's pieces
    and slots; empty literals add nothing."""
    for i, part in enumerate(parts):
        if i % 2:
            slots.append((len(pieces), part))
            pieces.append("")
        elif part:
            pieces.append(part)


def _fill(cut: _Cut, urls: list[str], number: int = 0) -> str:
    """A card with its action links' URLs (escaped) and its number in their slots."""
    if not cut.slots:
        return "".join(cut.pieces)
    out = list(cut.pieces)
    for at, name in cut.slots:
        out[at] = str(number) if name == "n" else _serialized(
            urls[int(name)], cut.pieces[at - 1] if at else "")
    return "".join(out)


def _filled(cut: _Cut, urls: list[str], token: str) -> _Filled:
    """``cut`` with its URLs in, each cut at its first ``token`` (and escaped as
    ``_fill`` escapes it: the token itself needs nothing)."""
    out: list[str] = []
    tokens: list[int] = []
    number, at = -1, 0
    for place, name in cut.slots:
        out += cut.pieces[at:place]
        at = place + 1
        if name == "n":
            number = len(out)
            out.append("")
            continue
        before = cut.pieces[place - 1] if place else ""
        head, found, tail = urls[int(name)].partition(token)
        # The same few heads (the action's path) and tails (its target) recur in many
        # cards: one copy of each.
        out.append(sys.intern(_serialized(head, before)))
        if found:
            tokens.append(len(out))
            out += ["", sys.intern(_serialized(tail, before))]
    out += cut.pieces[at:]
    return _Filled(tuple(out), _shared(tuple(tokens)), number)


@lru_cache(maxsize=1 << 12)
def _shared(places: tuple[int, ...]) -> tuple[int, ...]:
    """One copy of each tuple of token places, however many cards have them."""
    return places


def _tidy_checked(text: _Filled) -> _Filled:
    """A card's text filled in, marked tidy when it is (``_Filled.tidy``)."""
    return text._replace(tidy=_is_tidy(_with_token(text, "x", 1).rstrip("\n")))


def _is_tidy(text: str) -> bool:
    """Whether ``_tidy`` leaves ``text`` as it is (but for the final line end it adds):
    no space ends a line, no blank line follows another, no line break but LF, and it
    starts and ends with something that is not a space."""
    return bool(text) and not text[0].isspace() and _tidy(text) == text + "\n"


def _with_token(card: _Filled, token: str, number: int = 0) -> str:
    """A card filled in by ``_filled``, with this mail's token and number."""
    out = list(card.pieces)
    for at in card.tokens:
        out[at] = token
    if card.number >= 0:
        out[card.number] = str(number)
    return "".join(out)


# A token written as it is in HTML attributes and text alike (nothing to escape).
_PLAIN_TOKEN = re.compile(r"[\w.~-]+", re.ASCII)


def _serialized(value: str, before: str) -> str:
    """``value`` as the inliner's HTML serialiser writes it: in an attribute (the slot
    follows ``="``) or in text. Rendered markup (a card) goes in as it is."""
    if isinstance(value, Markup):
        return str(value)
    value = value.replace("&", "&amp;").replace("\xa0", "&nbsp;")
    if before.endswith('="'):
        return value.replace('"', "&quot;")
    return value.replace("<", "&lt;").replace(">", "&gt;")


def _without_last(digest: Digest) -> Digest:
    """``digest`` without its last item (the last one of its last non-empty section)."""
    sections = list(digest.sections)
    at = max(i for i, s in enumerate(sections) if s.items)
    sections[at] = replace(sections[at], items=sections[at].items[:-1])
    return replace(digest, sections=tuple(sections))


def _keep_actions(c: Card, kept: tuple[bool, ...]) -> Card:
    if not kept or all(kept):
        return c
    return c._replace(actions=tuple(a for a, keep in zip(c.actions, kept, strict=True)
                                    if keep))


def _stylesheet(env: jinja2.Environment, name: str = "_style.css") -> str:
    """The source text of a template (by default the stylesheet)."""
    source, _, _ = env.loader.get_source(env, name) if env.loader else ("", None, None)
    return source


def _probe_card() -> Card:
    """A card that shows every part of the card template, with text that needs escaping."""
    link = Link('a "b" & <c>', "https://example.org/?a=1&b='2'")
    return Card(title='A "quoted" <title> & more', url="https://example.org/p?x=1&y=2",
                upvotes="12", authors=(Author("Ada O'Neil", True), Author("B & C", False)),
                more_authors=3, author_count=None, et_al=True, meta=("LG", "1 Jun 2026"),
                badges=("Code", "★ 1.2k"), snippet=(Segment("We <study> ", False),
                                                  Segment("flow matching", True)),
                links=(link, link), reasons=("You follow Ada", "Matches: x"),
                actions=(link, Link("Mute “x”", "https://example.org/m/t")),
                image=Link('Preview of “A "quoted" <title>”', "https://example.org/t.png?a=1&b=2"))


def _frame_values(digest: Digest, links: Links, digest_name: str) -> dict[str, object]:
    sub = digest.subscriber
    follows = [*sub.authors, *(f'"{k}"' for k in sub.keywords)]
    return {
        "subject": subject(digest),
        "preheader": preheader(digest),
        "digest_name": one_line(digest_name),
        "title": TITLES.get(sub.cadence, "Papers"),
        "who": one_line(sub.name) or sub.email.split("@")[0],
        "email": sub.email,
        "period": period_label(digest),
        "summary": summary_line(digest),
        "follows": one_line(", ".join(follows[:6]) + (" and more" if len(follows) > 6 else "")),
        "unsubscribe_url": links.unsubscribe,
        "manage_url": links.manage,
        "self_managed": sub.managed == "db",
        "preheader_fill": _PREHEADER_FILL,
        "notes": " ".join(_sentence(n) for n in digest.notes),
    }


def _sentence(text: str) -> str:
    """``several people ...`` as a sentence: a capital first letter and a full stop."""
    text = one_line(text)
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else ""


def period_label(digest: Digest) -> str:
    """``Week of 17 Aug 2026`` (weekly) or ``Friday 21 Aug 2026``, in the subscriber's zone."""
    zone = ZoneInfo(digest.subscriber.timezone)
    if digest.subscriber.cadence == "weekly":
        return f"Week of {_day(digest.start.astimezone(zone))}"
    end = digest.end.astimezone(zone)
    return f"{end:%A} {_day(end)}"


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def summary_line(digest: Digest) -> str:
    """``3 papers from authors you follow, 4 matching your keywords, 5 trending, 3
    rising, 3 recommended``."""
    parts: list[str] = []
    for name, phrase in (("authors", "from authors you follow"),
                         ("keywords", "matching your keywords"), ("trending", "trending"),
                         ("rising", "rising"), ("recommended", "recommended")):
        n = digest.count(name)
        if n:
            noun = "paper" if n == 1 else "papers"
            parts.append(f"{n} {noun} {phrase}" if not parts else f"{n} {phrase}")
    return ", ".join(parts) if parts else "Nothing new this time."


def _tidy(text: str) -> str:
    """No trailing spaces and at most one blank line in a row."""
    tidy = "\n".join(map(str.rstrip, text.splitlines()))
    while "\n\n\n" in tidy:
        tidy = tidy.replace("\n\n\n", "\n\n")
    return tidy.strip() + "\n"
