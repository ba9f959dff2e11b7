"""Mail that receivers can trust: DKIM signatures made with keys from `digest dkim keygen`
and checked by dkimpy against the record keygen printed, Feedback-ID, the EHLO name, and
the refusal to send mail from localhost through a real SMTP server."""

from __future__ import annotations

import asyncio
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import pytest
from dkim.canonicalization import Relaxed
from hypothesis import given
from hypothesis import strategies as st

from digest.deliver import MailSettings
from digest.deliver.dkim import _canonical_body
from digest.deliver.message import Composer, EightBit, Envelope, Wire, build_notice
from digest.deliver.transport import SmtpSettings, SmtpTransport
from digest.model import Rendered
from tests.mailing import NOW, send
from tests.smtpserver import Scripted, SmtpServer

# What a signature must cover (One-Click unsubscribe, RFC 8058, needs the List-* signed).
REQUIRED = {b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
            b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id", b"mime-version",
            b"content-type"}


class Zone:
    """The TXT records keygen printed, as dkimpy's DNS lookup (no query leaves the test)."""

    def __init__(self) -> None:
        self.records: dict[bytes, bytes] = {}

    def keygen(self, run: Any, tmp_path: Path, selector: str, kind: str = "rsa") -> Path:
        path = tmp_path / f"{selector}.pem"
        result = run("dkim", "keygen", "--selector", selector, "--domain", "example.org",
                     "-o", str(path), "--type", kind)
        assert result.exit_code == 0, result.output
        line = result.stdout.strip()
        assert line.startswith(f"{selector}._domainkey.example.org. IN TXT \"v=DKIM1; k={kind}; ")
        chunks = re.findall(r'"([^"]*)"', line)
        assert all(len(c) <= 255 for c in chunks)
        self.records[f"{selector}._domainkey.example.org.".encode()] = "".join(chunks).encode()
        return path

    def lookup(self, name: bytes, timeout: int = 5) -> bytes | None:
        return self.records.get(name)

    def verify(self, data: bytes) -> list[bool]:
        """Whether each DKIM-Signature of ``data`` verifies, top to bottom."""
        count = len(re.findall(rb"(?m)^DKIM-Signature:", data))
        return [self._verify(data, i) for i in range(count)]

    def _verify(self, data: bytes, index: int) -> bool:
        try:
            return bool(dkim.DKIM(data).verify(idx=index, dnsfunc=self.lookup))
        except dkim.DKIMException:  # a body hash that does not match, say
            return False


@pytest.fixture
def zone() -> Zone:
    return Zone()


@pytest.fixture
def signing_env(run: Any, tmp_path: Path, zone: Zone, mail_env: dict[str, str]
                ) -> dict[str, str]:
    return {**mail_env, "DIGEST_DKIM_KEY": str(zone.keygen(run, tmp_path, "mail2026")),
            "DIGEST_DKIM_SELECTOR": "mail2026"}


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(
        run: Any, tmp_path: Path, zone: Zone) -> None:
    for kind in ("rsa", "ed25519"):
        path = zone.keygen(run, tmp_path, f"k{kind}", kind)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        before = path.read_bytes()
        again = run("dkim", "keygen", "--selector", "x", "--domain", "example.org",
                    "-o", str(path), "--type", kind)
        assert again.exit_code == 1
        assert f"Error: {path} exists; digest never overwrites a key" in again.stderr
        assert path.read_bytes() == before
    rsa_record = zone.records[b"krsa._domainkey.example.org."]
    assert len(rsa_record) > 255  # a 2048-bit key's record is two strings


@pytest.mark.parametrize(("args", "message"), [
    (["--selector", "bad selector"], "--selector 'bad selector' is not a DNS label"),
    (["--selector", "s", "--domain", "not a domain"], "--domain 'not a domain' is not"),
])
def test_keygen_mistakes(run: Any, tmp_path: Path, args: list[str], message: str) -> None:
    args = args if "--domain" in args else [*args, "--domain", "example.org"]
    result = run("dkim", "keygen", *args, "-o", str(tmp_path / "k.pem"))
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert not (tmp_path / "k.pem").exists()


