"""SQL for papers: merging incoming records into stored ones, reading them back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    Integer,
    Select,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy import update as sql_update

from digest.merge import merge, same_paper
from digest.model import Paper, Snapshot
from digest.store import features, search
from digest.store import schema as s
from digest.store.engine import Database, chunks
from digest.text import name_key, title_key

_STREAM = 1000  # papers read at a time when they are streamed (``PaperRoom.paper_chunks``)


@dataclass(frozen=True)
class SaveResult:
    """What one source added: entries read, papers new to the database, entries merged."""

    read: int
    new: int
    merged: int


@dataclass
class _Slot:
    paper: Paper
    stored: Paper | None  # as read from the database; None for a paper new in this batch


def save(
    conn: Connection, incoming: list[Paper], source: str, fmt: str, now: datetime
) -> SaveResult:
    """Record an ingest run and merge ``incoming`` (first_seen set) into the stored papers."""
    run_id = insert_id(conn, insert(s.ingest_runs).values(
        source=source, format=fmt, started_at=now, read=len(incoming)))
    index = _Index(_load_matching(conn, incoming))
    new = merged = 0
    for paper in incoming:
        slot = index.find(paper)
        if slot is None:
            index.add(_Slot(paper, None), paper)
            new += 1
        else:
            slot.paper = merge(slot.paper, paper)
            index.add(slot, paper)
            merged += 1
    _write(conn, index.slots, run_id, now)
    conn.execute(sql_update(s.ingest_runs).where(s.ingest_runs.c.id == run_id)
                 .values(new=new, merged=merged))
    return SaveResult(len(incoming), new, merged)


def load(conn: Connection, since: datetime | None = None) -> list[Paper]:
    """Stored papers in the order first stored; with ``since``, only those that appeared
    (featured, else published, else first seen) on or after that day."""
    if since is not None:
        return load_ids(conn, appeared_ids(conn, since))
    return _assemble(conn, conn.execute(select(s.papers).order_by(s.papers.c.id))
                     .mappings().all())


def appeared_ids(conn: Connection, since: datetime) -> list[int]:
    """The ids of the papers that appeared (featured, else published, else first seen)
    on or after ``since``'s day, in id order. Read through ix_papers_day and sorted here:
    asked to order by id, SQLite walks the whole table by id instead (27 s at 400,000
    papers, against 2 ms)."""
    return sorted(conn.execute(select(s.papers.c.id).where(s.appeared_since(since)))
                  .scalars())


def span(conn: Connection, last: int | None) -> tuple[int, int] | None:
    """The first and last id of the stored papers, of only the ``last`` stored when
    given; None when there are none."""
    newest = conn.execute(select(func.max(s.papers.c.id))).scalar()
    if newest is None:
        return None
    first = None
    if last is not None:  # the last'th from the end, when there are that many
        first = conn.execute(select(s.papers.c.id).order_by(s.papers.c.id.desc())
                             .offset(last - 1).limit(1)).scalar()
    if first is None:
        first = conn.execute(select(func.min(s.papers.c.id))).scalar_one()
    return int(first), int(newest)


def load_after(conn: Connection, after: int, upto: int, size: int) -> list[Paper]:
    """The first ``size`` stored papers with an id above ``after`` and up to ``upto``, in
    id order."""
    query = (select(s.papers).where(s.papers.c.id > after, s.papers.c.id <= upto)
             .order_by(s.papers.c.id).limit(size))
    return _assemble(conn, conn.execute(query).mappings().all())


def seen_since(conn: Connection, since: datetime) -> list[Paper]:
    """The papers first seen after ``since``, in the order first stored (by the index on
    first seen: what is new, however big the store)."""
    query = select(s.papers).where(s.papers.c.first_seen > since).order_by(s.papers.c.id)
    return _assemble(conn, conn.execute(query).mappings().all())


def newest(conn: Connection, count: int) -> list[Paper]:
    """The ``count`` papers first seen last, newest first (by the index on first seen)."""
    query = select(s.papers).order_by(s.papers.c.first_seen.desc(), s.papers.c.id.desc())
    return _assemble(conn, conn.execute(query.limit(count)).mappings().all())


def load_ids(conn: Connection, ids: Iterable[int]) -> list[Paper]:
    """The stored papers with these ids, in id order."""
    rows: list[Any] = []
    for chunk in chunks(sorted(set(ids))):
        rows += conn.execute(select(s.papers).where(s.papers.c.id.in_(chunk))
                             .order_by(s.papers.c.id)).mappings().all()
    return _assemble(conn, rows)


def snapshots(conn: Connection, start: datetime, now: datetime) -> list[Snapshot]:
    """The upvote counts seen after ``start`` and up to ``now``, and for each paper among
    them its last count at or before ``start``: all a gain since ``start`` needs."""
    u = s.upvote_snapshots.c
    recent = and_(u.seen_at > start, u.seen_at <= now)
    moving = select(u.paper_id).where(recent).distinct()
    base = (select(u.paper_id, func.max(u.seen_at).label("at"))
            .where(u.seen_at <= start, u.paper_id.in_(moving)).group_by(u.paper_id).subquery())
    rows = select(u.paper_id, u.seen_at, u.upvotes)
    query = union_all(rows.where(recent), rows.join(base, and_(
        u.paper_id == base.c.paper_id, u.seen_at == base.c.at)))
    return [Snapshot(paper_id, seen_at, upvotes)
            for paper_id, seen_at, upvotes in conn.execute(query)]


def credited_to(conn: Connection, key: str, source: str) -> list[Paper]:
    """The papers credited to the folded name ``key`` by the profile stored as ``source``."""
    pa = s.paper_authors.c
    query = (select(pa.paper_id).join(s.authors, s.authors.c.id == pa.author_id)
             .join(s.paper_sources, s.paper_sources.c.paper_id == pa.paper_id)
             .where(s.authors.c.key == key, pa.credited, s.paper_sources.c.source == source)
             .distinct())
    return load_ids(conn, conn.execute(query).scalars())


def carrying(conn: Connection, keys: Sequence[str], newest: int | None = None,
             known: Mapping[int, Paper] | None = None) -> dict[str, list[Paper]]:
    """For each folded name of ``keys`` that some paper carries (listed or credited), the
    ``newest`` such papers (by the day they appeared, then id; all without it) and any
    of ``known`` (by id) that carry it, in id order; a name on none is left out. Papers
    not ``known`` are read slim (``load_slim``)."""
    pa = s.paper_authors.c
    known = known or {}
    authors = _authors_named(conn, keys)
    ids: dict[str, set[int]] = defaultdict(set)
    if newest is None:
        for chunk in chunks(sorted(authors)):
            query = select(pa.author_id, pa.paper_id).where(pa.author_id.in_(chunk))
            for author, paper_id in conn.execute(query).all():
                ids[authors[author]].add(paper_id)
    else:
        _newest_ids(conn, authors, newest, ids)
    if known and newest is not None:
        reach = _reach(known.values())
        for chunk in chunks(sorted(authors)):
            for author, paper_id in conn.execute(_recent(chunk, reach)).all():
                if paper_id in known:
                    ids[authors[author]].add(paper_id)
    wanted = set().union(*ids.values()) if ids else set()
    papers = {i: known[i] for i in wanted if i in known}
    papers.update((p.id, p) for p in load_slim(conn, wanted - papers.keys())
                  if p.id is not None)
    return {key: [papers[i] for i in sorted(found)] for key, found in ids.items()}


def _newest_ids(conn: Connection, authors: Mapping[int, str], newest: int,
                ids: dict[str, set[int]]) -> None:
    """Add to ``ids`` (by name) the ``newest`` papers of each of ``authors``: all of them
    for the authors on at most that many (counted, then read, a chunk of authors a
    statement: most names are on a few papers), from the end of the index for the others
    (a statement each)."""
    pa = s.paper_authors.c
    few: list[int] = []
    query = _newest_of(newest)
    for chunk in chunks(sorted(authors)):
        counted = conn.execute(select(pa.author_id, func.count()).where(
            pa.author_id.in_(chunk)).group_by(pa.author_id)).all()
        for author, count in counted:
            if count <= newest:
                few.append(author)
            else:
                ids[authors[author]].update(conn.execute(query, {"writer": author}).scalars())
    for chunk in chunks(few):
        for author, paper_id in conn.execute(select(pa.author_id, pa.paper_id).where(
                pa.author_id.in_(chunk))).all():
            ids[authors[author]].add(paper_id)


def _authors_named(conn: Connection, keys: Sequence[str]) -> dict[int, str]:
    """The ids of the authors with these folded names (most spellings asked for are on
    no paper), with their names."""
    found: dict[int, str] = {}
    for chunk in chunks(sorted(set(keys))):
        query = select(s.authors.c.id, s.authors.c.key).where(s.authors.c.key.in_(chunk))
        found.update((author, key) for author, key in conn.execute(query))
    return found


def _newest_of(newest: int) -> Select[Any]:
    """The ids of the ``newest`` papers of the author ``:writer`` (by day, then id), read
    from the end of the index on (author, day, paper): ``newest`` rows however many
    papers carry the name. One author a statement: compiled once, run for each."""
    pa = s.paper_authors.c
    return (select(pa.paper_id).where(pa.author_id == bindparam("writer"))
            .order_by(pa.day.desc().nulls_last(), pa.paper_id.desc()).limit(newest))


@dataclass(frozen=True)
class _Reach:
    """How far back papers a caller holds go: to ``since`` (the day the oldest of them
    appeared; None when none has a day), and whether some have no day at all."""

    since: date | None
    undated: bool


def _reach(known: Iterable[Paper]) -> _Reach:
    days = [p.featured or p.published for p in known]
    dated = [d for d in days if d is not None]
    return _Reach(min(dated) if dated else None, len(dated) < len(days))


def _recent(authors: Sequence[int], reach: _Reach) -> Select[Any]:
    """(author, paper) of the papers of ``authors`` as recent as the papers a caller
    holds (``reach``; which of them it holds, the caller sees)."""
    pa = s.paper_authors.c
    held = [pa.day >= reach.since] if reach.since is not None else []
    if reach.undated:
        held.append(pa.day.is_(None))
    return select(pa.author_id, pa.paper_id).where(pa.author_id.in_(authors),
                                                   or_(false(), *held))


# What a name's resolution reads of a paper (``pins.resolve``, ``pins.why``): no abstract,
# summary or keywords, which are most of a paper's bytes.
_SLIM = (s.papers.c.id, s.papers.c.title, s.papers.c.arxiv_id, s.papers.c.organization,
         s.papers.c.published, s.papers.c.featured, s.papers.c.author_count,
         s.papers.c.truncated, s.papers.c.category, s.papers.c.first_seen)


def load_slim(conn: Connection, ids: Iterable[int]) -> list[Paper]:
    """The stored papers with these ids, with what a name's resolution needs of them:
    title, ids, dates, organisation, sources and authors (with credits and claims); the
    abstract, summary, keywords and counts left empty."""
    found: list[Paper] = []
    pa, ps = s.paper_authors.c, s.paper_sources.c
    for chunk in chunks(sorted(set(ids))):
        people: dict[int, list[Any]] = defaultdict(list)
        # the flags as stored (0/1 in SQLite): a bool made of each costs a tenth of the load
        query = (select(pa.paper_id, pa.name, type_coerce(pa.listed, Integer),
                        type_coerce(pa.credited, Integer), pa.user)
                 .where(pa.paper_id.in_(chunk)).order_by(pa.paper_id, pa.position))
        for row in conn.execute(query).all():  # all at once: a row at a time costs double
            people[row[0]].append(row)
        sources: dict[int, list[str]] = defaultdict(list)
        query = select(ps.paper_id, ps.source).where(ps.paper_id.in_(chunk)).order_by(ps.id)
        for paper_id, source in conn.execute(query).all():
            sources[paper_id].append(source)
        for row in conn.execute(select(*_SLIM).where(s.papers.c.id.in_(chunk))).all():
            found.append(_slim_paper(row, people[row[0]], sources[row[0]]))
    return found


def _slim_paper(row: Any, people: list[Any], sources: list[str]) -> Paper:
    paper_id, title, arxiv_id, org, published, featured, count, truncated, category, seen = row
    return Paper(
        id=paper_id, title=title, arxiv_id=arxiv_id, organization=org, published=published,
        featured=featured, author_count=count, truncated=truncated, category=category,
        first_seen=seen, sources=tuple(sources),
        authors=tuple(name for _, name, listed, _, _ in people if listed),
        credited=tuple(name for _, name, _, credited, _ in people if credited),
        claimed=tuple((name, user) for _, name, listed, _, user in people if listed and user),
    )


def insert_id(conn: Connection, statement: Insert) -> int:
    """Run a one-row INSERT and return the new row's id."""
    key = conn.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])


