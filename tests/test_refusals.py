"""Refusals blamed on the right party, and sending that adapts to the server.

Measured with a real Postfix relay: a relay that refused every mail (552 at MAIL FROM for
its size limit, 550 5.7.1 after the message for its content policy) had every subscriber
marked bouncing after three passes; a relay that allowed one connection (421 to the
others) sent one mail a pass while the pool's other connections burnt the digests'
attempts. Here the servers are aiosmtpd with scripted replies, and a raw SMTP server
that allows one connection at a time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import message_from_bytes, policy
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import select

from digest import defaults
from digest.deliver.replies import (
    BusyError,
    MessageRefused,
    PermanentError,
    SetupError,
    TransientError,
)
from digest.deliver.throttle import Throttle
from digest.deliver.transport import SmtpConnection, SmtpSettings
from digest.store import Store, schema
from tests.mailing import NOW, many_subscribers, outbox, send
from tests.smtpserver import Recorder, Scripted, SmtpServer, free_port


class Refusing(Recorder):
    """Answers as told: ``replies[phase]`` (mail, rcpt or data: after the message) for
    every message, ``by_address[address]`` at RCPT for one address, ``limited`` RCPTs
    (every ``limit_every``-th) with a 451 rate limit; ``events`` are (moment, what)."""

    def __init__(self, replies: dict[str, str] | None = None,
                 by_address: dict[str, tuple[str, str]] | None = None,
                 limit_every: int = 0, limited: int = 0) -> None:
        super().__init__()
        self.replies = replies or {}
        self.by_address = by_address or {}
        self.limit_every, self.limited = limit_every, limited
        self.rcpts = 0
        self.events: list[tuple[float, str]] = []
        self.refused_data = False

    async def handle_MAIL(self, server: Any, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        self.events.append((time.monotonic(), "mail"))
        if "mail" in self.replies:
            return self.replies["mail"]
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        self.rcpts += 1
        phase, reply = self.by_address.get(address, ("", ""))
        if phase == "rcpt":
            return reply
        if self.limit_every and self.limited and self.rcpts % self.limit_every == 0:
            self.limited -= 1
            self.events.append((time.monotonic(), "451"))
            return "451 4.7.1 Rate limit exceeded, slow down"
        if "rcpt" in self.replies:
            return self.replies["rcpt"]
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        phase, reply = self.by_address.get(envelope.rcpt_tos[0], ("", ""))
        if phase == "data":
            return reply
        if "data" in self.replies:
            return self.replies["data"]
        return await super().handle_DATA(server, session, envelope)


# Replies real servers give (Postfix, Gmail, Exchange Online, Exim), the phase they
# answered, and whom they blame.
REAL_REPLIES = [
    ("rcpt", 550, "5.1.1 <bob@example.org>: Recipient address rejected: User unknown",
     PermanentError),
    ("rcpt", 550, "5.2.1 The email account that you tried to reach is disabled.",
     PermanentError),
    ("rcpt", 552, "5.2.2 The email account that you tried to reach is over quota.",
     PermanentError),
    ("rcpt", 553, "sorry, no mailbox here by that name", PermanentError),
    ("rcpt", 554, "5.7.1 <bob@example.org>: Relay access denied", MessageRefused),
    ("rcpt", 550, "5.7.606 Access denied, banned sending IP", MessageRefused),
    ("rcpt", 554, "Transaction failed", MessageRefused),
    ("mail", 552, "5.3.4 Message size exceeds fixed limit", MessageRefused),
    ("mail", 553, "5.7.1 <digest@example.org>: Sender address rejected: not owned by user",
     MessageRefused),
    ("mail", 550, "5.1.8 <digest@example.org>: Sender address rejected: Domain not found",
     MessageRefused),
    ("mail", 554, "5.7.1 Account suspended", MessageRefused),
    ("data", 554, "5.5.1 Error: no valid recipients", MessageRefused),
    ("dot", 550, "5.7.26 Unauthenticated email from example.org is not accepted due to "
     "domain's DMARC policy", MessageRefused),
    ("dot", 550, "5.7.1 Message content rejected, UBE, id=12345", MessageRefused),
    ("dot", 552, "Message size exceeds maximum permitted", MessageRefused),
    ("dot", 554, "5.6.0 Message contains invalid header", MessageRefused),
    ("dot", 550, "5.1.1 The email account that you tried to reach does not exist.",
     PermanentError),
    ("dot", 550, "4.2.2 mailbox full (a 4.x.x code on a 5xx: not trusted)", MessageRefused),
    ("connect", 421, "4.7.0 Error: too many connections from 192.0.2.1", BusyError),
    ("connect", 554, "5.7.1 Service unavailable; Client host blocked", SetupError),
    ("rcpt", 451, "4.7.1 Rate limit exceeded, slow down", TransientError),
]


@pytest.mark.parametrize(("phase", "code", "text", "kind"), REAL_REPLIES)
def test_real_replies_blame_the_right_party(phase: str, code: int, text: str,
                                             kind: type[Exception]) -> None:
    error = SmtpConnection(SmtpSettings("127.0.0.1", 25))._classify(code, text, phase)
    assert type(error) is kind, error
    assert f"{code} {text}" in str(error)


def refusing(handler: Refusing) -> SmtpServer:
    server = SmtpServer()
    server.handler = server.controller.handler = handler
    return server


class OneAtATime(Scripted):
    """A relay that allows one connection: every other one is greeted with a 421 (as
    Postfix's smtpd_client_connection_count_limit does) and closed."""

    def __init__(self) -> None:
        super().__init__(pipelining=True)
        self.lock = threading.Lock()
        self.open = 0
        self.turned_away = 0

    def converse(self, rfile: Any, wfile: Any) -> None:
        with self.lock:
            busy = self.open > 0
            self.turned_away += busy
            self.open += not busy
        if busy:
            wfile.write(b"421 4.7.0 Error: too many connections from 127.0.0.1\r\n")
            return
        try:
            super().converse(rfile, wfile)
        finally:
            with self.lock:
                self.open -= 1


def subscribers(db_url: str) -> dict[str, tuple[int, Any]]:
    """Each subscriber's bounce count and when they were marked bouncing."""
    c = schema.subscribers.c
    with Store(db_url).engine.connect() as conn:
        return {email: (bounces, since) for email, bounces, since in conn.execute(
            select(c.email, c.bounces, c.bouncing_since))}


SETUP_REFUSALS = [
    pytest.param({"mail": "552 5.3.4 Message size exceeds fixed limit"}, "MAIL FROM",
                 id="size-at-mail-from"),
    pytest.param({"data": "550 5.7.1 Message content rejected, UBE"}, "the end of the message",
                 id="content-after-the-message"),
    pytest.param({"rcpt": "554 5.7.1 Relay access denied"}, "RCPT TO", id="relay-denied"),
]


@pytest.mark.parametrize(("replies", "phase"), SETUP_REFUSALS)
def test_a_relay_that_refuses_every_mail_stops_the_pass_and_marks_nobody(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str,
        replies: dict[str, str], phase: str) -> None:
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 12))}
    (reply,) = replies.values()
    with refusing(Refusing(replies)) as relay:
        for minutes in range(3):  # three passes: once, every subscriber was marked
            result = send(run, env, relay.url, NOW + timedelta(minutes=minutes))
            assert result.exit_code == 1, result.output
            error = result.stderr.strip().splitlines()[-1]
            assert error.startswith("Error: smtp://127.0.0.1:")
            assert f"refused the message: {reply} (at {phase}" in error
            assert "the pass stopped after 5 such refusals in a row" in error
        assert relay.received == []
        tried = Counter(t for _, t in relay.handler.events)["mail"]
    assert tried < 3 * 12  # each pass stopped before it had tried every digest
    assert all(bounces == 0 and since is None for bounces, since in subscribers(db_url).values())
    rows = outbox(db_url)
    assert len(rows) == 12 and {r.state for r in rows.values()} == {"retry"}  # still due
    assert all(r.attempts == 0 for r in rows.values())  # the relay's fault, not theirs
    assert any(r.last_error is None for r in rows.values())  # some were never tried
    with SmtpServer() as fixed:  # the operator fixed the relay: the next pass sends them
        again = send(run, env, fixed.url, NOW + timedelta(minutes=3))
    assert again.exit_code == 0, again.output
    assert sorted(r.recipients[0] for r in fixed.received) == sorted(rows)


SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


@contextmanager
def postfix_sink(*options: str) -> Iterator[str]:
    """Postfix's smtp-sink on a free loopback port with these options; its URL."""
    if not os.access(SMTP_SINK, os.X_OK):
        pytest.skip("Postfix's smtp-sink is not installed (scripts/test installs it)")
    port = free_port()
    user = ("-u", "nobody") if os.geteuid() == 0 else ()
    sink = subprocess.Popen([SMTP_SINK, *user, *options, f"127.0.0.1:{port}", "20"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert sink.poll() is None and time.monotonic() < deadline, sink.stderr
                time.sleep(0.05)
        yield f"smtp://127.0.0.1:{port}"
    finally:
        sink.terminate()
        sink.wait(10)


@pytest.mark.parametrize(("options", "reply"), [
    (("-f", "mail"), "552 5.3.4 Message size exceeds fixed limit"),
    (("-f", "."), "550 5.7.1 Message content rejected"),
])
def test_postfix_refusing_every_mail_marks_nobody(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str,
        options: tuple[str, ...], reply: str) -> None:
    """The same against Postfix's own smtp-sink, made to refuse every MAIL FROM, or
    every message after its final dot, with the reply a Postfix relay gives."""
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 10)),
           "DIGEST_BOUNCE_LIMIT": "1"}
    with postfix_sink(*options, "-B", reply) as url:
        result = send(run, env, url)
    assert result.exit_code == 1, result.output
    assert reply in result.stderr and "the pass stopped after 5 such refusals" in result.stderr
    assert all(bounces == 0 and since is None for bounces, since in subscribers(db_url).values())
    assert {(r.state, r.attempts) for r in outbox(db_url).values()} == {("retry", 0)}


