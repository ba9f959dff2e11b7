"""The database itself: opening it by URL (SQLite or PostgreSQL) at the right schema
revision, transactions, and what a failed one means (busy, unreachable, or an error whose
message holds no SQL or values). ``Database`` is the base of every room of ``Store``."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from digest.errors import StoreError
from digest.store import revisions, search
from digest.store import schema as s
from digest.text import one_line

_CHUNK = 400  # values per IN (...) list, well under every database's parameter limit
_ATTEMPTS = 3  # a write that lost a race on a UNIQUE key is tried again
# Seconds a transaction waits for a lock another process holds (SQLite's busy_timeout)
# before it gives up with DatabaseBusy; ``Store.waiting`` sets a shorter wait for a use.
LOCK_WAIT = 30.0
T = TypeVar("T")


def chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    """``values`` in slices small enough for an IN (...) list (or a multi-row insert)."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


class DatabaseBusy(StoreError):
    """Another process held the database's lock for longer than this use waits; the
    transaction did nothing. Trying again later may succeed."""


class DatabaseUnavailable(StoreError):
    """The database server could not be reached, or dropped the connection (a restart,
    too many clients): the transaction did nothing. Trying again later may succeed."""


class Database:
    """A digest database opened, with the transactions every room of ``Store`` runs its
    SQL in. Raises StoreError when it cannot be opened or written."""

    def __init__(self, url: str, *, create: bool = True, check: bool = True) -> None:
        """Open the database at ``url``; an empty one is created at the newest schema
        revision (unless ``create`` is false: then a missing SQLite file is an error).
        With ``check``, a database at another revision is refused (StoreError naming
        ``digest db upgrade``)."""
        if problem := url_problem(url):
            raise StoreError(f"cannot use database URL {_no_password(url)!r}: {problem}")
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
                        search.create(conn)  # not a portable table: not in the metadata
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

    def waiting(self, seconds: float) -> Self:
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


def url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a digest database, in one line, before SQLAlchemy
    says it in several: a SQLite URL with two slashes, a file path, a database digest does
    not support."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return f"that is not a URL; for a SQLite file write sqlite:///{one_line(url)}"
    dialect = scheme.split("+", 1)[0].lower()
    if dialect == "sqlite":
        if rest and not rest.startswith("/"):
            return (f"write sqlite:///{one_line(rest)} (three slashes, then the path; four "
                    "for an absolute path)")
        return None
    if dialect in ("postgresql", "postgres"):
        return None
    return (f"{dialect or 'that'} is not supported; use SQLite (sqlite:///digest.db) or "
            "PostgreSQL (postgresql://user@host/dbname)")


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


def sqlite_file(url: str) -> str | None:
    """The absolute path of the file a SQLite ``url`` names (None for another database,
    one in memory, or a URL that does not parse: opening it says why)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return os.path.abspath(name)


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