class _Index:
    """Finds the slot an incoming paper merges into: by arXiv id, else by DOI (a paper
    without an arXiv id, from bioRxiv), else by title key."""

    def __init__(self, stored: Iterable[Paper]) -> None:
        self.slots: list[_Slot] = []
        self._by_arxiv: dict[str, _Slot] = {}
        self._by_doi: dict[str, _Slot] = {}
        self._by_title: dict[str, list[_Slot]] = defaultdict(list)
        for paper in stored:
            self.add(_Slot(paper, paper), paper)

    def find(self, paper: Paper) -> _Slot | None:
        if paper.arxiv_id and paper.arxiv_id in self._by_arxiv:
            return self._by_arxiv[paper.arxiv_id]
        if paper.doi and paper.doi in self._by_doi:
            return self._by_doi[paper.doi]
        for slot in self._by_title.get(title_key(paper.title), ()):
            if same_paper(slot.paper, paper):
                return slot
        return None

    def add(self, slot: _Slot, seen_as: Paper) -> None:
        if not any(existing is slot for existing in self.slots):
            self.slots.append(slot)
        if slot.paper.arxiv_id:
            self._by_arxiv[slot.paper.arxiv_id] = slot
        if slot.paper.doi:
            self._by_doi[slot.paper.doi] = slot
        for title in {slot.paper.title, seen_as.title}:
            bucket = self._by_title[title_key(title)]
            if not any(existing is slot for existing in bucket):
                bucket.append(slot)


