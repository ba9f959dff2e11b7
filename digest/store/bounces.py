"""SQL for the mails read back (``digest bounces``): what each did, recorded with it.

A mail is recorded by the SHA-256 of its bytes in the same transaction as its effect, so
a mail read again (the same mailbox twice, a copy of it, a crash after the record and
before the mail was moved) finds its record and does nothing twice. Effects: a hard
bounce marks the subscriber bouncing at once; a soft one is tallied per digest (period)
and DIGEST_SOFT_BOUNCE_LIMIT different digests mark them; a complaint unsubscribes and is
remembered; an unsubscribe request unsubscribes as the one-click link does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from digest.model import Verdict
from digest.store import schema as s
from digest.store import subscribers as subscriber_sql
from digest.store.engine import Database
from digest.vocab import BounceKind

c = s.subscribers.c
m = s.mail_messages.c


@dataclass(frozen=True)
class MailOutcome:
    """What a mail read back came to: ``kind`` as recorded (a verdict about nobody known
    is kept), whose (``email``), why, and whether this reading did it (``new``) or an
    earlier one had."""

    kind: str
    email: str | None
    detail: str
    new: bool


@dataclass(frozen=True)
class KeptMail:
    """A mail read back and kept, not acted on, for ``digest bounces --report``."""

    read_at: datetime
    sender: str
    subject: str
    date: str
    detail: str


def record(conn: Connection, sha256: str, verdict: Verdict, now: datetime,
           soft_limit: int) -> MailOutcome:
    """Act on ``verdict`` and record the mail, unless it was recorded before."""
    before = conn.execute(select(m.kind, m.detail, c.email).select_from(
        s.mail_messages.outerjoin(s.subscribers)).where(m.sha256 == sha256)).first()
    if before is not None:
        return MailOutcome(before.kind, before.email, before.detail, new=False)
    kind, detail, row = verdict.kind, verdict.detail, None
    if kind != BounceKind.KEPT:
        row = _subscriber(conn, verdict)
        if row is None:
            named = ("the ref of its token or Message-ID" if verdict.ref else
                     ", ".join(verdict.emails) or "nobody")
            kind, detail = BounceKind.KEPT, f"{verdict.kind} of no subscriber ({named}): {detail}"
        else:
            detail = _apply(conn, row, verdict, now, max(1, soft_limit))
    conn.execute(insert(s.mail_messages).values(
        sha256=sha256, kind=kind, subscriber_id=row.id if row else None, detail=detail,
        sender=verdict.sender, subject=verdict.subject, date=verdict.date, read_at=now))
    return MailOutcome(kind, row.email if row else None, detail, new=True)


def _subscriber(conn: Connection, verdict: Verdict) -> Any:
    """The subscriber a verdict names: by ref first, else by one of its addresses."""
    query = select(c.id, c.email, c.ref, c.bouncing_since)
    if verdict.ref:
        row = conn.execute(query.where(c.ref == verdict.ref)).first()
        if row is not None:
            return row
    keys = [e.casefold() for e in verdict.emails]
    return conn.execute(query.where(c.email_key.in_(keys)).order_by(c.id)).first() \
        if keys else None


def _apply(conn: Connection, row: Any, verdict: Verdict, now: datetime, soft_limit: int
           ) -> str:
    """Change the subscriber as the verdict says; returns the detail to record."""
    if verdict.kind == BounceKind.HARD:
        _suppress(conn, row.id, BounceKind.HARD, verdict.detail, now)
    elif verdict.kind == BounceKind.SOFT:
        return _soft(conn, row.id, verdict, now, soft_limit)
    elif verdict.kind == BounceKind.COMPLAINT:
        conn.execute(update(s.subscribers).where(c.id == row.id).values(
            unsubscribed_at=func.coalesce(c.unsubscribed_at, now),
            complained_at=func.coalesce(c.complained_at, now), suppressed_kind=BounceKind.COMPLAINT,
            suppressed_reason=verdict.detail, suppressed_at=now))
    elif verdict.kind == BounceKind.UNSUBSCRIBE:
        subscriber_sql.set_unsubscribed(conn, "", now, ref=row.ref)
    return verdict.detail


def _suppress(conn: Connection, subscriber_id: int, kind: str, reason: str, now: datetime
              ) -> None:
    """Mark bouncing (skipped until ``digest subscribers reset``) with the reason; the
    first such mark stands."""
    conn.execute(update(s.subscribers).where(c.id == subscriber_id,
                                             c.bouncing_since.is_(None)).values(
        bouncing_since=now, suppressed_kind=kind, suppressed_reason=reason,
        suppressed_at=now))


def _soft(conn: Connection, subscriber_id: int, verdict: Verdict, now: datetime,
          limit: int) -> str:
    """Tally a temporary failure against its digest (the period the mail names, else the
    day it was read); at ``limit`` different digests, mark bouncing."""
    period = verdict.period or now.replace(hour=0, minute=0, second=0, microsecond=0)
    b = s.soft_bounces.c
    if conn.execute(select(b.at).where(b.subscriber_id == subscriber_id,
                                       b.period == period)).first() is None:
        conn.execute(insert(s.soft_bounces).values(subscriber_id=subscriber_id,
                                                   period=period, at=now,
                                                   detail=verdict.detail))
    count = int(conn.execute(select(func.count()).select_from(s.soft_bounces).where(
        b.subscriber_id == subscriber_id)).scalar_one())
    if count >= limit:
        _suppress(conn, subscriber_id, BounceKind.SOFT, f"temporary failures in {count} "
                  f"digests; the last: {verdict.detail}", now)
    return f"{verdict.detail} ({count} of {limit} digests)"


def clear(conn: Connection, email: str) -> None:
    """Forget a subscriber's suppression and soft-bounce tally (``subscribers reset``)."""
    found = conn.execute(select(c.id).where(c.email_key == email.casefold())).first()
    if found is None:
        return
    conn.execute(delete(s.soft_bounces).where(s.soft_bounces.c.subscriber_id == found.id))
    conn.execute(update(s.subscribers).where(c.id == found.id, c.suppressed_kind.in_(
        (BounceKind.HARD, BounceKind.SOFT))).values(suppressed_kind=None, suppressed_reason=None,
                                  suppressed_at=None))


