"""A throwaway PostgreSQL cluster for tests: initdb and pg_ctl on a free loopback port.

As root (CI), the server runs as the ``postgres`` user, since PostgreSQL refuses root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
from sqlalchemy import MetaData, create_engine

from tests.smtpserver import free_port


def pg_bin() -> Path | None:
    """Folder of the newest installed PostgreSQL server binaries, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


def cluster_or_skip(max_connections: int = 50) -> Iterator[PgCluster]:
    """A cluster for a module's tests; skipped where PostgreSQL is not installed, a
    failure instead under DIGEST_REQUIRE_POSTGRES=1 (as scripts/test runs)."""
    if pg_bin() is None:
        if os.environ.get("DIGEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is not installed; scripts/test installs it with apt-get")
        pytest.skip("PostgreSQL server binaries are not installed (scripts/test installs them)")
    with PgCluster(max_connections) as pg:
        yield pg


class PgCluster:
    """``with PgCluster() as pg: pg.url`` is a fresh, empty database."""

    def __init__(self, max_connections: int = 50) -> None:
        binaries = pg_bin()
        assert binaries is not None, "PostgreSQL server binaries are not installed"
        self.bin = binaries
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="digest-pg-"))
        self.data = self.folder / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.max_connections = max_connections

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://digest@127.0.0.1:{self.port}/digest"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def __enter__(self) -> PgCluster:
        if self._as:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "digest",
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8")
        self._pg_ctl("start")
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "digest", "digest")
        return self

    def _pg_ctl(self, action: str) -> None:
        starts = ["-l", str(self.data / "log"), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                  f"-c fsync=off -c max_connections={self.max_connections}"]
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast",
                  *(starts if action != "stop" else []), action)

    def stop(self) -> None:
        self._pg_ctl("stop")

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        """Stop the server as an operator's ``pg_ctl restart -m fast`` does (every
        session terminated, transactions in flight rolled back) and start it again."""
        self._pg_ctl("restart")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._pg_ctl("stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def sqlite_or_postgres(request: pytest.FixtureRequest, tmp_path: Path,
                       name: str = "digest.db") -> Iterator[str]:
    """For a fixture with ``params=["sqlite", "postgresql"]``: a fresh SQLite file
    ``name``, or the module's ``cluster`` fixture's database, wiped before and after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / name}"
        return
    pg: PgCluster = request.getfixturevalue("cluster")
    wipe(pg.url)
    yield pg.url
    wipe(pg.url)


def wipe(url: str) -> None:
    """Drop every table of the database at ``url`` (schema revisions included), so the
    next Store starts from an empty database."""
    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    engine.dispose()