def _load_matching(conn: Connection, incoming: Sequence[Paper]) -> list[Paper]:
    """The stored papers that share an arXiv id, a DOI or a title key with ``incoming``."""
    ids = sorted({p.arxiv_id for p in incoming if p.arxiv_id})
    dois = sorted({p.doi for p in incoming if p.doi})
    keys = sorted({title_key(p.title) for p in incoming})
    found: dict[int, Any] = {}
    for chunk in chunks(ids):
        for row in conn.execute(select(s.papers).where(s.papers.c.arxiv_id.in_(chunk))).mappings():
            found[row["id"]] = row
    for chunk in chunks(dois):
        for row in conn.execute(select(s.papers).where(s.papers.c.doi.in_(chunk))).mappings():
            found[row["id"]] = row
    for chunk in chunks(keys):
        query = select(s.papers).where(s.papers.c.title_key.in_(chunk))
        for row in conn.execute(query).mappings():
            found[row["id"]] = row
    return _assemble(conn, [found[k] for k in sorted(found)])


def _assemble(conn: Connection, rows: Sequence[Any]) -> list[Paper]:
    """Papers from their rows plus their author and source rows."""
    ids = [row["id"] for row in rows]
    people: dict[int, list[Any]] = defaultdict(list)
    sources: dict[int, list[str]] = defaultdict(list)
    for chunk in chunks(ids):
        query = (select(s.paper_authors).where(s.paper_authors.c.paper_id.in_(chunk))
                 .order_by(s.paper_authors.c.paper_id, s.paper_authors.c.position))
        for row in conn.execute(query).mappings():
            people[row["paper_id"]].append(row)
        query = (select(s.paper_sources.c.paper_id, s.paper_sources.c.source)
                 .where(s.paper_sources.c.paper_id.in_(chunk)).order_by(s.paper_sources.c.id))
        for paper_id, source in conn.execute(query):
            sources[paper_id].append(source)
    return [_paper(row, people[row["id"]], sources[row["id"]]) for row in rows]