def test_every_digest_is_signed_over_the_headers_that_matter(
        run: Any, signing_env: dict[str, str], smtp: SmtpServer, zone: Zone,
        tmp_path: Path) -> None:
    env = {**signing_env, "DIGEST_DKIM_ED25519_KEY": str(zone.keygen(run, tmp_path, "ed",
                                                                       "ed25519")),
           "DIGEST_DKIM_ED25519_SELECTOR": "ed"}
    result = send(run, env, smtp.url)
    assert result.exit_code == 0, result.output
    assert len(smtp.received) == 2
    for got in smtp.received:
        assert got.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
                                   b"d=example.org;")
        assert zone.verify(got.data) == [True, True]
        for index, algorithm in enumerate((b"rsa-sha256", b"ed25519-sha256")):
            signature = dkim.DKIM(got.data)
            assert signature.verify(idx=index, dnsfunc=zone.lookup)
            assert signature.signature_fields[b"a"] == algorithm
            assert set(signature.include_headers) >= REQUIRED


def test_a_changed_header_or_body_breaks_the_signature(
        run: Any, signing_env: dict[str, str], smtp: SmtpServer, zone: Zone) -> None:
    assert send(run, signing_env, smtp.url).exit_code == 0
    data = next(r.data for r in smtp.received if r.recipients == ["ada@example.org"])
    assert zone.verify(data) == [True]
    tampered = {
        "List-Unsubscribe": data.replace(b"<https://digest.example.org/unsubscribe/",
                                         b"<https://evil.example.net/unsubscribe/", 1),
        "To": data.replace(b"To: Ada Lovelace <ada@example.org>",
                           b"To: Eve <eve@example.org>", 1),
        "a second Subject": data.replace(b"\r\nSubject:", b"\r\nSubject: Win a prize\r\n"
                                         b"Subject:", 1),
        "the body": data.replace(b"Maojiang Su", b"Maojiang Xu", 1),
    }
    for what, changed in tampered.items():
        assert changed != data, what
        assert zone.verify(changed) == [False], what


def test_relaxed_canonicalisation_survives_a_relay_that_refolds(
        run: Any, signing_env: dict[str, str], smtp: SmtpServer, zone: Zone) -> None:
    assert send(run, signing_env, smtp.url).exit_code == 0
    data = smtp.received[0].data
    head, _, body = data.partition(b"\r\n\r\n")
    refolded = head.replace(b"Subject: ", b"Subject:   ").replace(b"\r\nDate: ",
                                                                 b"\r\nDate:\r\n\t") + \
        b"\r\n\r\n" + body.replace(b"\r\n", b"  \r\n", 3)
    assert zone.verify(refolded) == [True]


@given(st.lists(st.sampled_from([" ", "  ", "\t", "a", "é", "\r\n", "\r", "\n", "."]),
                max_size=40).map(lambda parts: "".join(parts).encode()))
def test_the_fast_body_canonicalisation_is_dkimpys(body: bytes) -> None:
    assert _canonical_body(body) == Relaxed.canonicalize_body(body)


def test_without_a_key_nothing_is_signed_and_feedback_id_names_no_one(
        run: Any, mail_env: dict[str, str], smtp: SmtpServer) -> None:
    assert send(run, mail_env, smtp.url).exit_code == 0
    for got in smtp.received:
        assert b"DKIM-Signature" not in got.data
        assert got.message["Feedback-ID"] == "digest:paper-digest:digest:example.org"


