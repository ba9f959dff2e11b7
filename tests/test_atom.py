"""``digest.render.atom``: what it writes is Atom that feedparser reads without complaint,
with the elements feed readers rely on (id, updated, link, author), whatever the titles
and names hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser

from digest.render.atom import Entry, atom

AT = datetime(2026, 6, 1, 6, tzinfo=UTC)
HOSTILE = "Q\x00&A <b>\x1b[31m“bold”</b> \ud800 ]]> é"


def test_a_feed_reads_back_with_every_element_readers_rely_on() -> None:
    entries = [Entry(f"https://arxiv.org/abs/2606.0000{i}", f"Paper {i}",
                     f"https://arxiv.org/abs/2606.0000{i}", AT - timedelta(hours=i),
                     (f"Author {i}", "Zoë O'Brien"), f"Matches “diffusion” in the title {i}.")
               for i in range(3)]
    data = atom("https://d.example.org/feed/T.atom", "Paper Digest: papers for Ada",
                "https://d.example.org/", "https://d.example.org/feed/T.atom", AT, entries)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.feed.id == "https://d.example.org/feed/T.atom"
    assert feed.feed.title == "Paper Digest: papers for Ada"
    assert feed.feed.updated_parsed[:6] == AT.timetuple()[:6]
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"alternate": "https://d.example.org/",
                     "self": "https://d.example.org/feed/T.atom"}
    assert [e.id for e in feed.entries] == [e.id for e in entries]  # newest first, as given
    for got, want in zip(feed.entries, entries, strict=True):
        assert got.title == want.title and got.link == want.link
        assert got.updated_parsed[:6] == want.updated.timetuple()[:6]
        assert [a.name for a in got.authors] == list(want.authors)
        assert got.summary == want.summary


def test_hostile_text_and_missing_authors_still_make_a_valid_feed() -> None:
    entry = Entry("tag:d.example.org,2026:paper-7", HOSTILE, "https://arxiv.org/abs/1",
                  AT, ("", HOSTILE), HOSTILE)
    bare = Entry("tag:d.example.org,2026:paper-8", "\x00", "https://arxiv.org/abs/2", AT,
                 (), "")
    feed = feedparser.parse(atom("urn:x", "Digest & <Co>", "https://d.example.org/",
                                 "https://d.example.org/f.atom", AT, [entry, bare]))
    assert not feed.bozo, feed.bozo_exception
    first, second = feed.entries
    assert first.title == "Q&A <b>[31m“bold”</b>  ]]> é"  # control characters dropped
    assert [a.name for a in first.authors] == ["Q&A <b>[31m“bold”</b>  ]]> é"]
    assert second.title == "(untitled)"
    assert [a.name for a in second.authors] == ["Digest & <Co>"]  # the feed's, not none
    assert "summary" not in second
    assert feed.feed.title == "Digest & <Co>"