def _paper(row: Any, people: list[Any], sources: list[str]) -> Paper:
    return Paper(
        id=row["id"],
        title=row["title"],
        authors=tuple(p["name"] for p in people if p["listed"]),
        credited=tuple(p["name"] for p in people if p["credited"]),
        claimed=tuple((p["name"], p["user"]) for p in people if p["listed"] and p["user"]),
        truncated=row["truncated"],
        author_count=row["author_count"],
        arxiv_id=row["arxiv_id"],
        abstract=row["abstract"],
        organization=row["organization"],
        category=row["category"],
        published=row["published"],
        featured=row["featured"],
        upvotes=row["upvotes"],
        score=row["score"],
        has_code=row["has_code"],
        github_repo=row["github_repo"],
        github_stars=row["github_stars"],
        project_page=row["project_page"],
        ai_summary=row["ai_summary"],
        keywords=tuple(row["keywords"] or ()),
        announce_type=row["announce_type"],
        doi=row["doi"],
        thumbnail=row["thumbnail"],
        comments=row["comments"],
        sources=tuple(sources),
        first_seen=row["first_seen"],
    )


def _row(p: Paper, now: datetime) -> dict[str, Any]:
    return {
        "arxiv_id": p.arxiv_id, "title": p.title, "title_key": title_key(p.title),
        "abstract": p.abstract, "author_count": p.author_count, "truncated": p.truncated,
        "organization": p.organization, "category": p.category, "published": p.published,
        "featured": p.featured, "upvotes": p.upvotes, "score": p.score,
        "has_code": p.has_code, "github_repo": p.github_repo, "github_stars": p.github_stars,
        "project_page": p.project_page, "ai_summary": p.ai_summary,
        "keywords": list(p.keywords), "announce_type": p.announce_type,
        "thumbnail": p.thumbnail, "comments": p.comments, "first_seen": p.first_seen,
        "doi": p.doi,
        "updated_at": now,
    }


