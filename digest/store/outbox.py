"""SQL for the outbox: planning digests once, claiming them to send, recording outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from digest.model import OutboxEntry, Plan
from digest.store import schema as s
from digest.store.papers import chunks
from digest.store.subscribers import subscriber_from_row

# Outbox rows per INSERT: 9 parameters each stay far below SQLite's 250,000 and
# PostgreSQL's 65,535 parameters per statement.
PLAN_ROWS = 1000


def plan(conn: Connection, plans: Sequence[Plan], now: datetime) -> dict[str, int]:
    """Insert outbox rows, once per (subscriber, period); returns counts by state.

    Rows that exist already (planned earlier, or by another process just now) are left
    alone and counted as ``already``.
    """
    ids: dict[str, int] = {}
    for chunk in chunks(sorted({p.digest.subscriber.email.casefold() for p in plans})):
        query = select(s.subscribers.c.email_key, s.subscribers.c.id).where(
            s.subscribers.c.email_key.in_(chunk))
        ids.update((key, sid) for key, sid in conn.execute(query))
    rows = [_row(p, ids[p.digest.subscriber.email.casefold()], now) for p in plans
            if p.digest.subscriber.email.casefold() in ids]
    counts = {"planned": 0, "skipped": 0, "missed": 0, "already": len(plans) - len(rows)}
    if not rows:
        return counts
    inserted: list[Any] = []
    for chunk in chunks(rows, PLAN_ROWS):  # one statement has a bound on its parameters
        inserted += conn.execute(_insert_ignoring_duplicates(conn).values(chunk).returning(
            s.digests.c.subscriber_id, s.digests.c.state, s.digests.c.period_end,
            s.digests.c.kind, s.digests.c.period)).all()
    periods: dict[int, datetime] = {}
    cut_offs: dict[int, datetime] = {}
    for subscriber_id, state, period_end, kind, period in inserted:
        counts[state] += 1
        if kind == "digest":
            periods[subscriber_id] = max(period, periods.get(subscriber_id, period))
        if state != "missed":  # a missed period's papers stay due for the next one
            cut_offs[subscriber_id] = max(period_end, cut_offs.get(subscriber_id, period_end))
    _remember(conn, periods, cut_offs)
    counts["already"] += len(rows) - len(inserted)
    return counts


def _remember(conn: Connection, periods: dict[int, datetime],
              cut_offs: dict[int, datetime]) -> None:
    """Each subscriber's latest period and cut-off, never moved back."""
    c = s.subscribers.c
    for column, values in (("last_period", periods), ("last_digest_at", cut_offs)):
        if not values:
            continue
        target = c[column]
        conn.execute(update(s.subscribers).where(
            c.id == bindparam("sid"),
            or_(target.is_(None), target < bindparam("at"))).values({column: bindparam("at")}),
            [{"sid": sid, "at": at} for sid, at in values.items()])


def _row(p: Plan, subscriber_id: int, now: datetime) -> dict[str, Any]:
    d = p.digest
    sections = [{"name": section.name, "items": [
        {"paper_id": it.paper.id, "reasons": list(it.reasons)} for it in section.items]}
        for section in d.sections]
    return {"subscriber_id": subscriber_id, "period": p.period, "period_start": d.start,
            "period_end": d.end, "sections": sections, "planned_at": now, "attempts": 0,
            "state": p.state, "kind": p.kind}


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(s.digests).on_conflict_do_nothing(
            index_elements=["subscriber_id", "period"])
    return sqlite.insert(s.digests).on_conflict_do_nothing(
        index_elements=["subscriber_id", "period"])


def planned_periods(conn: Connection, periods: dict[int, datetime]) -> set[int]:
    """Which of these subscriber ids already have a digest for the given period."""
    if not periods:
        return set()
    query = select(s.digests.c.subscriber_id, s.digests.c.period).where(
        s.digests.c.subscriber_id.in_(list(periods)))
    return {sid for sid, period in conn.execute(query) if periods.get(sid) == period}


