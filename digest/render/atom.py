"""Atom feeds (RFC 4287), built with feedgen: a feed is its id, title, links and entries,
each entry its id, title, link, time, authors and a summary. Pure: the pages hand it the
entries (the Daily Papers page's public feed, a subscriber's private feed of the papers
their digests held, in ``digest.web``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from feedgen.feed import FeedGenerator

# What XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE/U+FFFF): a
# source's title may carry them, and lxml refuses the whole document for one.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Entry:
    """One entry of a feed: ``id`` a permanent IRI (a paper's arXiv URL), ``updated``
    timezone-aware, ``summary`` plain text."""

    id: str
    title: str
    link: str
    updated: datetime
    authors: tuple[str, ...]
    summary: str


def atom(feed_id: str, title: str, link: str, self_link: str,
         updated: datetime, entries: Sequence[Entry]) -> bytes:
    """The Atom document of ``entries`` (in the order given: newest first), UTF-8. An
    entry without authors names the feed's title as its author, since Atom wants one
    for each entry and feed readers show it."""
    feed = FeedGenerator()
    feed.id(_xml(feed_id))
    feed.title(_xml(title))
    feed.link(href=_xml(link), rel="alternate")
    feed.link(href=_xml(self_link), rel="self")
    feed.updated(updated)
    feed.author({"name": _xml(title)})
    # feedgen adds each entry before those added already: added oldest first, so that
    # the document lists them newest first.
    for e in reversed(entries):
        item = feed.add_entry()
        item.id(_xml(e.id))
        item.title(_xml(e.title) or "(untitled)")
        item.link(href=_xml(e.link), rel="alternate")
        item.updated(e.updated)
        for name in [n for n in map(_xml, e.authors) if n.strip()] or [_xml(title)]:
            item.author({"name": name})
        if e.summary:
            item.summary(_xml(e.summary))
    data: bytes = feed.atom_str(pretty=True, encoding="UTF-8")
    return data


def _xml(text: str) -> str:
    """``text`` without the characters XML cannot hold."""
    return _NOT_XML.sub("", text)
