"""Real mail servers: a private Postfix relays and bounces as the world's do, and
``ImapMailbox`` reads and tidies a private Dovecot's folder (issue 32).

Both need root and the Debian packages; elsewhere these tests skip, and under
DIGEST_REQUIRE_MTA=1 (scripts/test) they fail instead.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosmtplib
import pytest

from digest.bounces.imap import ImapMailbox, MailboxUnavailable, parse_url
from digest.errors import ConfigError
from tests.dovecot import PASSWORD, USER, Dovecot, dovecot_or_skip, require_dovecot
from tests.mailing import outbox
from tests.mailing import send as send_digests
from tests.postfix import FULL, REFUSED, Postfix, postfix_or_skip
from tests.smtpserver import free_port


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    yield from postfix_or_skip()


@pytest.fixture
def dovecot(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    """A fresh Dovecot; ``indirect`` parametrizing passes (capabilities, prefix)."""
    yield from dovecot_or_skip(*getattr(request, "param", ()))


def parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def mail(subject: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Digest <digest@example.org>"
    message["To"] = "someone@example.org"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content("Your papers of the day.\n")
    return message


def send(postfix: Postfix, message: EmailMessage, sender: str, to: str) -> None:
    asyncio.run(aiosmtplib.send(message, hostname="127.0.0.1", port=postfix.port,
                                sender=sender, recipients=[to], start_tls=False, timeout=10))


def recipient_status(dsn: EmailMessage) -> Message:
    """The per-recipient fields of a DSN for one recipient."""
    status = next(p for p in dsn.walk() if p.get_content_type() == "message/delivery-status")
    blocks = status.get_payload()  # the per-message fields, then one block a recipient
    assert isinstance(blocks, list) and len(blocks) == 2
    assert isinstance(blocks[1], Message)
    return blocks[1]


def test_relay_delivers_one_and_bounces_the_other_to_the_verp_address(
        postfix: Postfix) -> None:
    """One recipient's mail lands in its Maildir; the other, taken at RCPT like any
    other, is refused by delivery and Postfix's own DSN reaches the VERP address."""
    send(postfix, mail("for alice", "<m1@example.org>"),
               "bounces+alice7@example.org", "alice@example.org")
    send(postfix, mail("for carol", "<m2@example.org>"),
               "bounces+abc123@example.org", REFUSED)
    postfix.wait_empty()

    [delivered] = [parse(raw) for raw in postfix.messages("alice@example.org")]
    assert delivered["Message-ID"] == "<m1@example.org>"
    assert delivered["Return-Path"] == "<bounces+alice7@example.org>"

    [dsn] = [parse(raw) for raw in postfix.messages("bounces@example.org")]
    assert dsn["Return-Path"] == "<>", "a DSN has the null sender"
    assert dsn["Delivered-To"] == dsn["X-Original-To"] == "bounces+abc123@example.org"
    assert dsn["To"] == "bounces+abc123@example.org"
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    per_recipient = recipient_status(dsn)
    assert per_recipient["Final-Recipient"] == f"rfc822; {REFUSED}"
    assert per_recipient["Action"] == "failed"
    assert str(per_recipient["Status"]).startswith("5.")
    # The DSN carries the refused mail (or its headers), so it can be matched to it.
    assert b"<m2@example.org>" in postfix.messages("bounces@example.org")[0]


def test_relay_gives_up_on_a_full_mailbox_with_a_temporary_status(postfix: Postfix) -> None:
    """A delivery refused for now (4.2.2) that Postfix gives up on: its DSN says failed,
    with the temporary status, as a soft bounce does once the queue lifetime is over."""
    send(postfix, mail("for dave", "<m6@example.org>"), "bounces+soft42@example.org", FULL)
    postfix.wait_empty()
    [dsn] = [d for d in map(parse, postfix.messages("bounces@example.org"))
             if d["Delivered-To"] == "bounces+soft42@example.org"]
    per_recipient = recipient_status(dsn)
    assert per_recipient["Final-Recipient"] == f"rfc822; {FULL}"
    assert (per_recipient["Action"], per_recipient["Status"]) == ("failed", "4.2.2")


