"""SQL for what subscribers already got: papers sent or on their way, the cut-off of their
latest digest, and the papers owed them (in digests that never went out).

Read either as it is (``as_of`` None: what planning and real sends use, so a paper sent
once is never sent again whatever the clock says) or as it was at a moment ``as_of``
(previews and dry runs): then papers sent, digests planned and cut-offs recorded after
that moment do not count. A digest planned by ``as_of`` and sent after it was on its way
at ``as_of``: its papers count. Digests keep no time of failing, so a digest planned by
``as_of`` that failed since counts as failed then too (its papers owed, so still due).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, literal_column, or_, select

from digest.model import History
from digest.store import schema as s
from digest.store.engine import Database, chunks
from digest.vocab import OWED_STATES, MessageKind, OutboxState

c = s.subscribers.c
d = s.digests.c
sp = s.sent_papers.c


def histories(conn: Connection, paper_ids: Iterable[int], emails: Iterable[str] | None = None,
              as_of: datetime | None = None) -> dict[str, History]:
    """These subscribers' history (by folded email): papers sent or on their way (limited
    to ``paper_ids``), and the cut-off of their latest planned digest; as of ``as_of``."""
    keys = None if emails is None else sorted({e.casefold() for e in emails})
    rows: list[Any] = []
    if keys is None:
        rows = list(conn.execute(select(c.id, c.email_key, c.last_digest_at)))
    else:
        for chunk in chunks(keys):
            rows += conn.execute(select(c.id, c.email_key, c.last_digest_at).where(
                c.email_key.in_(chunk))).all()
    ids = sorted({row.id for row in rows})
    wanted = set(ids)
    sent = pending_papers(conn, ids, as_of)
    for chunk in chunks(sorted(set(paper_ids))):
        query = _sent_query(as_of).where(sp.paper_id.in_(chunk))
        for subscriber_id, paper_id in conn.execute(query):
            if subscriber_id in wanted:
                sent[subscriber_id].add(paper_id)
    return _assemble(conn, rows, sent, owed_papers(conn, ids, None, as_of), as_of)


def histories_of(conn: Connection, ids: Sequence[int], since: datetime,
                 as_of: datetime | None = None, also: Collection[int] = (),
                 owed_since: datetime | None = None) -> dict[str, History]:
    """What these subscribers (by row id) were sent, or have on the way, of the papers
    first seen since ``since`` (nothing older can be due) and of the papers ``also`` (older
    ones a pass may still offer: rising, owed), and what they are owed from digests of
    periods since ``owed_since`` (else ``since``), keyed by folded email; as of
    ``as_of``."""
    rows: list[Any] = []
    sent = pending_papers(conn, ids, as_of)
    for chunk in chunks(sorted(ids)):
        rows += conn.execute(select(c.id, c.email_key, c.last_digest_at).where(
            c.id.in_(chunk))).all()
        query = _sent_query(as_of).where(sp.subscriber_id.in_(chunk), sp.sent_at >= since)
        for subscriber_id, paper_id in conn.execute(query):
            sent[subscriber_id].add(paper_id)
        for papers in chunks(sorted(also)):
            query = _sent_query(as_of).where(sp.subscriber_id.in_(chunk), sp.sent_at < since,
                                             sp.paper_id.in_(papers))
            for subscriber_id, paper_id in conn.execute(query):
                sent[subscriber_id].add(paper_id)
    owed = owed_papers(conn, [row.id for row in rows], owed_since or since, as_of)
    return _assemble(conn, rows, sent, owed, as_of)


def _assemble(conn: Connection, rows: Sequence[Any], sent: dict[int, set[int]],
              owed: dict[int, set[int]], as_of: datetime | None) -> dict[str, History]:
    cut_offs = {row.id: row.last_digest_at for row in rows} if as_of is None else \
        cut_offs_as_of(conn, [row.id for row in rows], as_of)
    return {row.email_key: History(frozenset(sent.get(row.id, ())), cut_offs.get(row.id),
                                   frozenset(owed.get(row.id, ())))
            for row in rows}


def _sent_query(as_of: datetime | None) -> Any:
    """Papers recorded as sent: by ``as_of``, or in a digest planned by then."""
    query = select(sp.subscriber_id, sp.paper_id)
    if as_of is None:
        return query
    return query.select_from(s.sent_papers.outerjoin(s.digests, sp.digest_id == d.id)).where(
        or_(sp.sent_at <= as_of, d.planned_at <= as_of))


def pending_papers(conn: Connection, ids: Sequence[int], as_of: datetime | None
                   ) -> defaultdict[int, set[int]]:
    """Papers in these subscribers' digests still on their way (planned by ``as_of``)."""
    found: defaultdict[int, set[int]] = defaultdict(set)
    for chunk in chunks(sorted(ids)):
        query = digests_of(conn, chunk, d.state.in_(s.PENDING))
        if as_of is not None:
            query = query.where(d.planned_at <= as_of)
        for subscriber_id, sections in conn.execute(query):
            found[subscriber_id].update(it["paper_id"] for sec in sections for it in sec["items"])
    return found


