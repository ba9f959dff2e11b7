"""SQL for leases: one holder at a time for a named piece of work (a bot job), taken over
once the holder's lease has run out (it died, or hangs)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from digest.store import schema as s
from digest.store.engine import Database


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


class LeaseRoom(Database):
    """``Store``'s leases on named work (a bot job): each method one transaction around
    the SQL above."""

    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Hold ``name`` until ``now + ttl`` (again, for its holder); False while someone
        else holds it and their lease runs."""
        def work(conn: Connection) -> bool:
            return take(conn, name, holder, now, ttl)
        return self._retrying(work, f"take the lease {name}")

    def drop_lease(self, name: str, holder: str) -> None:
        with self._begin() as conn:
            drop(conn, name, holder)
