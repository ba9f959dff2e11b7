"""SQL for the outbox: planning digests once, claiming them to send, recording outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from digest.model import Delivered, FeedPaper, OutboxEntry, PastDigest, Plan, Reason, Unsent
from digest.store import schema as s
from digest.store.engine import Database, chunks
from digest.store.subscribers import subscriber_from_row
from digest.vocab import DELIVERED_STATES, MessageKind, OutboxState

# Outbox rows per executemany (SQLAlchemy splits each into statements within SQLite's
# 250,000 and PostgreSQL's 65,535 parameters).
PLAN_ROWS = 1000


def plan(conn: Connection, plans: Sequence[Plan], now: datetime,
         new: list[tuple[int, int, str]] | None = None) -> dict[str, int]:
    """Insert outbox rows, once per (subscriber, period); returns counts by state, and
    adds ``(digest id, subscriber id, state)`` of each row inserted to ``new``.

    Rows that exist already (planned earlier, or by another process just now) are left
    alone and counted as ``already``.
    """
    ids: dict[str, int] = {}
    unknown = sorted({p.digest.subscriber.email.casefold() for p in plans
                      if p.subscriber_id is None})
    for chunk in chunks(unknown):
        query = select(s.subscribers.c.email_key, s.subscribers.c.id).where(
            s.subscribers.c.email_key.in_(chunk))
        ids.update((key, sid) for key, sid in conn.execute(query))

    def id_of(p: Plan) -> int | None:
        return p.subscriber_id if p.subscriber_id is not None else ids.get(
            p.digest.subscriber.email.casefold())

    rows = [_row(p, sid, now) for p in plans if (sid := id_of(p)) is not None]
    counts: dict[str, int] = {OutboxState.PLANNED: 0, OutboxState.SKIPPED: 0,
                              OutboxState.MISSED: 0, OutboxState.RECORDED: 0,
                              "already": len(plans) - len(rows)}
    if not rows:
        return counts
    inserted: list[Any] = []
    statement = _insert_ignoring_duplicates(conn).returning(
        s.digests.c.subscriber_id, s.digests.c.state, s.digests.c.period_end,
        s.digests.c.kind, s.digests.c.period, s.digests.c.id)
    for chunk in chunks(rows, PLAN_ROWS):
        # One compiled statement, executed for many rows: SQLAlchemy sends them as
        # multi-row INSERTs ("insertmanyvalues") within each database's parameter limit.
        inserted += conn.execute(statement, list(chunk)).all()
    periods: dict[int, datetime] = {}
    cut_offs: dict[int, datetime] = {}
    _record_unmailed(conn, plans, id_of, [row for row in inserted
                                          if row[1] == OutboxState.RECORDED], now)
    for subscriber_id, state, period_end, kind, period, digest_id in inserted:
        counts[state] += 1
        if new is not None:
            new.append((digest_id, subscriber_id, state))
        if kind == MessageKind.DIGEST:
            periods[subscriber_id] = max(period, periods.get(subscriber_id, period))
        if state != OutboxState.MISSED:  # a missed period's papers stay due for the next one
            cut_offs[subscriber_id] = max(period_end, cut_offs.get(subscriber_id, period_end))
    _remember(conn, periods, cut_offs)
    counts["already"] += len(rows) - len(inserted)
    return counts


def _record_unmailed(conn: Connection, plans: Sequence[Plan], id_of: Any,
                     recorded: list[Any], now: datetime) -> None:
    """The papers of the digests recorded as planned (their subscribers take no mail,
    ``Subscriber.mailed``) count as sent to them now, as a sent mail's do."""
    if not recorded:
        return
    digest_ids = {(sid, period): did for sid, _, _, _, period, did in recorded}
    rows = []
    for p in plans:
        sid = id_of(p)
        did = digest_ids.get((sid, p.period)) if p.state == OutboxState.RECORDED else None
        if did is not None:
            rows += [(sid, pid, did) for pid in dict.fromkeys(
                it.paper.id for it in p.digest.items) if pid is not None]
    if rows:
        _record_sent_papers(conn, rows, now)


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
        {"paper_id": it.paper.id, "why": [r.encode() for r in it.reasons]}
        for it in section.items]}
        for section in d.sections]
    more = [[it.paper.id, [r.encode() for r in it.reasons]] for it in d.more] or None
    state = p.state
    return {"subscriber_id": subscriber_id, "period": p.period, "period_start": d.start,
            "period_end": d.end, "sections": sections, "planned_at": now, "attempts": 0,
            "state": state, "kind": p.kind, "more": more,
            "sent_at": now if state == OutboxState.RECORDED else None}


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    return _insert_ignoring(conn, s.digests, ["subscriber_id", "period"])


