"""Mail as the world sends it, end to end: digests go through a real Postfix (loopback,
local delivery into Maildirs) signed with a key `digest dkim keygen` made, one reader's
mailbox takes the digest and the other's is refused after the relay accepted it; Postfix's
own DSN comes back to the digest's VERP return path; `digest bounces` on that mailbox
suppresses the second reader, and the next pass mails only the first.

Needs root and Debian's postfix (tests/postfix.py); skipped elsewhere, a failure under
DIGEST_REQUIRE_MTA=1 (scripts/test).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest.store import Store
from tests.dovecot import PASSWORD, Dovecot, require_dovecot
from tests.mailing import NOW, send
from tests.mailing import SUBSCRIPTIONS as MAIL_SUBSCRIPTIONS
from tests.postfix import Postfix, postfix_or_skip
from tests.test_dkim import Zone

# Ada's mailbox takes her digests; Grace's address is of the relay's domain but has no
# mailbox, so the relay takes her digest and its delivery agent refuses it (5.1.1).
SUBSCRIPTIONS = MAIL_SUBSCRIPTIONS.replace("  trending: 2\n", "  send_empty: true\n")
VERP = re.compile(r"bounces\+[0-9a-f]{46}@example\.org")


@pytest.fixture
def postfix() -> Iterator[Postfix]:
    yield from postfix_or_skip()


@pytest.fixture
def env(run: Any, tmp_path: Path, mail_env: dict[str, str], zone: Zone) -> dict[str, str]:
    """A sender as an operator sets one up: its own domain and links, a bounce address,
    a DKIM key published in the zone, its EHLO name."""
    Path(mail_env["DIGEST_CONFIG"]).write_text(SUBSCRIPTIONS)
    return {**mail_env, "DIGEST_BOUNCE_ADDRESS": "bounces@example.org",
            "DIGEST_DKIM_KEY": str(zone.keygen(run, tmp_path, "d2026")),
            "DIGEST_DKIM_SELECTOR": "d2026", "DIGEST_HELO": "mail.example.org",
            "DIGEST_ALLOW_LOCALHOST": "0"}


@pytest.fixture
def zone() -> Zone:
    return Zone()


def _first_pass(run: Any, env: dict[str, str], postfix: Postfix) -> bytes:
    """Both digests sent; Ada's as she received it, Postfix's DSN for Grace waiting."""
    first = send(run, env, postfix.url)
    assert first.exit_code == 0, first.output  # the relay took both
    postfix.wait_empty()

    [ada] = postfix.messages("ada@example.org")
    parsed = message_from_bytes(ada, policy=policy.default)
    assert VERP.fullmatch(str(parsed["Return-Path"]).strip("<>"))
    assert "mail.example.org" in str(parsed["Received"])  # EHLO names DIGEST_HELO

    [dsn] = postfix.messages("bounces@example.org")  # Postfix's own, to the VERP address
    report = message_from_bytes(dsn, policy=policy.default)
    assert report.get_content_type() == "multipart/report"
    assert VERP.fullmatch(str(report["Delivered-To"]))
    assert b"grace@example.org" in dsn
    return ada


def _second_pass(run: Any, env: dict[str, str], db_url: str, postfix: Postfix) -> None:
    """Grace suppressed: the next pass mails Ada alone, and nothing more bounces."""
    states = {s.email: s.state for s in Store(db_url).statuses()}
    assert states == {"ada@example.org": "active", "grace@example.org": "bouncing"}
    second = send(run, env, postfix.url, NOW + timedelta(days=1))
    assert second.exit_code == 0, second.output
    postfix.wait_empty()
    assert len(postfix.messages("ada@example.org")) == 2
    assert postfix.messages("bounces@example.org") == []  # nothing more bounced
    rows = Store(db_url).outbox()
    assert sorted((r.email, r.state) for r in rows) == [
        ("ada@example.org", "sent"), ("ada@example.org", "sent"), ("grace@example.org", "sent")]


def test_a_refused_reader_is_suppressed_from_postfixs_own_bounce(
        run: Any, env: dict[str, str], db_url: str, postfix: Postfix, zone: Zone) -> None:
    ada = _first_pass(run, env, postfix)
    assert zone.verify(ada) == [True]  # signed as keygen published, intact through Postfix
    read = run("bounces", str(postfix.maildir("bounces@example.org")), env=env)
    assert read.exit_code == 0, read.output
    assert "grace@example.org" in read.output
    assert postfix.messages("bounces@example.org") == []  # acted on: filed away
    again = run("bounces", str(postfix.maildir("bounces@example.org")), env=env)
    assert again.exit_code == 0 and "grace@example.org" not in again.output  # once
    _second_pass(run, env, db_url, postfix)


def test_the_bot_reads_the_bounce_over_imaps_from_dovecot(
        run: Any, env: dict[str, str], db_url: str, postfix: Postfix) -> None:
    """The same, with the bounce mailbox served by Dovecot (IMAPS, a private CA) and read
    by the bot's job before its send (`digest run --once` with DIGEST_BOUNCES_URL)."""
    require_dovecot()
    _first_pass(run, env, postfix)
    with Dovecot(maildir=postfix.maildir("bounces@example.org")) as imap:
        bot = {**env, "DIGEST_BOUNCES_URL": imap.imaps_url, "DIGEST_IMAP_PASSWORD": PASSWORD,
               "DIGEST_IMAP_CAFILE": str(imap.cafile), "DIGEST_SMTP_URL": postfix.url}
        ran = run("run", "--once", "--now", (NOW + timedelta(hours=1)).isoformat(), env=bot)
        assert ran.exit_code == 0, ran.output
        assert imap.folder_messages("INBOX") == []  # filed in processed
    _second_pass(run, env, db_url, postfix)
