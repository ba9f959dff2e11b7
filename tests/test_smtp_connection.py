"""Sending over one SMTP connection: messages reach the server as they are, and a
connection in steady use is not probed before each mail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from digest.deliver import MailSettings
from digest.deliver.message import Envelope, build_message
from digest.deliver.transport import PermanentError, SmtpConnection, SmtpSettings
from digest.model import Rendered
from tests.smtpserver import SmtpServer

NOW = datetime(2026, 6, 1, 6, tzinfo=UTC)
MAIL = MailSettings(Envelope.parse("Paper Digest <digest@example.org>", "Paper Digest"),
                    "https://digest.example.org")


def test_messages_reach_the_server_as_they_are_without_aiosmtplib_normalising() -> None:
    """Sending skips aiosmtplib's rewrite of every line: the server still gets each
    message with CRLF line ends and its dotted lines intact, with SIZE, and a refused
    recipient resets the envelope on the same connection."""
    built = build_message(Rendered("Dots", ".a dotted line\n..two\nend\n", "<p>.x</p>\n"),
                          envelope=MAIL.envelope, to_name="Zoë", to_email="zoe@example.org",
                          message_id="<digest-2@example.org>", date=NOW,
                          unsubscribe_url="https://digest.example.org/unsubscribe/t")
    messages = [b".Subject: leading dot\r\n\r\n.line\r\n..two\r\nno final line end",
                b"Subject: bare\n\nlone LF\nlone CR\r.dotted after CR\n", built]
    want = [b".Subject: leading dot\r\n\r\n.line\r\n..two\r\nno final line end\r\n",
            b"Subject: bare\r\n\r\nlone LF\r\nlone CR\r\n.dotted after CR\r\n", built]

    async def send_all(port: int, refuse: SmtpServer) -> list[str]:
        connection = SmtpConnection(SmtpSettings("127.0.0.1", port, starttls="off", timeout=5))
        errors = []
        for i, data in enumerate(messages):
            if i == 1:
                refuse.handler.faults.append("rcpt:550 No such user")
                try:
                    await connection.send(data, "digest@example.org", "gone@example.org")
                except PermanentError as e:
                    errors.append(str(e))
            await connection.send(data, "digest@example.org", f"r{i}@example.org")
        await connection.close()
        return errors

    with SmtpServer() as server:
        errors = asyncio.run(send_all(server.port, server))
    assert [r.data for r in server.received] == want
    assert [r.recipients for r in server.received] == [[f"r{i}@example.org"] for i in range(3)]
    assert len(server.handler.sessions) == 1
    assert errors == [f"smtp://127.0.0.1:{server.port} refused the message: 550 No such user"]
    sizes = [o for options in server.handler.mail_options for o in options]
    assert len(sizes) == 4 and all(o.upper().startswith("SIZE=") for o in sizes)


def test_a_connection_in_steady_use_is_not_asked_whether_it_is_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Mails one after another go without a NOOP between them (a round trip a mail); a
    connection idle for longer than IDLE_CHECK_SECONDS is asked first."""
    from digest.deliver import transport

    async def send_some(port: int, count: int, connection: SmtpConnection) -> None:
        for i in range(count):
            await connection.send(b"Subject: hi\r\n\r\nhello\r\n", "digest@example.org",
                                  f"r{i}@example.org")

    with SmtpServer() as server:
        connection = SmtpConnection(SmtpSettings("127.0.0.1", server.port, starttls="off",
                                                 timeout=5))

        async def both() -> tuple[int, int]:
            await send_some(server.port, 5, connection)
            steady = server.handler.noops
            monkeypatch.setattr(transport, "IDLE_CHECK_SECONDS", 0.0)
            await send_some(server.port, 2, connection)
            await connection.close()
            return steady, server.handler.noops

        steady, idle = asyncio.run(both())
    assert len(server.received) == 7 and len(server.handler.sessions) == 1
    assert steady == 0
    assert idle == 2