def _write(conn: Connection, slots: list[_Slot], run_id: int, now: datetime) -> None:
    """Insert new papers, update changed ones, rewrite changed author lists, refresh the
    changed papers' search rows (``search``) and the terms of those whose title or
    abstract changed (``features``), add sources.

    Each kind of write is one executemany, so a file costs a handful of statements.
    """
    changed = [slot for slot in slots if slot.stored is None or slot.paper != slot.stored]
    new = [slot for slot in changed if slot.stored is None]
    ids = _insert_papers(conn, [_row(slot.paper, now) for slot in new])
    for slot, paper_id in zip(new, ids, strict=True):
        slot.paper = replace(slot.paper, id=paper_id)
    updated = [slot for slot in changed if slot.stored is not None]
    if updated:
        conn.execute(sql_update(s.papers).where(s.papers.c.id == bindparam("paper_id")),
                     [{"paper_id": slot.paper.id, **_row(slot.paper, now)} for slot in updated])
    recredited = new + [slot for slot in updated if slot.stored and _people(slot.paper)
                        != _people(slot.stored)]
    _write_authors(conn, [slot.paper for slot in recredited])
    rewritten = {id(slot) for slot in recredited}
    _redate_authors(conn, [slot.paper for slot in updated if id(slot) not in rewritten
                           and slot.stored and _day(slot.paper) != _day(slot.stored)])
    _snapshot_upvotes(conn, [slot.paper for slot in changed if slot.paper.upvotes is not None
                             and (slot.stored is None
                                  or slot.stored.upvotes != slot.paper.upvotes)], now)
    search.refresh(conn, [slot.paper.id for slot in changed if slot.paper.id is not None])
    features.write(conn, [slot.paper for slot in changed if slot.stored is None
                          or _text(slot.paper) != _text(slot.stored)])
    rows = [{"paper_id": slot.paper.id, "source": src, "run_id": run_id, "seen_at": now}
            for slot in changed for src in slot.paper.sources
            if slot.stored is None or src not in slot.stored.sources]
    if rows:
        conn.execute(insert(s.paper_sources), rows)


