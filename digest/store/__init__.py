"""Storage: every SQL statement of digest lives in this package.

``Store`` opens a SQLite or PostgreSQL database by URL, creates the schema, and offers the
few operations the pipeline needs, each one transaction. Stages get frozen
``digest.model`` records back, never rows. The SQL itself sits in ``papers`` (and
``features``, their terms for recommendations), ``browse``
(the pages' reading of papers; ``search``, its full-text index), ``subscribers``,
``history``, ``outbox``, ``channels``, ``bounces``, ``periods``, ``leases`` and ``jobs``
beside this file, each with the room of ``Store`` that runs it (a mixin on
``engine.Database``: opening the database, transactions and their errors); the
subscribers' methods are here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from digest.errors import StoreError
from digest.model import Subscriber
from digest.store import history as history_sql
from digest.store import schema as s
from digest.store import subscribers as subscriber_sql
from digest.store.bounces import BounceRoom
from digest.store.browse import BrowseRoom
from digest.store.channels import ChannelRoom
from digest.store.engine import (
    LOCK_WAIT,
    Database,
    DatabaseBusy,
    DatabaseUnavailable,
    sqlite_file,
)
from digest.store.features import FeatureRoom
from digest.store.history import HistoryRoom
from digest.store.jobs import JobHealth, JobRoom
from digest.store.leases import LeaseRoom
from digest.store.papers import PaperRoom, SaveResult
from digest.store.periods import PeriodRoom
from digest.store.subscribers import Member, Record, SyncResult

__all__ = ["LOCK_WAIT", "DatabaseBusy", "DatabaseUnavailable", "JobHealth", "Member", "Record",
           "SaveResult", "Store", "SyncResult", "sqlite_file"]


class Store(PaperRoom, FeatureRoom, BrowseRoom, HistoryRoom, ChannelRoom, BounceRoom,
            PeriodRoom, LeaseRoom, JobRoom, Database):
    """A digest database. Raises StoreError when it cannot be opened or written."""

    def sync_subscribers(self, subscribers: Sequence[Subscriber], now: datetime,
                         prefs: Sequence[Mapping[str, Any]] | None = None,
                         defaults: Mapping[str, Any] | None = None) -> SyncResult:
        """Bring the file's subscribers in step with the configuration (their own
        ``prefs`` in the same order), and the database's with its ``defaults``."""
        return self._retrying(lambda conn: subscriber_sql.sync(
            conn, subscribers, now, prefs, defaults), "update the subscribers")

    def members(self, groups: Iterable[str] | None = None, only: str | None = None
                ) -> list[Member]:
        """Everyone who takes digests (active, confirmed, not paused or unsubscribed), or
        those of these send groups, or one address."""
        with self._begin(reading=True) as conn:
            return subscriber_sql.members(conn, groups=groups, only=only)

    def member_batches(self, size: int, *, groups: Iterable[str] | None = None,
                       only: str | None = None, shard: tuple[int, int] | None = None,
                       as_of: datetime | None = None) -> Iterator[list[Member]]:
        """``members`` a batch at a time (each read in its own transaction), in row order;
        with ``shard`` ``(k, n)`` only every n-th subscriber, from the k-th; with
        ``as_of``, each one's latest digest period as it was at that moment."""
        wanted = None if groups is None else list(groups)
        after = 0
        while True:
            with self._begin(reading=True) as conn:
                batch = subscriber_sql.member_batch(conn, after, size, groups=wanted,
                                                    only=only, shard=shard)
                if as_of is not None:
                    ids = [m.id for m in batch]
                    periods = history_sql.last_periods_as_of(conn, ids, as_of)
                    cuts = history_sql.cut_offs_as_of(conn, ids, as_of)
                    batch = [replace(m, last_period=periods.get(m.id), cut=cuts.get(m.id))
                             for m in batch]
            if not batch:
                return
            yield batch
            after = batch[-1].id

    def count_members(self) -> int:
        """How many subscribers take digests."""
        with self._begin(reading=True) as conn:
            return subscriber_sql.count_members(conn)

    def group_keys(self) -> list[str]:
        """The send groups (``Subscriber.group_key``) of everyone who takes digests."""
        with self._begin() as conn:
            return subscriber_sql.group_keys(conn)

    def subscribers_stamp(self) -> str:
        """Changes whenever a subscriber is added or changed."""
        with self._begin() as conn:
            return subscriber_sql.stamp(conn)

    def record(self, *, ref: str | None = None, email: str | None = None) -> Record | None:
        """A stored subscriber, by the reference of their links or by address."""
        with self._begin() as conn:
            return subscriber_sql.record(conn, ref=ref, email=email)

    def put_subscriber(self, prefs: Mapping[str, Any], now: datetime, state: str = "active"
                       ) -> str:
        """Add or change a database subscriber as an admin (confirmed); returns added,
        changed or unchanged. StoreError for an address subscriptions.yaml manages."""
        try:
            return self._retrying(lambda conn: subscriber_sql.put(
                conn, prefs, now, confirmed=True, state=state), "add the subscriber")
        except ValueError as e:
            raise StoreError(str(e)) from e

    def import_subscribers(self, entries: Sequence[tuple[Mapping[str, Any], str]],
                           now: datetime) -> dict[str, int]:
        """Add or change database subscribers (own settings, state), all or none;
        StoreError naming every address subscriptions.yaml manages."""
        def work(conn: Connection) -> dict[str, int]:
            return subscriber_sql.put_many(conn, entries, now, confirmed=True)
        try:
            return self._retrying(work, "import the subscribers")
        except ValueError as e:
            raise StoreError(f"nothing imported: {e}") from e

    def exported_subscribers(self) -> list[tuple[Mapping[str, Any], str]]:
        """The database's confirmed subscribers: own settings and state."""
        with self._begin() as conn:
            return list(subscriber_sql.exported(conn))

    def request_subscription(self, prefs: Mapping[str, Any], now: datetime, cap: int
                             ) -> tuple[Record, str] | None:
        """The subscribe form was sent: ``(subscriber, "confirm" | "known")`` for the mail
        to send, or None when the address had ``cap`` such mails in a day."""
        return self._retrying(lambda conn: subscriber_sql.request(conn, prefs, now, cap),
                              "record the subscription")

    def confirm(self, ref: str, now: datetime, left: datetime | None = None) -> bool:
        """Confirm a subscription, or bring back after the unsubscribe at ``left``; False
        for an unknown reference or a spent link (``subscribers.confirmable``)."""
        with self._begin() as conn:
            return subscriber_sql.confirm(conn, ref, now, left)

    def set_prefs(self, ref: str, prefs: Mapping[str, Any], now: datetime) -> None:
        """New own settings for a database subscriber."""
        with self._begin() as conn:
            subscriber_sql.set_prefs(conn, ref, prefs, now)

    def set_paused(self, ref: str, at: datetime | None, now: datetime) -> None:
        """Pause at ``at``, or resume with None."""
        with self._begin() as conn:
            subscriber_sql.set_paused(conn, ref, at, now)

    def unsubscribed(self) -> set[str]:
        """Folded emails of everyone who unsubscribed."""
        with self._begin() as conn:
            return set(conn.execute(select(s.subscribers.c.email_key).where(
                s.subscribers.c.unsubscribed_at.is_not(None))).scalars())

    def set_unsubscribed(self, email: str, at: datetime | None, *, ref: str | None = None,
                         now: datetime | None = None) -> bool:
        """Unsubscribe at ``at``, or resubscribe with None (as of ``now``), by address or
        reference; False if no such subscriber."""
        with self._begin() as conn:
            return subscriber_sql.set_unsubscribed(conn, email, at, ref, now)

    def statuses(self) -> list[subscriber_sql.SubscriberStatus]:
        """Everyone ever subscribed, with state, last digest and counts."""
        with self._begin() as conn:
            return subscriber_sql.statuses(conn)
