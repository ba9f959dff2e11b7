"""Atom feeds (RFC 4287), built with feedgen: the public feed of the Daily Papers page,
and any other feed of papers, from ``Entry`` records. Pure: the caller gives every id,
link and time (an entry's ``updated`` is when the paper appeared, so that a feed reader
does not show a paper again when its votes change)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from feedgen.feed import FeedGenerator

from digest.text import one_line

__all__ = ["Entry", "atom"]

# XML 1.0 allows no control characters but tab, newline and carriage return.
_CONTROLS = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


@dataclass(frozen=True)
class Entry:
    """One entry of a feed: a paper, with what a feed reader shows of it."""

    id: str
    title: str
    link: str
    updated: datetime  # aware
    authors: tuple[str, ...]
    summary: str


def atom(feed_id: str, title: str, link: str, self_link: str,
         updated: datetime, entries: Sequence[Entry]) -> bytes:
    """The Atom document of a feed ``feed_id`` whose page is ``link`` and whose own URL
    is ``self_link``, holding ``entries`` in the order given (UTF-8 bytes)."""
    feed = FeedGenerator()
    feed.id(feed_id)
    feed.title(_clean(title))
    feed.link(href=link, rel="alternate", type="text/html")
    feed.link(href=self_link, rel="self", type="application/atom+xml")
    feed.updated(updated)
    for entry in reversed(entries):  # feedgen puts each new entry first
        item = feed.add_entry()
        item.id(entry.id)
        item.title(_clean(one_line(entry.title)) or entry.id)
        item.link(href=entry.link, rel="alternate", type="text/html")
        item.updated(entry.updated)
        for name in entry.authors:
            if _clean(name).strip():
                item.author(name=_clean(one_line(name)))
        if entry.summary:
            item.summary(_clean(entry.summary))
    out: bytes = feed.atom_str(pretty=True)
    return out


def _clean(text: str) -> str:
    """``text`` without the characters XML cannot hold (a source's stray controls)."""
    return text.translate(_CONTROLS)
