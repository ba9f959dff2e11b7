"""Mails that come back: VERP return paths and List-Unsubscribe mailtos with tokens that
map back to the subscriber and digest, and `digest bounces` reading real bounces (Mailman's
samples of real MTAs, a Postfix DSN, an ARF complaint) from a Maildir, an mbox and
standard input, acting on each once, keeping the rest for a person."""

from __future__ import annotations

import hashlib
import json
import mailbox
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.bot import plan_jobs
from digest.bounces import Addresses, classify
from digest.bounces.mailbox import MaildirMailbox
from digest.bounces.reading import read_mailbox
from digest.cli import cli
from digest.config import load_config
from digest.deliver.tokens import Tokens
from digest.metrics import metrics
from digest.store import Store
from tests.conftest import DATA
from tests.mailing import NOW, outbox, send
from tests.pgserver import sqlite_or_postgres
from tests.smtpserver import SmtpServer

SAMPLES = DATA / "bounces"
SECRET = "s3cret"  # mail_env's DIGEST_SECRET
WHERE = Addresses("bounces", "example.org", "digest@example.org", "example.org")
VERP = re.compile(r"bounces\+([0-9a-f]{46})@example\.org")
MAILTO = re.compile(r"<mailto:(unsubscribe\+([0-9a-f]{46})@example\.org)>")


@pytest.fixture
def env(mail_env: dict[str, str]) -> dict[str, str]:
    return {**mail_env, "DIGEST_BOUNCE_ADDRESS": "bounces@example.org"}


@pytest.fixture
def sent(run: Any, env: dict[str, str], smtp: SmtpServer) -> dict[str, Any]:
    """The first digests, through a real SMTP server: what it received, by recipient."""
    assert send(run, env, smtp.url).exit_code == 0
    return {r.recipients[0]: r for r in smtp.received}


def sample(name: str, **marks: str) -> bytes:
    """A file of tests/data/bounces with its @@MARK@@s filled in."""
    text = (SAMPLES / name).read_text()
    for mark, value in marks.items():
        text = text.replace(f"@@{mark.upper()}@@", value)
    assert "@@" not in text, f"{name}: a mark left unfilled"
    return text.encode()


def dsn(to: str, rcpt: str, status: str = "5.1.1", action: str = "failed",
        diagnostic: str = "550 5.1.1 <x>: Recipient address rejected: User unknown",
        message_id: str = "<unknown@mx.example.net>") -> bytes:
    return sample("postfix-dsn.eml", to=to, rcpt=rcpt, status=status, action=action,
                  diagnostic=diagnostic, message_id=message_id)


def with_empty_mails(env: dict[str, str]) -> str:
    """The subscriptions file, with a mail for everyone each day even with no paper new:
    who is skipped shows."""
    path = Path(env["DIGEST_CONFIG"])
    path.write_text(path.read_text().replace("defaults:\n", "defaults:\n  send_empty: true\n"))
    return str(path)


def maildir(tmp_path: Path, *mails: bytes, name: str = "bounces") -> Path:
    box = mailbox.Maildir(tmp_path / name, create=True)
    for mail in mails:
        box.add(mail)
    return tmp_path / name


def state(db_url: str, address: str) -> str:
    return next(st.state for st in Store(db_url).statuses() if st.email == address)


def test_return_path_and_mailto_carry_tokens_that_map_back(
        sent: dict[str, Any], db_url: str) -> None:
    tokens, rows = Tokens(SECRET), outbox(db_url)
    for address, received in sent.items():
        verp = VERP.fullmatch(received.sender)
        assert verp, received.sender
        assert len(received.sender.partition("@")[0]) <= 64
        assert tokens.read_mail("bounce", verp.group(1)) == (rows[address].ref,
                                                           rows[address].period)
        # lower-cased or upper-cased by a mail system on the way, it still reads
        assert tokens.read_mail("bounce", verp.group(1).upper())[0] == rows[address].ref
        header = received.message["List-Unsubscribe"]
        mailto = MAILTO.search(header)
        assert mailto and header.startswith("<https://digest.example.org/unsubscribe/")
        assert tokens.read_mail("mailto", mailto.group(2)) == (rows[address].ref, None)
        # each token is its own kind's only
        assert tokens.read_mail("mailto", verp.group(1)) is None
        assert tokens.read_mail("bounce", mailto.group(2)) is None
    assert len({r.sender for r in sent.values()}) == len(sent) == 2


