"""SQL that undoes a pass run ahead of time (a --now far in the future): planning records
each subscriber's latest period and cut-off and never moves them back, so after such a
pass nobody would get a digest until that moment came. This moves them back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, or_, select, update

from digest import defaults
from digest.store import schema as s
from digest.store.engine import Database, chunks
from digest.vocab import KEPT_STATES, MessageKind, OutboxState

c = s.subscribers.c
d = s.digests.c
# Digests that went out, or are going out now, stay (``KEPT_STATES``): what was sent stays
# recorded.


@dataclass(frozen=True)
class PeriodReset:
    """What ``reset_periods`` changed."""

    subscribers: int  # whose latest period or cut-off was moved back
    deleted: int  # unsent digests of later periods (planned, retry, failed, missed)
    papers: int  # first seen after now, by a run whose clock was ahead: seen now


def reset_periods(conn: Connection, after: datetime, keys: Sequence[str] | None,
                  lease: timedelta, now: datetime) -> PeriodReset:
    """For the subscribers with these folded addresses (None: everyone): delete the
    digests not sent that a pass planned after ``after`` (its clock ahead: the periods it
    recorded as missed on the way to its moment included) or for a period after it, and
    move their latest period and cut-off back to those of the digests left up to
    ``after``. Job leases that run past ``after + lease`` (taken by a bot whose clock ran
    ahead) are given back too, and papers first seen after ``now`` (by an ingest whose
    clock was ahead: no digest would hold them until then) count as first seen ``now``."""
    ids = _ids(conn, keys)
    deleted = 0
    for chunk in chunks(ids):
        ahead_of = (d.subscriber_id.in_(chunk), or_(d.planned_at > after, d.period > after),
                    d.state.not_in(KEPT_STATES))
        conn.execute(delete(s.channel_sends).where(  # their channel messages with them
            s.channel_sends.c.digest_id.in_(select(d.id).where(*ahead_of))))
        deleted += conn.execute(delete(s.digests).where(*ahead_of)).rowcount
    ahead: list[int] = []
    for chunk in chunks(ids):
        ahead += conn.execute(select(c.id).where(c.id.in_(chunk), or_(
            c.last_period > after, c.last_digest_at > after))).scalars()
    if ahead:  # one statement, executed for each subscriber
        conn.execute(update(s.subscribers).where(c.id == bindparam("sid")).values(
            last_period=_latest(d.period, d.kind == MessageKind.DIGEST, d.period <= after),
            last_digest_at=_latest(d.period_end, d.state != OutboxState.MISSED,
                                   d.period_end <= after)), [{"sid": sid} for sid in ahead])
    conn.execute(delete(s.leases).where(s.leases.c.expires_at > after + lease))
    papers = conn.execute(update(s.papers).where(s.papers.c.first_seen > now).values(
        first_seen=now)).rowcount
    return PeriodReset(len(ahead), deleted, papers)


def _ids(conn: Connection, keys: Sequence[str] | None) -> list[int]:
    if keys is None:
        return list(conn.execute(select(c.id)).scalars())
    found: list[int] = []
    for chunk in chunks(list(keys)):
        found += conn.execute(select(c.id).where(c.email_key.in_(chunk))).scalars()
    return found


def _latest(column: Any, *where: Any) -> Any:
    """The latest ``column`` of the digests of subscriber ``:sid`` meeting ``where`` (a
    subquery: NULL when there is none)."""
    return select(func.max(column)).where(d.subscriber_id == bindparam("sid"),
                                          *where).scalar_subquery()


class PeriodRoom(Database):
    """Undoing a pass run ahead of time, for ``Store``: one transaction around the SQL
    above."""

    def reset_periods(self, after: datetime, now: datetime,
                      emails: Sequence[str] | None = None) -> PeriodReset:
        """Undo a pass run ahead of ``after``, for these subscribers (None: everyone), as
        of ``now``; see ``digest.store.periods``."""
        keys = None if emails is None else [e.casefold() for e in emails]
        lease = timedelta(seconds=defaults.JOB_LEASE_SECONDS)
        with self._begin() as conn:
            return reset_periods(conn, after, keys, lease, now)