def _insert_ignoring(conn: Connection, table: Any, key: list[str]) -> Any:
    """INSERT that leaves rows whose ``key`` exists already alone."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=key)


def planned_periods(conn: Connection, periods: dict[int, datetime]) -> set[int]:
    """Which of these subscriber ids already have a digest for the given period."""
    if not periods:
        return set()
    query = select(s.digests.c.subscriber_id, s.digests.c.period).where(
        s.digests.c.subscriber_id.in_(list(periods)))
    return {sid for sid, period in conn.execute(query) if periods.get(sid) == period}


def _claimable(now: datetime, lease: timedelta) -> Any:
    return or_(s.digests.c.state == OutboxState.PLANNED, _retry_due(now),
               _claim_expired(now, lease))


def _retry_due(now: datetime) -> Any:
    c = s.digests.c
    return and_(c.state == OutboxState.RETRY,
                or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now))


def _claim_expired(now: datetime, lease: timedelta) -> Any:
    """Claimed by a process that died (or hangs) longer than ``lease`` ago."""
    c = s.digests.c
    return and_(c.state == OutboxState.SENDING, c.claimed_at < now - lease)


def claim(conn: Connection, now: datetime, lease: timedelta, limit: int,
          only: str | None = None) -> list[OutboxEntry]:
    """Mark up to ``limit`` due digests ``sending`` for this process, oldest first:
    planned ones, then retries whose time has come, then digests whose claim ran out.

    On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``, so workers on several
    machines each take their own batch without waiting for one another; SQLite's write
    lock (BEGIN IMMEDIATE) makes claims take turns. Either way the UPDATE only takes rows
    that are still claimable, so no digest is claimed twice.
    """
    c = s.digests.c
    ids: list[int] = []
    for condition in (c.state == OutboxState.PLANNED, _retry_due(now), _claim_expired(now, lease)):
        if len(ids) < limit:
            ids += _pick(conn, condition, limit - len(ids), only)
    if not ids:
        return []
    taken = list(conn.execute(update(s.digests).where(c.id.in_(ids), _claimable(now, lease))
                              .values(state=OutboxState.SENDING, claimed_at=now,
                                      attempts=c.attempts + 1).returning(c.id)).scalars())
    rows = conn.execute(select(*claimed_columns(), s.subscribers.c.settings,
                               s.subscribers.c.ref, s.subscribers.c.managed)
                        .join(s.subscribers).where(c.id.in_(taken)).order_by(c.id)).mappings()
    entries = [_entry(row) for row in rows]
    # planned for someone who takes no mail since (``Subscriber.mailed``): recorded as
    # their digests are, never handed to a sender
    mark_sent(conn, [e for e in entries if not e.subscriber.mailed], now, OutboxState.RECORDED)
    return [e for e in entries if e.subscriber.mailed]


def _takes_mail() -> tuple[Any, ...]:
    """Conditions on the subscriber of a digest that may be sent now: checked when a
    digest is claimed, not only when it is planned, because someone removed (from the
    file or the database), unsubscribed, paused or bouncing since must get nothing more."""
    sub = s.subscribers.c
    return (sub.active.is_(True), sub.confirmed_at.is_not(None),
            sub.unsubscribed_at.is_(None), sub.paused_at.is_(None),
            sub.bouncing_since.is_(None))


def _pick(conn: Connection, condition: Any, limit: int, only: str | None) -> list[int]:
    """Ids of up to ``limit`` digests meeting ``condition`` whose subscriber takes mail,
    by id: each condition is one index range (state, id), never a sort of the outbox."""
    c = s.digests.c
    query = select(c.id).join(s.subscribers).where(
        condition, *_takes_mail()).order_by(c.id).limit(limit)
    if only:
        query = query.where(s.subscribers.c.email_key == only.casefold())
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=s.digests)
    return list(conn.execute(query).scalars())


def claimed_columns() -> tuple[Any, ...]:
    """The columns of a digest a sender reads: all but what did not fit, of which only
    how many (a mail counts them; the web copy alone lists them): decoding up to
    ``MAX_MORE`` papers of every row cost a 100,000-reader pass 14 s."""
    c = s.digests.c
    return (*(col for col in s.digests.columns if col.name != "more"),
            func.coalesce(func.json_array_length(c.more), 0).label("more_count"))


def _entry(row: Any) -> OutboxEntry:
    sections = tuple((sec["name"], tuple((it["paper_id"], _reasons(it))
                                         for it in sec["items"])) for sec in row["sections"])
    more = tuple((pid, _decoded(tuple(tuple(r) if isinstance(r, list) else r for r in why)))
                 for pid, why in row.get("more") or ())
    count = row["more_count"] if "more_count" in row else len(more)
    return OutboxEntry(row["id"], row["subscriber_id"], subscriber_from_row(
                           row["settings"], row["ref"], row["managed"]),
                       row["kind"], row["period"],
                       row["period_start"], row["period_end"], row["state"], sections,
                       row["attempts"], row["last_error"], more, count)


def _reasons(item: dict[str, Any]) -> tuple[Reason, ...]:
    """Typed reasons; rows planned before they were typed hold their text."""
    return _decoded(tuple(tuple(r) if isinstance(r, list) else r
                          for r in item.get("why", item.get("reasons", ()))))


@lru_cache(maxsize=1 << 16)
def _decoded(reasons: tuple[Any, ...]) -> tuple[Reason, ...]:
    """The same few reasons come back in many rows: each decoded once."""
    return tuple(Reason.decode(list(r) if isinstance(r, tuple) else r) for r in reasons)


def delivered(conn: Connection, ref: str, period: datetime) -> Delivered | None:
    """The digest of ``period`` (to the second: tokens hold seconds) that the subscriber
    ``ref`` has, sent or recorded; None for any other."""
    c = s.digests.c
    row = conn.execute(select(s.digests, s.subscribers.c.settings, s.subscribers.c.ref,
                              s.subscribers.c.managed).join(s.subscribers).where(
        s.subscribers.c.ref == ref, c.period >= period,
        c.period < period + timedelta(seconds=1),
        c.state.in_(DELIVERED_STATES)).order_by(c.period).limit(1)).mappings().first()
    if row is None:
        return None
    sp = s.sent_papers.c
    shown = conn.execute(select(sp.paper_id).where(
        sp.subscriber_id == row["subscriber_id"], sp.digest_id == row["id"])).scalars()
    return Delivered(_entry(row), frozenset(shown), row["sent_at"])


def past_digests(conn: Connection, ref: str, limit: int) -> list[PastDigest]:
    """The last ``limit`` digests the subscriber ``ref`` has (sent or recorded), newest
    first, with the number of papers each showed."""
    c, sp = s.digests.c, s.sent_papers.c
    rows = conn.execute(select(c.id, c.subscriber_id, c.period, c.period_end, c.kind, c.state)
                        .join(s.subscribers).where(s.subscribers.c.ref == ref,
                                                   c.state.in_(DELIVERED_STATES))
                        .order_by(c.period.desc()).limit(limit)).all()
    if not rows:
        return []
    counts: dict[int, int] = dict(conn.execute(select(sp.digest_id, func.count()).where(
        sp.subscriber_id == rows[0].subscriber_id, sp.digest_id.in_([r.id for r in rows]))
        .group_by(sp.digest_id)).all())
    return [PastDigest(r.period, r.period_end, r.kind, int(counts.get(r.id, 0)),
                       r.state == OutboxState.SENT) for r in rows]


def feed_papers(conn: Connection, ref: str, limit: int) -> list[FeedPaper]:
    """The last ``limit`` papers the subscriber ``ref``'s digests held (sent or
    recorded), newest first, each with the section and reasons it was there for."""
    c, sp, sub = s.digests.c, s.sent_papers.c, s.subscribers.c
    rows = conn.execute(select(sp.paper_id, sp.sent_at, sp.digest_id).join(
        s.subscribers, sub.id == sp.subscriber_id).where(sub.ref == ref)
        .order_by(sp.sent_at.desc(), sp.paper_id.desc()).limit(limit)).all()
    ids = sorted({r.digest_id for r in rows if r.digest_id is not None})
    why: dict[tuple[int, int], tuple[str, tuple[Reason, ...]]] = {}
    for chunk in chunks(ids):
        for did, sections in conn.execute(select(c.id, c.sections).where(c.id.in_(chunk))):
            why.update(((did, it["paper_id"]), (sec["name"], _reasons(it)))
                       for sec in sections for it in sec["items"])
    return [FeedPaper(r.paper_id, r.sent_at, *why.get((r.digest_id, r.paper_id), ("", ())))
            for r in rows]


def mark_sent(conn: Connection, entries: Sequence[OutboxEntry], now: datetime,
              state: str = OutboxState.SENT) -> None:
    """Sent (after the server's 250), or ``recorded`` without mail: the papers count as
    sent to their subscribers."""
    for chunk in chunks([e.id for e in entries]):
        conn.execute(update(s.digests).where(s.digests.c.id.in_(chunk))
                     .values(state=state, sent_at=now, last_error=None,
                             reply_class="2xx" if state == OutboxState.SENT else None))
    rows = [(e.subscriber_id, pid, e.id) for e in entries for pid in dict.fromkeys(e.paper_ids)]
    if rows:
        _record_sent_papers(conn, rows, now)


_SENT_PAPER_ORDER = ("subscriber_id", "paper_id", "sent_at", "digest_id")


def _record_sent_papers(conn: Connection, rows: list[tuple[int, int, int]],
                        now: datetime) -> None:
    """Insert (subscriber, paper, digest) rows sent at ``now``, leaving those already
    there. A batch has a dozen a digest: with a driver that takes parameters by position
    (SQLite's), the statement is compiled once and ``now`` converted once, and the rows
    go to the driver as they are (SQLAlchemy's processing of each row tripled the cost);
    other drivers get them through SQLAlchemy, which batches them for PostgreSQL."""
    statement = _insert_ignoring(conn, s.sent_papers, ["subscriber_id", "paper_id"])
    compiled = statement.compile(dialect=conn.dialect, column_keys=list(_SENT_PAPER_ORDER))
    if not conn.dialect.positional or tuple(compiled.positiontup or ()) != _SENT_PAPER_ORDER:
        conn.execute(statement, [dict(zip(_SENT_PAPER_ORDER, (sid, pid, now, did),
                                          strict=True)) for sid, pid, did in rows])
        return
    convert = s.sent_papers.c.sent_at.type.bind_processor(conn.dialect)
    at = convert(now) if convert else now
    conn.exec_driver_sql(str(compiled), [(sid, pid, at, did) for sid, pid, did in rows])


def mark_unsent(conn: Connection, outcomes: Sequence[Unsent]) -> None:
    """``retry`` (with the time of the next attempt) or ``failed``, keeping the reason; an
    attempt that does not count is given back."""
    if not outcomes:
        return
    c = s.digests.c
    conn.execute(update(s.digests).where(c.id == bindparam("digest_id")).values(
        state=bindparam("new_state"), last_error=bindparam("error"),
        next_attempt_at=bindparam("next_at"), claimed_at=None,
        attempts=c.attempts - bindparam("refund"), reply_class=bindparam("reply")),
        [{"digest_id": o.entry.id, "new_state": o.state, "error": o.error,
          "next_at": o.next_attempt, "refund": 0 if o.counted else 1,
          "reply": o.reply_class} for o in outcomes])


def count_bounces(conn: Connection, sent: Sequence[OutboxEntry], bounced: Sequence[int],
                  limit: int, now: datetime) -> list[str]:
    """A sent digest clears its subscriber's bounces; each refusal of an address for good
    adds one, and at ``limit`` in a row the subscriber is marked bouncing. Returns the
    emails newly marked."""
    sub = s.subscribers.c
    for chunk in chunks(sorted({e.subscriber_id for e in sent})):
        conn.execute(update(s.subscribers).where(sub.id.in_(chunk), sub.bounces > 0)
                     .values(bounces=0))
    if not bounced:
        return []
    for subscriber_id in bounced:
        conn.execute(update(s.subscribers).where(sub.id == subscriber_id)
                     .values(bounces=sub.bounces + 1))
    marked = conn.execute(update(s.subscribers).where(
        sub.id.in_(sorted(set(bounced))), sub.bounces >= max(1, limit),
        sub.bouncing_since.is_(None)).values(bouncing_since=now).returning(sub.email))
    return sorted(marked.scalars())


def expire_late(conn: Connection, now: datetime, lease: timedelta) -> int:
    """Digests still to go (planned, waiting for a retry, or left ``sending`` by a process
    that died) more than their subscriber's ``grace_hours`` after their time (or after
    they were planned, for a first digest planned for an earlier slot) are not sent
    late: they become ``missed``, and their papers stay due for the next digest. One
    that was being retried keeps the reason of its last try."""
    c = s.digests.c
    waiting = or_(c.state.in_((OutboxState.PLANNED, OutboxState.RETRY)), _claim_expired(now, lease))
    late = [(digest_id, grace, last) for digest_id, period, planned_at, settings, last
            in conn.execute(select(c.id, c.period, c.planned_at, s.subscribers.c.settings,
                                   c.last_error)
                            .join(s.subscribers).where(waiting, c.period < now,
                                                       c.planned_at < now))
            if now - max(period, planned_at) > timedelta(hours=(
                grace := subscriber_from_row(settings).grace_hours))]
    for digest_id, grace, last in late:
        conn.execute(update(s.digests).where(c.id == digest_id, waiting).values(
            state=OutboxState.MISSED, claimed_at=None, last_error=(
                f"not sent within {grace} hours of its time (grace_hours); its papers go "
                "into the next digest" + (f"; the last try: {last}" if last else ""))))
    return len(late)


def release(conn: Connection, entries: Sequence[OutboxEntry]) -> None:
    """Give claimed digests back untried (the mail set-up is broken, or the pass stops)."""
    for chunk in chunks([e.id for e in entries]):
        conn.execute(update(s.digests).where(s.digests.c.id.in_(chunk),
                                             s.digests.c.state == OutboxState.SENDING).values(
            state=OutboxState.RETRY, attempts=s.digests.c.attempts - 1, claimed_at=None,
            next_attempt_at=None))


def delivery_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Digests by (state, class of the server's last reply to them)."""
    c = s.digests.c
    return {(state, reply or "none"): n for state, reply, n in conn.execute(
        select(c.state, c.reply_class, func.count()).group_by(c.state, c.reply_class))}


def count_due(conn: Connection, now: datetime, lease: timedelta, only: str | None) -> int:
    """How many digests a pass would send now."""
    query = select(func.count()).select_from(s.digests).join(s.subscribers).where(
        _claimable(now, lease), *_takes_mail())
    if only:
        query = query.where(s.subscribers.c.email_key == only.casefold())
    return int(conn.execute(query).scalar_one())


def reserve(conn: Connection, count: int, rate: float, at: float) -> float:
    """The start of ``count`` send slots booked on the shared pace (see Store)."""
    c = s.send_pace.c
    query = select(c.next_at).where(c.id == 1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    booked = conn.execute(query).scalar_one_or_none()
    if booked is None:
        conn.execute(_insert_ignoring(conn, s.send_pace, ["id"]).values(id=1, next_at=at))
        booked = conn.execute(query).scalar_one()
    start = max(float(booked), at)
    conn.execute(update(s.send_pace).where(c.id == 1).values(next_at=start + count / rate))
    return start


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
    ref: str = ""  # the subscriber's


def listing(conn: Connection) -> list[OutboxRow]:
    """Every digest in the outbox, oldest first."""
    c = s.digests.c
    query = select(c.id, s.subscribers.c.email, c.kind, c.period, c.state, c.attempts,
                   c.next_attempt_at, c.last_error, c.sent_at, s.subscribers.c.ref
                   ).join(s.subscribers).order_by(c.id)
    return [OutboxRow(**row._asdict()) for row in conn.execute(query)]


class OutboxRoom(Database):
    """``Store``'s outbox: planning digests, claiming them, recording what they came to;
    each method one transaction around the SQL above."""

    def plan_outbox(self, plans: Sequence[Plan], now: datetime) -> dict[str, int]:
        """Put digests in the outbox once per (subscriber, period); counts by state."""
        self.check_file()
        with self._begin() as conn:
            return plan(conn, plans, now)

    def planned_for(self, slots: dict[str, datetime]) -> set[str]:
        """Which of these subscribers (folded email -> period) have that digest already."""
        with self._begin() as conn:
            query = select(s.subscribers.c.email_key, s.subscribers.c.id).where(
                s.subscribers.c.email_key.in_(list(slots)))
            ids = {key: sid for key, sid in conn.execute(query)}  # noqa: C416
            done = planned_periods(conn, {ids[k]: v for k, v in slots.items()
                                                     if k in ids})
            return {k for k, sid in ids.items() if sid in done}

    def count_due(self, now: datetime, lease: timedelta, only: str | None = None) -> int:
        """How many digests a pass would send now."""
        with self._begin(reading=True) as conn:
            return count_due(conn, now, lease, only)

    def claim(self, now: datetime, lease: timedelta, limit: int, only: str | None = None
              ) -> list[OutboxEntry]:
        """Mark up to ``limit`` due digests ``sending`` (committed before any SMTP
        traffic); none that another process holds."""
        self.check_file()
        with self._begin() as conn:
            return claim(conn, now, lease, limit, only)

    def record_outcomes(self, sent: Sequence[OutboxEntry], unsent: Sequence[Unsent],
                        now: datetime, bounce_limit: int) -> list[str]:
        """What a batch came to, in one transaction: sent digests with their papers,
        the others ``retry`` or ``failed``, and the bounce counts of their subscribers.
        Returns the addresses newly marked bouncing."""
        if not sent and not unsent:
            return []
        self.check_file()
        with self._begin() as conn:
            mark_sent(conn, sent, now)
            mark_unsent(conn, unsent)
            return count_bounces(
                conn, sent, [o.entry.subscriber_id for o in unsent if o.bounce],
                bounce_limit, now)

    def expire_late(self, now: datetime, lease: timedelta) -> int:
        """Digests more than their subscriber's grace after their time become missed (see
        ``outbox.expire_late``); returns how many."""
        with self._begin() as conn:
            return expire_late(conn, now, lease)

    def release(self, entries: Sequence[OutboxEntry]) -> None:
        """Give claimed digests back untried."""
        if entries:
            with self._begin() as conn:
                release(conn, entries)

    def reserve_sends(self, count: int, rate: float, at: float) -> float:
        """Book ``count`` sends at ``rate`` per second for every process that shares this
        database: returns the moment (seconds since the epoch) the first may go; the
        rest follow at ``1 / rate`` intervals."""
        with self._begin() as conn:
            return reserve(conn, count, rate, at)

    def delivered(self, ref: str, period: datetime) -> Delivered | None:
        """The digest of ``period`` that the subscriber ``ref`` has (see ``delivered``)."""
        with self._begin(reading=True) as conn:
            return delivered(conn, ref, period)

    def past_digests(self, ref: str, limit: int) -> list[PastDigest]:
        """The subscriber ``ref``'s last ``limit`` digests, newest first."""
        with self._begin(reading=True) as conn:
            return past_digests(conn, ref, limit)

    def feed_papers(self, ref: str, limit: int) -> list[FeedPaper]:
        """The last ``limit`` papers of the subscriber ``ref``'s digests, newest first."""
        with self._begin(reading=True) as conn:
            return feed_papers(conn, ref, limit)

    def outbox_counts(self) -> dict[str, int]:
        """Digests by state."""
        with self._begin() as conn:
            return counts(conn)

    def outbox(self) -> list[OutboxRow]:
        """Every digest in the outbox, oldest first."""
        with self._begin() as conn:
            return listing(conn)

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """Digests by state and class of the server's last reply (2xx, 4xx, ...)."""
        with self._begin() as conn:
            return delivery_counts(conn)
