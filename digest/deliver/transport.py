"""Transports: how a finished message leaves. The mailer never formats content.

``SmtpTransport`` speaks SMTP: aiosmtplib opens each session (STARTTLS when offered, or
required, or off; implicit TLS for ``smtps://``; EHLO, login) and ``digest.deliver.session``
carries the messages (MAIL, RCPT and DATA in one write when the server offers PIPELINING),
one connection per worker, reused across messages and re-opened when the server drops it.
``MaildirTransport`` writes to a Maildir when no SMTP server is configured. Each failure
is classified by where in the session it came (``Reply.phase``) and by the reply's code and
enhanced status code (RFC 3463): ``TransientError`` (try again later; ``BusyError`` when
the server turned a connection away), ``PermanentError`` (the server refused this address
for good: a bounce), ``MessageRefused`` (it refused the message or its sender: nobody's
address is to blame) or ``SetupError`` (the mail set-up is wrong, so every message would
fail: the pass stops); they live in ``digest.deliver.replies``. Credentials never appear
in any message.
"""

from __future__ import annotations

import contextlib
import mailbox
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from digest import defaults
from digest.deliver.message import EightBit, Envelope, Wire, seven_bit
from digest.deliver.replies import (
    BusyError,
    MessageRefused,
    PermanentError,
    ProtocolError,
    Reply,
    SetupError,
    TransientError,
    reply_of,
)
from digest.deliver.session import DataRefused, Session
from digest.errors import ConfigError, DigestError
from digest.settings import number_setting
from digest.text import one_line

# A message as built (``build_message`` gives the wire bytes) or an ``EmailMessage``.
Message = bytes | EmailMessage


def wire_bytes(message: Message) -> bytes:
    """The message as it goes over SMTP: CRLF line ends."""
    return message if isinstance(message, bytes) else message.as_bytes(policy=SMTP)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the SMTP server (from DIGEST_SMTP_URL and friends)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: str = "auto"  # auto (when offered) | required | off
    timeout: float = defaults.SMTP_TIMEOUT
    data_timeout: float = defaults.SMTP_DATA_TIMEOUT  # for the reply to the final dot
    pool: int = defaults.SMTP_POOL
    rate: float = 0.0  # messages per second; 0 = no limit
    cafile: str | None = None
    helo: str = "localhost"  # the name EHLO gives: DIGEST_HELO, else DIGEST_FROM's domain

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpSettings | None:
        """Settings from DIGEST_SMTP_URL (None when unset: use the Maildir).

        Raises ConfigError naming the setting, never echoing a password.
        """
        url = env.get("DIGEST_SMTP_URL", "").strip()
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError("DIGEST_SMTP_URL must look like smtp://user@host:587 or "
                              "smtps://user@host:465")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        starttls = query.pop("starttls", "auto")
        if starttls not in ("auto", "required", "off"):
            raise ConfigError("DIGEST_SMTP_URL: starttls must be required or off")
        if query:
            raise ConfigError(f"DIGEST_SMTP_URL: unknown option {sorted(query)[0]!r}; "
                              "the only one is starttls=required|off")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 587)
        except ValueError as e:
            raise ConfigError("DIGEST_SMTP_URL has an invalid port") from e
        return cls(
            host=parts.hostname, port=port,
            username=unquote(parts.username) if parts.username else None,
            password=env.get("DIGEST_SMTP_PASSWORD") or (
                unquote(parts.password) if parts.password else None),
            implicit_tls=parts.scheme == "smtps", starttls=starttls,
            timeout=number_setting(env, "DIGEST_SMTP_TIMEOUT"),
            data_timeout=number_setting(env, "DIGEST_SMTP_DATA_TIMEOUT"),
            pool=max(1, int(number_setting(env, "DIGEST_SMTP_POOL"))),
            rate=number_setting(env, "DIGEST_SMTP_RATE"),
            cafile=env.get("DIGEST_SMTP_CAFILE") or None,
            helo=_helo(env),
        )

    @property
    def where(self) -> str:
        """The server, for messages: scheme, host and port, no credentials."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*"
                       r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\]")


def _helo(env: Mapping[str, str]) -> str:
    """DIGEST_HELO, else the domain of DIGEST_FROM: receivers weigh a greeting that names
    a real host, and ``localhost`` (aiosmtplib's fallback is this machine's name) is not
    one. ConfigError when it is not a host name or an address literal."""
    name = (env.get("DIGEST_HELO") or "").strip()
    if not name:
        sender = Envelope.parse(env.get("DIGEST_FROM") or defaults.MAIL_FROM, "")
        with contextlib.suppress(UnicodeError):
            return sender.domain.encode("idna").decode("ascii")
        return "localhost"
    if not _HOSTNAME.fullmatch(name):
        raise ConfigError(f"DIGEST_HELO {name!r} is not a host name; give this machine's "
                          "name as the world sees it (its PTR record), like mail.example.org")
    return name


# A connection idle for longer is asked (NOOP) whether it is still open before it carries
# a message: servers drop idle sessions. One in steady use is not (a round trip a mail).
IDLE_CHECK_SECONDS = 5.0


class Connection(Protocol):
    async def send(self, message: Message, sender: str, recipient: str) -> None: ...
    async def close(self) -> None: ...


class Transport(Protocol):
    workers: int
    description: str

    def connection(self) -> Connection: ...


class SmtpTransport:
    """SMTP through a small pool of reused connections (one per worker)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.workers = settings.pool
        self.description = settings.where

    def connection(self) -> SmtpConnection:
        return SmtpConnection(self.settings)


