"""SQL for leases: one holder at a time for a named piece of work (a bot job), taken over
once the holder's lease has run out (it died, or hangs)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from digest.store import schema as s


def take(conn: Connection, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``."""
    c = s.leases.c
    query = select(c.holder, c.expires_at).where(c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        conn.execute(insert(s.leases).values(name=name, holder=holder, expires_at=now + ttl))
        return True  # a holder that raced us here makes the INSERT fail: tried again
    if row.holder != holder and row.expires_at > now:
        return False
    conn.execute(update(s.leases).where(c.name == name).values(holder=holder,
                                                                expires_at=now + ttl))
    return True


def drop(conn: Connection, name: str, holder: str) -> None:
    """Give the lease back, if ``holder`` still has it."""
    conn.execute(delete(s.leases).where(s.leases.c.name == name, s.leases.c.holder == holder))