def test_without_a_bounce_address_mail_goes_as_before(
        run: Any, mail_env: dict[str, str], smtp: SmtpServer) -> None:
    assert send(run, mail_env, smtp.url).exit_code == 0
    assert len(smtp.received) == 2
    assert {r.sender for r in smtp.received} == {"digest@example.org"}
    assert all("<mailto:digest@example.org?subject=unsubscribe>" in
               r.message["List-Unsubscribe"] for r in smtp.received)


def test_a_bounce_address_without_room_for_the_token_is_refused(
        run: Any, env: dict[str, str], smtp: SmtpServer) -> None:
    result = send(run, {**env, "DIGEST_BOUNCE_ADDRESS": "x" * 30 + "@example.org"}, smtp.url)
    assert result.exit_code == 1
    assert "Error: DIGEST_BOUNCE_ADDRESS" in result.output and "at most 17" in result.output
    assert not smtp.received


def test_a_hard_bounce_by_verp_marks_bouncing_and_the_next_send_skips_them(
        sent: dict[str, Any], run: Any, env: dict[str, str], db_url: str, smtp: SmtpServer,
        tmp_path: Path) -> None:
    # The DSN names the address the mail was forwarded to; only the VERP says whose it is.
    folder = maildir(tmp_path, dsn(sent["ada@example.org"].sender, "ada@forward.example.net"))
    result = run("bounces", str(folder), env=env)
    assert result.exit_code == 0, result.output
    assert "hard: ada@example.org: 5.1.1 550 5.1.1" in result.output
    assert "read 1 mail: 1 hard" in result.output
    assert state(db_url, "ada@example.org") == "bouncing"
    assert state(db_url, "grace@example.org") == "active"
    listed = run("subscribers", env=env).output
    assert "Suppressed: 1 (1 hard bounce, 0 soft, 0 complaints)" in listed
    assert "  ada@example.org: hard: 5.1.1 550 5.1.1" in listed  # why, and since when
    ada = next(s for s in json.loads(run("subscribers", "--json", env=env).output)[
        "subscribers"] if s["email"] == "ada@example.org")
    assert ada["suppressed"].startswith("hard: 5.1.1") and ada["suppressed_at"]
    assert not list((folder / "new").iterdir())  # moved out of the way, marked seen
    assert [p.name.endswith(":2,S") for p in (folder / ".processed" / "cur").iterdir()] == [True]

    later = NOW + timedelta(days=1)
    again = send(run, {**env, "DIGEST_CONFIG": with_empty_mails(env)}, smtp.url, later)
    assert again.exit_code == 0
    assert "Suppressed: 1 (1 hard bounce, 0 soft, 0 complaints), skipped" in again.output
    assert {r.recipients[0] for r in smtp.received[len(sent):]} == {"grace@example.org"}
    assert run("subscribers", "reset", "ada@example.org", env=env).exit_code == 0
    assert state(db_url, "ada@example.org") == "active"


