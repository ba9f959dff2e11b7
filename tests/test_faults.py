"""Delivery in a hostile world: servers that do not speak SMTP, an address the server
cannot take, bounces, digests a crash left unsent past their grace, a template that
fails for one reader, the database file deleted under a running pass, and planning that
leaves the event loop free. Each was a lost or wrongly failed digest before."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import digest.passes as deliver_module
from digest.config import load_config
from digest.deliver import MailSettings
from digest.deliver.message import Envelope
from digest.deliver.tokens import Tokens
from digest.deliver.transport import MaildirTransport
from digest.passes import send_pass
from digest.plan import plan_due
from digest.store import Store, schema
from tests.conftest import ROOT
from tests.mailing import NOW, many_subscribers, outbox, send
from tests.smtpserver import Scripted, SmtpServer


def papers_of(row: Any, db_url: str) -> set[int]:
    """The papers an outbox row holds."""
    with Store(db_url).engine.connect() as conn:
        sections = conn.execute(select(schema.digests.c.sections).where(
            schema.digests.c.id == row.id)).scalar_one()
    return {it["paper_id"] for sec in sections for it in sec["items"]}


@pytest.mark.parametrize(("garble", "pipelining"), [
    ("banner", False), ("ehlo", False), ("after-data", False), ("long", False),
    ("after-data", True), ("long", True)])
def test_replies_that_are_not_smtp_fail_no_digest_and_stop_the_pass(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str, garble: str,
        pipelining: bool) -> None:
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 30))}
    with Scripted(garble, pipelining=pipelining) as bad:
        result = send(run, env, bad.url)
    assert result.exit_code == 1, result.output
    assert "not an SMTP reply" in result.output
    assert re.search(r"the pass stopped after \d such replies in a row", result.output)
    rows = outbox(db_url)
    assert len(rows) == 30
    assert {r.state for r in rows.values()} <= {"planned", "retry"}  # never failed
    assert all(r.attempts == 0 for r in rows.values())  # and no attempt used up
    with SmtpServer() as good:
        again = send(run, env, good.url, NOW + timedelta(minutes=10))
    assert again.exit_code == 0, again.output
    assert sorted(r.recipients[0] for r in good.received) == sorted(rows)
    assert {r.state for r in outbox(db_url).values()} == {"sent"}


def test_an_address_the_server_cannot_take_fails_alone(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    config = tmp_path / "utf8.yaml"
    config.write_text(Path(mail_env["DIGEST_CONFIG"]).read_text()
                      + "  - email: zoë@example.org\n    keywords: [diffusion]\n")
    env = {**mail_env, "DIGEST_CONFIG": str(config)}
    with Scripted(utf8=False) as server:
        result = send(run, env, server.url)
    assert result.exit_code == 3, result.output  # done, but one digest failed
    assert len(server.received) == 2  # Ada and Grace: the pass went on
    rows = outbox(db_url)
    assert rows["zoë@example.org"].state == "failed"
    assert "SMTPUTF8" in rows["zoë@example.org"].last_error
    assert "TLS" not in rows["zoë@example.org"].last_error
    assert {rows[e].state for e in ("ada@example.org", "grace@example.org")} == {"sent"}


def test_papers_of_a_failed_digest_stay_due_and_bounces_mark_the_address(
        run: Any, mail_env: dict[str, str], db_url: str) -> None:
    env = {**mail_env, "DIGEST_BOUNCE_LIMIT": "2"}
    only_ada = ("--only", "ada@example.org")
    day = timedelta(days=1)
    with SmtpServer() as smtp:
        smtp.handler.faults.extend(["rcpt:550 No such user"] * 2)
        assert send(run, env, smtp.url, NOW, *only_ada).exit_code == 3
        first = outbox(db_url)["ada@example.org"]
        assert first.state == "failed" and papers_of(first, db_url)
        second = send(run, env, smtp.url, NOW + day, *only_ada)
        assert second.exit_code == 3
        assert "Marked bouncing" in second.output and "ada@example.org" in second.output
        rows = [r for r in Store(db_url).outbox() if r.email == "ada@example.org"]
        # The second digest held the first one's papers again, though none were new.
        assert [r.state for r in rows] == ["failed", "failed"]
        assert papers_of(rows[1], db_url) == papers_of(first, db_url)
        listed = run("subscribers", env=env)
        assert any("ada@example.org" in line and "bouncing" in line
                   for line in listed.output.splitlines()), listed.output
        assert send(run, env, smtp.url, NOW + 2 * day, *only_ada).exit_code == 0
        assert smtp.received == []  # skipped while bouncing
        assert len([r for r in Store(db_url).outbox() if r.email == "ada@example.org"
                    and r.state != "missed"]) == 2
        reset = run("subscribers", "reset", "ada@example.org", env=env)
        assert reset.exit_code == 0 and "takes digests again" in reset.output
        assert run("subscribers", "reset", "nobody@example.org", env=env).exit_code == 1
        assert send(run, env, smtp.url, NOW + 3 * day, *only_ada).exit_code == 0
    (got,) = smtp.received
    latest = max((r for r in Store(db_url).outbox() if r.email == "ada@example.org"),
                 key=lambda r: r.period)
    assert latest.state == "sent" and papers_of(latest, db_url) == papers_of(first, db_url)
    assert "Maojiang Su" in got.message.get_body(("plain",)).get_content()


def test_a_digest_a_crash_left_unsent_past_its_grace_is_not_sent_late(
        run: Any, mail_env: dict[str, str], db_url: str) -> None:
    store = Store(db_url)
    store.sync_subscribers(load_config(Path(mail_env["DIGEST_CONFIG"])).subscribers, NOW)
    plan_due(store, NOW)
    assert len(store.claim(NOW, timedelta(minutes=10), 1)) == 1  # by a process that died
    before = outbox(db_url)
    assert {r.state for r in before.values()} == {"planned", "sending"}
    later = NOW + timedelta(days=3)
    with SmtpServer() as smtp:
        result = send(run, mail_env, smtp.url, later)
    assert result.exit_code == 0, result.output
    assert len(smtp.received) == 2
    assert all("20260601T0600" not in r.message["Message-ID"] for r in smtp.received)
    rows = Store(db_url).outbox()
    for email, old in before.items():
        mine = {r.period: r for r in rows if r.email == email}
        stale = mine[old.period]
        assert stale.state == "missed" and "grace_hours" in (stale.last_error or "")
        current = max(mine.values(), key=lambda r: r.period)
        assert current.state == "sent" and papers_of(old, db_url) <= papers_of(current, db_url)


def test_a_template_that_fails_for_one_reader_fails_that_digest_only(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    text = templates / "digest.txt"
    text.write_text('{% if who == "Ada Lovelace" %}{{ no_such_value }}{% endif %}'
                    + text.read_text())
    with SmtpServer() as smtp:
        result = send(run, {**mail_env, "DIGEST_TEMPLATES": str(templates)}, smtp.url)
    assert result.exit_code == 3, result.output
    assert [r.recipients for r in smtp.received] == [["grace@example.org"]]
    ada = outbox(db_url)["ada@example.org"]
    assert ada.state == "failed"
    assert "could not compose" in ada.last_error and "no_such_value" in ada.last_error


def test_a_database_file_deleted_under_a_running_pass_stops_it(
        mail_env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "gone.db"
    env = {**os.environ, **mail_env, "DIGEST_DB": f"sqlite:///{db}", "DIGEST_SMTP_POOL": "1",
           "DIGEST_CONFIG": str(many_subscribers(tmp_path, 20))}
    ingest = subprocess.run([sys.executable, "-m", "digest", "-q", "ingest",
                             str(ROOT / "seeds"), "--now", NOW.isoformat()],
                            env=env, cwd=tmp_path, capture_output=True, text=True)
    assert ingest.returncode == 0, ingest.stderr
    with SmtpServer() as smtp:
        smtp.handler.delay = 0.2
        child = subprocess.Popen(
            [sys.executable, "-m", "digest", "send", "--now", NOW.isoformat()],
            env={**env, "DIGEST_SMTP_URL": smtp.url}, cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.05)
        for leftover in tmp_path.glob("gone.db*"):
            leftover.unlink()
        out, err = child.communicate(timeout=60)
    assert child.returncode == 1, out + err
    assert "gone.db was deleted while digest was using it" in err
    assert "Traceback" not in err


def test_planning_leaves_the_event_loop_free(
        mail_env: dict[str, str], tmp_path: Path, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(db_url)
    store.sync_subscribers(load_config(many_subscribers(tmp_path, 600)).subscribers, NOW)
    ticks = 0
    during: list[int] = []
    real = deliver_module.plan_due

    def timed_plan(*args: Any, **kwargs: Any) -> Any:
        start = ticks
        result = real(*args, **kwargs)
        during.append(ticks - start)
        return result

    monkeypatch.setattr(deliver_module, "plan_due", timed_plan)

    async def scenario() -> None:
        nonlocal ticks

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        beat = asyncio.create_task(heartbeat())
        mail = MailSettings(Envelope.parse("Digest <d@example.org>", "Digest"))
        await send_pass(store, MaildirTransport(tmp_path / "mail"), mail, Tokens("s"),
                        lambda: NOW)
        beat.cancel()

    asyncio.run(scenario())
    assert during and during[0] >= 3  # the loop ran while 600 subscribers were planned


@pytest.mark.parametrize("leaves", ["removed from the file", "unsubscribed"])
def test_a_digest_waiting_for_a_retry_is_not_sent_to_someone_who_left(
        run: Any, mail_env: dict[str, str], db_url: str, leaves: str) -> None:
    with SmtpServer() as smtp:
        smtp.handler.faults.append("rcpt:450 Mailbox busy, try later")
        assert send(run, mail_env, smtp.url, NOW, "--only", "ada@example.org").exit_code == 3
        assert outbox(db_url)["ada@example.org"].state == "retry"
        if leaves == "unsubscribed":
            assert run("unsubscribe", "ada@example.org", env=mail_env).exit_code == 0
        else:
            config = Path(mail_env["DIGEST_CONFIG"])
            text = config.read_text()
            config.write_text(text.replace(text[text.index("  - email: ada"):
                                                text.index("  - email: grace")], ""))
        result = send(run, mail_env, smtp.url, NOW + timedelta(minutes=10))
    assert result.exit_code == 0, result.output
    assert [r.recipients for r in smtp.received] == [["grace@example.org"]]
    assert outbox(db_url)["ada@example.org"].state == "retry"  # never claimed again


def test_a_digest_left_sending_is_not_taken_over_for_someone_removed(
        run: Any, mail_env: dict[str, str], db_url: str) -> None:
    config = Path(mail_env["DIGEST_CONFIG"])
    store = Store(db_url)
    store.sync_subscribers(load_config(config).subscribers, NOW)
    plan_due(store, NOW)
    (claimed,) = store.claim(NOW, timedelta(minutes=10), 1)  # by a process that died
    gone = claimed.subscriber.email
    text = config.read_text()
    start = text.index(f"  - email: {gone}")
    end = text.find("  - email:", start + 1)
    config.write_text(text[:start] + (text[end:] if end > 0 else ""))
    with SmtpServer() as smtp:
        result = send(run, mail_env, smtp.url, NOW + timedelta(minutes=20))  # lease over
    assert result.exit_code == 0, result.output
    assert len(smtp.received) == 1 and gone not in smtp.received[0].recipients
    assert outbox(db_url)[gone].state == "sending"  # never taken over