class SmtpConnection:
    """One SMTP session, opened on first use and re-opened after a drop or an error:
    aiosmtplib opens it (TLS, EHLO, login), a ``Session`` carries the messages."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._session: Session | None = None
        self._used = 0.0  # when the connection last carried a message (monotonic)

    async def send(self, message: Message, sender: str, recipient: str) -> None:
        """Send one message; raises TransientError (ProtocolError when the reply was not
        SMTP, BusyError when the server turned the connection away), PermanentError (the
        address refused; MessageRefused: the message or its sender) or SetupError.
        Failures are classified by where they happen, by exception type and by the
        reply's codes: only connecting, TLS, EHLO and login can be a set-up error; what
        goes wrong with one message is that message's."""
        data = wire_bytes(message)
        try:
            session = await self._ready()
        except Exception as e:
            await self.close()
            raise self._setup_failure(e) from e
        try:
            await self._transaction(session, sender, recipient, data)
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPNotSupported, ValueError) as e:
            raise self._message_failure(e, recipient) from e  # the session is still good
        except Exception as e:
            await self.close()
            raise self._message_failure(e, recipient) from e
        self._used = time.monotonic()

    def _setup_failure(self, e: Exception) -> Exception:
        """What connecting (greeting, EHLO, STARTTLS, login) failing means."""
        where = self.settings.where
        if isinstance(e, aiosmtplib.SMTPAuthenticationError):
            return SetupError(f"{where} refused the login ({one_line(f'{e.code} {e.message}')});"
                              " check the user in DIGEST_SMTP_URL and DIGEST_SMTP_PASSWORD")
        if isinstance(e, aiosmtplib.SMTPConnectError):
            return self._connect_error(e)
        if (said := self._reply_or_silence(e, "connect")) is not None:
            return said
        if isinstance(e, (aiosmtplib.SMTPException, ssl.SSLError)):
            return self._tls_error(e)
        if isinstance(e, OSError):  # reset while greeting
            return BusyError(f"connection to {where} failed: {one_line(str(e))}")
        return e

    def _message_failure(self, e: Exception, recipient: str) -> Exception:
        """What one message's MAIL, RCPT or DATA failing means: never a set-up error
        (that would stop every pass at this subscriber) unless the server says so (530)."""
        where = self.settings.where
        if isinstance(e, aiosmtplib.SMTPNotSupported):
            refused = PermanentError(f"{where} cannot take the address {recipient!r}: it is "
                                     "not plain ASCII and the server does not offer SMTPUTF8")
            refused.reply_class = "unsupported"
            return refused
        if isinstance(e, ValueError):  # aiosmtplib's quote_address: nothing was sent
            refused = PermanentError(f"the address {recipient!r} cannot go on an SMTP command "
                                     f"line ({one_line(str(e))}); correct it")
            refused.reply_class = "unsupported"
            return refused
        if (said := self._reply_or_silence(e, _phase(e))) is not None:
            return said
        if isinstance(e, (aiosmtplib.SMTPException, OSError)):  # ssl.SSLError is an OSError
            return TransientError(f"sending to {where} failed: {one_line(str(e))}")
        return e

    def _reply_or_silence(self, e: Exception, phase: str) -> DigestError | None:
        """The server's reply classified, or its silence (a timeout, a hang-up) as a
        transient fault; None for anything else."""
        where = self.settings.where
        if isinstance(e, aiosmtplib.SMTPResponseException):
            return self._classify(e.code, e.message, phase)
        if isinstance(e, (TimeoutError, aiosmtplib.SMTPTimeoutError)):
            seconds = getattr(e, "seconds", self.settings.timeout)
            return TransientError(f"{where} did not answer within {seconds:g} s")
        if isinstance(e, aiosmtplib.SMTPServerDisconnected):
            hung_up = BusyError if phase == "connect" else TransientError
            return hung_up(f"{where} closed the connection ({one_line(str(e))})")
        return None

    async def _transaction(self, session: Session, sender: str, recipient: str,
                           data: bytes) -> None:
        """One message's MAIL, RCPT and DATA (``Session.transaction``). The message goes
        out as it is once it is known to have CRLF line ends only (aiosmtplib's sendmail
        re-normalises every message, twice with SIZE: a third of the CPU of sending a 40 KB
        digest). A message with an 8bit part says so (BODY=8BITMIME), or is re-encoded
        when the server does not offer that."""
        utf8 = not (sender.isascii() and recipient.isascii())
        if utf8 and not session.supports("smtputf8"):
            raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
        options = ["SMTPUTF8"] if utf8 else []
        if isinstance(data, EightBit):
            if session.supports("8bitmime"):
                options.append("BODY=8BITMIME")
            else:
                data = seven_bit(data)
        payload = data_payload(data)
        if session.supports("size"):
            options.insert(0, f"SIZE={len(payload) - 3}")  # the octets before "."
        await session.transaction(sender, recipient, options, "utf-8" if utf8 else "ascii",
                                  payload)

    async def _ready(self) -> Session:
        session = self._session
        if session is not None and session.is_open:
            if time.monotonic() - self._used < IDLE_CHECK_SECONDS:
                return session  # in use a moment ago: no round trip to ask
            with contextlib.suppress(aiosmtplib.SMTPException):
                if (await session.command(b"NOOP")).code == 250:
                    return session  # the server may have dropped an idle connection
        await self.close()
        s = self.settings
        tls = ssl.create_default_context(cafile=s.cafile) if s.cafile else None
        smtp = aiosmtplib.SMTP(
            hostname=s.host, port=s.port, timeout=s.timeout, use_tls=s.implicit_tls,
            start_tls={"auto": None, "required": True, "off": False}[s.starttls],
            tls_context=tls, username=s.username, password=s.password,
            local_hostname=s.helo)
        await smtp.connect()
        try:
            if smtp.is_ehlo_or_helo_needed:  # the extensions are known after EHLO
                await _hello(smtp)
        except BaseException:
            smtp.close()
            raise
        self._session = Session.take_over(smtp, s.timeout, s.data_timeout)
        return self._session

    def _classify(self, code: int, message: str, phase: str) -> DigestError:
        """A reply that refused something, by its code, its enhanced status code and the
        phase it answered: a 4xx while connecting turns the connection away, a 5xx then
        refuses every message (the set-up); later a 5xx is the address's (a bounce) only
        when it is about the address (``_blames_address``)."""
        where = self.settings.where
        reply = one_line(f"{code} {message}")  # a server's reply: no CR, LF, NUL, ESC
        if not 400 <= code < 600:  # aiosmtplib's -1: a line that is not an SMTP reply
            return ProtocolError(f"{where} answered with something that is not an SMTP "
                                 f"reply ({reply}); check that DIGEST_SMTP_URL names the "
                                 "mail server's host and port")
        if code == 530:
            return SetupError(f"{where} requires something first ({reply}); "
                              "if it wants STARTTLS, drop ?starttls=off from DIGEST_SMTP_URL")
        if code >= 500 and phase == "connect":
            return SetupError(f"{where} takes no mail from this machine ({reply}); check "
                              "DIGEST_SMTP_URL, or ask the server's administrator")
        said = reply_of(phase, code, message)
        error: TransientError | PermanentError
        if code < 500:
            error = (BusyError if phase == "connect" else TransientError)(
                f"{where} answered {reply}")
            error.reply_class = "4xx"
        elif _blames_address(said):
            error = PermanentError(f"{where} refused the message: {reply}")
        else:
            error = MessageRefused(f"{where} refused the message: {reply} (at {_PHASES[phase]}:"
                                   " the message or its sender, not the address)")
        error.reply = said
        return error

    def _connect_error(self, e: aiosmtplib.SMTPConnectError) -> DigestError:
        if isinstance(e.__cause__, ssl.SSLError) or "SSL" in str(e) or "TLS" in str(e):
            return self._tls_error(e)
        if isinstance(e, aiosmtplib.SMTPConnectResponseError):
            return self._classify(e.code, e.message, "connect")
        refused = TransientError if isinstance(e, aiosmtplib.SMTPTimeoutError) else BusyError
        return refused(f"cannot connect to {self.settings.where}: {one_line(str(e))}")

    def _tls_error(self, e: Exception) -> DigestError:
        s = self.settings
        if s.implicit_tls:
            hint = ("the server may expect STARTTLS on this port: use smtp:// instead of "
                    "smtps:// in DIGEST_SMTP_URL")
        elif s.starttls == "required" and "STARTTLS" in str(e).upper():
            hint = "the server does not offer STARTTLS, which ?starttls=required demands"
        else:
            hint = "check the server's certificate, or DIGEST_SMTP_CAFILE for a private CA"
        return SetupError(f"TLS with {s.where} failed ({one_line(str(e))}); {hint}")

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.quit()


