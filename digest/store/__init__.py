"""Storage: every SQL statement of digest lives in this package.

``Store`` opens a SQLite or PostgreSQL database by URL, creates the schema, and offers the
few operations the pipeline needs, each one transaction. Stages get frozen
``digest.model`` records back, never rows. The SQL itself sits in ``papers`` and
``subscribers`` beside this file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError

from digest.errors import StoreError
from digest.model import Paper, Subscriber
from digest.rank import History
from digest.store import papers as paper_sql
from digest.store import schema as s
from digest.store import subscribers as subscriber_sql
from digest.store.papers import SaveResult
from digest.store.subscribers import SyncResult

__all__ = ["SaveResult", "Store", "SyncResult"]
_ATTEMPTS = 3  # a save that lost a race on a UNIQUE key is tried again


class Store:
    """A digest database. Raises StoreError when it cannot be opened or written."""

    def __init__(self, url: str) -> None:
        try:
            self.engine: Engine = create_engine(url)
        except (ArgumentError, ImportError, ValueError) as e:
            raise StoreError(f"cannot use database URL {url!r}: {e}; "
                             "check --db or DIGEST_DB (e.g. sqlite:///digest.db)") from e
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            s.metadata.create_all(self.engine)
        except OperationalError as e:
            raise StoreError(f"cannot open database {self.engine.url!r}: {e.orig}; "
                             "check --db or DIGEST_DB and that its folder exists") from e

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except (IntegrityError, StoreError):
            raise
        except SQLAlchemyError as e:
            raise StoreError(f"database error: {e}") from e

    def save_papers(
        self, incoming: Sequence[Paper], *, source: str, fmt: str, now: datetime
    ) -> SaveResult:
        """Store the papers read from one source, merging each into what is known.

        One transaction: the run is recorded and every paper merged, or nothing is.
        """
        stamped = [replace(p, first_seen=now) for p in incoming]
        for attempt in range(_ATTEMPTS):
            try:
                with self._begin() as conn:
                    return paper_sql.save(conn, stamped, source, fmt, now)
            except IntegrityError as e:
                if attempt == _ATTEMPTS - 1:
                    raise StoreError(f"could not save papers from {source}: {e.orig}") from e
        raise AssertionError("unreachable")

    def record_failure(self, source: str, fmt: str | None, reason: str, now: datetime) -> None:
        """Record that a source could not be read (nothing of it is stored)."""
        with self._begin() as conn:
            conn.execute(insert(s.ingest_runs).values(
                source=source, format=fmt, started_at=now, error=reason))

    def papers(self, since: datetime | None = None) -> list[Paper]:
        """Stored papers, oldest first; with ``since``, those that appeared since that day."""
        with self._begin() as conn:
            return paper_sql.load(conn, since)

    def count_papers(self) -> int:
        """How many distinct papers are stored."""
        with self._begin() as conn:
            return int(conn.execute(select(func.count()).select_from(s.papers)).scalar_one())

    def sync_subscribers(self, subscribers: Sequence[Subscriber], now: datetime) -> SyncResult:
        """Bring the stored subscribers in step with the configuration."""
        with self._begin() as conn:
            return subscriber_sql.sync(conn, subscribers, now)

    def histories(self, paper_ids: Iterable[int]) -> dict[str, History]:
        """What every subscriber already got (keyed by folded email), for these papers."""
        with self._begin() as conn:
            return subscriber_sql.histories(conn, paper_ids)

    def record_sent(self, email: str, paper_ids: Iterable[int], at: datetime) -> None:
        """Record a digest of ``paper_ids`` as sent to ``email`` at ``at``."""
        with self._begin() as conn:
            subscriber_sql.record_sent(conn, email, paper_ids, at)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys on, WAL so readers never block the writer, and patience with locks."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
