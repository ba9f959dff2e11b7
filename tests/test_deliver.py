"""Delivery through a real SMTP server (aiosmtpd on a free port): what arrives, and how
every fault is handled."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.deliver.message import _header
from digest.store import Store
from tests.conftest import DATA
from tests.mailing import NOW, many_subscribers, outbox, send
from tests.smtpserver import Greeter, SmtpServer, TlsFiles, free_port


def test_headers_and_parts_as_received(run: Any, mail_env: dict[str, str], smtp: SmtpServer,
                                       db_url: str) -> None:
    result = send(run, mail_env, smtp.url)
    assert result.exit_code == 0, result.output
    assert len(smtp.received) == 2
    got = {r.recipients[0]: r for r in smtp.received}
    ada = got["ada@example.org"]
    assert ada.sender == "digest@example.org"
    msg = ada.message
    assert msg["From"] == "Paper Digest <digest@example.org>"
    assert msg["To"] == "Ada Lovelace <ada@example.org>"
    assert msg["Subject"].startswith("Maojiang Su: ")  # the top paper by a followed author
    assert msg["Subject"].endswith(" · Daily Papers")
    assert msg["Date"] == "Mon, 01 Jun 2026 07:00:00 +0000"
    ref = Store(db_url).record(email="ada@example.org").ref  # type: ignore[union-attr]
    assert msg["Message-ID"] == f"<digest-{ref}-20260601T060000000000@example.org>"
    assert msg["List-Id"] == "Paper Digest <digest.example.org>"
    unsubscribe = re.fullmatch(r"<(https://digest\.example\.org/unsubscribe/[\w.-]+)>, "
                               r"<mailto:digest@example\.org\?subject=unsubscribe>",
                               msg["List-Unsubscribe"].strip())  # folded after the colon
    assert unsubscribe
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Bcc" not in msg
    assert b"\nBcc:" not in ada.data and b"\nbcc:" not in ada.data.lower()
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text, html = (p.get_content() for p in msg.iter_parts())
    assert "Maojiang Su" in text and unsubscribe.group(1) in text
    assert 'href="' + unsubscribe.group(1) + '"' in html
    grace = got["grace@example.org"].message
    assert grace["To"].addresses[0].display_name == 'Grace "Amazing" Hopper'
    assert outbox(db_url)["ada@example.org"].state == "sent"


def test_sending_again_at_the_same_moment_sends_nothing(run: Any, mail_env: dict[str, str],
                                                        smtp: SmtpServer) -> None:
    assert send(run, mail_env, smtp.url).exit_code == 0
    again = send(run, mail_env, smtp.url)
    assert again.exit_code == 0
    assert len(smtp.received) == 2
    assert re.search(r"\b0\s+0\s+0\s+0\s+0\s+2\b", again.stdout), again.stdout


def test_next_day_brings_only_new_papers(run: Any, mail_env: dict[str, str],
                                         smtp: SmtpServer) -> None:
    assert send(run, mail_env, smtp.url).exit_code == 0
    tomorrow = send(run, mail_env, smtp.url, NOW + timedelta(days=1))
    assert tomorrow.exit_code == 0
    assert len(smtp.received) == 2  # nothing new was ingested: both skipped as empty
    assert re.search(r"\b0\s+0\s+2\s+0\s+0\s+0\b", tomorrow.stdout), tomorrow.stdout


@pytest.mark.parametrize(
    ("fault", "state", "reason"),
    [
        ("rcpt:450 Mailbox busy, try later", "retry", "answered 450 Mailbox busy"),
        ("rcpt:550 No such user here", "failed", "refused the message: 550 No such user"),
        ("data:451 Local error in processing", "retry", "answered 451 Local error"),
        ("data:552 Message size exceeds limit", "failed", "refused the message: 552"),
        ("drop", "retry", "closed the connection"),
        ("stall", "retry", "did not answer within 2 s"),
    ],
)
@pytest.mark.parametrize("pipelining", [True, False])
def test_faults_are_classified(run: Any, mail_env: dict[str, str], db_url: str, fault: str,
                               state: str, reason: str, pipelining: bool) -> None:
    # A stall past the wait for the reply to a message (3 s against 2 s here; 10 minutes
    # by default) is a timeout like the others.
    mail_env = {**mail_env, "DIGEST_SMTP_DATA_TIMEOUT": "2"}
    with SmtpServer(pipelining=pipelining) as smtp:
        smtp.handler.faults.append(fault)  # the first message meets the fault
        result = send(run, mail_env, smtp.url, NOW, "--only", "ada@example.org")
    assert result.exit_code == 3, result.output  # done, not all sent
    row = outbox(db_url)["ada@example.org"]
    assert row.state == state
    assert reason in (row.last_error or "")
    if state == "retry":
        assert row.next_attempt_at == NOW + timedelta(minutes=5)


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_slow_reply_to_the_message_is_waited_for_and_the_mail_sent_once(
        run: Any, mail_env: dict[str, str], db_url: str, pipelining: bool) -> None:
    """A server that takes longer than DIGEST_SMTP_TIMEOUT (1 s here) to answer the final
    dot (scanning the mail, say) is waited for, as RFC 5321 asks (10 minutes): given up
    on, the mail it then accepted went out again after the retry's back-off."""
    with SmtpServer(pipelining=pipelining) as smtp:
        smtp.handler.stall_seconds = 2.5
        smtp.handler.faults.append("stall")
        result = send(run, mail_env, smtp.url, NOW, "--only", "ada@example.org")
        assert result.exit_code == 0, result.output
        retried = send(run, mail_env, smtp.url, NOW + timedelta(minutes=6), "--only",
                       "ada@example.org")
        assert retried.exit_code == 0, retried.output
        ids = [str(got.message["Message-ID"]) for got in smtp.received]
    assert len(ids) == 1  # once
    assert outbox(db_url)["ada@example.org"].state == "sent"