def test_digest_send_through_postfix(run: Any, mail_env: dict[str, str], db_url: str,
                                    postfix: Postfix) -> None:
    """`digest send` speaks to a real MTA: Ada's digest lands in her Maildir; Grace's,
    accepted too, is refused by delivery and the DSN reaches digest's sender address."""
    result = send_digests(run, mail_env, postfix.url)
    assert result.exit_code == 0, result.output
    assert {row.state for row in outbox(db_url).values()} == {"sent"}  # both taken
    postfix.wait_empty()
    [ada] = [parse(raw) for raw in postfix.messages("ada@example.org")]
    assert ada["To"] == "Ada Lovelace <ada@example.org>"
    assert ada["Return-Path"] == "<digest@example.org>"
    dsns = [parse(raw) for raw in postfix.messages("digest@example.org")]
    assert [d.get_content_type() for d in dsns] == ["multipart/report"]
    assert b"grace@example.org" in postfix.messages("digest@example.org")[0]


def test_relay_refuses_other_domains_at_rcpt(postfix: Postfix) -> None:
    """Nothing leaves for another host: mail to a domain not served here is refused."""
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        send(postfix, mail("away", "<m3@example.org>"), "bounces+x@example.org",
                   "someone@elsewhere.invalid")
    assert "Relay access denied" in str(refused.value)


@pytest.mark.usefixtures("postfix")  # skips where Postfix cannot run
def test_a_pipe_transport_hands_the_dsn_and_its_token_to_a_command() -> None:
    """The operator's route to `digest bounces`: a master.cf pipe service for the bounce
    address gets the DSN on stdin, with ${extension} the VERP token (tee stands in)."""
    out = Path(tempfile.mkdtemp(prefix="digest-piped-"))
    out.chmod(0o777)  # the command runs as nobody
    try:
        argv = f"/usr/bin/tee {out}/${{extension}}"
        with Postfix(pipe={"bounces@example.org": argv}) as mta:
            send(mta, mail("for carol", "<m4@example.org>"), "bounces+abc123@example.org",
                 REFUSED)
            mta.wait_empty()
            assert mta.messages("bounces@example.org") == [], "piped, not in the Maildir"
        [piped] = out.iterdir()
        assert piped.name == "abc123"
        dsn = parse(piped.read_bytes())
        assert dsn["Delivered-To"] == "bounces+abc123@example.org"
        assert dsn.get_content_type() == "multipart/report"
        assert b"<m4@example.org>" in piped.read_bytes()
    finally:
        shutil.rmtree(out)


def test_postfix_dsn_read_over_imap_through_dovecot(postfix: Postfix) -> None:
    """The bounce address's Maildir served by Dovecot: ImapMailbox reads Postfix's DSN
    with its Delivered-To, and done() files it in the processed folder of that Maildir."""
    require_dovecot()
    send(postfix, mail("for carol", "<m5@example.org>"), "bounces+tok9@example.org", REFUSED)
    postfix.wait_empty()
    maildir = postfix.maildir("bounces@example.org")
    with Dovecot(maildir=maildir) as imap, ImapMailbox(imap.imap_url, PASSWORD) as box:
        [(key, raw)] = [(k, raw) for k, raw in box.messages() if b"<m5@example.org>" in raw]
        assert parse(raw)["Delivered-To"] == "bounces+tok9@example.org"
        assert parse(raw).get_content_type() == "multipart/report"
        box.done(key)
    [filed] = (maildir / ".processed").glob("[nc][eu][wr]/*")  # new/ or cur/
    assert filed.read_bytes().replace(b"\n", b"\r\n") == raw


def running_in_group(group: int) -> list[str]:
    """The processes of a process group that still run (zombies waiting for init to
    reap them do not), as their names."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().rsplit(")", 1)
        except OSError:  # gone meanwhile
            continue
        state, _, pgrp = rest.split()[:3]
        if int(pgrp) == group and state != "Z":
            found.append(name.split("(", 1)[1])
    return found


def fail_inside(harness: Postfix | Dovecot) -> tuple[int, Path]:
    """Start ``harness``, fail inside it; its master's pid and its temp dir."""
    seen: list[tuple[int, Path]] = []

    def failing() -> None:
        with harness:
            process = harness._process
            seen.append((process.pid if process else -1, harness.folder))
            raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError, match="the test failed"):
        failing()
    return seen[0]


@pytest.mark.usefixtures("postfix")  # skips where Postfix cannot run
def test_postfix_stops_and_cleans_up_when_the_test_fails() -> None:
    """A failing test leaves no Postfix process and no temp dir behind."""
    group, folder = fail_inside(Postfix())
    assert group > 0 and running_in_group(group) == []
    assert not folder.exists()


APPENDED = [mail(f"bounce {n}", f"<b{n}@example.net>").as_bytes(policy=policy.SMTP)
            for n in range(3)]


