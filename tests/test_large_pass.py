"""A pass of any size plans and sends: no statement carries more parameters than SQLite
(250,000) or PostgreSQL (65,535) allow. Checked with the chunk size lowered on both, and
at full size past both limits (27,777 and 7,281 digests in one statement before)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from digest.cli import cli
from digest.plan import plan_due
from digest.store import DatabaseBusy, Store, history, outbox
from digest.store import schema as s
from tests.conftest import SEEDS
from tests.mailing import NOW, SUBSCRIPTIONS
from tests.pgserver import PgCluster, pg_bin, wipe


def invoke(url: str, *args: str, env: dict[str, str]) -> Any:
    return CliRunner().invoke(cli, list(args), env={"DIGEST_DB": url, **env},
                              catch_exceptions=False)


def prepared(url: str, tmp_path: Path, count: int) -> dict[str, str]:
    """The seeds, the example defaults, and ``count`` database subscribers (imported)."""
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS)
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox"),
           "DIGEST_SECRET": "s3cret"}
    invoke(url, "ingest", str(SEEDS), "--now", "2026-06-01T05:00:00Z", env=env)
    people = tmp_path / "people.json"
    people.write_text(json.dumps({"subscribers": [
        {"email": f"r{i}@example.org", "keywords": ["diffusion"], "cadence": "daily",
         "timezone": "Europe/Berlin", "send_at": "08:00"} for i in range(count)]}))
    assert invoke(url, "subscribers", "import", str(people), env=env).exit_code == 0
    return env


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    pg_bin()
    with PgCluster() as pg:
        yield pg


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'digest.db'}"
    pg: PgCluster = request.getfixturevalue("cluster")
    wipe(pg.url)
    return pg.url


def test_small_chunks_plan_and_send_everyone_once(url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "PLAN_ROWS", 3)
    env = prepared(url, tmp_path, 10)
    first = invoke(url, "send", "--now", NOW.isoformat(), env=env)
    assert first.exit_code == 0, first.output
    store = Store(url)
    sent = [row.email for row in store.outbox() if row.state == "sent"]
    assert sorted(sent) == sorted([*(f"r{i}@example.org" for i in range(10)),
                                   "ada@example.org", "grace@example.org"])
    again = invoke(url, "send", "--now", NOW.isoformat(), env=env)
    assert again.exit_code == 0
    assert [row.email for row in Store(url).outbox() if row.state == "sent"] == sent


@pytest.mark.slow
@pytest.mark.parametrize(("dialect", "count"), [("postgresql", 7_400), ("sqlite", 28_000)])
def test_a_pass_past_the_old_limits_plans_everyone(dialect: str, count: int, tmp_path: Path,
                                                  request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    if dialect == "postgresql":
        pg: PgCluster = request.getfixturevalue("cluster")
        wipe(pg.url)
        url = pg.url
    prepared(url, tmp_path, count)
    store = Store(url)
    _, counts = plan_due(store, NOW)
    assert counts["planned"] + counts["skipped"] == count + 2  # and Ada and Grace
    assert store.outbox_counts().get("planned", 0) == counts["planned"] > count // 2


def test_the_papers_on_their_way_are_looked_up_by_subscriber_not_by_state(
        tmp_path: Path) -> None:
    """During a pass every planned digest is on its way: SQLite's planner, left to
    itself, walked all of them for each batch of subscribers planned."""
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with store.engine.connect() as conn:
        for state in (s.PENDING, ("failed", "missed")):
            query = history.digests_of(conn, [1, 2, 3], s.digests.c.state.in_(state))
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            plan = " ".join(str(row[3]) for row in conn.execute(
                text(f"EXPLAIN QUERY PLAN {compiled}")))
            assert "(subscriber_id=?)" in plan and "state" not in plan, plan


def test_planning_reads_while_another_process_writes(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The processes of a pass take turns only to write: on SQLite a transaction that
    only reads takes no lock, so planning goes on while another process holds the write
    lock (every transaction took it before, and the processes of a pass waited for each
    other's reads)."""
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    monkeypatch.chdir(tmp_path)
    prepared(url, tmp_path, 5)
    store = Store(url).waiting(0.2)
    holder = sqlite3.connect(tmp_path / "digest.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process, writing
    holder.execute("UPDATE subscribers SET name = 'half-written'")
    try:
        plans, counts = plan_due(store, NOW, record=False)  # reads only: a dry run
        assert counts["planned"] == 7 and len(plans) == 7  # 5 imported, 2 in the file
        ids = [p.subscriber_id for p in plans if p.subscriber_id is not None]
        assert store.histories_of(ids, NOW - timedelta(days=30)).keys() == {
            p.digest.subscriber.email.casefold() for p in plans}
        assert store.count_due(NOW, timedelta(minutes=30)) == 0
        members = [m for batch in store.member_batches(2) for m in batch]
        assert len(members) == 7 and all(m.subscriber.name != "half-written" for m in members)
        with pytest.raises(DatabaseBusy):  # a write waits its turn, then gives up
            store.plan_outbox(plans, NOW)
    finally:
        holder.rollback()
        holder.close()
    assert sum(store.plan_outbox(plans, NOW).values()) == 7  # once the lock is free
