"""Shared fixtures: paths, a CLI runner, golden files, the real data set, a local HTTP server,
a throwaway PostgreSQL cluster and a database URL of each kind."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.model import Paper
from tests.httpserver import DataServer
from tests.pgserver import PgCluster, cluster_or_skip, sqlite_or_postgres

# Fixtures of the delivery tests (a prepared database and config, an SMTP server).
pytest_plugins = ["tests.mailing"]

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"
SHARED_DATA = ROOT.parent / "shared" / "data"
# Set DIGEST_REGEN_GOLDEN=1 to rewrite the golden files from the current output, on purpose.
REGEN = os.environ.get("DIGEST_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster for the module's tests (skipped where none can run;
    a module may define its own)."""
    yield from cluster_or_skip()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, then the module's ``cluster``, wiped."""
    yield from sqlite_or_postgres(request, tmp_path)


@pytest.fixture(autouse=True)
def allow_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most tests send to a loopback SMTP server with the default sender and links at
    localhost, which send, run and worker refuse unless this is set (subprocesses
    inherit it); tests of that refusal delete it."""
    monkeypatch.setenv("DIGEST_ALLOW_LOCALHOST", "1")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'digest.db'}"


@pytest.fixture
def run(db_url: str) -> Any:
    """Run the real CLI against a fresh database; returns click's Result."""

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None
               ) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, list(args), env={"DIGEST_DB": db_url, **(env or {})},
                             catch_exceptions=False, input=input)

    return invoke


def totals(table: str) -> tuple[int, int, int, int]:
    """Read, new, merged and errors from the total row of ``digest ingest``'s table."""
    m = re.search(r"\d+ sources?\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", table)
    assert m, table
    read, new, merged, errors = map(int, m.groups())
    return read, new, merged, errors


def paper_fields(paper: Paper) -> dict[str, Any]:
    """A paper as plain JSON-able data, for golden files."""
    data = asdict(paper)
    for key in ("published", "featured"):
        data[key] = data[key].isoformat() if data[key] else None
    data.pop("first_seen")
    data.pop("id")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def check_golden(name: str, data: Any) -> None:
    """Compare ``data`` with tests/golden/NAME (rewritten when DIGEST_REGEN_GOLDEN=1)."""
    path = GOLDEN / name
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with DIGEST_REGEN_GOLDEN=1 to create it"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)


@pytest.fixture
def shared_data() -> Path:
    """The full real data set beside the project, or a clear skip when it is absent."""
    if not (SHARED_DATA / "hf-daily").is_dir():
        pytest.skip(f"big-data test skipped: {SHARED_DATA} is absent (it sits beside the "
                    "project in the development workspace)")
    return SHARED_DATA


@pytest.fixture
def server() -> Iterator[DataServer]:
    """A local HTTP server that serves tests/data like huggingface.co and rss.arxiv.org."""
    with DataServer(DATA) as srv:
        yield srv
