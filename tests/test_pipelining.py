"""Commands in groups (PIPELINING, RFC 2920): MAIL, RCPT and DATA go in one write to a
server that offers it, and every reply is read for the command it answers, whatever the
server does with them."""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from digest.deliver.message import Wire
from digest.deliver.transport import PermanentError, SmtpConnection, SmtpSettings
from tests.mailing import many_subscribers, outbox, send
from tests.smtpserver import Scripted


def test_mail_goes_in_groups_to_a_server_that_answers_only_whole_groups(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 12))}
    with Scripted(pipelining=True) as server:
        result = send(run, env, server.url)
    assert result.exit_code == 0, result.output
    assert {r.state for r in outbox(db_url).values()} == {"sent"}
    received = sorted(str(message_from_bytes(body, policy=policy.SMTP)["To"])
                      for body in server.received)
    assert received == sorted(f"reader{i}@example.org" for i in range(12))
    assert server.sessions <= 4  # one connection per worker of the pool, kept


def test_a_refused_recipient_whose_data_is_taken_all_the_same_fails_alone(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    """The server refuses the first RCPT but answers its DATA with 354: the client ends
    that empty message with its "." and resets, and the next message goes on the same
    connection."""
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 3)),
           "DIGEST_SMTP_POOL": "1"}
    with Scripted("refuse-then-354", pipelining=True) as server:
        result = send(run, env, server.url)
    assert result.exit_code == 3, result.output  # done, one digest failed
    states = sorted(r.state for r in outbox(db_url).values())
    assert states == ["failed", "sent", "sent"]
    (failed,) = (r for r in outbox(db_url).values() if r.state == "failed")
    assert "550 no such user" in (failed.last_error or "")
    assert len(server.received) == 2 and all(b"Message-ID:" in b for b in server.received)
    assert server.sessions == 1


def test_a_reply_nobody_asked_for_is_not_taken_for_the_next_command(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    """A stray reply after a message's 250 would answer the next MAIL: the connection is
    given up and the next message goes on a new one."""
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 3)),
           "DIGEST_SMTP_POOL": "1"}
    with Scripted("unsolicited", pipelining=True) as server:
        result = send(run, env, server.url)
    assert result.exit_code == 0, result.output
    assert {r.state for r in outbox(db_url).values()} == {"sent"}
    assert len(server.received) == 3
    assert server.sessions == 2


@pytest.mark.parametrize("pipelining", [True, False])
def test_replies_that_come_a_byte_at_a_time_are_read_whole(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str,
        pipelining: bool) -> None:
    """Found by a helper: a reply in more than one segment woke the reader with nothing
    to read yet, and the pass died of an AssertionError."""
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 4))}
    with Scripted("trickle", pipelining=pipelining) as server:
        result = send(run, env, server.url)
    assert result.exit_code == 0, result.output
    assert {r.state for r in outbox(db_url).values()} == {"sent"}
    assert len(server.received) == 4


def test_an_address_that_cannot_go_on_a_command_line_is_refused_alone() -> None:
    """Nothing is written for it, and the connection carries the next message."""
    message = Wire(b"Subject: x\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n")

    async def both(port: int) -> str:
        connection = SmtpConnection(SmtpSettings("127.0.0.1", port, starttls="off",
                                                 timeout=5))
        with pytest.raises(PermanentError) as refused:
            await connection.send(message, "s@example.org", "a b@example.org")
        await connection.send(message, "s@example.org", "b@example.org")
        await connection.close()
        return str(refused.value)

    with Scripted(pipelining=True) as server:
        port = int(server.url.split(":")[-1].split("?")[0])
        assert "cannot go on an SMTP command line" in asyncio.run(both(port))
    assert len(server.received) == 1 and server.sessions == 1