def test_a_list_shorter_than_the_run_stops_the_same_way(
        run: Any, mail_env: dict[str, str], db_url: str) -> None:
    reply = "554 5.7.1 Your account is suspended"
    with refusing(Refusing({"mail": reply})) as relay:
        result = send(run, mail_env, relay.url)
    assert result.exit_code == 1, result.output
    assert reply in result.stderr and "the pass stopped after 2 such refusals" in result.stderr
    assert all(bounces == 0 for bounces, _ in subscribers(db_url).values())
    assert {(r.state, r.attempts) for r in outbox(db_url).values()} == {("retry", 0)}


def test_one_message_refused_fails_alone_and_blames_nobody(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 6)),
           "DIGEST_BOUNCE_LIMIT": "1"}
    too_big = ("data", "552 5.3.4 Message size exceeds fixed limit")
    with refusing(Refusing(by_address={"reader2@example.org": too_big})) as relay:
        result = send(run, env, relay.url)
    assert result.exit_code == 3, result.output  # done, one digest failed
    assert "Marked bouncing" not in result.output
    assert len(relay.received) == 5
    rows = outbox(db_url)
    assert rows["reader2@example.org"].state == "failed"
    assert "552 5.3.4" in (rows["reader2@example.org"].last_error or "")
    assert subscribers(db_url)["reader2@example.org"] == (0, None)


@pytest.mark.parametrize(("phase", "reply"), [
    ("rcpt", "550 5.1.1 <reader3@example.org>: Recipient address rejected: User unknown"),
    ("rcpt", "551 User not local; please try <reader3@example.net>"),
    ("data", "550 5.2.1 The email account that you tried to reach is disabled"),
])
def test_an_address_refused_among_good_ones_is_that_subscribers_bounce(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str, phase: str,
        reply: str) -> None:
    """In the same pass another reader's digest is refused as too big: a 5xx too, but
    about the message, so no bounce of theirs."""
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 8))}
    too_big = ("data", "552 5.3.4 Message size exceeds fixed limit")
    refusals = {"reader3@example.org": (phase, reply), "reader5@example.org": too_big}
    with refusing(Refusing(by_address=refusals)) as relay:
        result = send(run, env, relay.url)
    assert result.exit_code == 3, result.output
    assert sorted(r.recipients[0] for r in relay.received) == sorted(
        f"reader{i}@example.org" for i in range(8) if i not in (3, 5))
    bounces = {email: n for email, (n, _) in subscribers(db_url).items()}
    assert bounces == {f"reader{i}@example.org": int(i == 3) for i in range(8)}
    rows = outbox(db_url)
    assert rows["reader3@example.org"].state == rows["reader5@example.org"].state == "failed"


