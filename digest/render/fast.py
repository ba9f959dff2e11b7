"""The fast path: a renderer that renders the mails of a pass, doing once what repeats
between them. It gives what ``digest.render.reference`` gives, mail for mail (compared on
real data in ``tests/test_render_reference.py``); the kept cards are in
``digest.render.kept``. ``_CardTemplate`` and ``_tidy`` keep the names they had when
the renderer was the whole package: its tests patch them here, where it looks them up.
"""

from __future__ import annotations

import re
import secrets
import sys
from typing import Any

from markupsafe import Markup

from digest import defaults
from digest.model import Digest, Item, Rendered, Subscriber
from digest.render import cards
from digest.render.cards import Card, card
from digest.render.frame import HEADINGS, Links, Section, frame_values, same_action, without_last
from digest.render.kept import (
    PLAIN_TOKEN,
    Cut,
    Filled,
    Lru,
    Shown,
    View,
    action_urls,
    cut,
    extend,
    fill,
    filled,
    frame_key,
    keep_actions,
    part_key,
    serialized,
    with_token,
)
from digest.render.templates import CardTemplate as _CardTemplate
from digest.render.templates import head_stylesheet, inline_css, stylesheet, templates_env
from digest.render.templates import tidy as _tidy
from digest.text import name_key
from digest.vocab import CARD_ACTIONS, CardPart, MessageKind, SectionName