def test_a_refused_message_or_a_delivery_report_suppresses_nobody(
        sent: dict[str, Any], run: Any, env: dict[str, str], db_url: str,
        tmp_path: Path) -> None:
    ada = sent["ada@example.org"].sender
    folder = maildir(tmp_path,
                     dsn(ada, "ada@example.org", "5.7.1", diagnostic="550 5.7.1 Message "
                         "rejected as spam by Content Filtering"),
                     dsn(ada, "ada@example.org", "5.3.4", diagnostic="552 5.3.4 Message "
                         "size exceeds fixed limit"),
                     dsn(ada, "ada@example.org", "2.0.0", action="delivered",
                         diagnostic="250 2.0.0 OK"))
    assert "3 kept" in run("bounces", str(folder), env=env).output
    assert state(db_url, "ada@example.org") == "active"
    report = run("bounces", "--report", env=env).output
    assert report.count("the message was refused, not the address") == 2
    assert "a delivery report, not a failure" in report


def test_an_arf_complaint_unsubscribes_by_the_originals_message_id(
        sent: dict[str, Any], run: Any, env: dict[str, str], db_url: str,
        tmp_path: Path) -> None:
    original = sent["grace@example.org"].message
    complaint = sample("arf-complaint.eml", to="fbl@example.org", rcpt="someone@example.net",
                       return_path="digest@example.org", message_id=original["Message-ID"])
    result = run("bounces", str(maildir(tmp_path, complaint)), env=env)
    assert "complaint: grace@example.org: marked as abuse by SomeGenerator/1.0" in result.output
    assert Store(db_url).unsubscribed() == {"grace@example.org"}
    scraped = metrics(Store(db_url), lambda: NOW).decode()
    assert 'digest_suppressed_subscribers{reason="complaint"} 1.0' in scraped
    assert 'digest_suppressed_subscribers{reason="hard"} 0.0' in scraped


def test_an_arf_complaint_by_the_originals_return_path(
        sent: dict[str, Any], run: Any, env: dict[str, str], db_url: str,
        tmp_path: Path) -> None:
    complaint = sample("arf-complaint.eml", to="fbl@example.org", rcpt="someone@example.net",
                       return_path=sent["ada@example.org"].sender, message_id="<x@y>")
    assert "complaint: ada@example.org" in run("bounces", str(maildir(tmp_path, complaint)),
                                               env=env).output
    assert Store(db_url).unsubscribed() == {"ada@example.org"}


def test_a_mail_to_the_mailto_address_unsubscribes_on_standard_input(
        sent: dict[str, Any], run: Any, env: dict[str, str], db_url: str) -> None:
    mailto = MAILTO.search(sent["ada@example.org"].message["List-Unsubscribe"])
    assert mailto
    request = (f"From: someone@elsewhere.example\r\nTo: {mailto.group(1)}\r\n"
               "Subject: unsubscribe\r\nDate: Mon, 01 Jun 2026 09:00:00 +0000\r\n\r\n\r\n")
    result = run("bounces", "-", env=env, input=request)
    assert result.exit_code == 0, result.output
    assert "unsubscribe: ada@example.org: asked by mail (List-Unsubscribe)" in result.output
    assert Store(db_url).unsubscribed() == {"ada@example.org"}

    # Older digests' mailto: DIGEST_FROM with subject unsubscribe, from their own address
    by_subject = ("From: Grace <GRACE@example.org>\r\nTo: digest@example.org\r\n"
                  "Subject: Re: unsubscribe\r\n\r\nplease\r\n")
    assert "unsubscribe: grace@example.org" in run("bounces", "-", env=env,
                                                   input=by_subject).output
    assert Store(db_url).unsubscribed() == {"ada@example.org", "grace@example.org"}


