"""What a server's refusal means: the reply as data (phase, code, enhanced status code)
and the errors a send raises, by what they ask of the pass (try again later, count a
bounce, blame nobody, or stop: the set-up is wrong)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.errors import ConfigError, DigestError


@dataclass(frozen=True)
class Reply:
    """A server's reply that refused something, as data: the phase of the session it
    answered (connect, mail, rcpt, data, dot: after the message's final dot), its code
    and its enhanced status code (``5.7.1``; empty when the server gave none)."""

    phase: str
    code: int
    status: str = ""

    @property
    def subject(self) -> str:
        """The status code's subject: 1 addressing, 2 mailbox, 3 mail system, 4 network,
        5 protocol, 6 content, 7 security or policy (RFC 3463); empty when unknown."""
        return self.status.split(".")[1] if self.status else ""


_STATUS = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def reply_of(phase: str, code: int, text: str) -> Reply:
    """The reply, with the enhanced status code its text starts with when it has one of
    the reply's class (a 5xx reply with a 4.x.x code has none that can be trusted)."""
    found = _STATUS.match(text.lstrip())
    status = found.group(0) if found and found.group(1) == str(code)[0] else ""
    return Reply(phase, code, status)


class TransientError(DigestError):
    """This message could not be sent now; a later attempt may succeed."""

    reply_class = "none"  # no reply: a timeout, a dropped or refused connection
    reply: Reply | None = None  # the server's reply, when it gave one


class BusyError(TransientError):
    """The server turned a connection away (refused or reset it, or greeted it with a
    4xx): the pass uses fewer connections, and the message goes on another one."""


class ProtocolError(TransientError):
    """The server's reply was not SMTP (another service on the port, a broken server):
    try the message again later; a pass stops when replies keep being like this."""

    reply_class = "invalid"


class PermanentError(DigestError):
    """The server refused this address for good (a 5xx reply to RCPT about the address,
    or a 5.1.x or 5.2.x status code): a bounce, counted against the subscriber."""

    reply_class = "5xx"
    reply: Reply | None = None


class MessageRefused(PermanentError):
    """The server refused the message or its sender for good, not the address (at MAIL
    FROM, or at DATA about the message: size, content, policy, DMARC, the relay's
    account; or at RCPT for policy, 5.7.x, such as relay denied): no bounce is counted,
    and the same refusal for many messages in a row is the set-up's problem."""


class SetupError(ConfigError):
    """The mail set-up is wrong (login, TLS, address): no message can be sent."""