def test_retry_resends_with_the_same_message_id(run: Any, mail_env: dict[str, str],
                                                smtp: SmtpServer, db_url: str) -> None:
    smtp.handler.faults.append("drop")  # the server got the data, the client no reply
    send(run, mail_env, smtp.url, NOW, "--only", "ada@example.org")
    assert outbox(db_url)["ada@example.org"].state == "retry"
    early = send(run, mail_env, smtp.url, NOW + timedelta(minutes=4), "--only", "ada@example.org")
    assert early.exit_code == 0
    assert outbox(db_url)["ada@example.org"].state == "retry"  # back-off not over yet
    send(run, mail_env, smtp.url, NOW + timedelta(minutes=6), "--only", "ada@example.org")
    assert outbox(db_url)["ada@example.org"].state == "sent"
    (first,), (again,) = smtp.handler.dropped, smtp.received
    assert again.message["Message-ID"] == first.message["Message-ID"]  # a recognisable duplicate
    assert again.message["Subject"] == first.message["Subject"]


def test_transient_failures_are_retried_until_the_grace_ends(
        run: Any, mail_env: dict[str, str], smtp: SmtpServer, db_url: str) -> None:
    """Retries go on, an hour apart at most, for as long as the digest may be late
    (grace_hours, 24 by default); then it is missed, not failed, and its papers go into
    the next digest. (It used to fail for good after 5 attempts, 75 minutes.)"""
    smtp.handler.faults.extend(["rcpt:421 Closing"] * 8)
    waits = []
    moment = NOW
    for attempt in range(1, 9):  # until NOW + 21 h, before the next day's slot
        send(run, mail_env, smtp.url, moment, "--only", "ada@example.org")
        row = outbox(db_url)["ada@example.org"]
        assert (row.attempts, row.state) == (attempt, "retry")
        assert "421 Closing" in (row.last_error or "")
        waits.append(row.next_attempt_at - moment)
        moment += timedelta(hours=3)
    assert waits == [timedelta(minutes=m) for m in (5, 10, 20, 40, 60, 60, 60, 60)]
    send(run, mail_env, smtp.url, NOW + timedelta(hours=25), "--only", "ada@example.org")
    first, latest = sorted((r for r in Store(db_url).outbox() if r.email == "ada@example.org"),
                           key=lambda r: r.period)
    assert first.state == "missed" and "grace_hours" in (first.last_error or "")
    assert "the last try: smtp://127.0.0.1:" in (first.last_error or "")
    assert "421 Closing" in (first.last_error or "")
    assert latest.state == "sent"
    assert [r.recipients for r in smtp.received] == [["ada@example.org"]]


def test_a_digest_left_sending_by_a_crash_is_sent_again(run: Any, mail_env: dict[str, str],
                                                        smtp: SmtpServer, db_url: str) -> None:
    assert send(run, mail_env, smtp.url, NOW, "--only", "nobody@example.org").exit_code == 1
    run("send", "--now", NOW.isoformat(), "--dry-run", env=mail_env)
    store = Store(db_url)
    # Plan without sending, then claim as a process that dies before SMTP finishes.
    from digest.config import load_config
    from digest.plan import plan_due

    subscribers = load_config(Path(mail_env["DIGEST_CONFIG"])).subscribers
    store.sync_subscribers(subscribers, NOW)
    plan_due(store, NOW)
    (claimed,) = store.claim(NOW, timedelta(minutes=10), 1)
    others = store.claim(NOW, timedelta(minutes=10), 5)
    assert [e.id for e in others if e.id == claimed.id] == []  # never claimed twice
    store.release(others)  # only the first stays claimed, by a process that died
    soon = send(run, mail_env, smtp.url, NOW + timedelta(minutes=1))
    assert soon.exit_code == 0
    assert len(smtp.received) == 1  # the other digest; this one is still someone's
    later = send(run, mail_env, smtp.url, NOW + timedelta(minutes=11))
    assert later.exit_code == 0
    assert len(smtp.received) == 2
    assert all(row.state == "sent" for row in Store(db_url).outbox())


