"""Storage: every SQL statement of digest lives in this package.

``Store`` opens a SQLite or PostgreSQL database by URL, creates the schema, and offers the
few operations the pipeline needs, each one transaction. Stages get frozen
``digest.model`` records back, never rows. The SQL itself sits in ``papers``,
``subscribers``, ``history`` and ``outbox`` beside this file.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from digest import defaults
from digest.errors import StoreError
from digest.model import (
    History,
    OutboxEntry,
    Paper,
    Plan,
    Snapshot,
    Subscriber,
    Unsent,
    Verdict,
)
from digest.store import bounces as bounce_sql
from digest.store import history as history_sql
from digest.store import leases as lease_sql
from digest.store import outbox as outbox_sql
from digest.store import papers as paper_sql
from digest.store import periods as period_sql
from digest.store import revisions
from digest.store import schema as s
from digest.store import subscribers as subscriber_sql
from digest.store.bounces import KeptMail, MailOutcome
from digest.store.papers import SaveResult
from digest.store.periods import PeriodReset
from digest.store.subscribers import Member, Record, SyncResult
from digest.text import one_line

__all__ = ["DatabaseBusy", "DatabaseUnavailable", "Member", "Record", "SaveResult", "Store",
           "SyncResult"]
_ATTEMPTS = 3  # a write that lost a race on a UNIQUE key is tried again
# Seconds a transaction waits for a lock another process holds (SQLite's busy_timeout)
# before it gives up with DatabaseBusy; ``Store.waiting`` sets a shorter wait for a use.
LOCK_WAIT = 30.0
T = TypeVar("T")



class DatabaseBusy(StoreError):
    """Another process held the database's lock for longer than this use waits; the
    transaction did nothing. Trying again later may succeed."""


class DatabaseUnavailable(StoreError):
    """The database server could not be reached, or dropped the connection (a restart,
    too many clients): the transaction did nothing. Trying again later may succeed."""


class Store:
    """A digest database. Raises StoreError when it cannot be opened or written."""

    def __init__(self, url: str, *, create: bool = True, check: bool = True) -> None:
        """Open the database at ``url``; an empty one is created at the newest schema
        revision (unless ``create`` is false: then a missing SQLite file is an error).
        With ``check``, a database at another revision is refused (StoreError naming
        ``digest db upgrade``)."""
        try:  # no parameters in errors and logs: they hold secrets and addresses
            # A pooled connection is tried before each use (one round trip): after a
            # server restart the pool's connections are all dead, and each would fail
            # the transaction that took it.
            self.engine: Engine = create_engine(_with_driver(url), hide_parameters=True,
                                                pool_pre_ping=True)
        except ModuleNotFoundError as e:
            raise StoreError(f"cannot use database URL {_no_password(url)!r}: its driver "
                             f"({e.name}) is not installed; for PostgreSQL, pip install "
                             "'digest[postgres]'") from e
        except (ArgumentError, ImportError, ValueError) as e:
            raise StoreError(f"cannot use database URL {_no_password(url)!r}: {e}; "
                             "check --db or DIGEST_DB (e.g. sqlite:///digest.db)") from e
        if self.engine.dialect.name == "sqlite":
            if not create and (path := _sqlite_path(self.engine)) and (
                    not os.path.exists(path) or os.path.getsize(path) == 0):
                raise StoreError(f"cannot open {one_line(path)}: there is no database there; "
                                 "check --db or DIGEST_DB (digest ingest or digest run "
                                 "creates one)")
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        elif self.engine.dialect.name == "postgresql":
            event.listen(self.engine, "begin", _postgres_begin)
        try:
            at = self._open()
        except OperationalError as e:
            hint = ("that its folder exists" if self.engine.dialect.name == "sqlite" else
                    "that the server is running and lets this user in")
            raise StoreError(f"cannot open database "
                             f"{self.engine.url.render_as_string(hide_password=True)}: "
                             f"{_reason(e)}; check --db or DIGEST_DB and {hint}") from e
        if check:
            _check_revision(at, self.engine.url.render_as_string(hide_password=True))
        self._file = _file_identity(self.engine)

    def _open(self) -> str | None:
        """The database's schema revision, after creating an empty one at the newest."""
        for attempt in range(_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    if revisions.is_empty(conn):
                        s.metadata.create_all(conn)
                        revisions.stamp(conn, revisions.head())
                    return revisions.current(conn)
            except (IntegrityError, ProgrammingError):
                if attempt == _ATTEMPTS - 1:  # another process was creating it too
                    raise
        raise AssertionError("unreachable")

    def revision(self) -> tuple[str | None, str]:
        """(the database's schema revision, the newest the code knows)."""
        with self.engine.connect() as conn:
            return revisions.current(conn), revisions.head()

    def upgrade(self) -> tuple[str | None, str]:
        """Apply the schema revisions the database lacks, in one transaction; returns
        (from, to)."""
        with self._begin() as conn:
            return revisions.upgrade(conn)

    def check_file(self) -> None:
        """Raises StoreError when the SQLite file this store opened was deleted or
        replaced since (open connections would go on writing to the lost file)."""
        if self._file is None:
            return
        path, identity = self._file
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise StoreError(f"the database file {path} was deleted while digest was using "
                             "it; nothing more was written. Restore it, or point --db or "
                             "DIGEST_DB at the right file, and run again") from None
        if (st.st_dev, st.st_ino) != identity:
            raise StoreError(f"the database file {path} was replaced by another file while "
                             "digest was using it; nothing more was written to either. Run "
                             "again to use the new file")

    def waiting(self, seconds: float) -> Store:
        """This database, but each transaction waits at most ``seconds`` for a lock that
        another process holds, then raises DatabaseBusy (same connections)."""
        other = copy.copy(self)
        other.engine = self.engine.execution_options(lock_wait=seconds)
        return other

    @contextmanager
    def _begin(self, *, reading: bool = False) -> Iterator[Connection]:
        """A transaction; ``reading``: one that only reads, which on SQLite takes no
        lock (in WAL mode a reader sees a snapshot, waits for no writer and holds none
        up), so that the processes of a pass read while one of them writes."""
        engine = self.engine.execution_options(reading=True) if reading else self.engine
        try:
            with engine.begin() as conn:
                yield conn
        except (IntegrityError, StoreError):
            raise
        except SQLAlchemyError as e:
            if _is_busy(e):
                wait = self.engine.get_execution_options().get("lock_wait", LOCK_WAIT)
                raise DatabaseBusy(f"the database is busy: another process held its lock "
                                   f"for more than {wait:g} s; try again") from e
            if _is_unavailable(e):
                raise DatabaseUnavailable(f"the database cannot be reached ({_reason(e)}); "
                                          "check that it is running, and try again") from e
            raise StoreError(f"database error: {_reason(e)}") from e

    def _retrying(self, work: Callable[[Connection], T], what: str) -> T:
        """Run ``work`` in a transaction, again if it lost a race on a UNIQUE key."""
        for attempt in range(_ATTEMPTS):
            try:
                with self._begin() as conn:
                    return work(conn)
            except IntegrityError as e:
                if attempt == _ATTEMPTS - 1:
                    raise StoreError(f"could not {what}: {_reason(e)}") from e
        raise AssertionError("unreachable")

    def save_papers(
        self, incoming: Sequence[Paper], *, source: str, fmt: str, now: datetime
    ) -> SaveResult:
        """Store the papers read from one source, merging each into what is known.

        One transaction: the run is recorded and every paper merged, or nothing is.
        """
        stamped = [replace(p, first_seen=now) for p in incoming]
        return self._retrying(lambda conn: paper_sql.save(conn, stamped, source, fmt, now),
                              f"save papers from {source}")

    def record_failure(self, source: str, fmt: str | None, reason: str, now: datetime) -> None:
        """Record that a source could not be read (nothing of it is stored)."""
        with self._begin() as conn:
            conn.execute(insert(s.ingest_runs).values(
                source=source, format=fmt, started_at=now, error=reason))

    def papers(self, since: datetime | None = None) -> list[Paper]:
        """Stored papers, oldest first; with ``since``, those that appeared since that day."""
        with self._begin(reading=True) as conn:
            return paper_sql.load(conn, since)

    def upvote_snapshots(self, start: datetime, now: datetime) -> list[Snapshot]:
        """The upvote counts ingests saw after ``start`` up to ``now``, with each such
        paper's last count at or before ``start`` (what momentum since ``start`` needs)."""
        with self._begin(reading=True) as conn:
            return paper_sql.snapshots(conn, start, now)

    def known_papers(self, wanted: Iterable[tuple[str, str | None]]
                     ) -> dict[tuple[str, str | None], list[Paper]]:
        """For each (folded name, profile source) of a pin, the papers that profile
        credits to that name (none for a pin without a profile)."""
        with self._begin(reading=True) as conn:
            return {(key, source): paper_sql.credited_to(conn, key, source)
                    if source is not None else [] for key, source in set(wanted)}

    def papers_carrying(self, keys: Iterable[str], at_least: int = 0,
                        known: Mapping[int, Paper] | None = None) -> dict[str, list[Paper]]:
        """For each folded name, the stored papers that carry it (none for a name on
        fewer than ``at_least``); papers ``known`` by id are taken from there."""
        with self._begin(reading=True) as conn:
            return paper_sql.carrying(conn, sorted(set(keys)), at_least, known)

    def count_papers(self) -> int:
        """How many distinct papers are stored."""
        with self._begin() as conn:
            return int(conn.execute(select(func.count()).select_from(s.papers)).scalar_one())

    def sync_subscribers(self, subscribers: Sequence[Subscriber], now: datetime,
                         prefs: Sequence[Mapping[str, Any]] | None = None,
                         defaults: Mapping[str, Any] | None = None) -> SyncResult:
        """Bring the file's subscribers in step with the configuration (their own
        ``prefs`` in the same order), and the database's with its ``defaults``."""
        return self._retrying(lambda conn: subscriber_sql.sync(
            conn, subscribers, now, prefs, defaults), "update the subscribers")

    def histories(self, paper_ids: Iterable[int], emails: Iterable[str] | None = None,
                  as_of: datetime | None = None) -> dict[str, History]:
        """What subscribers (all, or these) already got, keyed by folded email; with
        ``as_of``, as it was at that moment (``digest.store.history``)."""
        with self._begin(reading=True) as conn:
            return history_sql.histories(conn, paper_ids, emails, as_of)

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
                    periods = history_sql.last_periods_as_of(conn, [m.id for m in batch], as_of)
                    batch = [replace(m, last_period=periods.get(m.id)) for m in batch]
            if not batch:
                return
            yield batch
            after = batch[-1].id

    def histories_of(self, ids: Sequence[int], since: datetime,
                     as_of: datetime | None = None) -> dict[str, History]:
        """What these subscribers (by row id) already got of the papers first seen since
        ``since``, keyed by folded email; with ``as_of``, as it was at that moment."""
        with self._begin(reading=True) as conn:
            return history_sql.histories_of(conn, ids, since, as_of)

    def count_members(self) -> int:
        """How many subscribers take digests."""
        with self._begin(reading=True) as conn:
            return subscriber_sql.count_members(conn)

    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Hold ``name`` until ``now + ttl`` (again, for its holder); False while someone
        else holds it and their lease runs."""
        def work(conn: Connection) -> bool:
            return lease_sql.take(conn, name, holder, now, ttl)
        return self._retrying(work, f"take the lease {name}")

    def drop_lease(self, name: str, holder: str) -> None:
        with self._begin() as conn:
            lease_sql.drop(conn, name, holder)

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


    # ---- outbox ------------------------------------------------------------------------

    def plan_outbox(self, plans: Sequence[Plan], now: datetime) -> dict[str, int]:
        """Put digests in the outbox once per (subscriber, period); counts by state."""
        self.check_file()
        with self._begin() as conn:
            return outbox_sql.plan(conn, plans, now)

    def planned_for(self, slots: dict[str, datetime]) -> set[str]:
        """Which of these subscribers (folded email -> period) have that digest already."""
        with self._begin() as conn:
            query = select(s.subscribers.c.email_key, s.subscribers.c.id).where(
                s.subscribers.c.email_key.in_(list(slots)))
            ids = {key: sid for key, sid in conn.execute(query)}  # noqa: C416
            done = outbox_sql.planned_periods(conn, {ids[k]: v for k, v in slots.items()
                                                     if k in ids})
            return {k for k, sid in ids.items() if sid in done}

    def count_due(self, now: datetime, lease: timedelta, only: str | None = None) -> int:
        """How many digests a pass would send now."""
        with self._begin(reading=True) as conn:
            return outbox_sql.count_due(conn, now, lease, only)

    def claim(self, now: datetime, lease: timedelta, limit: int, only: str | None = None
              ) -> list[OutboxEntry]:
        """Mark up to ``limit`` due digests ``sending`` (committed before any SMTP
        traffic); none that another process holds."""
        self.check_file()
        with self._begin() as conn:
            return outbox_sql.claim(conn, now, lease, limit, only)

    def record_outcomes(self, sent: Sequence[OutboxEntry], unsent: Sequence[Unsent],
                        now: datetime, bounce_limit: int) -> list[str]:
        """What a batch came to, in one transaction: sent digests with their papers,
        the others ``retry`` or ``failed``, and the bounce counts of their subscribers.
        Returns the addresses newly marked bouncing."""
        if not sent and not unsent:
            return []
        self.check_file()
        with self._begin() as conn:
            outbox_sql.mark_sent(conn, sent, now)
            outbox_sql.mark_unsent(conn, unsent)
            return outbox_sql.count_bounces(
                conn, sent, [o.entry.subscriber_id for o in unsent if o.bounce],
                bounce_limit, now)

    def expire_late(self, now: datetime, lease: timedelta) -> int:
        """Digests more than their subscriber's grace after their time become missed (see
        ``outbox.expire_late``); returns how many."""
        with self._begin() as conn:
            return outbox_sql.expire_late(conn, now, lease)

    def reset_periods(self, after: datetime, now: datetime,
                      emails: Sequence[str] | None = None) -> PeriodReset:
        """Undo a pass run ahead of ``after``, for these subscribers (None: everyone), as
        of ``now``; see ``digest.store.periods``."""
        keys = None if emails is None else [e.casefold() for e in emails]
        lease = timedelta(seconds=defaults.JOB_LEASE_SECONDS)
        with self._begin() as conn:
            return period_sql.reset_periods(conn, after, keys, lease, now)

    def reset_bounces(self, email: str) -> bool:
        """Clear a bouncing subscriber (and the bounces read back against them); False
        when there is no such address."""
        with self._begin() as conn:
            bounce_sql.clear(conn, email)
            return subscriber_sql.reset_bounces(conn, email)

    # ---- mails read back ---------------------------------------------------------------

    def record_mail(self, sha256: str, verdict: Verdict, now: datetime, soft_limit: int
                    ) -> MailOutcome:
        """Act on a mail read back (a ``Verdict``) and record it by the
        hash of its bytes, in one transaction; a mail recorded before does nothing."""
        self.check_file()
        return self._retrying(lambda conn: bounce_sql.record(
            conn, sha256, verdict, now, soft_limit), "record a mail read back")

    def kept_mails(self) -> list[KeptMail]:
        """The mails read back that were kept, not acted on."""
        with self._begin(reading=True) as conn:
            return bounce_sql.kept(conn)

    def suppressed(self) -> dict[str, int]:
        """Subscribers suppressed now: hard, soft, complaint (``bounces.suppressed``)."""
        with self._begin(reading=True) as conn:
            return bounce_sql.suppressed(conn)

    def release(self, entries: Sequence[OutboxEntry]) -> None:
        """Give claimed digests back untried."""
        if entries:
            with self._begin() as conn:
                outbox_sql.release(conn, entries)

    def reserve_sends(self, count: int, rate: float, at: float) -> float:
        """Book ``count`` sends at ``rate`` per second for every process that shares this
        database: returns the moment (seconds since the epoch) the first may go; the
        rest follow at ``1 / rate`` intervals."""
        with self._begin() as conn:
            return outbox_sql.reserve(conn, count, rate, at)

    def outbox_counts(self) -> dict[str, int]:
        """Digests by state."""
        with self._begin() as conn:
            return outbox_sql.counts(conn)

    def outbox(self) -> list[outbox_sql.OutboxRow]:
        """Every digest in the outbox, oldest first."""
        with self._begin() as conn:
            return outbox_sql.listing(conn)

    def papers_by_id(self, ids: Iterable[int]) -> dict[int, Paper]:
        """Stored papers by id."""
        with self._begin(reading=True) as conn:
            return {p.id: p for p in paper_sql.load_ids(conn, ids) if p.id is not None}

    # ---- subscribers' state ---------------------------------------------------------

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

    def record_job_run(self, job_id: str, started: datetime, finished: datetime,
                       counts: dict[str, int], error: str | None) -> None:
        """Remember one run of a bot job."""
        with self._begin() as conn:
            conn.execute(insert(s.job_runs).values(
                job_id=job_id, started_at=started, finished_at=finished, counts=counts,
                error=error))

    def job_health(self) -> list[JobHealth]:
        """Each bot job's latest run (when, how long, its error) and latest success."""
        j = s.job_runs.c
        with self._begin() as conn:
            latest = select(func.max(j.id)).group_by(j.job_id)
            ok = dict(conn.execute(select(j.job_id, func.max(j.finished_at))
                                   .where(j.error.is_(None)).group_by(j.job_id)).all())
            return [JobHealth(row.job_id, row.finished_at,
                              (row.finished_at - row.started_at).total_seconds(), row.error,
                              _utc(ok.get(row.job_id)))
                    for row in conn.execute(select(s.job_runs).where(j.id.in_(latest))
                                            .order_by(j.job_id))]

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """Digests by state and class of the server's last reply (2xx, 4xx, ...)."""
        with self._begin() as conn:
            return outbox_sql.delivery_counts(conn)

    def last_job_runs(self) -> dict[str, Any]:
        """The latest run of each bot job, by job id."""
        with self._begin() as conn:
            latest = select(func.max(s.job_runs.c.id)).group_by(s.job_runs.c.job_id)
            rows = conn.execute(select(s.job_runs).where(s.job_runs.c.id.in_(latest)))
            return {row.job_id: row for row in rows}

    def meta(self, key: str) -> str | None:
        """A value the database keeps for itself (source fingerprints, the secret)."""
        with self._begin() as conn:
            found = conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)
                                 ).scalar_one_or_none()
            return None if found is None else str(found)

    def set_meta(self, key: str, value: str) -> None:
        with self._begin() as conn:
            conn.execute(delete(s.meta).where(s.meta.c.key == key))
            conn.execute(insert(s.meta).values(key=key, value=value))

    def secret(self) -> str:
        """The signing secret kept in the database, generated on first use."""
        found = self.meta("secret")
        if found is not None:
            return found
        try:
            with self._begin() as conn:
                conn.execute(insert(s.meta).values(key="secret",
                                                   value=secrets.token_urlsafe(32)))
        except IntegrityError:
            pass  # another process made it first; use theirs
        return self.secret()