def test_test_mail_and_confirmations_are_signed(run: Any, signing_env: dict[str, str],
                                                smtp: SmtpServer, zone: Zone) -> None:
    result = run("test-mail", "me@example.org", env={**signing_env,
                                                      "DIGEST_SMTP_URL": smtp.url})
    assert result.exit_code == 0, result.output
    assert zone.verify(smtp.received[0].data) == [True]
    mail = MailSettings.from_env(signing_env)
    notice = mail.signed(build_notice(
        envelope=mail.envelope, to_email="new@example.org", subject="Confirm",
        text="Follow the link.\n", html="<p>Follow the link.</p>\n",
        date=datetime(2026, 6, 1, tzinfo=UTC), message_id="<c1@example.org>"))
    assert zone.verify(notice) == [True]


def test_signing_keeps_the_message_class_and_an_8bit_mail_without_8bitmime_goes_unsigned(
        run: Any, signing_env: dict[str, str], zone: Zone) -> None:
    mail = MailSettings.from_env(signing_env)
    assert mail.signer is not None
    composer = Composer(Envelope.parse("digest@example.org", "Paper Digest"),
                        mail.signer.sign)
    built = [composer.build(Rendered("Hi", text, "<p>x</p>\n"), to_name="", date=NOW,
                            to_email="z@example.org", message_id="<m@example.org>",
                            unsubscribe_url="https://digest.example.org/u/t")
             for text in ("plain\n", "Zoë\n")]
    assert [type(m) for m in built] == [Wire, EightBit]
    assert all(zone.verify(m) == [True] for m in built)
    with Scripted(eight_bit=False) as server:  # the 8bit part is re-encoded for it
        connection = SmtpTransport(SmtpSettings.from_env({"DIGEST_SMTP_URL": server.url})
                                   ).connection()

        async def deliver() -> None:
            await connection.send(built[1], "digest@example.org", "z@example.org")
            await connection.close()

        asyncio.run(deliver())
    assert b"DKIM-Signature" not in server.received[0]  # it would fail: none is honest


@pytest.mark.parametrize(("setting", "make", "message"), [
    ("DIGEST_DKIM_KEY", lambda p: str(p / "missing.pem"),
     "DIGEST_DKIM_KEY: cannot read {dir}/missing.pem (No such file or directory)"),
    ("DIGEST_DKIM_KEY", lambda p: (p / "k.pem").write_text("hello") and str(p / "k.pem"),
     "DIGEST_DKIM_KEY: {dir}/k.pem is not an unencrypted PEM private key; make one with "
     "digest dkim keygen"),
    ("DIGEST_DKIM_SELECTOR", lambda p: "", "DIGEST_DKIM_SELECTOR is not set: DIGEST_DKIM_KEY "
     "needs the selector its public key is published under"),
    ("DIGEST_DKIM_SELECTOR", lambda p: "a b", "DIGEST_DKIM_SELECTOR 'a b' is not a DNS label"),
    ("DIGEST_DKIM_DOMAIN", lambda p: "a..b", "DIGEST_DKIM_DOMAIN 'a..b' is not a domain name"),
    ("DIGEST_DKIM_ED25519_KEY", lambda p: os.environ["RSA_KEY"],
     "DIGEST_DKIM_ED25519_KEY: {key} is not an Ed25519 private key"),
    ("DIGEST_DKIM_ED25519_KEY", lambda p: os.environ["RSA_KEY"],
     "DIGEST_DKIM_ED25519_SELECTOR is not set"),
])
def test_a_wrong_dkim_setting_stops_the_command_at_its_start(
        run: Any, signing_env: dict[str, str], smtp: SmtpServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, setting: str, make: Any, message: str) -> None:
    monkeypatch.setenv("RSA_KEY", signing_env["DIGEST_DKIM_KEY"])
    env = {**signing_env, setting: make(tmp_path)}
    if "ED25519_SELECTOR is not" not in message and setting == "DIGEST_DKIM_ED25519_KEY":
        env["DIGEST_DKIM_ED25519_SELECTOR"] = "ed"
    result = send(run, env, smtp.url)
    assert result.exit_code == 1
    expected = message.format(dir=tmp_path, key=signing_env["DIGEST_DKIM_KEY"])
    assert f"Error: {expected}" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert smtp.received == []


