"""SQL for team channel messages: planned with their digest (one row per digest and
channel), claimed by a send pass with the outbox's row locking, their outcomes recorded;
a channel that answered 404 or 410 is blocked, like an address refused for good."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update

from digest.model import Channel, ChannelEntry, ChannelOutcome, Plan, Subscriber
from digest.store import outbox
from digest.store import schema as s
from digest.store.engine import chunks
from digest.store.outbox import OutboxRoom, _entry, _insert_ignoring, claimed_columns
from digest.store.subscribers import subscriber_from_row
from digest.vocab import ChannelState, OutboxState

c = s.channel_sends.c
# Digest states whose channel messages go out: to be mailed, or recorded (not mailed).
SENT_WITH = (OutboxState.PLANNED, OutboxState.RECORDED)


def plan(conn: Connection, digests: Sequence[tuple[int, int, str]],
         channels: dict[int, tuple[Channel, ...]], now: datetime) -> int:
    """A row per channel for each new digest ``(digest id, subscriber id, state)`` that
    goes out; a channel blocked already is planned ``suppressed`` (so the status says
    why it got nothing). Returns how many were planned to send."""
    going = [(did, sid) for did, sid, state in digests if state in SENT_WITH
             and channels.get(sid)]
    if not going:
        return 0
    blocked = _blocked(conn, sorted({sid for _, sid in going}))
    rows = [{"digest_id": did, "channel": ch.key, "position": i, "kind": ch.kind,
             "state": ChannelState.SUPPRESSED if (sid, ch.key) in blocked
             else ChannelState.PLANNED, "attempts": 0, "planned_at": now,
             "last_error": blocked.get((sid, ch.key))}
            for did, sid in going for i, ch in enumerate(channels[sid])]
    statement = _insert_ignoring(conn, s.channel_sends, ["digest_id", "channel"])
    for chunk in chunks(rows, 1000):
        conn.execute(statement, list(chunk))
    return sum(r["state"] == ChannelState.PLANNED for r in rows)


def _id_of(conn: Connection, p: Plan) -> int | None:
    """The subscriber id of a plan made without one (a dry run's, or a test's)."""
    if not p.digest.subscriber.channels:
        return None
    return conn.execute(select(s.subscribers.c.id).where(
        s.subscribers.c.email_key == p.digest.subscriber.email.casefold())).scalar()


def _blocked(conn: Connection, subscriber_ids: list[int]) -> dict[tuple[int, str], str]:
    b = s.channel_blocks.c
    found: dict[tuple[int, str], str] = {}
    for chunk in chunks(subscriber_ids):
        found.update(((sid, key), f"suppressed since {since:%Y-%m-%d %H:%M} UTC: {error}")
                     for sid, key, since, error in conn.execute(
                         select(b.subscriber_id, b.channel, b.since, b.error)
                         .where(b.subscriber_id.in_(chunk))))
    return found


def _due(now: datetime, lease: timedelta) -> tuple[Any, ...]:
    """Planned; a retry whose time has come; claimed by a process that died."""
    return (c.state == ChannelState.PLANNED,
            and_(c.state == ChannelState.RETRY,
                 or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now)),
            and_(c.state == ChannelState.SENDING, c.claimed_at < now - lease))


def _takes_messages() -> tuple[Any, ...]:
    """The subscriber still wants them (a mail bounce says nothing of their channels)."""
    sub = s.subscribers.c
    return (sub.active.is_(True), sub.confirmed_at.is_not(None),
            sub.unsubscribed_at.is_(None), sub.paused_at.is_(None))


def claim(conn: Connection, now: datetime, lease: timedelta, limit: int,
          only: str | None = None) -> list[ChannelEntry]:
    """Mark up to ``limit`` due channel messages ``sending`` for this process, as the
    outbox claims digests: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on
    SQLite, and an UPDATE that takes only rows still due, so none is claimed twice."""
    ids: list[int] = []
    for condition in _due(now, lease):
        if len(ids) < limit:
            ids += _pick(conn, condition, limit - len(ids), only)
    if not ids:
        return []
    taken = list(conn.execute(update(s.channel_sends).where(c.id.in_(ids), or_(*_due(now, lease)))
                              .values(state=ChannelState.SENDING, claimed_at=now,
                                      attempts=c.attempts + 1).returning(c.id)).scalars())
    rows = conn.execute(select(
        *claimed_columns(), s.subscribers.c.settings, s.subscribers.c.ref,
        s.subscribers.c.managed,
        c.id.label("send_id"), c.channel, c.position, c.attempts.label("send_attempts"))
        .select_from(s.channel_sends.join(s.digests).join(s.subscribers))
        .where(c.id.in_(taken)).order_by(c.id)).mappings()
    return [_channel_entry(row) for row in rows]


def _pick(conn: Connection, condition: Any, limit: int, only: str | None) -> list[int]:
    query = (select(c.id).select_from(s.channel_sends.join(s.digests).join(s.subscribers))
             .where(condition, *_takes_messages()).order_by(c.id).limit(limit))
    if only:
        query = query.where(s.subscribers.c.email_key == only.casefold())
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=s.channel_sends)
    return list(conn.execute(query).scalars())


def _channel_entry(row: Any) -> ChannelEntry:
    digest = _entry(row)
    sub = digest.subscriber
    channel = next((ch for ch in sub.channels if ch.key == row["channel"]), None)
    give_up = max(row["period"], row["planned_at"]) + timedelta(hours=sub.grace_hours)
    return ChannelEntry(row["send_id"], digest, row["channel"], row["position"], channel,
                        row["send_attempts"], give_up)


def record(conn: Connection, outcomes: Sequence[ChannelOutcome], now: datetime) -> None:
    """What the sends came to: a channel that is gone is blocked, and its other messages
    waiting are suppressed with it. (A digest that is not mailed counted its papers as
    sent when it was recorded.)"""
    if not outcomes:
        return
    conn.execute(update(s.channel_sends).where(c.id == bindparam("send_id")).values(
        state=bindparam("new_state"), last_error=bindparam("error"),
        next_attempt_at=bindparam("next_at"), claimed_at=None, status=bindparam("code"),
        sent_at=bindparam("at")),
        [{"send_id": o.entry.id, "new_state": o.state, "error": o.error,
          "next_at": o.next_attempt, "code": o.status or None,
          "at": now if o.state == ChannelState.SENT else None} for o in outcomes])
    for o in outcomes:
        if o.state == ChannelState.SUPPRESSED:
            _block(conn, o, now)


def _block(conn: Connection, o: ChannelOutcome, now: datetime) -> None:
    sid = o.entry.digest.subscriber_id
    conn.execute(_insert_ignoring(conn, s.channel_blocks, ["subscriber_id", "channel"])
                 .values(subscriber_id=sid, channel=o.entry.key, since=now,
                         error=o.error or ""))
    waiting = select(s.digests.c.id).where(s.digests.c.subscriber_id == sid)
    conn.execute(update(s.channel_sends).where(
        c.channel == o.entry.key, c.digest_id.in_(waiting),
        c.state.in_((ChannelState.PLANNED, ChannelState.RETRY))).values(
        state=ChannelState.SUPPRESSED, last_error=o.error, next_attempt_at=None))


def counts(conn: Connection) -> dict[str, int]:
    """Channel messages by state."""
    return {state: int(n) for state, n in conn.execute(
        select(c.state, func.count()).group_by(c.state))}


@dataclass(frozen=True)
class ChannelRow:
    """One channel message, for status listings: where it went as may be shown (kind,
    host, room: never the URL's path or the token)."""

    id: int
    email: str
    period: datetime
    where: str
    state: str
    attempts: int
    status: int | None
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None


def listing(conn: Connection) -> list[ChannelRow]:
    """Every channel message, oldest first."""
    query = (select(c.id, s.subscribers.c.email, s.digests.c.period, c.kind, c.channel,
                    s.subscribers.c.settings, c.state, c.attempts, c.status,
                    c.next_attempt_at, c.last_error, c.sent_at)
             .select_from(s.channel_sends.join(s.digests).join(s.subscribers))
             .order_by(c.id))
    return [ChannelRow(r.id, r.email, r.period, _where(r.kind, r.channel, r.settings),
                       r.state, r.attempts, r.status, r.next_attempt_at, r.last_error,
                       r.sent_at) for r in conn.execute(query)]


def _where(kind: str, key: str, settings: dict[str, Any]) -> str:
    channels = subscriber_from_row(settings).channels
    return next((ch.where for ch in channels if ch.key == key), f"{kind} (since removed)".strip())


def blocks(conn: Connection, email: str) -> dict[str, tuple[datetime, str]]:
    """The blocked channels (by key) of the subscriber with this address."""
    b = s.channel_blocks.c
    query = select(b.channel, b.since, b.error).join(s.subscribers).where(
        s.subscribers.c.email_key == email.casefold())
    return {key: (since, error) for key, since, error in conn.execute(query)}


def all_blocks(conn: Connection) -> list[tuple[str, str, datetime, str]]:
    """Every blocked channel: (email, where, since, why), by address."""
    b = s.channel_blocks.c
    query = (select(s.subscribers.c.email, s.subscribers.c.settings, b.channel, b.since,
                    b.error).join(s.subscribers).order_by(s.subscribers.c.email_key))
    return [(email, _where("", key, settings).strip(), since, error)
            for email, settings, key, since, error in conn.execute(query)]


def unblock(conn: Connection, email: str) -> int:
    """Forget this subscriber's blocked channels (the admin knows they are back)."""
    b = s.channel_blocks
    ids = select(s.subscribers.c.id).where(s.subscribers.c.email_key == email.casefold())
    return conn.execute(b.delete().where(b.c.subscriber_id.in_(ids))).rowcount


def channel_status(sub: Subscriber, blocked: dict[str, tuple[datetime, str]]
                   ) -> list[tuple[str, str | None]]:
    """Each of ``sub``'s channels as may be shown, with why it is suppressed (or None)."""
    return [(ch.where, f"suppressed since {blocked[ch.key][0]:%Y-%m-%d %H:%M} UTC: "
             f"{blocked[ch.key][1]}" if ch.key in blocked else None) for ch in sub.channels]


class ChannelRoom(OutboxRoom):
    """``Store``'s outbox with its team channel messages; each method one transaction."""

    def plan_outbox(self, plans: Sequence[Plan], now: datetime) -> dict[str, int]:
        """Put digests in the outbox once per (subscriber, period), and their messages
        to their subscribers' channels with them; counts by state."""
        self.check_file()
        new: list[tuple[int, int, str]] = []
        with self._begin() as conn:
            counts = outbox.plan(conn, plans, now, new)
            channels = {sid: p.digest.subscriber.channels for p in plans
                        if (sid := p.subscriber_id or _id_of(conn, p)) is not None}
            plan(conn, new, channels, now)
            return counts

    def claim_channels(self, now: datetime, lease: timedelta, limit: int,
                       only: str | None = None) -> list[ChannelEntry]:
        """Mark up to ``limit`` due channel messages ``sending`` (committed before any
        HTTP request); none that another process holds."""
        self.check_file()
        with self._begin() as conn:
            return claim(conn, now, lease, limit, only)

    def record_channels(self, outcomes: Sequence[ChannelOutcome], now: datetime) -> None:
        """What a batch of channel messages came to, in one transaction."""
        if outcomes:
            self.check_file()
            with self._begin() as conn:
                record(conn, outcomes, now)

    def channel_counts(self) -> dict[str, int]:
        """Channel messages by state."""
        with self._begin(reading=True) as conn:
            return counts(conn)

    def channel_sends(self) -> list[ChannelRow]:
        """Every channel message, oldest first."""
        with self._begin(reading=True) as conn:
            return listing(conn)

    def channel_blocks(self, email: str) -> dict[str, tuple[datetime, str]]:
        """The subscriber's channels that answered 404 or 410, by key: (since, why)."""
        with self._begin(reading=True) as conn:
            return blocks(conn, email)

    def blocked_channels(self) -> list[tuple[str, str, datetime, str]]:
        """Every channel that answered 404 or 410: (email, where, since, why)."""
        with self._begin(reading=True) as conn:
            return all_blocks(conn)

    def unblock_channels(self, email: str) -> int:
        """Forget the subscriber's blocked channels; returns how many."""
        with self._begin() as conn:
            return unblock(conn, email)
