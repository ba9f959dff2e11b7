"""The message builder writes what email.message wrote, unencoded where it can, and
seven-bit clean for a server without 8BITMIME."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from email import message_from_bytes, message_from_string, policy
from email.headerregistry import Address
from email.message import EmailMessage

import pytest

from digest.deliver import MailSettings
from digest.deliver.message import Envelope, build_message
from digest.deliver.transport import SmtpConnection, SmtpSettings
from digest.model import Rendered
from tests.smtpserver import Scripted, SmtpServer

NOW = datetime(2026, 6, 1, 6, tzinfo=UTC)
MAIL = MailSettings(Envelope.parse("Paper Digest <digest@example.org>", "Paper Digest"),
                    "https://digest.example.org")


def old_message(rendered: Rendered, to_name: str, to_email: str) -> EmailMessage:
    """The message as email.message built it before (the SMTP policy, set_content)."""
    local, _, domain = to_email.rpartition("@")
    msg = EmailMessage(policy=policy.SMTP)
    msg["To"] = Address(to_name, local, domain)
    msg["Subject"] = rendered.subject
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg


@pytest.mark.parametrize(("name", "subject"), [
    ("Ada", "Daily Papers for Ada: 3 new"),
    ("Zoë O'Brien, Jr.", "Weekly Papers for Zoë: 7 new, from “flow matching” and ünïcödé"),
    ("", "A subject that is long enough to be folded over two lines by any sensible mail "
         "software, " * 2 + "twice."),
])
def test_the_message_builder_says_what_email_message_said(name: str, subject: str) -> None:
    rendered = Rendered(subject, "Text ▲ part\n. a line with a dot\ntrailing space \n",
                        "<p>HTML ▲ part</p>\n" * 500 + "<p>" + "x" * 2000 + "</p>\n")
    data = build_message(rendered, envelope=MAIL.envelope, to_name=name,
                         to_email="zoe@example.org", message_id="<digest-1@example.org>",
                         date=NOW, unsubscribe_url="https://digest.example.org/unsubscribe/"
                                                   + "t" * 90)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    got = message_from_bytes(data, policy=policy.default)
    want = message_from_bytes(old_message(rendered, name, "zoe@example.org").as_bytes(),
                              policy=policy.default)
    assert isinstance(got, EmailMessage) and isinstance(want, EmailMessage)
    assert str(got["To"]) == str(want["To"])
    # The subject as written: email.message's own folding loses the space of "flow
    # matching" here (Python 3.11), which is why subjects are encoded as whole words now.
    assert str(got["Subject"]) == subject
    assert got["Message-ID"] == "<digest-1@example.org>"
    assert got["List-Unsubscribe"].startswith("<https://digest.example.org/unsubscribe/ttt")
    assert got.get_content_type() == "multipart/alternative"
    def parts(message: EmailMessage) -> list[tuple[str, str]]:
        return [(p.get_content_type(), p.get_content().replace("\r\n", "\n"))
                for p in message.iter_parts()]

    assert parts(got) == parts(want)
    assert parts(got)[0][1] == rendered.text


def test_a_digest_goes_unencoded_and_seven_bit_to_a_server_without_8bitmime() -> None:
    """Text that is not ASCII goes as 8bit with BODY=8BITMIME, the HTML as 7bit with such
    characters as references; a server that does not offer 8BITMIME gets the same mail
    seven-bit clean (the text encoded, every header as it was). Both read back as the
    same text and the same HTML document. A part with a line too long to go unencoded is encoded."""
    from html import unescape

    rendered = Rendered("Zoë", "Weekly for Zoë ▲\nMüller et al.\n", "<p>Zoë &amp; ▲</p>\n")
    unsubscribe = "https://papers.example-university.org/digest/unsubscribe/" + "t" * 40
    built = build_message(rendered, envelope=MAIL.envelope, to_name="Zoë",
                          to_email="zoe@example.org", message_id="<digest-3@example.org>",
                          date=NOW, unsubscribe_url=unsubscribe)

    async def send_one(port: int) -> None:
        connection = SmtpConnection(SmtpSettings("127.0.0.1", port, starttls="off", timeout=5))
        await connection.send(built, "digest@example.org", "zoe@example.org")
        await connection.close()

    def read(data: bytes) -> list[tuple[str, str]]:
        parsed = message_from_bytes(data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return [(p["Content-Transfer-Encoding"], p.get_content().replace("\r\n", "\n"))
                for p in parsed.iter_parts()]

    with SmtpServer() as server:
        asyncio.run(send_one(server.port))
    ((options, got),) = zip(server.handler.mail_options, server.received, strict=True)
    assert "BODY=8BITMIME" in options and got.data == built
    (text_cte, text), (html_cte, html) = read(got.data)
    assert (text_cte, html_cte) == ("8bit", "7bit") and text == rendered.text
    assert html.isascii() and unescape(html) == unescape(rendered.html)
    with Scripted(eight_bit=False) as old:
        asyncio.run(send_one(old.server.server_address[1]))
    (seven,) = old.received
    assert seven.isascii() and b"BODY=" not in seven
    # every header as built: the URL a client unsubscribes with is not refolded
    assert seven.split(b"\r\n\r\n")[0] == built.split(b"\r\n\r\n")[0]
    assert f"List-Unsubscribe: <{unsubscribe}>".encode() in seven
    (text_cte, text), (html_cte, html) = read(seven)
    assert text_cte != "8bit" and text == rendered.text and unescape(html) == unescape(
        rendered.html)

    long = Rendered("Long", "x" * 999 + "\n", "<p>" + "é" * 200 + "</p>\n")  # 1,607 ASCII
    data = build_message(long, envelope=MAIL.envelope, to_name="", to_email="z@example.org",
                         message_id="<digest-4@example.org>", date=NOW,
                         unsubscribe_url="https://digest.example.org/u/t")
    assert [cte for cte, _ in read(data)] == ["quoted-printable", "base64"]
    assert [body for _, body in read(data)] == [long.text, long.html]


def test_a_list_name_that_is_not_ascii_leaves_the_list_id_plain() -> None:
    """List-Id with a name like "Pâpers ▲": the name as encoded words, the id in angle
    brackets as it is, so that a filter on the list's id still matches."""
    envelope = Envelope.parse("Digest <digest@example.org>", "Pâpers ▲ of the Lab")
    data = build_message(Rendered("Hi", "text\n", "<p>html</p>\n"), envelope=envelope,
                         to_name="", to_email="z@example.org",
                         message_id="<digest-5@example.org>", date=NOW,
                         unsubscribe_url="https://digest.example.org/u/t")
    head = data.split(b"\r\n\r\n")[0]
    (field,) = re.findall(rb"\r\nList-Id: (.*?)\r\n(?! )", head + b"\r\n", re.S)
    assert field.endswith(b"\r\n <digest.example.org>") and field.isascii()
    parsed = message_from_bytes(data, policy=policy.default)
    assert str(parsed["List-Id"]) == "Pâpers ▲ of the Lab <digest.example.org>"


def test_an_address_that_is_not_ascii_is_written_as_it_is() -> None:
    """A recipient like zoë@example.org (sent with SMTPUTF8): the To field holds the
    address in UTF-8 (RFC 6532), not encoded words, which no reader takes for an
    address; an ASCII address keeps its name in encoded words."""
    def to_field(name: str, address: str) -> tuple[bytes, str]:
        data = build_message(Rendered("Hi", "text\n", "<p>html</p>\n"), envelope=MAIL.envelope,
                             to_name=name, to_email=address,
                             message_id="<digest-6@example.org>", date=NOW,
                             unsubscribe_url="https://digest.example.org/u/t")
        (line,) = [h for h in data.split(b"\r\n") if h.startswith(b"To: ")]
        parsed = message_from_string(data.decode("utf-8"), policy=policy.default)
        return line, parsed["To"].addresses[0].addr_spec  # as a reader of UTF-8 mail sees it

    assert to_field("Zoë", "zoë-test@example.org") == (
        "To: Zoë <zoë-test@example.org>".encode(), "zoë-test@example.org")
    assert to_field("Zoë", "zoe@example.org") == (
        b"To: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>", "zoe@example.org")