def test_a_dkim_setting_without_the_key_is_refused(run: Any, mail_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    result = run("send", "--now", NOW.isoformat(), env={**mail_env,
                                                        "DIGEST_DKIM_SELECTOR": "s"})
    assert result.exit_code == 1
    assert "Error: DIGEST_DKIM_SELECTOR is set but DIGEST_DKIM_KEY is not" in result.stderr


def test_ehlo_names_the_from_domain_or_digest_helo(run: Any, mail_env: dict[str, str],
                                                   smtp: SmtpServer) -> None:
    names: list[str] = []
    greet = smtp.handler.handle_EHLO

    async def record(server: Any, session: Any, envelope: Any, hostname: str,
                     responses: list[str]) -> list[str]:
        names.append(hostname)
        return await greet(server, session, envelope, hostname, responses)

    smtp.handler.handle_EHLO = record  # type: ignore[method-assign]
    assert send(run, mail_env, smtp.url).exit_code == 0
    assert names and set(names) == {"example.org"}
    names.clear()
    result = run("test-mail", "me@example.org", env={
        **mail_env, "DIGEST_SMTP_URL": smtp.url, "DIGEST_HELO": "mx1.example.org"})
    assert result.exit_code == 0, result.output
    assert names == ["mx1.example.org"]
    bad = run("test-mail", "me@example.org", env={
        **mail_env, "DIGEST_SMTP_URL": smtp.url, "DIGEST_HELO": "mx1 example"})
    assert bad.exit_code == 1
    assert "Error: DIGEST_HELO 'mx1 example' is not a host name" in bad.stderr


LOCAL = {"DIGEST_FROM": "Paper Digest <digest@localhost>",
         "DIGEST_BASE_URL": "http://localhost:8000"}


@pytest.mark.parametrize("command", [["send"], ["run", "--once"], ["worker", "--once"]])
def test_real_smtp_refuses_a_localhost_sender_and_links(
        run: Any, mail_env: dict[str, str], smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch,
        command: list[str]) -> None:
    monkeypatch.delenv("DIGEST_ALLOW_LOCALHOST")
    env = {**mail_env, **LOCAL, "DIGEST_SMTP_URL": smtp.url}
    result = run(*command, "--now", NOW.isoformat(), env=env)
    assert result.exit_code == 1, result.output
    assert ("Error: DIGEST_FROM (digest@localhost) and DIGEST_BASE_URL "
            "(http://localhost:8000) point at this machine, but mail goes out through "
            f"smtp://127.0.0.1:{smtp.port}: set DIGEST_FROM to an address at your domain"
            ) in result.stderr
    assert "DIGEST_ALLOW_LOCALHOST=1 to send anyway" in result.stderr
    assert smtp.received == []
    loopback = run(*command, "--now", NOW.isoformat(), env={
        **env, "DIGEST_FROM": mail_env["DIGEST_FROM"], "DIGEST_BASE_URL": "http://127.0.0.1"})
    assert loopback.exit_code == 1
    assert "Error: DIGEST_BASE_URL (http://127.0.0.1) point" in loopback.stderr
    allowed = run(*command, "--now", NOW.isoformat(), env={**env, "DIGEST_ALLOW_LOCALHOST": "1"})
    assert allowed.exit_code == 0, allowed.output
    assert len(smtp.received) == (0 if command[0] == "worker" else 2)  # a worker plans none


def test_localhost_is_allowed_into_a_maildir_or_when_asked(
        run: Any, mail_env: dict[str, str], smtp: SmtpServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_ALLOW_LOCALHOST")
    result = run("send", "--now", NOW.isoformat(), env={**mail_env, **LOCAL})
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 2
    allowed = send(run, {**mail_env, **LOCAL, "DIGEST_ALLOW_LOCALHOST": "1"}, smtp.url)
    assert allowed.exit_code == 0 and "Error" not in allowed.output, allowed.output
