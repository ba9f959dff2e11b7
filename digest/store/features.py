"""SQL for the papers' terms (``paper_features``, ``digest.terms``): written with the
papers (``papers._write``, in the same transaction), read for a pass's recommendations.

A paper stored before terms were kept (migration 0011 leaves the table empty) gets its
terms the first time a pass asks for them: they are made from its title and abstract
and stored then, in a short transaction of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from digest.model import Paper, Terms
from digest.store import schema as s
from digest.store.engine import Database, chunks
from digest.terms import hashed, paper_text
from digest.text import arxiv_key, paper_id

_f = s.paper_features.c
_p = s.papers.c


def write(conn: Connection, papers: Sequence[Paper]) -> None:
    """Store the terms of ``papers`` (their ids set), replacing what was there."""
    _put(conn, [(p.id, p.title, p.abstract) for p in papers if p.id is not None])


def by_ids(conn: Connection, ids: Sequence[int]) -> tuple[dict[int, Terms], list[int]]:
    """The stored terms of the papers with ``ids``, by id, and the ids of those stored
    without terms yet."""
    found: dict[int, Terms] = {}
    missing: list[int] = []
    for chunk in chunks(sorted(set(ids))):
        _read(conn, found, missing, _p.id.in_(chunk))
    return found, missing


def by_arxiv(conn: Connection, arxiv_ids: Iterable[str], since: datetime, now: datetime
             ) -> tuple[dict[int, Terms], list[int]]:
    """The stored terms of the papers with these arXiv ids (any case, prefix or
    version) first seen by ``now`` that appeared since ``since``, by id, and the ids of
    those stored without terms yet."""
    wanted = sorted({form for a in arxiv_ids for form in (arxiv_key(a), paper_id(a.strip()))})
    found: dict[int, Terms] = {}
    missing: list[int] = []
    for chunk in chunks(wanted):
        _read(conn, found, missing, _p.arxiv_id.in_(chunk), s.appeared_since(since),
              _p.first_seen <= now)
    return found, missing


def latest(conn: Connection, limit: int, since: datetime, now: datetime) -> list[int]:
    """The ids of the ``limit`` papers stored last that were first seen by ``now`` and
    appeared since ``since``, newest first."""
    query = (select(_p.id).where(s.appeared_since(since), _p.first_seen <= now)
             .order_by(_p.id.desc()).limit(limit))
    return list(conn.execute(query).scalars())


def fill(conn: Connection, ids: Sequence[int]) -> dict[int, Terms]:
    """Make and store the terms of the papers with ``ids`` from their stored title and
    abstract; returns them by id."""
    rows: list[Any] = []
    for chunk in chunks(sorted(set(ids))):
        rows += conn.execute(select(_p.id, _p.arxiv_id, _p.title, _p.abstract)
                             .where(_p.id.in_(chunk))).all()
    packed = _put(conn, [(i, title, abstract) for i, _, title, abstract in rows])
    return {i: Terms(i, arxiv, title, terms)
            for (i, arxiv, title, _), terms in zip(rows, packed, strict=True)}


def _read(conn: Connection, found: dict[int, Terms], missing: list[int], *where: Any) -> None:
    """Add the papers matching ``where`` to ``found`` with their terms, or their ids to
    ``missing`` when they have none stored."""
    query = (select(_p.id, _p.arxiv_id, _p.title, _f.terms)
             .outerjoin(s.paper_features, _f.paper_id == _p.id).where(*where))
    for i, arxiv, title, terms in conn.execute(query):
        if terms is None:
            missing.append(i)
        else:
            found[i] = Terms(i, arxiv, title, bytes(terms))


def _put(conn: Connection, papers: Sequence[tuple[int, str, str]]) -> list[bytes]:
    """Replace the terms of (id, title, abstract) ``papers``; returns them in order."""
    ids = [i for i, _, _ in papers]
    for chunk in chunks(ids):
        conn.execute(delete(s.paper_features).where(_f.paper_id.in_(chunk)))
    packed = hashed([paper_text(title, abstract) for _, title, abstract in papers])
    if papers:
        conn.execute(insert(s.paper_features), [
            {"paper_id": i, "terms": terms} for i, terms in zip(ids, packed, strict=True)])
    return packed


class FeatureRoom(Database):
    """``Store``'s terms of papers, for recommendations; each method reads in one
    transaction and makes the missing terms in another."""

    def paper_terms(self, ids: Iterable[int]) -> list[Terms]:
        """The terms of the stored papers with ``ids``, in that order (made and stored
        first for papers that have none yet); an id not stored is left out."""
        wanted = list(dict.fromkeys(ids))
        with self._begin(reading=True) as conn:
            found, missing = by_ids(conn, wanted)
        found.update(self._filled(missing))
        return [found[i] for i in wanted if i in found]

    def liked_terms(self, arxiv_ids: Iterable[str], since: datetime, now: datetime
                    ) -> list[Terms]:
        """The terms of the stored papers with these arXiv ids that were first seen by
        ``now`` and appeared since ``since`` (made first for those that have none), in
        the order stored."""
        wanted = list(arxiv_ids)
        if not wanted:
            return []
        with self._begin(reading=True) as conn:
            found, missing = by_arxiv(conn, wanted, since, now)
        found.update(self._filled(missing))
        return [found[i] for i in sorted(found)]

    def latest_terms(self, limit: int, since: datetime, now: datetime,
                     besides: Collection[int] = ()) -> list[Terms]:
        """The terms of the ``limit`` papers stored last, other than those with ids
        ``besides``, that were first seen by ``now`` and appeared since ``since``."""
        if limit <= 0:
            return []
        with self._begin(reading=True) as conn:
            ids = latest(conn, limit + len(besides), since, now)
        return self.paper_terms([i for i in ids if i not in besides][:limit])

    def _filled(self, missing: Sequence[int]) -> dict[int, Terms]:
        """The terms of papers stored without them, made and stored now."""
        if not missing:
            return {}
        return self._retrying(lambda conn: fill(conn, missing), "store the papers' terms")