def test_standard_input_exits_75_when_the_database_is_unavailable(
        run: Any, env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    bounce = dsn("bounces@example.org", "ada@example.org").decode()
    gone = {**env, "DIGEST_DB": f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"}
    result = run("bounces", "-", env=gone, input=bounce)
    assert result.exit_code == 75, result.output
    assert "Error: cannot open" in result.output
    # a mailbox is not an MTA's pipe: the usual Error and exit 1
    assert run("bounces", str(maildir(tmp_path)), env=gone).exit_code == 1
    # a bad setting: 78 (EX_CONFIG), which an MTA defers too
    Store(db_url)
    assert run("bounces", "-", env={**env, "DIGEST_BOUNCE_ADDRESS": "not an address"},
               input=bounce).exit_code == 78
    for bad in ({"DIGEST_SOFT_BOUNCE_LIMIT": "abc"}, {"DIGEST_NOW": "tomorrow"}):
        refused = run("bounces", "-", env={**env, **bad}, input=bounce)
        assert refused.exit_code == 78, refused.output
        assert refused.output.startswith("Error: ") and next(iter(bad)) in refused.output


def test_a_file_that_is_no_mbox_is_refused(run: Any, env: dict[str, str], db_url: str,
                                          tmp_path: Path) -> None:
    Store(db_url)
    (tmp_path / "garbage.bin").write_bytes(b"\x00\x01 not mail at all\n")
    result = run("bounces", str(tmp_path / "garbage.bin"), env=env)
    assert result.exit_code == 1
    assert "garbage.bin is not an mbox (an mbox starts with a 'From ' line)" in result.output


def test_reset_says_who_stays_unsubscribed(run: Any, env: dict[str, str], db_url: str,
                                           tmp_path: Path) -> None:
    """`subscribers reset` takes back a bounce, not an unsubscribe (nor a complaint's)."""
    assert run("send", "--now", NOW.isoformat(), env=env).exit_code == 0  # into the Maildir
    assert run("unsubscribe", "grace@example.org", env=env).exit_code == 0
    done = run("subscribers", "reset", "grace@example.org", "ada@example.org", env=env)
    assert done.exit_code == 0, done.output
    assert "grace@example.org: no longer marked bouncing, but still unsubscribed" in done.output
    assert "ada@example.org: takes digests again" in done.output
    assert state(db_url, "grace@example.org") == "unsubscribed"


def test_non_standard_bounces_are_found_by_mailmans_detectors(
        run: Any, mail_env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    """Without VERP, what a bounce names is all there is to go by (with VERP, a bounce
    must name a digest: the next test)."""
    env = mail_env
    for address in ("userx@example.de", "userx@its.example.nl", "userx@example.za"):
        assert run("subscribers", "add", address, "--keyword", "diffusion",
                   env=env).exit_code == 0
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    for name in ("flufl-qmail_01.eml", "flufl-exim_01.eml", "flufl-simple_03.eml"):
        box.add((SAMPLES / name).read_bytes())
    box.close()
    before = (tmp_path / "bounces.mbox").read_bytes()
    result = run("bounces", str(tmp_path / "bounces.mbox"), env=env)
    assert result.exit_code == 0, result.output
    assert "read 3 mails: 2 hard, 1 soft" in result.output
    assert state(db_url, "userx@example.de") == "bouncing"  # qmail
    assert state(db_url, "userx@its.example.nl") == "bouncing"  # Exim
    assert state(db_url, "userx@example.za") == "active"  # one delay warning: not yet
    assert (tmp_path / "bounces.mbox").read_bytes() == before  # an mbox is never edited
    assert "read 3 mails: 3 already read" in run("bounces", str(tmp_path / "bounces.mbox"),
                                                env=env).output


def test_with_verp_a_bounce_that_names_no_digest_suppresses_nobody(
        run: Any, env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    """A report anyone could write (to the bare bounce address, naming a subscriber in
    its Final-Recipient, or in an MTA's own format) is kept: every digest's bounce comes
    back to its tokened address."""
    assert run("subscribers", "add", "userx@example.de", "--keyword", "diffusion",
               env=env).exit_code == 0
    forged = dsn("bounces@example.org", "grace@example.org")
    folder = maildir(tmp_path, forged, (SAMPLES / "flufl-qmail_01.eml").read_bytes())
    result = run("bounces", str(folder), env=env)
    assert result.exit_code == 0, result.output
    assert "read 2 mails: 2 kept" in result.output
    assert state(db_url, "grace@example.org") == "active"
    assert state(db_url, "userx@example.de") == "active"
    assert "names no digest" in run("bounces", "--report", env=env).output


def test_real_dsns_of_a_full_mailbox_or_a_delay_are_soft() -> None:
    without_verp = replace(WHERE, bounce_local=None, domain=None)  # they carry no token
    for name in ("flufl-dsn_01.eml", "flufl-dsn_05.eml"):
        verdict = classify((SAMPLES / name).read_bytes(), Tokens(SECRET), without_verp)
        assert verdict.kind == "soft", (name, verdict)
    full = classify((SAMPLES / "flufl-dsn_01.eml").read_bytes(), Tokens(SECRET), without_verp)
    assert full.detail == "5.0.0 recipient reached disk quota"
    assert "userx@example.com" in full.emails


def test_soft_bounces_suppress_in_different_digests_not_in_one(
        sent: dict[str, Any], run: Any, env: dict[str, str], db_url: str,
        tmp_path: Path) -> None:
    tokens, ref = Tokens(SECRET), outbox(db_url)["ada@example.org"].ref

    def full(day: int, relay: str) -> bytes:
        verp = f"bounces+{tokens.make_mail('bounce', ref, NOW + timedelta(days=day))}" \
               "@example.org"
        return dsn(verp, "ada@example.org", "4.2.2", "delayed",
                   f"452 4.2.2 Mailbox full ({relay})")

    one_digest = maildir(tmp_path, *(full(0, relay) for relay in ("a", "b", "c", "d")))
    assert "4 soft" in run("bounces", str(one_digest), env=env).output
    assert state(db_url, "ada@example.org") == "active"
    two_more = maildir(tmp_path, full(1, "a"), name="more")
    assert "(2 of 3 digests)" in run("bounces", str(two_more), env=env).output
    assert state(db_url, "ada@example.org") == "active"
    third = maildir(tmp_path, full(2, "a"), name="third")
    assert "(3 of 3 digests)" in run("bounces", str(third), env=env).output
    assert state(db_url, "ada@example.org") == "bouncing"
    assert "Suppressed: 1 (0 hard bounces, 1 soft, 0 complaints)" in run(
        "subscribers", env=env).output


def test_an_auto_reply_is_kept_untouched_and_reported(
        sent: dict[str, Any], run: Any, env: dict[str, str], db_url: str,
        tmp_path: Path) -> None:
    ada = sent["ada@example.org"]
    reply = sample("vacation.eml", to=ada.sender, rcpt="ada@example.org",
                   message_id=ada.message["Message-ID"])
    folder = maildir(tmp_path, reply)
    before = Store(db_url).statuses()
    result = run("bounces", str(folder), env=env)
    assert "read 1 mail: 1 kept" in result.output
    assert Store(db_url).statuses() == before
    assert len(list((folder / "new").iterdir())) == 1  # left where a person sees it
    report = run("bounces", "--report", env=env)
    assert report.exit_code == 0
    assert "ada@example.org" in report.output and "Out of office" in report.output
    assert "an automatic reply (X-Autoreply)" in report.output
    assert "1 mail kept" in report.output


def test_tampered_tokens_and_tokens_of_another_kind_act_on_nothing(
        sent: dict[str, Any], run: Any, env: dict[str, str], db_url: str,
        tmp_path: Path) -> None:
    verp = VERP.fullmatch(sent["ada@example.org"].sender)
    mailto = MAILTO.search(sent["ada@example.org"].message["List-Unsubscribe"])
    assert verp and mailto
    token, other = verp.group(1), mailto.group(2)
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    forged = Tokens("another secret").make_mail("bounce", outbox(db_url)["ada@example.org"].ref)
    mails = [dsn(f"bounces+{t}@example.org", "ada@example.org")
             for t in (flipped, other, forged, token[:-3], "0" * 10)]
    mails.append(f"To: unsubscribe+{token}@example.org\r\nSubject: x\r\n\r\n".encode())
    result = run("bounces", str(maildir(tmp_path, *mails)), env=env)
    assert "read 6 mails: 6 kept" in result.output
    assert state(db_url, "ada@example.org") == "active"
    assert run("bounces", "--report", env=env).output.count("does not verify") == 6


def test_hostile_and_garbage_mails_are_kept_without_a_crash(
        run: Any, env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    nested = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n'
                      % (i, i) for i in range(3000))
    report_garbage = (b"Content-Type: multipart/report; report-type=delivery-status; "
                      b'boundary="x"\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n'
                      b"\r\nAction: \xff\xfe\r\nStatus: 5.999999.1\r\n\r\n--x--\r\n")
    arf_garbage = (b"Content-Type: multipart/report; report-type=feedback-report; "
                   b'boundary="y"\r\n\r\n--y\r\nContent-Type: message/rfc822\r\n\r\n--y--')
    mails = [b"", b"\x00\xff" * 5000, b"Subject: =?utf-8?b?!!!?=\r\n\r\n", nested,
             report_garbage, arf_garbage, b"From: \r\n" + b"X-Long: " + b"a" * 200_000,
             b"To: bounces+@example.org, unsubscribe+@example.org\r\n\r\n"]
    for mail in mails:
        result = run("bounces", "-", env=env, input=mail)
        assert result.exit_code == 0, result.output
        assert "1 kept" in result.output or "already read" in result.output
    # a Maildir with a folder among its mails reads the rest
    folder = maildir(tmp_path, dsn("bounces@example.org", "nobody@example.org"))
    (folder / "new" / "a-folder").mkdir()
    result = run("bounces", str(folder), env=env)
    assert result.exit_code == 0, result.output
    assert "read 1 mail: 1 kept" in result.output and "cannot read new/a-folder" in \
        result.output
    # the detector that trips over one of them logs no traceback for a user to see
    assert "Traceback" not in result.output


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from sqlite_or_postgres(request, tmp_path, "twice.db")


class _Crash(MaildirMailbox):
    """A Maildir whose reader dies after a mail's record is committed, before it moves."""

    def done(self, key: str) -> None:
        raise KeyboardInterrupt


def test_each_mail_is_acted_on_once_however_often_it_is_read(
        any_db: str, env: dict[str, str], tmp_path: Path) -> None:
    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), env={**env, "DIGEST_DB": any_db},
                                  catch_exceptions=False)

    for address in ("eve@example.org", "userx@example.de"):
        assert invoke("subscribers", "add", address, "--keyword", "diffusion").exit_code == 0
    store = Store(any_db)
    eve, userx = store.record(email="eve@example.org"), store.record(email="userx@example.de")
    assert eve is not None and userx is not None
    mailto = f"unsubscribe+{Tokens(SECRET).make_mail('mailto', eve.ref)}@example.org"
    request = f"To: {mailto}\r\nSubject: unsubscribe\r\n\r\n".encode()
    verp = f"bounces+{Tokens(SECRET).make_mail('bounce', userx.ref, NOW)}@example.org"
    folder = maildir(tmp_path, request, dsn(verp, "userx@example.de"))
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)

    # A crash after the unsubscribe was recorded, before its mail was moved ...
    with pytest.raises(KeyboardInterrupt):
        read_mailbox(_Crash(folder), store, Tokens(SECRET), WHERE, lambda: NOW, 3)
    assert store.unsubscribed() == {"eve@example.org"}
    assert invoke("resubscribe", "eve@example.org").exit_code == 0  # ... and eve came back
    # ... then the same Maildir, and a copy of it, read again: nothing acts twice
    first = invoke("bounces", str(folder))
    assert "read 2 mails: 1 hard, 1 already read" in first.output, first.output
    assert "read 2 mails: 2 already read" in invoke("bounces", str(copy)).output
    assert "read 0 mails: none" in invoke("bounces", str(folder)).output  # all moved
    assert store.unsubscribed() == set()
    assert state(any_db, "userx@example.de") == "bouncing"
    hashes = {hashlib.sha256(p.read_bytes()).hexdigest()
              for p in (folder / ".processed" / "cur").iterdir()}
    assert len(hashes) == 2


def test_the_bot_reads_the_bounce_mailbox_before_it_sends(
        run: Any, env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    folder = maildir(tmp_path)
    bot_env = {**env, "DIGEST_BOUNCES_URL": str(folder)}
    assert run("run", "--once", "--now", NOW.isoformat(), env=bot_env).exit_code == 0
    ref = outbox(db_url)["ada@example.org"].ref
    mailbox.Maildir(folder).add(
        f"To: unsubscribe+{Tokens(SECRET).make_mail('mailto', ref)}@example.org\r\n"
        "Subject: unsubscribe\r\n\r\n")
    later = NOW + timedelta(days=1)
    with_empty_mails(env)
    result = run("run", "--once", "--now", later.isoformat(), env=bot_env)
    assert result.exit_code == 0, result.output
    assert "bounces: unsubscribe=1" in result.output
    assert Store(db_url).unsubscribed() == {"ada@example.org"}
    to = [m["To"] for m in mailbox.Maildir(env["DIGEST_MAILDIR"])]
    assert sum("grace@" in t for t in to) == 2 and sum("ada@" in t for t in to) == 1


def test_a_mail_token_with_any_character_changed_is_refused() -> None:
    tokens, period = Tokens(SECRET), NOW
    token = tokens.make_mail("bounce", "httoO9H3dSR6", period)
    assert token is not None and len(token) == 46 and token == token.lower()
    assert tokens.read_mail("bounce", token.upper()) == ("httoO9H3dSR6", period)
    for i in range(len(token)):
        changed = token[:i] + ("0" if token[i] != "0" else "1") + token[i + 1:]
        assert tokens.read_mail("bounce", changed) is None, i
    assert Tokens("another secret").read_mail("bounce", token) is None
    assert tokens.read_mail("mailto", token) is None
    # a ref no token can carry (every ref new_ref makes can): no VERP for it
    assert tokens.make_mail("bounce", "not a new_ref ref", period) is None


_PIECES = [b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n",
           b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\r\n",
           b"Content-Type: message/delivery-status\r\n", b"Content-Type: message/rfc822\r\n",
           b"Content-Type: text/rfc822-headers\r\n", b"--b\r\n", b"--b--\r\n", b"\r\n",
           b"Action: failed\r\n", b"Status: 5.1.1\r\n", b"Status: 4.\xff.1\r\n",
           b"Final-Recipient: rfc822; ada@example.org\r\n", b"Final-Recipient: ;\r\n",
           b"To: bounces+00@example.org\r\n", b"To: unsubscribe+@example.org\r\n",
           b"Message-ID: <digest--20260601T060000000000@example.org>\r\n",
           b"Subject: =?utf-8?q?unsub=FF?=\r\n", b"From: <@>\r\n", b"Diagnostic-Code: ;\r\n"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=3000),
                 st.lists(st.sampled_from(_PIECES), max_size=40).map(b"".join)))
def test_any_bytes_are_classified_without_an_error(raw: bytes) -> None:
    verdict = classify(raw, Tokens(SECRET), WHERE)
    assert verdict.kind in ("hard", "soft", "complaint", "unsubscribe", "kept")
    assert verdict.detail and "\n" not in verdict.detail + verdict.subject + verdict.sender


def test_the_bot_plans_a_bounce_job_only_with_a_bounce_mailbox(mail_env: dict[str, str]
                                                               ) -> None:
    config = load_config(Path(mail_env["DIGEST_CONFIG"]))
    assert "bounces" not in {job.id for job in plan_jobs(config, [], None)}
    (job,) = [job for job in plan_jobs(config, [], None, bounces=True) if job.id == "bounces"]
    assert job.trigger.interval == timedelta(minutes=5)
