"""Many processes on one outbox: `digest worker` on a shared PostgreSQL (claims FOR UPDATE
SKIP LOCKED), a worker killed mid-pass and its digests taken over after the lease, and
`digest send --workers 2` on SQLite. Every digest arrives (by Message-ID) exactly once,
except those a killed worker had sent but not yet recorded, which arrive again with the
same Message-ID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.plan import plan_due
from digest.store import Store
from tests.conftest import ROOT, SEEDS
from tests.mailing import NOW, SUBSCRIPTIONS
from tests.pgserver import PgCluster, wipe
from tests.smtpserver import SmtpServer

pytestmark = pytest.mark.slow


def prepared(url: str, tmp_path: Path, count: int) -> dict[str, str]:
    """Seeds, and ``count`` database subscribers imported; nothing planned yet."""
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS.split("subscribers:")[0] + "subscribers: []\n")
    env = {"DIGEST_DB": url, "DIGEST_CONFIG": str(config), "DIGEST_SECRET": "s3cret",
           "DIGEST_FROM": "Paper Digest <digest@example.org>",
           "DIGEST_BASE_URL": "https://digest.example.org", "DIGEST_SMTP_POOL": "2"}
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(SEEDS), "--now", "2026-06-01T05:00:00Z"],
                         env=env).exit_code == 0
    people = tmp_path / "people.json"
    people.write_text(json.dumps({"subscribers": [
        {"email": f"r{i}@example.org", "keywords": ["diffusion"], "cadence": "daily",
         "send_at": "08:00", "send_empty": True} for i in range(count)]}))
    result = runner.invoke(cli, ["subscribers", "import", str(people)], env=env)
    assert result.exit_code == 0, result.output
    return env


def workers(env: dict[str, str], smtp: SmtpServer, count: int, *args: str
            ) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-m", "digest", "-q", "worker", "--once", *args],
                             cwd=ROOT, env={**os.environ, **env, "DIGEST_SMTP_URL": smtp.url},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(count)]


def finish(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()


def message_ids(smtp: SmtpServer) -> Counter[str]:
    return Counter(str(got.message["Message-ID"]) for got in smtp.received)


def expected_ids(store: Store) -> dict[str, int]:
    """Each digest's Message-ID, with its outbox row id."""
    return {f"<{row.kind}-{row.ref}-{row.period:%Y%m%dT%H%M%S%f}@example.org>": row.id
            for row in store.outbox()}


@pytest.fixture
def pg_url(cluster: PgCluster) -> str:
    wipe(cluster.url)
    return cluster.url


def test_three_workers_on_postgresql_deliver_each_digest_once(pg_url: str,
                                                              tmp_path: Path) -> None:
    env = prepared(pg_url, tmp_path, 5_000)
    store = Store(pg_url)
    _, counts = plan_due(store, NOW)
    assert counts["planned"] == 5_000
    with SmtpServer() as smtp:
        finish(workers(env, smtp, 3, "--now", NOW.isoformat()))
        ids = message_ids(smtp)
    assert set(ids) == set(expected_ids(store))
    assert max(ids.values()) == 1
    assert store.outbox_counts() == {"sent": 5_000}


def test_a_killed_workers_digests_are_taken_over_after_the_lease(pg_url: str,
                                                                 tmp_path: Path) -> None:
    env = {**prepared(pg_url, tmp_path, 600), "DIGEST_LEASE_SECONDS": "60"}
    store = Store(pg_url)
    plan_due(store, NOW)
    with SmtpServer() as smtp:
        smtp.handler.delay = 0.01  # slow enough to kill one mid-pass
        # The victim starts first, and is killed once its first mails arrived, as the
        # other two start: it holds a claimed batch then (killed later, it may have
        # claimed nothing yet, or be done: the others can send all 600 in a second).
        (victim,) = workers(env, smtp, 1, "--now", NOW.isoformat())
        deadline = time.monotonic() + 60
        while len(smtp.received) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        others = workers(env, smtp, 2, "--now", NOW.isoformat())
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        finish(others)
        stranded = {row.id for row in store.outbox() if row.state == "sending"}
        assert stranded  # the dead worker's batch: not taken before the lease runs out
        # A minute later the lease has run out: any worker takes them over.
        finish(workers(env, smtp, 1, "--now", (NOW + timedelta(seconds=61)).isoformat()))
        ids = message_ids(smtp)
    assert set(ids) == set(expected_ids(store))  # nothing lost
    twice = {expected_ids(store)[mid] for mid, n in ids.items() if n > 1}
    assert twice <= stranded  # sent again only what the dead worker had not recorded
    assert max(ids.values()) <= 2
    assert store.outbox_counts() == {"sent": 600}


def test_send_with_two_processes_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    env = prepared(url, tmp_path, 2_100)
    with SmtpServer() as smtp:
        result = CliRunner().invoke(cli, ["send", "--workers", "2", "--json", "--now",
                                          NOW.isoformat()],
                                    env={**env, "DIGEST_SMTP_URL": smtp.url})
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        ids = message_ids(smtp)
    assert summary["workers"] == 2
    assert summary["counts"]["sent"] == summary["counts"]["planned"] == 2_100
    assert set(summary["seconds"]) >= {"plan", "deliver", "total"}
    assert set(ids) == set(expected_ids(Store(url)))
    assert max(ids.values()) == 1
