"""SQL for browsing the stored papers on the Daily Papers page: the papers that appeared
in a span of days (featured, else published, else first seen: ``rank.appeared``), the
days around a span that have papers, and the full-text search (``search``).

A span's papers come back light (what ranking them needs: votes, score, days, title), so
that a month of a year's store is ranked without reading every author and abstract; the
page then reads in full only the papers it shows (``PaperRoom.papers_by_id``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from digest.model import Paper
from digest.store import schema as s
from digest.store import search
from digest.store.engine import Database
from digest.store.papers import load_ids

day_of = func.coalesce(s.papers.c.featured, s.papers.c.published)
_LIGHT = (s.papers.c.id, s.papers.c.title, s.papers.c.upvotes, s.papers.c.score,
          s.papers.c.featured, s.papers.c.published, s.papers.c.first_seen)


def _within(start: date, end: date) -> ColumnElement[bool]:
    """Papers that appeared on a day from ``start`` up to (not including) ``end``."""
    first, last = (datetime.combine(d, time(), UTC) for d in (start, end))
    seen = s.papers.c.first_seen
    return or_(and_(day_of >= start, day_of < end),
               and_(day_of.is_(None), seen >= first, seen < last))


def appeared(conn: Connection, start: date, end: date) -> list[Paper]:
    """The papers that appeared from ``start`` up to ``end``, light: id, title, votes,
    score, days and first seen only."""
    rows = conn.execute(select(*_LIGHT).where(_within(start, end)).order_by(s.papers.c.id))
    return [Paper(id=r.id, title=r.title, upvotes=r.upvotes, score=r.score,
                  featured=r.featured, published=r.published, first_seen=r.first_seen)
            for r in rows]


def days_with_papers(conn: Connection, before: date | None, after: date | None,
                     count: int) -> list[date]:
    """Up to ``count`` days that have papers: the latest ones before ``before``
    (newest first), or the earliest ones on or after ``after`` (oldest first)."""
    query = select(day_of.label("day")).where(day_of.is_not(None)).group_by(day_of)
    if before is not None:
        query = query.where(day_of < before).order_by(day_of.desc())
    if after is not None:
        query = query.where(day_of >= after).order_by(day_of)
    return [_as_date(d) for d in conn.execute(query.limit(count)).scalars()]


def _as_date(value: Any) -> date:
    """A day as the driver gives it (SQLite's coalesce of two dates is text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def in_order(conn: Connection, ids: list[int]) -> list[Paper]:
    """The papers with ``ids``, in that order."""
    found = {p.id: p for p in load_ids(conn, ids)}
    return [found[i] for i in ids if i in found]


class BrowseRoom(Database):
    """``Store``'s reading of papers for the pages: spans of days, and the search."""

    def papers_appeared(self, start: date, end: date) -> list[Paper]:
        """The papers that appeared from ``start`` up to (not including) ``end``, light
        (``appeared``): rank them, then read the ones shown with ``papers_in_order``."""
        with self._begin(reading=True) as conn:
            return appeared(conn, start, end)

    def days_before(self, day: date, count: int = 1) -> list[date]:
        """The latest ``count`` days before ``day`` that have papers, newest first."""
        with self._begin(reading=True) as conn:
            return days_with_papers(conn, day, None, count)

    def days_from(self, day: date, count: int = 1) -> list[date]:
        """The earliest ``count`` days from ``day`` on that have papers, oldest first."""
        with self._begin(reading=True) as conn:
            return days_with_papers(conn, None, day, count)

    def papers_in_order(self, ids: list[int]) -> list[Paper]:
        """The stored papers with ``ids``, in full, in that order."""
        with self._begin(reading=True) as conn:
            return in_order(conn, ids)

    def search_papers(self, query: str, limit: int, offset: int = 0
                      ) -> tuple[list[Paper], int]:
        """The papers whose title, authors or keywords hold every word of ``query``
        (``search.terms``: what a visitor typed, never the engine's syntax), best first,
        ``limit`` from ``offset``; and how many match in all."""
        with self._begin(reading=True) as conn:
            ids, total = search.search(conn, search.terms(query), limit, offset)
            return in_order(conn, ids), total
