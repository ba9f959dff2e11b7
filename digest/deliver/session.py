"""One SMTP session's mail transactions, with the commands in groups where the server
allows it (PIPELINING, RFC 2920).

aiosmtplib opens the session (greeting, STARTTLS, EHLO, login); then a ``Session`` takes
the connection over and sends each message as MAIL, RCPT and DATA in one write and the
message in a second, two round trips instead of four (one command at a time to a server
that does not offer PIPELINING). aiosmtplib cannot do that: its protocol keeps one parsed
reply and drops what arrives while it waits to be read. Here every complete reply is
kept, in order, for the command it answers. Failures are raised as aiosmtplib's
exceptions, so that they are classified as those of any other command.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import aiosmtplib
from aiosmtplib.email import quote_address

# aiosmtplib's bounds: a longer reply line, or a longer reply, is not SMTP.
MAX_LINE = 8192
MAX_REPLY = MAX_LINE * 4


class DataRefused(aiosmtplib.SMTPDataError):
    """The server refused the message after its final dot (not the DATA command)."""


class SilentServer(aiosmtplib.SMTPReadTimeoutError):
    """No reply within ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Timed out waiting for server response ({seconds:g} s)")
        self.seconds = seconds


class Session(asyncio.Protocol):
    """The replies of one connection (``take_over``), read in the order of the commands
    they answer; a reply is a line ``250 OK``, or lines ``250-...`` ending with one such."""

    def __init__(self, smtp: aiosmtplib.SMTP, timeout: float,
                 data_timeout: float | None = None) -> None:
        assert smtp.transport is not None, "take_over an open session"
        self.smtp, self.timeout = smtp, timeout
        # The reply to the message's final dot: the server may be scanning or storing it
        # (RFC 5321 4.5.3.2.6 gives it 10 minutes); given up on sooner, a mail the server
        # then accepts is sent again.
        self.data_timeout = max(timeout, data_timeout or timeout)
        self.extensions = frozenset(smtp.esmtp_extensions)
        self.transport: asyncio.Transport = smtp.transport  # type: ignore[assignment]
        self._buffer = bytearray()
        self._scanned = 0  # the buffer's lines before this are a reply's first lines
        self._replies: deque[aiosmtplib.SMTPResponse] = deque()
        self._ended: Exception | None = None  # the connection was lost, or a reply garbled
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()

    @classmethod
    def take_over(cls, smtp: aiosmtplib.SMTP, timeout: float,
                  data_timeout: float | None = None) -> Session:
        """The connection of ``smtp`` (open, greeted) read and written by a new Session;
        ``smtp`` only closes it from now on."""
        session = cls(smtp, timeout, data_timeout)
        session.transport.set_protocol(session)
        return session

    @property
    def is_open(self) -> bool:
        """Connected, and nothing came that no command asked for (a reply left over
        would be taken for the answer to the next command)."""
        return self._ended is None and not self._replies and not self._buffer and (
            not self.transport.is_closing())

    def supports(self, extension: str) -> bool:
        return extension.lower() in self.extensions

    # -- asyncio.Protocol ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._ended is None and (end := self._buffer.find(b"\n", self._scanned)) >= 0:
            self._line(self._scanned, end + 1)
        if len(self._buffer) - self._scanned > MAX_LINE or self._scanned > MAX_REPLY:
            self._end(aiosmtplib.SMTPResponseException(-1, "Response too long"))
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        lost = aiosmtplib.SMTPServerDisconnected("Connection lost")
        lost.__cause__ = exc
        self._end(lost)
        self._wake()

    def eof_received(self) -> bool:
        self._end(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        self._wake()
        return False  # close the transport

    # -- reading replies -----------------------------------------------------------------

    def _line(self, start: int, end: int) -> None:
        """The line at ``start:end`` of the buffer: a reply's continuation (``250-``), or
        its last line (``250 ...``), which completes the reply."""
        line = bytes(self._buffer[start:end])
        if end - start > MAX_LINE or not line[:3].isdigit() or line[3:4] not in (
                b" ", b"-", b"\r", b"\n"):
            shown = line[:200].decode("utf-8", "ignore")
            self._end(aiosmtplib.SMTPResponseException(
                -1, f"Malformed SMTP response line: {shown}"))
        elif line[3:4] == b"-":
            self._scanned = end
        else:
            text = bytes(self._buffer[:end])
            del self._buffer[:end]
            self._scanned = 0
            message = b"\n".join(part[4:].strip(b" \t\r\n")
                                  for part in text.split(b"\n")[:-1])
            self._replies.append(aiosmtplib.SMTPResponse(
                int(line[:3]), message.decode("utf-8", "surrogateescape")))

    def _end(self, error: Exception) -> None:
        if self._ended is None:
            self._ended = error

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def reply(self, timeout: float | None = None) -> aiosmtplib.SMTPResponse:
        """The next reply; raises as aiosmtplib does: SMTPServerDisconnected,
        SMTPReadTimeoutError, or SMTPResponseException(-1) for a reply that is not SMTP.
        A reply given up on ends the session (it must never pair with a later command)."""
        seconds = timeout or self.timeout
        deadline = self._loop.time() + seconds
        while not self._replies and self._ended is None:  # woken by each part that comes
            self._waiter = self._loop.create_future()
            timer = self._loop.call_at(deadline, self._time_out, self._waiter, seconds)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        if self._replies:
            return self._replies.popleft()
        assert self._ended is not None
        self.close()
        raise self._ended

    def _time_out(self, waiter: asyncio.Future[None], seconds: float) -> None:
        self._end(SilentServer(seconds))
        if not waiter.done():
            waiter.set_result(None)

    def write(self, data: bytes) -> None:
        if self._ended is not None or self.transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self.transport.write(data)

    # -- commands ------------------------------------------------------------------------

    async def command(self, line: bytes) -> aiosmtplib.SMTPResponse:
        self.write(line + b"\r\n")
        return await self.reply()

    async def transaction(self, sender: str, recipient: str, options: list[str],
                          encoding: str, payload: bytes) -> None:
        """MAIL, RCPT and DATA (in one write with PIPELINING), then the payload (the
        message, dot-stuffed, and the final ``.`` line). Raises SMTPSenderRefused,
        SMTPRecipientRefused or SMTPDataError (``DataRefused`` after the final dot) on a
        refusal, after resetting the envelope, so that the refusal can be blamed on the
        sender, the address or the message; ValueError for an address that cannot go on
        a command line."""
        mail = f"MAIL FROM:{quote_address(sender)}{''.join(' ' + o for o in options)}"
        commands = (mail.encode(encoding), f"RCPT TO:{quote_address(recipient)}".encode(
            encoding), b"DATA")
        replies = await self._send(commands)
        refusal: aiosmtplib.SMTPResponseException | None = None
        if replies[0].code != 250:
            refusal = aiosmtplib.SMTPSenderRefused(*replies[0], sender)
        elif replies[1].code not in (250, 251):
            refusal = aiosmtplib.SMTPRecipientRefused(*replies[1], recipient)
        elif replies[2].code != 354:
            refusal = aiosmtplib.SMTPDataError(*replies[2])
        taken = refusal is not None and len(replies) == 3 and replies[2].code == 354
        if refusal is None:
            self.write(payload)
            done = await self.reply(self.data_timeout)
            if done.code == 250:
                return
            refusal = DataRefused(*done)
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPException):
            if taken:  # DATA was taken although the envelope was refused: no message
                await self.command(b".")
            await self.command(b"RSET")
        raise refusal

    async def _send(self, commands: tuple[bytes, ...]) -> list[aiosmtplib.SMTPResponse]:
        """The replies to ``commands``: all of them sent at once with PIPELINING, else
        one at a time until one is refused."""
        if self.supports("pipelining"):
            self.write(b"\r\n".join(commands) + b"\r\n")
            return [await self.reply() for _ in commands]
        replies = []
        for line, wanted in zip(commands, (250, 250, 354), strict=True):
            replies.append(reply := await self.command(line))
            if reply.code != wanted and not (wanted == 250 and reply.code == 251):
                break
        return replies

    async def quit(self) -> None:
        with contextlib.suppress(TimeoutError, aiosmtplib.SMTPException, OSError):
            await asyncio.wait_for(self.command(b"QUIT"), timeout=2)
        self.close()

    def close(self) -> None:
        self._end(aiosmtplib.SMTPServerDisconnected("Connection closed"))
        self.smtp.close()