@dataclass(frozen=True)
class JobHealth:
    """One bot job's latest run and latest successful one."""

    job_id: str
    last_run: datetime
    seconds: float
    last_error: str | None
    last_success: datetime | None


def _utc(moment: datetime | None) -> datetime | None:
    """A time read by an aggregate (no column type applied): aware, in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _with_driver(url: str) -> str:
    """A PostgreSQL URL without a driver uses psycopg (3), which 'digest[postgres]'
    installs, not SQLAlchemy's default psycopg2."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare):]
    return url


def _check_revision(at: str | None, where: str) -> None:
    head = revisions.head()
    if at == head:
        return
    if at is not None and not revisions.known(at):
        raise revisions.newer(at, f"the database {where}")
    raise StoreError(f"the database {where} has schema revision "
                     f"{at or 'from before revisions'}; this digest needs {head}: back it "
                     "up, then run `digest db upgrade`")


def _sqlite_path(engine: Engine) -> str | None:
    """The file of a SQLite database (None in memory)."""
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return os.path.abspath(name)


def _file_identity(engine: Engine) -> tuple[str, tuple[int, int]] | None:
    """The path and (device, inode) of a SQLite database file, None for other databases."""
    path = _sqlite_path(engine) if engine.dialect.name == "sqlite" else None
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return path, (st.st_dev, st.st_ino)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys on, WAL, patience with locks, and no implicit BEGIN (see below)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT * 1000)}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Take SQLite's write lock when a transaction starts, not halfway through: two
    processes then queue (busy_timeout) instead of failing when a read turns into a write.
    A transaction that only reads (``Store._begin(reading=True)``) takes none. The wait
    is this use's (``Store.waiting``); a pooled connection remembers its own."""
    options = conn.get_execution_options()
    wait_ms = int(options.get("lock_wait", LOCK_WAIT) * 1000)
    info = conn.connection.info
    if info.get("busy_ms", int(LOCK_WAIT * 1000)) != wait_ms:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
        info["busy_ms"] = wait_ms
    conn.exec_driver_sql("BEGIN" if options.get("reading") else "BEGIN IMMEDIATE")