def due(conn: Connection, now: datetime, lease: timedelta, only: str | None) -> list[int]:
    """Ids of digests to send now: planned, retry whose time has come, or left in
    ``sending`` by a process that died (claimed longer than ``lease`` ago)."""
    query = select(s.digests.c.id).join(s.subscribers).where(
        _claimable(now, lease), s.subscribers.c.unsubscribed_at.is_(None),
        s.subscribers.c.paused_at.is_(None)).order_by(
        s.digests.c.id)
    if only:
        query = query.where(s.subscribers.c.email_key == only.casefold())
    return list(conn.execute(query).scalars())


def _claimable(now: datetime, lease: timedelta) -> Any:
    c = s.digests.c
    return or_(c.state == "planned",
               and_(c.state == "retry", or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now)),
               and_(c.state == "sending", c.claimed_at < now - lease))


def claim(conn: Connection, digest_id: int, now: datetime, lease: timedelta
          ) -> OutboxEntry | None:
    """Mark one digest ``sending`` for this process; None when another got it first."""
    c = s.digests.c
    result = conn.execute(update(s.digests).where(c.id == digest_id, _claimable(now, lease))
                          .values(state="sending", claimed_at=now, attempts=c.attempts + 1))
    if result.rowcount != 1:
        return None
    row = conn.execute(select(s.digests, s.subscribers.c.settings, s.subscribers.c.ref,
                              s.subscribers.c.managed).join(s.subscribers)
                       .where(c.id == digest_id)).mappings().one()
    return _entry(row)


def _entry(row: Any) -> OutboxEntry:
    sections = tuple((sec["name"], tuple((it["paper_id"], tuple(it["reasons"]))
                                         for it in sec["items"])) for sec in row["sections"])
    return OutboxEntry(row["id"], row["subscriber_id"], subscriber_from_row(
                           row["settings"], row["ref"], row["managed"]),
                       row["kind"], row["period"],
                       row["period_start"], row["period_end"], row["state"], sections,
                       row["attempts"], row["last_error"])


def mark_sent(conn: Connection, entry: OutboxEntry, now: datetime) -> None:
    """Sent (after the server's 250): the papers count as sent to the subscriber."""
    conn.execute(update(s.digests).where(s.digests.c.id == entry.id)
                 .values(state="sent", sent_at=now, last_error=None))
    subscriber_id = conn.execute(select(s.digests.c.subscriber_id)
                                 .where(s.digests.c.id == entry.id)).scalar_one()
    known = set(conn.execute(select(s.sent_papers.c.paper_id).where(
        s.sent_papers.c.subscriber_id == subscriber_id)).scalars())
    rows = [{"subscriber_id": subscriber_id, "paper_id": pid, "sent_at": now,
             "digest_id": entry.id} for pid in dict.fromkeys(entry.paper_ids) if pid not in known]
    if rows:
        conn.execute(insert(s.sent_papers), rows)


def mark_unsent(conn: Connection, entry: OutboxEntry, state: str, error: str,
                next_attempt: datetime | None) -> None:
    """``retry`` (with the time of the next attempt) or ``failed``, keeping the reason."""
    conn.execute(update(s.digests).where(s.digests.c.id == entry.id).values(
        state=state, last_error=error, next_attempt_at=next_attempt, claimed_at=None))


def release(conn: Connection, entry: OutboxEntry) -> None:
    """Give a claimed digest back untried (the mail set-up is broken, not this digest)."""
    conn.execute(update(s.digests).where(s.digests.c.id == entry.id).values(
        state="retry", attempts=s.digests.c.attempts - 1, claimed_at=None,
        next_attempt_at=None))


def counts(conn: Connection) -> dict[str, int]:
    """Outbox totals by state."""
    query = select(s.digests.c.state, func.count()).group_by(s.digests.c.state)
    return {state: int(n) for state, n in conn.execute(query)}


@dataclass(frozen=True)
class OutboxRow:
    """One line of the outbox, for status listings."""

    id: int
    email: str
    kind: str
    period: datetime
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None


def listing(conn: Connection) -> list[OutboxRow]:
    """Every digest in the outbox, oldest first."""
    c = s.digests.c
    query = select(c.id, s.subscribers.c.email, c.kind, c.period, c.state, c.attempts,
                   c.next_attempt_at, c.last_error, c.sent_at).join(s.subscribers).order_by(c.id)
    return [OutboxRow(*row) for row in conn.execute(query)]