def subjects(found: list[tuple[bytes, set[str]]]) -> list[str]:
    return [str(parse(raw)["Subject"]) for raw, _ in found]


def test_imap_reads_three_moves_two_and_leaves_the_third(dovecot: Dovecot) -> None:
    """messages() yields every message unchanged and unread; done() moves a message to
    the processed folder, so another pass sees only what was not acted on."""
    dovecot.append(*APPENDED)
    found = []
    with ImapMailbox(dovecot.imap_url, PASSWORD) as box:
        for key, raw in box.messages():  # done() while reading, as `digest bounces` does
            found.append((key, raw))
            if raw != APPENDED[1]:
                box.done(key)
    assert [raw for _, raw in found] == APPENDED
    assert len({key for key, _ in found}) == 3
    left = dovecot.folder_messages("INBOX")
    assert subjects(left) == ["bounce 1"]
    assert "\\Seen" not in left[0][1], "reading must not mark a message read"
    assert subjects(dovecot.folder_messages("processed")) == ["bounce 0", "bounce 2"]

    with ImapMailbox(dovecot.imap_url, PASSWORD) as again:
        assert list(again.messages()) == [found[1]], "same key, same bytes, nothing else"


def spy_uid_commands(box: ImapMailbox) -> list[str]:
    """The UID commands (MOVE, COPY, ...) ``box`` sends from now on, to the real server."""
    sent: list[str] = []
    send = box._client.uid

    def recorded(command: str, *args: str) -> tuple[str, list[Any]]:
        sent.append(command.upper())
        return send(command, *args)

    box._client.uid = recorded  # type: ignore[method-assign]
    return sent


@pytest.mark.parametrize(("dovecot", "processed", "sends", "left_deleted"), [
    (("IMAP4rev1 UIDPLUS", ""), "processed", ["COPY", "STORE", "EXPUNGE"], False),
    (("IMAP4rev1", ""), "processed", ["COPY", "STORE"], True),  # left \Deleted
    ((None, "INBOX."), "INBOX.processed", ["MOVE"], False),  # folders under INBOX.
], indirect=["dovecot"], ids=["no-move", "no-uidplus", "inbox-prefix"])
def test_imap_done_on_servers_of_other_kinds(dovecot: Dovecot, processed: str,
                                             sends: list[str], left_deleted: bool) -> None:
    """Servers without MOVE (or UIDPLUS) and with folders under a namespace prefix: the
    message done is in the processed folder and is not read again; the other stays."""
    dovecot.append(*APPENDED[:2])
    with ImapMailbox(dovecot.imap_url, PASSWORD) as box:
        (first, _), second = box.messages()
        sent = spy_uid_commands(box)
        box.done(first)
    assert sent == sends
    with ImapMailbox(dovecot.imap_url, PASSWORD) as again:
        assert list(again.messages()) == [second]
    assert subjects(dovecot.folder_messages(processed)) == ["bounce 0"]
    inbox = dovecot.folder_messages("INBOX")
    expected = [True, False] if left_deleted else [False]
    assert [("\\Deleted" in flags) for _, flags in inbox] == expected


def test_imap_wrong_password_in_the_url_is_a_config_error_without_it(
        dovecot: Dovecot) -> None:
    url = dovecot.imap_url.replace(f"{USER}@", f"{USER}:Wr0ng-pass-77@")
    with pytest.raises(ConfigError) as refused:
        ImapMailbox(url)
    text = str(refused.value)
    assert text == (f"imap://{USER}@127.0.0.1:{dovecot.port}/INBOX refused the login "
                    "([AUTHENTICATIONFAILED] Authentication failed.): check "
                    "DIGEST_BOUNCES_URL and the password")
    assert "Wr0ng-pass-77" not in text + repr(refused.value)


# A second wrong login from one address waits seconds (Dovecot's penalty): a fresh server.
def test_imap_wrong_password_given_apart_is_a_config_error_without_it(
        dovecot: Dovecot) -> None:
    with pytest.raises(ConfigError, match="refused the login") as refused:
        ImapMailbox(dovecot.imap_url, "Wr0ng-pass-77")
    assert "Wr0ng-pass-77" not in str(refused.value)