def _postgres_begin(conn: Connection) -> None:
    """A use with its own wait (``Store.waiting``) gives up on a lock after it."""
    wait = conn.get_execution_options().get("lock_wait")
    if wait is not None:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(wait * 1000)}")


def _is_busy(e: SQLAlchemyError) -> bool:
    """Whether ``e`` means another process holds a lock (SQLite's SQLITE_BUSY or
    SQLITE_LOCKED, PostgreSQL's lock_not_available) or every pooled connection is taken."""
    orig = getattr(e, "orig", None)
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)
    return isinstance(e, PoolTimeout) or getattr(orig, "sqlstate", None) == "55P03"


# PostgreSQL's SQLSTATEs for a server that is going away or full: too many connections,
# shut down by an administrator or a crash, starting up or shutting down.
_UNAVAILABLE = {"53300", "57P01", "57P02", "57P03"}


def _is_unavailable(e: SQLAlchemyError) -> bool:
    """Whether ``e`` means the server is gone or full, not that the statement is wrong:
    a connection SQLAlchemy found dead, one of ``_UNAVAILABLE``, a connection exception
    (class 08), or a PostgreSQL connection that could not be made at all (no SQLSTATE:
    refused, reset)."""
    if getattr(e, "connection_invalidated", False):
        return True
    orig = getattr(e, "orig", None)
    state = getattr(orig, "sqlstate", None)
    if state is not None:
        return state in _UNAVAILABLE or state.startswith("08")
    return isinstance(e, OperationalError) and type(orig).__module__.startswith("psycopg")


def _reason(e: SQLAlchemyError) -> str:
    """What the database said, for a message: the driver's first line only, never the
    SQL, its parameters, or the lines after (PostgreSQL's DETAIL quotes a row's values)."""
    orig = getattr(e, "orig", None)
    said = str(orig if orig is not None else e).strip().splitlines()
    return said[0] if said else type(e).__name__


def _no_password(url: str) -> str:
    """A database URL for messages: its password, if it has one, as ***."""
    return re.sub(r"(://[^/:@]*:)[^/]*@", r"\1***@", url, count=1)