def test_nothing_new_mail_on_request(run: Any, mail_env: dict[str, str], smtp: SmtpServer,
                                     tmp_path: Path) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text("subscribers:\n  - email: ada@example.org\n    cadence: daily\n"
                      "    keywords: [no such phrase anywhere]\n    trending: 0\n"
                      "    send_empty: true\n  - email: bob@example.org\n    cadence: daily\n"
                      "    keywords: [no such phrase anywhere]\n    trending: 0\n")
    result = send(run, {**mail_env, "DIGEST_CONFIG": str(config)}, smtp.url)
    assert result.exit_code == 0, result.output
    (got,) = smtp.received
    assert got.recipients == ["ada@example.org"]  # bob's empty digest is only recorded
    assert got.message["Subject"] == "Nothing new today · Daily Papers"
    assert re.search(r"\b1\s+1\s+1\s+0\s+0\s+0\b", result.stdout), result.stdout


def given_up_on(db_url: str) -> Any:
    """After a pass that no connection got through: the one digest it gave up on, which
    waits for a retry with the reason; the others wait for the next pass, untried."""
    rows = outbox(db_url).values()
    assert {r.state for r in rows} == {"retry"}
    (tried,) = (r for r in rows if r.last_error)
    assert tried.attempts == 1 and sum(r.attempts for r in rows) == 1
    return tried


def test_connection_refused_is_retried(run: Any, mail_env: dict[str, str], db_url: str) -> None:
    result = send(run, mail_env, f"smtp://127.0.0.1:{free_port()}")
    assert result.exit_code == 3  # done, a digest waits for a retry
    assert "cannot connect to smtp://127.0.0.1:" in given_up_on(db_url).last_error


def test_421_greeting_is_retried(run: Any, mail_env: dict[str, str], db_url: str) -> None:
    with Greeter() as greeter:
        result = send(run, mail_env, greeter.url)
    assert result.exit_code == 3
    assert "421" in given_up_on(db_url).last_error


def test_wrong_password_stops_the_pass_and_keeps_it_secret(run: Any, mail_env: dict[str, str],
                                                           db_url: str) -> None:
    with SmtpServer(password="right horse") as server:
        url = f"smtp://digest:wrong%20battery@127.0.0.1:{server.port}"
        result = run("send", "--now", NOW.isoformat(), env={**mail_env, "DIGEST_SMTP_URL": url})
        assert server.received == []
    assert result.exit_code == 1
    assert "refused the login (535" in result.stderr
    assert "DIGEST_SMTP_PASSWORD" in result.stderr
    assert "wrong" not in result.output and "battery" not in result.output
    assert {row.state for row in Store(db_url).outbox()} <= {"retry", "planned"}
    assert all(row.attempts == 0 for row in Store(db_url).outbox())


def test_login_with_the_password_from_the_environment(run: Any, mail_env: dict[str, str]) -> None:
    with SmtpServer(password="right horse") as server:
        result = run("send", "--now", NOW.isoformat(), env={
            **mail_env, "DIGEST_SMTP_URL": f"smtp://digest@127.0.0.1:{server.port}",
            "DIGEST_SMTP_PASSWORD": "right horse"})
        assert result.exit_code == 0, result.output
        assert len(server.received) == 2