def _snapshot_upvotes(conn: Connection, papers: list[Paper], now: datetime) -> None:
    """Record the new upvote counts of ``papers`` as seen at ``now`` (a count already
    recorded at this moment, by another file of the same run, is replaced)."""
    ids = [p.id for p in papers]
    for chunk in chunks(ids):
        conn.execute(delete(s.upvote_snapshots).where(
            s.upvote_snapshots.c.paper_id.in_(chunk), s.upvote_snapshots.c.seen_at == now))
    if papers:
        conn.execute(insert(s.upvote_snapshots),
                     [{"paper_id": p.id, "seen_at": now, "upvotes": p.upvotes} for p in papers])


def _text(paper: Paper) -> tuple[str, str]:
    return paper.title, paper.abstract


def _people(paper: Paper) -> tuple[Any, ...]:
    return paper.authors, paper.credited, paper.claimed


def _insert_papers(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert paper rows, returning their new ids in order."""
    if not rows:
        return []
    statement = insert(s.papers).returning(s.papers.c.id, sort_by_parameter_order=True)
    return [int(paper_id) for paper_id in conn.execute(statement, rows).scalars()]


def _write_authors(conn: Connection, papers: list[Paper]) -> None:
    """Replace the author rows of ``papers`` (whose ids are set)."""
    paper_ids = [p.id for p in papers]
    for chunk in chunks(paper_ids):
        conn.execute(delete(s.paper_authors).where(s.paper_authors.c.paper_id.in_(chunk)))
    ids = _author_ids(conn, [n for p in papers for n in p.all_authors])
    rows = []
    for paper in papers:
        credited = {name_key(c) for c in paper.credited}
        rows += [{"paper_id": paper.id, "position": i, "author_id": ids[name_key(name)],
                  "name": name, "listed": i < len(paper.authors),
                  "credited": name_key(name) in credited, "user": user, "day": _day(paper)}
                 for i, (name, user) in enumerate(_accounts(paper))]
    if rows:
        conn.execute(insert(s.paper_authors), rows)


def _redate_authors(conn: Connection, papers: list[Paper]) -> None:
    """Copy the day ``papers`` appeared (they have new dates, the same authors) onto
    their author rows."""
    if papers:
        conn.execute(sql_update(s.paper_authors)
                     .where(s.paper_authors.c.paper_id == bindparam("of_paper"))
                     .values(day=bindparam("new_day")),
                     [{"of_paper": p.id, "new_day": _day(p)} for p in papers])


def _day(paper: Paper) -> date | None:
    """The day a paper appeared: featured, else published."""
    return paper.featured or paper.published


def _accounts(paper: Paper) -> list[tuple[str, str | None]]:
    """Each of the paper's names with the account claimed for it: on the first listed
    row of the name, and only there."""
    claims = {name_key(name): user for name, user in paper.claimed}
    rows: list[tuple[str, str | None]] = []
    for i, name in enumerate(paper.all_authors):
        rows.append((name, claims.pop(name_key(name), None) if i < len(paper.authors)
                     else None))
    return rows


def _author_ids(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Author ids by name key, creating the authors not yet known."""
    wanted = {name_key(n): n for n in names}
    ids = _existing_authors(conn, sorted(wanted))
    missing = [{"key": k, "name": n} for k, n in wanted.items() if k not in ids]
    if missing:
        conn.execute(insert(s.authors), missing)
        ids.update(_existing_authors(conn, [m["key"] for m in missing]))
    return ids


def _existing_authors(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in chunks(keys):
        query = select(s.authors.c.key, s.authors.c.id).where(s.authors.c.key.in_(chunk))
        ids.update({key: author_id for key, author_id in conn.execute(query)})  # noqa: C416
    return ids


class PaperRoom(Database):
    """``Store``'s papers: saving what a source read, reading papers back; each method one
    transaction around the SQL above."""

    def save_papers(
        self, incoming: Sequence[Paper], *, source: str, fmt: str, now: datetime
    ) -> SaveResult:
        """Store the papers read from one source, merging each into what is known.

        One transaction: the run is recorded and every paper merged, or nothing is.
        """
        stamped = [replace(p, first_seen=now) for p in incoming]
        return self._retrying(lambda conn: save(conn, stamped, source, fmt, now),
                              f"save papers from {source}")

    def record_failure(self, source: str, fmt: str | None, reason: str, now: datetime) -> None:
        """Record that a source could not be read (nothing of it is stored)."""
        with self._begin() as conn:
            conn.execute(insert(s.ingest_runs).values(
                source=source, format=fmt, started_at=now, error=reason))

    def papers(self, since: datetime | None = None) -> list[Paper]:
        """Stored papers, oldest first; with ``since``, those that appeared since that day."""
        with self._begin(reading=True) as conn:
            return load(conn, since)

    def papers_seen_since(self, since: datetime) -> list[Paper]:
        """Stored papers first seen after ``since``, oldest first."""
        with self._begin(reading=True) as conn:
            return seen_since(conn, since)

    def newest_papers(self, count: int) -> list[Paper]:
        """The ``count`` papers first seen last, newest first."""
        with self._begin(reading=True) as conn:
            return newest(conn, count)

    def paper_chunks(self, since: datetime | None = None, last: int | None = None,
                     size: int = _STREAM) -> Iterator[list[Paper]]:
        """The stored papers in the order first stored (``papers``), ``size`` at a time,
        each chunk read in its own transaction, so memory stays flat at any store size
        (but for the ids, with ``since``); with ``since``, those that appeared since that
        day; with ``last``, only the ``last`` stored of those. Papers stored meanwhile
        are not among them."""
        if since is not None:
            with self._begin(reading=True) as conn:
                ids = appeared_ids(conn, since)
            for chunk in chunks(ids[-last:] if last else ids, size):
                with self._begin(reading=True) as conn:
                    yield load_ids(conn, chunk)
            return
        with self._begin(reading=True) as conn:
            bounds = span(conn, last)
        if bounds is None:
            return
        after, upto = bounds[0] - 1, bounds[1]
        while True:
            with self._begin(reading=True) as conn:
                chunk = load_after(conn, after, upto, size)
            if not chunk:
                return
            yield chunk
            after = chunk[-1].id or upto

    def upvote_snapshots(self, start: datetime, now: datetime) -> list[Snapshot]:
        """The upvote counts ingests saw after ``start`` up to ``now``, with each such
        paper's last count at or before ``start`` (what momentum since ``start`` needs)."""
        with self._begin(reading=True) as conn:
            return snapshots(conn, start, now)

    def known_papers(self, wanted: Iterable[tuple[str, str | None]]
                     ) -> dict[tuple[str, str | None], list[Paper]]:
        """For each (folded name, profile source) of a pin, the papers that profile
        credits to that name (none for a pin without a profile)."""
        with self._begin(reading=True) as conn:
            return {(key, source): credited_to(conn, key, source)
                    if source is not None else [] for key, source in set(wanted)}

    def papers_carrying(self, keys: Iterable[str], newest: int | None = None,
                        known: Mapping[int, Paper] | None = None) -> dict[str, list[Paper]]:
        """For each folded name carried by stored papers, the ``newest`` of those papers
        (all without it) and any ``known`` (by id, taken from there) that carry it
        (``carrying``)."""
        with self._begin(reading=True) as conn:
            return carrying(conn, sorted(set(keys)), newest, known)

    def papers_by_arxiv(self, arxiv_ids: Iterable[str]) -> list[Paper]:
        """The stored papers with these arXiv ids (as stored: no prefix, no version)."""
        with self._begin(reading=True) as conn:
            rows: list[Any] = []
            for chunk in chunks(sorted(set(arxiv_ids))):
                rows += conn.execute(select(s.papers).where(
                    s.papers.c.arxiv_id.in_(chunk))).mappings().all()
            return _assemble(conn, rows)

    def count_papers(self) -> int:
        """How many distinct papers are stored."""
        with self._begin() as conn:
            return int(conn.execute(select(func.count()).select_from(s.papers)).scalar_one())

    def papers_by_id(self, ids: Iterable[int]) -> dict[int, Paper]:
        """Stored papers by id."""
        with self._begin(reading=True) as conn:
            return {p.id: p for p in load_ids(conn, ids) if p.id is not None}
