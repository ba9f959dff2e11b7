"""The same pipeline on a real PostgreSQL server (a throwaway cluster per module)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.model import Paper
from digest.store import Store
from tests.conftest import DATA, ROOT, SEEDS, totals
from tests.mailing import NOW, SUBSCRIPTIONS, many_subscribers
from tests.pgserver import PgCluster, wipe
from tests.smtpserver import SmtpServer


@pytest.fixture
def pg_url(cluster: PgCluster) -> Iterator[str]:
    wipe(cluster.url)
    yield cluster.url
    wipe(cluster.url)


def invoke(url: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env={"DIGEST_DB": url, **(env or {})},
                              catch_exceptions=False)


def test_ingest_merge_and_reingest(pg_url: str) -> None:
    # tests/data's paper sources (beside them, tests/data/bounces holds mails, not papers)
    papers = [str(DATA / "hf-daily"), str(DATA / "arxiv")]
    first = invoke(pg_url, "ingest", str(SEEDS), *papers, "--now", "2026-06-01T05:00:00Z")
    assert first.exit_code == 0, first.output
    read, new, merged, errors = totals(first.stdout)
    assert errors == 0 and merged >= 2 and new > 140
    before = invoke(pg_url, "papers", "--json").stdout
    again = invoke(pg_url, "ingest", str(SEEDS), *papers, "--now", "2026-07-01T05:00:00Z")
    assert totals(again.stdout) == (read, 0, read, 0)
    assert invoke(pg_url, "papers", "--json").stdout == before
    assert '"Paulo André Lima de Castro"' in before


def test_send_once_per_period_with_two_processes(pg_url: str, tmp_path: Path) -> None:
    invoke(pg_url, "ingest", str(SEEDS), "--now", (NOW - timedelta(hours=2)).isoformat())
    config = many_subscribers(tmp_path, 16)
    with SmtpServer() as server:
        server.handler.delay = 0.05
        env = {**os.environ, "DIGEST_DB": pg_url, "DIGEST_CONFIG": str(config),
               "DIGEST_SMTP_URL": server.url, "DIGEST_SECRET": "s3cret", "DIGEST_SMTP_POOL": "2"}
        command = [sys.executable, "-m", "digest", "-q", "send", "--now", NOW.isoformat()]
        children = [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [child.communicate(timeout=120) for child in children]
        assert [c.returncode for c in children] == [0, 0], [e[-2000:] for _, e in outputs]
        again = invoke(pg_url, "send", "--now", NOW.isoformat(), env={
            "DIGEST_CONFIG": str(config), "DIGEST_SMTP_URL": server.url})
        assert again.exit_code == 0
        received = Counter(r.recipients[0] for r in server.received)
    assert len(received) == 16 and set(received.values()) == {1}
    assert {row.state for row in Store(pg_url).outbox()} == {"sent"}


def test_run_once_and_unsubscribe_state(pg_url: str, tmp_path: Path) -> None:
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS + f"sources:\n  - path: {SEEDS}\n    schedule: \"0 * * * *\"\n")
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox")}
    result = invoke(pg_url, "run", "--once", "--now", NOW.isoformat(), env=env)
    assert result.exit_code == 0, result.output
    assert "send: planned=2 sent=2" in result.stderr
    store = Store(pg_url)
    assert store.set_unsubscribed("ADA@example.org", NOW)
    assert store.unsubscribed() == {"ada@example.org"}
    status = invoke(pg_url, "status", "--now", NOW.isoformat(), env=env).stdout
    assert "Outbox: sent 2" in status


def test_database_subscribers_on_postgres(pg_url: str, tmp_path: Path) -> None:
    invoke(pg_url, "ingest", str(SEEDS), "--now", (NOW - timedelta(hours=2)).isoformat())
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS)
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox"),
           "DIGEST_SECRET": "s3cret"}
    people = tmp_path / "people.yaml"
    people.write_text("subscribers:\n" + "".join(
        f"  - email: p{i}@example.org\n    cadence: daily\n    timezone: Europe/Berlin\n"
        f"    authors: [Maojiang Su]\n" for i in range(3)) +
        "  - email: q@example.org\n    keywords: [diffusion]\n    state: paused\n")
    imported = invoke(pg_url, "subscribers", "import", str(people), env=env)
    assert imported.exit_code == 0 and "4 added" in imported.stdout, imported.output
    exported = invoke(pg_url, "subscribers", "export", env=env).stdout
    people.write_text(exported)
    assert "1 changed" not in invoke(pg_url, "subscribers", "import", str(people),
                                     env=env).stdout
    assert invoke(pg_url, "subscribers", "export", env=env).stdout == exported
    sent = invoke(pg_url, "send", "--now", NOW.isoformat(), env=env)
    assert sent.exit_code == 0, sent.output
    store = Store(pg_url)
    got = {row.email for row in store.outbox() if row.state == "sent"}
    assert {"p0@example.org", "p1@example.org", "p2@example.org"} <= got
    assert "q@example.org" not in got  # paused
    assert store.record(email="p1@example.org").managed == "db"  # type: ignore[union-attr]


def test_preview_and_dry_run_see_the_history_as_of_now(pg_url: str, tmp_path: Path) -> None:
    """The as-of history queries (sent papers joined to their digests, latest cut-offs and
    periods per subscriber) on PostgreSQL: a send a day later does not count a day before."""
    invoke(pg_url, "ingest", str(SEEDS), "--now", (NOW - timedelta(hours=2)).isoformat())
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS)
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox")}
    later = (NOW + timedelta(days=1)).isoformat()
    assert invoke(pg_url, "send", "--now", later, env=env).exit_code == 0
    plan = json.loads(invoke(pg_url, "preview", "ada@example.org", "--now", NOW.isoformat(),
                             "--format", "json", env=env).stdout)
    assert plan["period"]["start"] <= plan["period"]["end"]
    assert any(s["papers"] for s in plan["sections"])
    dry = invoke(pg_url, "send", "--dry-run", "--json", "--now", NOW.isoformat(), env=env)
    assert json.loads(dry.stdout)["counts"]["planned"] == 2
    again = invoke(pg_url, "send", "--json", "--now", NOW.isoformat(), env=env)
    assert json.loads(again.stdout)["counts"]["sent"] == 0


def test_a_pass_run_ahead_is_undone_on_postgres(pg_url: str, tmp_path: Path) -> None:
    invoke(pg_url, "ingest", str(SEEDS), "--now", (NOW - timedelta(hours=2)).isoformat())
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS)
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox")}
    day = NOW + timedelta(days=1)
    assert invoke(pg_url, "send", "--now", NOW.isoformat(), env=env).exit_code == 0
    slipped = invoke(pg_url, "send", "--now", "2099-01-01T01:00Z", "--force-clock", env=env)
    assert slipped.exit_code == 0, slipped.output
    reset = invoke(pg_url, "subscribers", "reset-periods", "--after", day.isoformat(), env=env)
    assert "moved back for 2 subscribers" in reset.stdout, reset.output
    assert {r.period.year for r in Store(pg_url).outbox()} == {2026}
    assert invoke(pg_url, "send", "--now", day.isoformat(), env=env).exit_code == 0
    planned = {r.email for r in Store(pg_url).outbox()
               if r.period.date() == day.date() and r.state != "missed"}
    assert planned == {"ada@example.org", "grace@example.org"}


def test_a_names_newest_papers_and_papers_streamed_on_postgres(pg_url: str) -> None:
    """PostgreSQL sorts nulls first where SQLite sorts them last: a paper with no day is
    the oldest on both; ``--limit`` and ``--since`` read the same papers as on SQLite."""
    invoke(pg_url, "ingest", str(SEEDS), str(DATA / "hf-daily"), "--now", "2026-08-22T05:00:00Z")
    store = Store(pg_url)
    store.save_papers([Paper("Undated", authors=("Jiacheng Sun", "Nobody Else"))],
                      source="undated.json", fmt="hf-json", now=NOW)
    key = "jiachengsun"  # on 40 papers, now one of them without a day
    found = store.papers_carrying([key])[key]
    newest = store.papers_carrying([key], 3)[key]
    ids = {p.id for p in newest}
    oldest_kept = min(p.featured or p.published or date.min for p in newest)
    assert len(newest) == 3 and len(found) == 41 and oldest_kept > date.min
    assert all((p.featured or p.published or date.min) <= oldest_kept
               for p in found if p.id not in ids)
    since = datetime(2026, 4, 14, tzinfo=UTC)
    listed = [json.loads(line)["id"] for line in invoke(
        pg_url, "papers", "--json", "--since", "2026-04-14", "--limit", "5").stdout.splitlines()]
    assert listed == [p.id for p in store.papers(since=since)][-5:]
