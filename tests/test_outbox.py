"""The outbox as a whole: once per period even from two processes, the Maildir default,
dry runs, missed periods, rate limiting."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from digest.store import Store
from tests.conftest import ROOT
from tests.mailing import NOW, many_subscribers, send
from tests.smtpserver import SmtpServer


def test_two_processes_at_once_send_each_digest_once(mail_env: dict[str, str], tmp_path: Path,
                                                     db_url: str) -> None:
    config = many_subscribers(tmp_path, 24)
    with SmtpServer() as server:
        server.handler.delay = 0.05
        child_env = {**os.environ, **mail_env, "DIGEST_CONFIG": str(config), "DIGEST_DB": db_url,
                     "DIGEST_SMTP_URL": server.url, "DIGEST_SMTP_POOL": "2"}
        command = [sys.executable, "-m", "digest", "-q", "send", "--now", NOW.isoformat()]
        children = [subprocess.Popen(command, env=child_env, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [child.communicate(timeout=120) for child in children]
        assert [child.returncode for child in children] == [0, 0], [e[-3000:] for _, e in outputs]
        received = Counter(r.recipients[0] for r in server.received)
    assert len(received) == 24
    assert set(received.values()) == {1}, received.most_common(3)
    rows = Store(db_url).outbox()
    assert len(rows) == 24 and {row.state for row in rows} == {"sent"}
    sent_by = [int(line.split()[1]) for out, _ in outputs for line in out.splitlines()
               if line.strip() and line.split()[0].isdigit()]
    assert sum(sent_by) == 24  # each process sent its share, together every digest once


def test_maildir_when_no_smtp_server(run: Any, mail_env: dict[str, str]) -> None:
    result = run("send", "--now", NOW.isoformat(), env=mail_env)
    assert result.exit_code == 0, result.output
    assert f"mail went to Maildir {mail_env['DIGEST_MAILDIR']}" in result.stdout
    box = mailbox.Maildir(mail_env["DIGEST_MAILDIR"], create=False)
    messages = list(box)
    assert {m["To"] for m in messages} == {"Ada Lovelace <ada@example.org>",
                                           '"Grace \\"Amazing\\" Hopper" <grace@example.org>'}
    assert all(m.get_content_type() == "multipart/alternative" for m in messages)


def test_dry_run_sends_and_records_nothing(run: Any, mail_env: dict[str, str], db_url: str) -> None:
    result = run("send", "--now", NOW.isoformat(), "--dry-run", env=mail_env)
    assert result.exit_code == 0, result.output
    assert "dry run: nothing sent" in result.stdout
    assert Store(db_url).outbox() == []
    assert not Path(mail_env["DIGEST_MAILDIR"]).exists()
    assert run("send", "--now", NOW.isoformat(), env=mail_env).exit_code == 0
    assert len(Store(db_url).outbox()) == 2


def test_missed_periods_are_recorded_and_the_latest_sent(run: Any, mail_env: dict[str, str],
                                                 db_url: str) -> None:
    assert run("send", "--now", NOW.isoformat(), env=mail_env).exit_code == 0
    run("ingest", "tests/data/hf-daily/2026-04-16.json", "--now",
        (NOW + timedelta(days=1)).isoformat())
    later = NOW + timedelta(days=4)  # down for three days
    assert run("send", "--now", later.isoformat(), env=mail_env).exit_code == 0
    rows = [row for row in Store(db_url).outbox() if row.email == "grace@example.org"]
    assert sorted((row.period.date().isoformat(), row.state) for row in rows) == [
        ("2026-06-01", "sent"), ("2026-06-02", "missed"), ("2026-06-03", "missed"),
        ("2026-06-04", "missed"), ("2026-06-05", "sent")]  # the latest carries it all


def test_unknown_only_subscriber(run: Any, mail_env: dict[str, str]) -> None:
    result = run("send", "--only", "nobody@example.org", env=mail_env)
    assert result.exit_code == 1
    assert "no subscriber nobody@example.org in" in result.stderr


def test_test_mail(run: Any, mail_env: dict[str, str]) -> None:
    with SmtpServer() as server:
        result = run("test-mail", "me@example.org", env={**mail_env, "DIGEST_SMTP_URL": server.url})
        assert result.exit_code == 0, result.output
        assert f"through {server.url}" in result.stdout
        (got,) = server.received
    assert got.recipients == ["me@example.org"]
    assert got.message["Subject"].startswith("Test mail: Trending: ")
    assert got.message["Subject"].endswith(" · 5 trending · Daily Papers")


def test_smtp_rate_from_the_environment(run: Any, mail_env: dict[str, str]) -> None:
    with SmtpServer() as server:
        result = send(run, {**mail_env, "DIGEST_SMTP_RATE": "50"}, server.url)
        assert result.exit_code == 0
        assert len(server.received) == 2