_PHASES = {"mail": "MAIL FROM", "rcpt": "RCPT TO", "data": "DATA",
           "dot": "the end of the message"}


def _phase(e: Exception) -> str:
    """The phase of a transaction a refusal answered (see ``Session.transaction``)."""
    if isinstance(e, aiosmtplib.SMTPSenderRefused):
        return "mail"
    if isinstance(e, aiosmtplib.SMTPRecipientRefused):
        return "rcpt"
    return "dot" if isinstance(e, DataRefused) else "data"


def _blames_address(reply: Reply) -> bool:
    """Whether a 5xx refusal is about the address (a bounce): at RCPT, unless its status
    code is about the mail system, the content or policy (5.3.x, 5.6.x, 5.7.x: relay
    denied, say), or, with no status code, a plain 550, 551, 552 or 553; at DATA or
    after the message only a 5.1.x (addressing) or 5.2.x (mailbox: disabled, full);
    never at MAIL FROM, which is about the sender."""
    if reply.phase == "rcpt":
        if reply.subject in ("", "0"):
            return reply.code in (550, 551, 552, 553)
        return reply.subject not in ("3", "6", "7")
    return reply.phase in ("data", "dot") and reply.subject in ("1", "2")


async def _hello(smtp: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO when the server does not know EHLO."""
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError:
        if not smtp.is_connected:
            raise
        await smtp.helo()


_LINE_END = re.compile(rb"\r\n|\r|\n")


def data_payload(message: bytes) -> bytes:
    """What follows DATA: the message with CRLF line ends, a leading dot doubled on every
    line, and the final ``.`` line. A message whose line ends are all CRLF already (what
    ``build_message`` and the SMTP policy give) is only dot-stuffed, with two counts and
    a replace in C instead of regular expressions over every line; a ``Wire`` message
    is ready as it is."""
    if isinstance(message, Wire):
        return message + b".\r\n"
    lines = message.count(b"\n")
    if lines != message.count(b"\r\n") or lines != message.count(b"\r"):
        message = _LINE_END.sub(b"\r\n", message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\n.", b"\n..") + b".\r\n"


class MaildirTransport:
    """Delivery into a Maildir (``DIGEST_MAILDIR``, default ./outbox), when no SMTP server
    is configured; any mail client or ``mailbox.Maildir`` reads it."""

    workers = 1

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"Maildir {path}"

    def connection(self) -> MaildirConnection:
        return MaildirConnection(self.path)


class MaildirConnection:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, message: Message, sender: str, recipient: str) -> None:
        try:
            mailbox.Maildir(self.path, create=True).add(
                wire_bytes(message).replace(b"\r\n", b"\n"))
        except OSError as e:
            raise SetupError(f"cannot write to the Maildir {self.path}: {e.strerror}; "
                             "check DIGEST_MAILDIR") from e

    async def close(self) -> None:
        return None


def transport_from_env(env: Mapping[str, str]) -> Transport:
    """SMTP when ``env``'s DIGEST_SMTP_URL is set, else the Maildir at DIGEST_MAILDIR
    (``digest.app`` builds the one transport of a run with it)."""
    smtp = SmtpSettings.from_env(env)
    if smtp is not None:
        return SmtpTransport(smtp)
    return MaildirTransport(Path(env.get("DIGEST_MAILDIR") or defaults.MAILDIR))
