"""The cards a renderer keeps between mails (``digest.render.fast``): rendered cards in
pieces, with slots where each mail's action URLs, token and card number go; the ways a
card is shown, filled in; and the bounded caches that hold them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, NamedTuple, TypeVar

from markupsafe import Markup

from digest.render.cards import Card
from digest.vocab import CardPart

# A token written as it is in HTML attributes and text alike (nothing to escape).
PLAIN_TOKEN = re.compile(r"[\w.~-]+", re.ASCII)

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
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


@dataclass(frozen=True)
class View:
    """A card whose action links are slots, and the (kind, target) of each slot."""

    card: Card
    actions: tuple[tuple[str, str], ...]


class Cut(NamedTuple):
    """A card rendered, in pieces: its text, and at ``slots`` (place in ``pieces``, which
    holds "" there) the number of an action URL or "n" for the card's number."""

    pieces: tuple[str, ...]
    slots: tuple[tuple[int, str], ...]


class Filled(NamedTuple):
    """A card with its action URLs in, in pieces: the mail's token goes at ``tokens``
    and the card's number at ``number`` (-1: none). ``tidy``: the text is what tidying
    leaves of it, its final line ends aside, whatever token and number go in (they are
    never empty and hold no space)."""

    pieces: tuple[str, ...]
    tokens: tuple[int, ...]
    number: int
    tidy: bool = False


class Shown:
    """A way a card is shown: the (kind, target) of its actions, and the card filled in
    for each set of actions kept (a long digest links each action once) and shape of
    links (nearly always one: the first is held in slots, any others in ``more``); or,
    for links that cannot be cut at a token, with slots for them."""

    __slots__ = ("actions", "done", "kept", "more", "pair", "shape")

    def __init__(self, actions: tuple[tuple[str, str], ...]) -> None:
        self.actions = actions
        self.kept: tuple[bool, ...] = ()
        self.shape = ""
        self.pair: tuple[Filled, Filled] | None = None
        self.more: dict[tuple[tuple[bool, ...], str], tuple[Filled, Filled]] | None = None
        self.done: dict[tuple[bool, ...], tuple[Cut, Cut]] | None = None

    def filled(self, kept: tuple[bool, ...], shape: str) -> tuple[Filled, Filled] | None:
        """The card (HTML, text) filled in for these actions and links, if it is."""
        if self.pair is not None and self.kept == kept and self.shape == shape:
            return self.pair
        return self.more.get((kept, shape)) if self.more else None

    def pairs(self) -> list[tuple[Filled, Filled]]:
        """Every (HTML, text) filled in."""
        first = [self.pair] if self.pair is not None else []
        return first + list(self.more.values()) if self.more else first

    def fill(self, kept: tuple[bool, ...], shape: str, pair: tuple[Filled, Filled]) -> None:
        if self.pair is None:
            self.kept, self.shape, self.pair = kept, shape, pair
        else:
            self.more = self.more or {}
            self.more[(kept, shape)] = pair


def frame_key(fmt: str, c: Card) -> tuple[Any, ...]:
    """What the rest of a card (all but its parts) shows."""
    if fmt == "html":
        return c.title, c.url, c.upvotes, c.meta, c.badges, c.links, c.image, c.tldr
    return c.title, c.badges, c.tldr, c.plain_snippet, c.links


def part_key(name: str, c: Card) -> Any:
    """What one part of a card shows."""
    if name == CardPart.AUTHORS:
        return c.authors, c.more_authors, c.author_count, c.et_al
    if name == CardPart.BYLINE:
        return c.byline
    if name == CardPart.SNIPPET:
        return c.snippet
    if name == CardPart.REASONS:
        return c.reasons
    return c.actions  # URLs are slots here, the same for every reader


def action_urls(actions: tuple[tuple[str, str], ...], kept: tuple[bool, ...],
                action: Callable[[str, str], str]) -> list[str]:
    """A card's action URLs by slot number, from the (kind, target) of each; a link left
    out of this mail needs none."""
    return [action(k, t) if not kept or kept[i] else "" for i, (k, t) in enumerate(actions)]


def keep_actions(c: Card, kept: tuple[bool, ...]) -> Card:
    """``c`` with only the actions ``kept`` (all of them when ``kept`` is empty)."""
    if not kept or all(kept):
        return c
    return c._replace(actions=tuple(a for a, keep in zip(c.actions, kept, strict=True)
                                    if keep))


def cut(parts: list[str]) -> Cut:
    """Text split at its slots (literal, slot name, literal, ...) as a ``Cut``."""
    pieces: list[str] = []
    slots: list[tuple[int, str]] = []
    extend(pieces, slots, parts)
    return Cut(tuple(pieces), tuple(slots))


def extend(pieces: list[str], slots: list[tuple[int, str]], parts: list[str]) -> None:
    """Add text split at its slots (literal, slot name, literal, ...) to a card's pieces
    and slots; empty literals add nothing."""
    for i, part in enumerate(parts):
        if i % 2:
            slots.append((len(pieces), part))
            pieces.append("")
        elif part:
            pieces.append(part)


def fill(c: Cut, urls: list[str], number: int = 0) -> str:
    """A card with its action links' URLs (escaped) and its number in their slots."""
    if not c.slots:
        return "".join(c.pieces)
    out = list(c.pieces)
    for at, name in c.slots:
        out[at] = str(number) if name == "n" else serialized(
            urls[int(name)], c.pieces[at - 1] if at else "")
    return "".join(out)


def filled(c: Cut, urls: list[str], token: str) -> Filled:
    """``c`` with its URLs in, each cut at its first ``token`` (and escaped as ``fill``
    escapes it: the token itself needs nothing)."""
    out: list[str] = []
    tokens: list[int] = []
    number, at = -1, 0
    for place, name in c.slots:
        out += c.pieces[at:place]
        at = place + 1
        if name == "n":
            number = len(out)
            out.append("")
            continue
        before = c.pieces[place - 1] if place else ""
        head, found, tail = urls[int(name)].partition(token)
        # The same few heads (the action's path) and tails (its target) recur in many
        # cards: one copy of each.
        out.append(sys.intern(serialized(head, before)))
        if found:
            tokens.append(len(out))
            out += ["", sys.intern(serialized(tail, before))]
    out += c.pieces[at:]
    return Filled(tuple(out), _shared(tuple(tokens)), number)


@lru_cache(maxsize=1 << 12)
def _shared(places: tuple[int, ...]) -> tuple[int, ...]:
    """One copy of each tuple of token places, however many cards have them."""
    return places


def with_token(c: Filled, token: str, number: int = 0) -> str:
    """A card filled in by ``filled``, with this mail's token and number."""
    out = list(c.pieces)
    for at in c.tokens:
        out[at] = token
    if c.number >= 0:
        out[c.number] = str(number)
    return "".join(out)


def serialized(value: str, before: str) -> str:
    """``value`` as the inliner's HTML serialiser writes it: in an attribute (the slot
    follows ``="``) or in text. Rendered markup (a card) goes in as it is."""
    if isinstance(value, Markup):
        return str(value)
    value = value.replace("&", "&amp;").replace("\xa0", "&nbsp;")
    if before.endswith('="'):
        return value.replace('"', "&quot;")
    return value.replace("<", "&lt;").replace(">", "&gt;")
