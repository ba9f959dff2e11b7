"""Exactly once when the database misbehaves under a pass: PostgreSQL restarted in the
middle of a multi-worker pass, and a PostgreSQL that lets in fewer connections than the
workers would open. Every digest arrives at the SMTP server exactly once (by Message-ID)
and is recorded as sent; no worker dies of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from digest.plan import plan_due
from digest.store import Store
from tests.conftest import ROOT
from tests.mailing import NOW
from tests.pgserver import PgCluster, cluster_or_skip, wipe
from tests.smtpserver import SmtpServer
from tests.test_workers import expected_ids, finish, message_ids, prepared, workers

pytestmark = pytest.mark.slow


def _planned(url: str, tmp_path: Path, count: int) -> tuple[dict[str, str], Store]:
    env = prepared(url, tmp_path, count)
    store = Store(url)
    _, counts = plan_due(store, NOW)
    assert counts["planned"] == count
    return env, store


def _assert_each_once(smtp: SmtpServer, store: Store, count: int) -> None:
    ids = message_ids(smtp)
    assert set(ids) == set(expected_ids(store))  # nothing lost
    twice = sorted(mid for mid, n in ids.items() if n > 1)
    assert not twice, f"{len(twice)} digests received more than once, e.g. {twice[:3]}"
    assert store.outbox_counts() == {"sent": count}


def test_a_postgresql_restart_mid_pass_sends_each_digest_once(cluster: PgCluster,
                                                               tmp_path: Path) -> None:
    wipe(cluster.url)
    env, store = _planned(cluster.url, tmp_path, 3_000)
    with SmtpServer() as smtp:
        smtp.handler.delay = 0.002  # a pass of a few seconds, to restart the server in
        procs = workers(env, smtp, 2, "--now", NOW.isoformat())
        deadline = time.monotonic() + 120
        while len(smtp.received) < 600 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(p.poll() is None for p in procs), "the pass ended before the restart"
        cluster.restart()  # every session terminated, transactions rolled back
        assert len(smtp.received) < 3_000, "the pass ended before the restart"
        finish(procs)  # both exit 0: the restart cost them nothing
        _assert_each_once(smtp, store, 3_000)


def test_too_few_database_connections_for_the_workers_send_each_digest_once(
        tmp_path: Path) -> None:
    # 5 connections: fewer than three workers open at times, each with a connection
    # claiming and another recording, beside the test's own.
    for pg in cluster_or_skip(max_connections=5):
        env, store = _planned(pg.url, tmp_path, 3_000)
        with SmtpServer() as smtp:
            smtp.handler.delay = 0.001
            procs = workers(env, smtp, 3, "--now", NOW.isoformat())
            said = [p.communicate(timeout=300)[1].decode() for p in procs]
            assert [p.returncode for p in procs] == [0, 0, 0], said
            _assert_each_once(smtp, store, 3_000)
        # The server did turn connections away, and the workers waited for one.
        assert "too many clients" in "".join(said)


def test_an_idle_worker_outlives_a_postgresql_restart(cluster: PgCluster,
                                                      tmp_path: Path) -> None:
    wipe(cluster.url)
    env = prepared(cluster.url, tmp_path, 50)
    sessions = _sessions(cluster.url)
    with SmtpServer() as smtp:
        (worker,) = [subprocess.Popen(
            [sys.executable, "-m", "digest", "worker", "--poll", "0.2", "--now",
             NOW.isoformat()], cwd=ROOT, env={**os.environ, **env, "DIGEST_SMTP_URL": smtp.url},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)]
        try:
            deadline = time.monotonic() + 60
            while _sessions(cluster.url) <= sessions:  # the worker's: idle, nothing planned
                assert time.monotonic() < deadline, "the worker never connected"
                time.sleep(0.1)
            time.sleep(3)  # done opening the database: polling the empty outbox
            cluster.stop()
            time.sleep(2)  # the worker looks at the outbox ten times meanwhile
            cluster.start()
            assert worker.poll() is None, worker.communicate()[1].decode()
            store = Store(cluster.url)
            plan_due(store, NOW)
            deadline = time.monotonic() + 60
            while len(smtp.received) < 50 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err.decode()
        _assert_each_once(smtp, store, 50)


def _sessions(url: str) -> int:
    """How many client sessions the server has (this one's not counted)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) - 1 FROM pg_stat_activity WHERE "
                                  "backend_type = 'client backend'")).scalar_one()
    engine.dispose()
    return int(count)


def test_a_worker_records_what_it_sent_once_the_database_is_back(cluster: PgCluster,
                                                                  tmp_path: Path) -> None:
    """PostgreSQL stopped for longer than a pass waits for it (half the lease: 2 s here):
    the pass stops, what the server accepted stays owed in the worker's memory, and the
    worker's next pass records it before it takes any work, so nothing goes out twice
    though the lease ran out meanwhile."""
    wipe(cluster.url)
    env, store = _planned(cluster.url, tmp_path, 1_500)
    env = {**env, "DIGEST_LEASE_SECONDS": "4"}
    with SmtpServer() as smtp:
        smtp.handler.delay = 0.004
        worker = subprocess.Popen(
            [sys.executable, "-m", "digest", "worker", "--poll", "0.2", "--now",
             NOW.isoformat()], cwd=ROOT, env={**os.environ, **env, "DIGEST_SMTP_URL": smtp.url},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while len(smtp.received) < 300 and time.monotonic() < deadline:
                time.sleep(0.02)
            cluster.stop()
            time.sleep(5)  # past the pass's patience and the lease
            cluster.start()
            while len(smtp.received) < 1_500 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2)  # what the worker would send again, it would send by now
        finally:
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err.decode()
        assert "cannot be reached" in err.decode()  # the outage did happen mid-pass
        _assert_each_once(smtp, store, 1_500)