def test_a_relay_that_allows_one_connection_gets_every_digest_in_one_pass(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 30)),
           "DIGEST_SMTP_POOL": "4"}
    with OneAtATime() as relay:
        result = send(run, env, relay.url)
        received = Counter(str(message_from_bytes(body, policy=policy.SMTP)["To"])
                           for body in relay.received)
    assert result.exit_code == 0, result.output
    assert relay.turned_away >= 1  # the pool did try more than one connection
    assert received == Counter(f"reader{i}@example.org" for i in range(30))  # each once
    rows = outbox(db_url)
    assert {r.state for r in rows.values()} == {"sent"}
    assert {r.attempts for r in rows.values()} == {1}  # no attempt burnt on a 421


def test_a_server_that_takes_no_connection_is_not_asked_once_a_digest(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    """The pool shrinks to one connection, which tries a few times, waiting longer each
    time; then the pass ends: one digest waits for a retry, the others for the next
    pass, with no attempt spent."""
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 30))}
    with OneAtATime() as relay:
        relay.open = 1  # another client holds the one connection all along
        result = send(run, env, relay.url)
    assert result.exit_code == 3, result.output  # done, not all sent
    assert relay.turned_away <= defaults.SMTP_POOL - 1 + defaults.BUSY_TRIES
    rows = outbox(db_url)
    assert {r.state for r in rows.values()} == {"retry"}
    assert sum(r.attempts for r in rows.values()) == 1
    assert sum("421 4.7.0" in (r.last_error or "") for r in rows.values()) == 1


def test_a_rate_limit_slows_the_pass_and_every_digest_arrives(
        run: Any, mail_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    env = {**mail_env, "DIGEST_CONFIG": str(many_subscribers(tmp_path, 12)),
           "DIGEST_SMTP_POOL": "1"}
    with refusing(Refusing(limit_every=3, limited=3)) as relay:
        first = send(run, env, relay.url)
        assert first.exit_code == 3, first.output  # done; three wait for a retry
        events = list(relay.handler.events)
        again = send(run, env, relay.url, NOW + timedelta(minutes=6))
        assert again.exit_code == 0, again.output
        received = Counter(r.recipients[0] for r in relay.received)
    assert received == Counter(f"reader{i}@example.org" for i in range(12))
    rows = outbox(db_url)
    assert {r.state for r in rows.values()} == {"sent"}
    assert sorted(r.attempts for r in rows.values()) == [1] * 9 + [2] * 3
    # After each 451 the next mail waited the gap, which doubles at each one.
    gaps = [later - moment for (moment, what), (later, _) in pairwise(events)
            if what == "451"]
    first_gap = defaults.SLOW_FIRST_SECONDS
    assert len(gaps) == 3
    assert all(gap >= first_gap * 2 ** n for n, gap in enumerate(gaps)), gaps


def test_the_throttle_shrinks_and_creeps_back() -> None:
    """The pool: one connection fewer each time the server turns one away (never none),
    one more after RAMP_SUCCESSES mails in a row; the gap: widened once for replies that
    come together, halved after such a run, gone below its first step (the rate-limit
    test shows it doubling)."""

    async def scenario() -> None:
        throttle = Throttle(4)
        parked = []
        for _ in range(3):  # three workers turned away park; the fourth carries on
            assert throttle.turned_away()
            parked.append(asyncio.create_task(throttle.park()))
            await asyncio.sleep(0)
        assert not throttle.turned_away()
        assert (throttle.limit, throttle.active) == (1, 1)
        throttle.slow_down()
        throttle.slow_down()  # a reply to a mail sent at the same time: counted once
        assert throttle.gap == defaults.SLOW_FIRST_SECONDS
        for limit, gap in ((2, 0.0), (3, 0.0)):
            for _ in range(defaults.RAMP_SUCCESSES):
                throttle.went_through()
            for _ in range(3):
                await asyncio.sleep(0)
            assert (throttle.limit, throttle.gap) == (limit, gap)
            assert (throttle.active, sum(p.done() for p in parked)) == (limit, limit - 1)
        throttle.leave()  # a worker is done: the parked one takes its place
        await asyncio.wait_for(asyncio.gather(*parked), 5)
        assert throttle.active == 3

    asyncio.run(scenario())