# About what a card's thumbnail adds to the HTML: how many to leave out when over the limit.
_THUMBNAIL_BYTES = 200
# The ways of showing a card a renderer keeps: about as many as each process of a pass
# of 100,000 readers who follow random authors and keywords shows.
VIEWS = 250_000


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
    templates would. The result is the mail ``reference.render_reference`` renders
    straight through the templates.
    """

    def __init__(self, digest_name: str = defaults.DIGEST_NAME, cards: int = 30_000,
                 images: bool = False, views: int = VIEWS) -> None:
        self.digest_name = digest_name
        self.images = images
        self.env = templates_env()
        self._nonce = secrets.token_hex(6)
        self._slot = re.compile(f"\ue000{self._nonce}([a-z0-9_]+)\ue001")
        self._css = stylesheet(self.env)
        self._head = head_stylesheet(self.env)
        self._templates = {"html": _CardTemplate.html(self.env, self._css, self._head),
                           "txt": _CardTemplate.text(self.env)}
        # Card frames (a few per paper) and parts (one per way a part is shown) apart,
        # so that the many parts never push out the frames.
        self._card_frames: Lru[tuple[Any, ...], list[str]] = Lru(cards)
        self._pieces: Lru[tuple[Any, ...], list[str]] = Lru(5 * cards)
        # Action parts are seldom shown alike on two cards: kept apart, and fewer.
        self._actions: Lru[tuple[Any, ...], list[str]] = Lru(cards // 4)
        self._names: Lru[int, frozenset[str]] = Lru(cards)  # name keys of a paper
        # Each way a card is shown, as every reader who sees it so gets it: its pieces
        # (shared with the other cards of the paper and of the part) with the links in
        # but for the mail's token. Light enough to keep every way of a big pass.
        self._shown: Lru[tuple[Any, ...], Shown] = Lru(views)
        # An action's (kind, target), one copy however many cards carry it.
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        self._frames: dict[tuple[Any, ...], list[str]] = {}
        # The text part's frame tidied alone when its cards are tidy (``_text``); off,
        # every text part is tidied whole, as a reference.
        self.tidy_frames = True

    def render_within(self, digest: Digest, links: Links, kind: str = MessageKind.DIGEST,
                      limit: int = defaults.MAX_HTML_BYTES) -> tuple[Rendered, Digest]:
        """The mail of ``digest`` with at most ``limit`` bytes of HTML: when its cards
        would make more, the last cards are left out (of the last sections first) until
        it fits. Returns the mail and the digest it shows."""
        thumbnails = len(digest.items) if self.images else 0
        rendered = self.render(digest, links, kind, thumbnails)
        dropped = False
        while (excess := len(rendered.html.encode("utf-8")) - limit) > 0 and digest.items:
            if thumbnails:  # pictures go before papers do, from the last cards up
                thumbnails = max(0, thumbnails - excess // _THUMBNAIL_BYTES - 1)
                dropped = True
            else:
                digest = without_last(digest)
            rendered = self.render(digest, links, kind, thumbnails)
        # The guess of a picture's size may take one too many: give back what fits.
        while dropped and 0 < thumbnails < len(digest.items):
            more = self.render(digest, links, kind, thumbnails + 1)
            if len(more.html.encode("utf-8")) > limit:
                break
            rendered, thumbnails = more, thumbnails + 1
        return rendered, digest

    def render(self, digest: Digest, links: Links, kind: str = MessageKind.DIGEST,
               thumbnails: int | None = None) -> Rendered:
        """The mail of ``digest``; with images on, the first ``thumbnails`` cards (all by
        default) show the source's thumbnail."""
        if thumbnails is None:
            thumbnails = len(digest.items) if self.images else 0
        sub = digest.subscriber
        long = len(digest.items) > cards.LONG_DIGEST_CARDS
        chars = cards.SHORT_SNIPPET_CHARS if long else cards.SNIPPET_CHARS
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
            possibly = section.name == SectionName.POSSIBLY
            for number, item in enumerate(section.items, 1):
                card_html, card_text, card_tidy = self._card_as_shown(
                    item, sub, followed, links, shape, chars, thumbnails > 0,
                    seen if long else None, number, possibly)
                thumbnails -= 1
                html.append(card_html)
                text.append(card_text)
                tidy = tidy and card_tidy
            sections.append((HEADINGS[section.name], html, text))
        values = frame_values(digest, links, self.digest_name)
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
                Section(h, tuple(texts)) for h, texts in sections]}))
        cores: dict[str, str] = {}
        marked = []
        for heading, texts in sections:
            marks = []
            for card_text in texts:
                name = f"t{len(cores)}"
                cores[name] = core = card_text.rstrip("\n")
                marks.append(self._mark(name) + card_text[len(core):])
            marked.append(Section(heading, tuple(marks)))
        frame = self._parts(_tidy(template.render({**values, "sections": marked})))
        return "".join(part if n % 2 == 0 else cores[part] for n, part in enumerate(frame))

    def _card_as_shown(self, item: Item, sub: Subscriber, followed: set[str], links: Links,
                       shape: str | None, chars: int, image: bool,
                       seen: set[tuple[str, str]] | None, number: int,
                       possibly: bool = False) -> tuple[str, str, bool]:
        """A card's HTML and text as this mail shows it, and whether the text is tidy
        (``Filled.tidy``). Kept once filled in for links of this ``shape``, so that the
        next mail showing it so only puts in its token; ``seen``: in a long digest, the
        actions linked on earlier cards (left out here); ``possibly``: a card of the
        "Possibly by" section."""
        actions = links.action is not None
        key = self._key(item, followed, actions, chars, image, possibly)
        shown = self._shown.get(key) if key is not None else None
        view = None
        if shown is None:
            view = self._view(item, sub, followed, actions, chars, image, possibly)
            shown = Shown(view.actions)
            if key is not None:
                self._shown.put(key, shown)
        if seen is None:
            kept: tuple[bool, ...] = ()
        else:
            same = [same_action(a) for a in shown.actions]
            kept = tuple(a not in seen for a in same)
            seen.update(same)
        if shape is not None and key is not None:
            pair = shown.filled(kept, shape)
            if pair is None:
                assert links.action is not None  # a shape is made of its URLs
                urls = action_urls(shown.actions, kept, links.action)
                html, text = self._cuts(view or self._view(item, sub, followed, actions,
                                                           chars, image, possibly), kept)
                pair = (filled(html, urls, links.token),
                        _tidy_checked(filled(text, urls, links.token)))
                shown.fill(kept, shape, pair)
            return (with_token(pair[0], links.token),
                    with_token(pair[1], links.token, number), pair[1].tidy)
        # Links that cannot be cut at a token: the card is kept with slots for them.
        done = shown.done.get(kept) if shown.done else None
        if done is None:
            done = self._cuts(view or self._view(item, sub, followed, actions, chars, image,
                                                 possibly), kept)
            if key is not None:
                shown.done = shown.done or {}
                shown.done[kept] = done
        urls = action_urls(shown.actions, kept, links.action) if links.action else []
        return fill(done[0], urls), fill(done[1], urls, number), False

    def _link_shape(self, links: Links) -> str | None:
        """What every action URL of ``links`` is made of but the token, when a card's
        links can be filled in once for every mail (the token appears once in each, and
        is written as it is in HTML and text, before the target); None when they cannot.
        Each kind of link is probed: a token that is also a path's part ("f") would be
        cut at the wrong place, and the card filled in wrongly for every later mail."""
        token, action = links.token, links.action
        if action is None or not PLAIN_TOKEN.fullmatch(token):
            return None
        shape = []
        for spec in CARD_ACTIONS:
            probe = action(spec.action, "x")
            at = probe.find(token)
            if probe.count(token) != 1 or action(spec.action, token).find(token) != at:
                return None
            shape.append(probe[:at] + probe[at + len(token):])
        # one copy for the pass: every card kept holds it
        return sys.intern("\n".join(shape))

    def _cuts(self, view: View, kept: tuple[bool, ...]) -> tuple[Cut, Cut]:
        """A card's HTML and text with the actions ``kept``, in pieces with slots."""
        c = keep_actions(view.card, kept)
        return self._card("html", c), self._card("txt", c)

    def _key(self, item: Item, followed: set[str], actions: bool, chars: int, image: bool,
             possibly: bool = False) -> tuple[Any, ...] | None:
        """Everything the card of ``item`` depends on, as the reader sees it (None: a
        paper not stored, whose card is not kept)."""
        if item.paper.id is None:
            return None
        names = self._names.get(item.paper.id)
        if names is None:
            names = frozenset(name_key(n) for n in item.paper.all_authors)
            self._names.put(item.paper.id, names)
        # which of its authors are bold: the reader's followed names it has
        return (item.paper.id, item.reasons, chars, actions, image, possibly,
                tuple(sorted(k for k in followed if k in names)))

    def _view(self, item: Item, sub: Subscriber, followed: set[str], actions: bool,
              chars: int, image: bool = False, possibly: bool = False) -> View:
        """The card of ``item`` as ``sub`` sees it, its action links slots."""
        wanted: list[tuple[str, str]] = []

        def mark(kind: str, target: str) -> str:
            wanted.append(self._pairs.setdefault((kind, target), (kind, target)))
            return self._mark(str(len(wanted) - 1))

        return View(card(item, sub, mark if actions else None, chars, followed, image,
                         possibly), tuple(wanted))

    def _card(self, fmt: str, c: Card) -> Cut:
        """A card rendered (HTML with its CSS inlined, or text), in pieces with slots (its
        links' URLs, and its number in the text). The parts that depend on the reader are
        rendered once per value and kept, and so is the rest of the card, per paper; the
        pieces are those kept strings, not copies."""
        template = self._templates[fmt]
        if not template.parted:
            return cut(self._parts(template.whole(c, self._mark("n"))))
        key = (fmt, *frame_key(fmt, c))
        frame = self._card_frames.get(key)
        if frame is None:
            frame = self._kept_parts(template.frame(c, self._mark))
            self._card_frames.put(key, frame)
        pieces: list[str] = []
        slots: list[tuple[int, str]] = []
        for i, name in enumerate(frame):
            if not i % 2:
                extend(pieces, slots, [name])
            elif name in template.names:
                extend(pieces, slots, self._part(template, fmt, name, c))
            else:  # a slot of the frame's own (the number)
                extend(pieces, slots, ["", name])
        return Cut(tuple(pieces), tuple(slots))

    def _part(self, template: _CardTemplate, fmt: str, name: str, c: Card) -> list[str]:
        """One part of a card, split at its slots; kept per value."""
        cache = self._actions if name == CardPart.ACTIONS else self._pieces
        key = (fmt, name, part_key(name, c))
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
            marked = [Section(heading, tuple(Markup(self._mark(f"card_{i}_{j}"))
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
                       serialized(filled[part], frame[n - 1]) for n, part in enumerate(frame))

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


def _tidy_checked(text: Filled) -> Filled:
    """A card's text filled in, marked tidy when it is (``Filled.tidy``)."""
    return text._replace(tidy=_is_tidy(with_token(text, "x", 1).rstrip("\n")))


def _is_tidy(text: str) -> bool:
    """Whether ``_tidy`` leaves ``text`` as it is (but for the final line end it adds):
    no space ends a line, no blank line follows another, no line break but LF, and it
    starts and ends with something that is not a space."""
    return bool(text) and not text[0].isspace() and _tidy(text) == text + "\n"