def test_starttls(run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    tls = TlsFiles(tmp_path)
    with SmtpServer(tls=tls, require_starttls=True) as server:
        off = send(run, {**mail_env, "DIGEST_SMTP_CAFILE": str(tls.cafile)},
                   server.url + "?starttls=off")
        assert off.exit_code == 1
        assert "drop ?starttls=off from DIGEST_SMTP_URL" in off.stderr
        ok = send(run, {**mail_env, "DIGEST_SMTP_CAFILE": str(tls.cafile)}, server.url)
        assert ok.exit_code == 0, ok.output
        assert len(server.received) == 2
    untrusted = tmp_path / "other"
    untrusted.mkdir()
    with SmtpServer(tls=TlsFiles(untrusted), require_starttls=True) as server:
        bad = run("test-mail", "ada@example.org", env={
            **mail_env, "DIGEST_SMTP_CAFILE": str(tls.cafile), "DIGEST_SMTP_URL": server.url})
        assert bad.exit_code == 1
        assert "TLS with smtp://127.0.0.1" in bad.stderr and "certificate" in bad.stderr


def test_starttls_required_but_not_offered(run: Any, mail_env: dict[str, str],
                                           smtp: SmtpServer) -> None:
    result = send(run, mail_env, smtp.url + "?starttls=required")
    assert result.exit_code == 1
    assert "does not offer STARTTLS" in result.stderr
    assert smtp.received == []


def test_implicit_tls_against_a_starttls_port(run: Any, mail_env: dict[str, str], tmp_path: Path,
                                              db_url: str) -> None:
    tls = TlsFiles(tmp_path)
    with SmtpServer(tls=tls) as server:
        result = send(run, {**mail_env, "DIGEST_SMTP_CAFILE": str(tls.cafile)},
                      f"smtps://127.0.0.1:{server.port}")
    assert result.exit_code == 1
    assert "use smtp:// instead of smtps:// in DIGEST_SMTP_URL" in result.stderr
    assert all(row.attempts == 0 for row in Store(db_url).outbox())


def test_pool_reuses_connections(run: Any, mail_env: dict[str, str], smtp: SmtpServer,
                                 tmp_path: Path) -> None:
    many = many_subscribers(tmp_path, 9, "authors: [Maojiang Su]")
    result = send(run, {**mail_env, "DIGEST_CONFIG": str(many), "DIGEST_SMTP_POOL": "2"},
                  smtp.url)
    assert result.exit_code == 0, result.output
    assert len(smtp.received) == 9
    assert len(smtp.handler.sessions) <= 2  # 9 mails over at most 2 connections


def test_bad_smtp_url_is_a_clear_error(run: Any, mail_env: dict[str, str]) -> None:
    for url, message in (("http://mail.example.org", "must look like smtp://"),
                         ("smtp://h:25?starttls=maybe", "starttls must be required or off"),
                         ("smtp://h:25?tls=1", "unknown option 'tls'")):
        result = send(run, mail_env, url)
        assert result.exit_code == 1
        assert message in result.stderr


def test_client_limit_forgets_the_least_recent_clients_and_still_limits() -> None:
    from datetime import UTC, datetime

    from digest.web import ClientLimit

    limit = ClientLimit(2, timedelta(minutes=10), lambda: datetime(2026, 1, 1, tzinfo=UTC),
                        clients=3)
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")
    for other in ("b", "c", "d"):  # "a" is now the least recent and is forgotten
        assert limit.allow(other)
    assert len(limit.seen) == 3 and "a" not in limit.seen
    assert limit.allow("d") and not limit.allow("d")  # a new client is still limited


def test_subjects_of_real_titles_arrive_as_they_were_written() -> None:
    """Every subject made of a real title, with the "·" and "…" every subject has, comes
    out of a mail reader's RFC 2047 decoding exactly as written, in lines of at most 78
    columns (Python 3.11's own folding split "trending" into "trendi ng" in 21 of these)."""
    titles = [item["paper"]["title"] for path in sorted((DATA / "hf-daily").glob("*.json"))
              for item in json.loads(path.read_text())]
    assert len(titles) > 150
    for title in titles:
        for subject in (f"Jiacheng Sun: {title} · 14 for you, 5 trending · Weekly Papers",
                        f"“attention sink”: {title}… · 3 rising · Daily Papers"):
            subject = subject[:120]
            raw = _header("Subject", subject)
            assert all(len(line) <= 78 for line in raw.split(b"\r\n")), raw
            parsed = email.message_from_bytes(raw + b"\r\n", policy=email.policy.default)
            assert str(parsed["Subject"]) == subject


def test_delivery_composes_without_planning(db_url: str) -> None:
    """The mailer of ``digest.deliver`` knows nothing of planning: given no notes (a pass
    hands it planning's, ``digest.passes.noted_mailer``), its digests carry none, and it
    reads no followed names; given planning's, they carry them."""
    from digest.deliver import Mailer, MailSettings, tokens_for
    from digest.model import Digest, OutboxEntry, Subscriber
    from digest.passes import noted_mailer
    from digest.vocab import MessageKind, OutboxState
    from tests.test_pins import SEEN, two_wei_wangs

    store = two_wei_wangs(db_url)
    sub = Subscriber("ada@example.org", authors=("Wei Wang",))
    entry = OutboxEntry(1, 1, sub, MessageKind.DIGEST, NOW, SEEN, NOW, OutboxState.SENDING, ())
    mail = MailSettings.from_env({})
    notes = []
    for mailer in (Mailer(store, mail, tokens_for(store)),
                   noted_mailer(store, mail, tokens_for(store))):
        rendered: list[Digest] = []
        render = mailer.renderer.render_within

        def recording(digest: Digest, *args: Any, render: Any = render,
                      rendered: list[Digest] = rendered) -> Any:
            rendered.append(digest)
            return render(digest, *args)

        mailer.renderer.render_within = recording  # type: ignore[method-assign]
        mailer.compose(entry, NOW)
        notes.append(rendered[0].notes)
    assert notes == [(), ("several people publish as Wei Wang; pin the one you mean",)]