def kept(conn: Connection) -> list[KeptMail]:
    """Every mail kept, not acted on, oldest first."""
    rows = conn.execute(select(m.read_at, m.sender, m.subject, m.date, m.detail)
                        .where(m.kind == BounceKind.KEPT).order_by(m.read_at, m.sha256))
    return [KeptMail(*row) for row in rows]


def suppressed(conn: Connection) -> dict[str, int]:
    """Subscribers suppressed now, by why: hard (a hard bounce read back, or the SMTP
    server's refusals in a row), soft (temporary failures in several digests),
    complaint (marked as spam, so unsubscribed)."""
    bouncing = c.bouncing_since.is_not(None)
    counts: dict[str, int] = dict.fromkeys(
        (BounceKind.HARD, BounceKind.SOFT, BounceKind.COMPLAINT), 0)
    complained = (c.suppressed_kind == BounceKind.COMPLAINT) & c.unsubscribed_at.is_not(None)
    for kind, n in conn.execute(select(c.suppressed_kind, func.count()).where(
            bouncing | complained).group_by(c.suppressed_kind)):
        key = kind if kind in counts else BounceKind.HARD
        counts[key] += int(n)
    return counts


class BounceRoom(Database):
    """``Store``'s mails read back, and the bounces they count: each method one
    transaction around the SQL above."""

    def reset_bounces(self, email: str) -> bool:
        """Clear a bouncing subscriber (and the bounces read back against them); False
        when there is no such address."""
        with self._begin() as conn:
            clear(conn, email)
            return subscriber_sql.reset_bounces(conn, email)

    def record_mail(self, sha256: str, verdict: Verdict, now: datetime, soft_limit: int
                    ) -> MailOutcome:
        """Act on a mail read back (a ``Verdict``) and record it by the
        hash of its bytes, in one transaction; a mail recorded before does nothing."""
        self.check_file()
        return self._retrying(lambda conn: record(
            conn, sha256, verdict, now, soft_limit), "record a mail read back")

    def kept_mails(self) -> list[KeptMail]:
        """The mails read back that were kept, not acted on."""
        with self._begin(reading=True) as conn:
            return kept(conn)

    def suppressed(self) -> dict[str, int]:
        """Subscribers suppressed now: hard, soft, complaint (``bounces.suppressed``)."""
        with self._begin(reading=True) as conn:
            return suppressed(conn)