def digests_of(conn: Connection, ids: Sequence[int], state: Any) -> Any:
    """The subscriber and sections of these subscribers' digests in ``state``, looked up
    by subscriber (the unique index on subscriber and period). SQLite's planner, which
    has no statistics, would take the index on state instead: during a pass every
    planned digest is in the states on their way, so each batch of subscribers planned
    would walk all of them again (a fifth of planning 100,000 subscribers)."""
    if conn.dialect.name == "sqlite":
        state = func.likelihood(state, literal_column("0.9"))  # not selective: no index
    return select(d.subscriber_id, d.sections).where(d.subscriber_id.in_(ids), state)


def owed_papers(conn: Connection, ids: Sequence[int], since: datetime | None,
                as_of: datetime | None = None) -> dict[int, set[int]]:
    """Papers of these subscribers' digests that never went out (failed, or missed after
    they were planned), of periods since ``since`` (planned by ``as_of``): they stay due."""
    found: dict[int, set[int]] = {}
    for chunk in chunks(sorted(ids)):
        query = digests_of(conn, chunk, d.state.in_(OWED_STATES))
        if since is not None:
            query = query.where(d.period >= since)
        if as_of is not None:
            query = query.where(d.planned_at <= as_of)
        for subscriber_id, sections in conn.execute(query):
            found.setdefault(subscriber_id, set()).update(
                it["paper_id"] for sec in sections for it in sec["items"])
    return found


def cut_offs_as_of(conn: Connection, ids: Sequence[int], as_of: datetime
                   ) -> dict[int, datetime]:
    """``last_digest_at`` as it was at ``as_of``: the latest cut-off (period end) of the
    digests and alerts planned by then, missed ones aside (their papers stay due)."""
    return _latest(conn, ids, d.period_end, d.planned_at <= as_of, d.state != OutboxState.MISSED)


def last_periods_as_of(conn: Connection, ids: Sequence[int], as_of: datetime
                       ) -> dict[int, datetime]:
    """``last_period`` as it was at ``as_of``: the latest digest period planned by then."""
    return _latest(conn, ids, d.period, d.planned_at <= as_of, d.kind == MessageKind.DIGEST)


def _latest(conn: Connection, ids: Sequence[int], column: Any, *where: Any
            ) -> dict[int, datetime]:
    found: dict[int, datetime] = {}
    for chunk in chunks(sorted(ids)):
        query = select(d.subscriber_id, func.max(column)).where(
            d.subscriber_id.in_(chunk), *where).group_by(d.subscriber_id)
        found.update((sid, at) for sid, at in conn.execute(query) if at is not None)
    return found


class HistoryRoom(Database):
    """What subscribers already got, for ``Store``: each method one transaction around the
    SQL above."""

    def histories(self, paper_ids: Iterable[int], emails: Iterable[str] | None = None,
                  as_of: datetime | None = None) -> dict[str, History]:
        """What subscribers (all, or these) already got, keyed by folded email; with
        ``as_of``, as it was at that moment (``digest.store.history``)."""
        with self._begin(reading=True) as conn:
            return histories(conn, paper_ids, emails, as_of)

    def histories_of(self, ids: Sequence[int], since: datetime,
                     as_of: datetime | None = None, also: Collection[int] = (),
                     owed_since: datetime | None = None) -> dict[str, History]:
        """What these subscribers (by row id) already got of the papers first seen since
        ``since`` and of the papers ``also``, and are owed from digests of periods since
        ``owed_since`` (else ``since``), keyed by folded email; with ``as_of``, as it was
        at that moment."""
        with self._begin(reading=True) as conn:
            return histories_of(conn, ids, since, as_of, also, owed_since)