def test_imaps_with_the_private_ca(dovecot: Dovecot) -> None:
    """imaps:// checks the certificate: trusted with DIGEST_IMAP_CAFILE, else refused."""
    dovecot.append(APPENDED[0])
    env = {"DIGEST_IMAP_CAFILE": str(dovecot.cafile)}
    with ImapMailbox(dovecot.imaps_url, PASSWORD, env=env) as box:
        assert box.description == dovecot.imaps_url
        assert [raw for _, raw in box.messages()] == [APPENDED[0]]
    with pytest.raises(ConfigError, match="DIGEST_IMAP_CAFILE") as untrusted:
        ImapMailbox(dovecot.imaps_url, PASSWORD, env={})
    assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.value)


def test_imap_uses_starttls_when_offered(dovecot: Dovecot) -> None:
    """Plain imap:// upgrades to TLS when the server offers STARTTLS (so an untrusted
    certificate fails), and ?starttls=off does not."""
    url = dovecot.imap_url.removesuffix("?starttls=off")
    with pytest.raises(ConfigError, match="CERTIFICATE_VERIFY_FAILED"):
        ImapMailbox(url, PASSWORD, env={})
    with ImapMailbox(url, PASSWORD, env={"DIGEST_IMAP_CAFILE": str(dovecot.cafile)}):
        pass
    logins = [line for line in dovecot.log_text().splitlines() if "Login: user=" in line]
    assert len(logins) == 1 and ", TLS," in logins[0], logins


def test_dovecot_stops_and_cleans_up_when_the_test_fails(dovecot: Dovecot) -> None:
    group, folder = fail_inside(Dovecot())
    assert group > 0 and running_in_group(group) == []
    assert not folder.exists()


def test_imap_missing_folder_is_a_config_error(dovecot: Dovecot) -> None:
    with pytest.raises(ConfigError, match="'Nope' cannot be opened"):
        ImapMailbox(dovecot.imap_url.replace("/INBOX", "/Nope"), PASSWORD)


def test_imap_server_unreachable_or_silent_is_worth_another_try() -> None:
    """A closed port, and a server that takes the connection but never greets (the
    timeout), are MailboxUnavailable: the next pass tries again."""
    closed = f"imap://{USER}@127.0.0.1:{free_port()}/INBOX?starttls=off"
    with pytest.raises(MailboxUnavailable, match="cannot reach"):
        ImapMailbox(closed, PASSWORD)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"imaps://{USER}@127.0.0.1:{silent.getsockname()[1]}/INBOX"
        with pytest.raises(MailboxUnavailable, match="timed out"):
            ImapMailbox(url, PASSWORD, timeout=0.5)


def test_imap_password_of_any_characters_in_the_url() -> None:
    """A password that is not ASCII (SASL PLAIN, as LOGIN cannot carry it), given in the
    URL percent-encoded, as a password with @, / or % must be."""
    require_dovecot()
    password = "pässwörd/@ü%"  # not ":": the passwd-file separates fields with it
    with Dovecot(password=password) as imap:
        imap.append(APPENDED[0])
        url = imap.imap_url.replace(f"{USER}@", f"{USER}:{quote(password, safe='')}@")
        with ImapMailbox(url) as box:
            assert [raw for _, raw in box.messages()] == [APPENDED[0]]


@pytest.mark.parametrize(("url", "error"), [
    ("pop3://u:pw-Zq9@host/INBOX", "must look like imaps://user@host/INBOX"),
    ("imaps://host/INBOX", "must look like"),  # no user
    ("imap://u:pw-Zq9@host:99999/INBOX", "port is not a number"),
    ("imap://u:pw-Zq9@host/INBOX?folder=x", "the only option is ?starttls"),
    ("imaps://u:pw-Zq9@host/INBOX?starttls=off", "for imap:// only"),
    ("imap://u:pw-Zq9@host/Bo%22unces", "plain ASCII without quotes"),
])
def test_imap_url_mistakes_say_what_to_fix_without_the_password(url: str, error: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(error)) as bad:
        ImapMailbox(url)
    assert "pw-Zq9" not in str(bad.value)


def test_imap_url_parts() -> None:
    address, password = parse_url("imaps://bounce%40example.org:p%40ss@mail.example.org/")
    assert (address.user, password, address.folder) == ("bounce@example.org", "p@ss", "INBOX")
    assert address.description == "imaps://bounce@example.org@mail.example.org:993/INBOX"
    assert parse_url("imap://u@[::1]/Bounces")[0].description == "imap://u@[::1]:143/Bounces"
    with pytest.raises(ConfigError, match="needs a password: set DIGEST_IMAP_PASSWORD"):
        ImapMailbox("imap://u@127.0.0.1/INBOX")
