"""A real SMTP server for tests: aiosmtpd on a free loopback port, recording what it gets;
it offers PIPELINING as real servers do (``pipelining=False``: it does not).

Faults are queued and used one per message: ``"rcpt:450 Try later"`` answers RCPT,
``"data:552 Too big"`` answers DATA, ``"drop"`` hangs up after the data arrived but before
the reply, ``"stall"`` takes the message and answers only after ``stall_seconds``.
``Greeter`` is a bare TCP server whose greeting is a refusal (421).
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """The aiosmtpd handler."""

    received: list[Received] = field(default_factory=list)
    dropped: list[Received] = field(default_factory=list)  # got, but hung up before the 250
    faults: deque[str] = field(default_factory=deque)
    mail_options: list[list[str]] = field(default_factory=list)  # of each MAIL FROM
    sessions: set[int] = field(default_factory=set)
    noops: int = 0  # NOOP commands received
    stall_seconds: float = 3.0
    delay: float = 0.0  # seconds every DATA takes, to make concurrent senders overlap
    pipelining: bool = True  # offered in the EHLO reply, as real servers do
    _fault: str | None = None

    async def handle_EHLO(self, server: Any, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.pipelining:  # before the last line ("250 HELP")
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server: Any, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        self.sessions.add(id(session))
        self.mail_options.append(list(options))
        self._fault = self.faults.popleft() if self.faults else None
        envelope.mail_from = address
        return "250 OK"

    async def handle_NOOP(self, server: Any, session: Session, envelope: Envelope,
                          arg: str) -> str:
        self.noops += 1
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if self._fault and self._fault.startswith("rcpt:"):
            return self._fault[5:]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        fault, self._fault = self._fault, None
        await asyncio.sleep(self.delay)
        if fault and fault.startswith("data:"):
            return fault[5:]
        got = Received(str(envelope.mail_from), list(envelope.rcpt_tos),
                       envelope.original_content or b"")
        if fault == "stall":  # taken, as a real server stores a mail before it answers
            self.received.append(got)
            await asyncio.sleep(self.stall_seconds)
            return "250 Message accepted, at last"
        if fault == "drop":
            self.dropped.append(got)
            server.transport.close()
            return "250 never heard"
        self.received.append(got)
        return "250 Message accepted"


class SmtpServer:
    """aiosmtpd in a thread; ``url`` is what DIGEST_SMTP_URL should say."""

    def __init__(self, *, tls: TlsFiles | None = None, require_starttls: bool = False,
                 password: str | None = None, pipelining: bool = True) -> None:
        self.handler = Recorder(pipelining=pipelining)
        self.port = free_port()
        kwargs: dict[str, Any] = {"auth_require_tls": False}
        if tls is not None:
            kwargs.update(tls_context=tls.server_context(), require_starttls=require_starttls)
        if password is not None:
            kwargs.update(authenticator=_Authenticator(password), auth_required=True)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     **kwargs)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.controller.stop()


class _Authenticator:
    def __init__(self, password: str) -> None:
        self.password = password

    def __call__(self, server: Any, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == self.password.encode()
        return AuthResult(success=ok, handled=False)


@dataclass
class TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1 (trustme)."""

    folder: Path

    def __post_init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.cafile = self.folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.cafile))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context


class _RawServer:
    """A threaded TCP server on a free loopback port, for ``with``."""

    def __init__(self, handler: type[socketserver.BaseRequestHandler], query: str = "") -> None:
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"smtp://127.0.0.1:{self.server.server_address[1]}{query}"

    def __enter__(self) -> Any:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()


class Greeter(_RawServer):
    """A TCP server that greets every client with ``reply`` and hangs up."""

    def __init__(self, reply: bytes = b"421 Too busy, try later\r\n") -> None:
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.sendall(outer.reply)

        self.reply = reply
        super().__init__(Handler)


class Scripted(_RawServer):
    """A small SMTP server over a raw socket that answers like a real one, except where
    ``garble`` says: ``"banner"`` (an SSH server's greeting), ``"ehlo"`` (a garbage EHLO
    reply), ``"after-data"`` ("25O OK" after the body) or ``"long"`` (a 40 KB reply
    line after the body). Messages it accepted are in ``received``; with ``utf8=False``
    it does not offer SMTPUTF8, with ``eight_bit=False`` not 8BITMIME.

    With ``pipelining`` it offers PIPELINING and answers MAIL, RCPT and DATA only once it
    has read all three (a server may hold its replies until the group is in: a client
    that waits for each reply waits for ever), and ``garble`` may also be
    ``"refuse-then-354"`` (the first RCPT refused, its DATA taken all the same) or
    ``"unsolicited"`` (a reply nobody asked for after the first message's 250), and with
    or without it ``"trickle"`` (every reply written a byte at a time).
    ``sessions`` counts connections."""

    def __init__(self, garble: str | None = None, utf8: bool = True,
                 eight_bit: bool = True, pipelining: bool = False) -> None:
        outer = self
        self.garble, self.utf8, self.eight_bit = garble, utf8, eight_bit
        self.pipelining = pipelining
        self.received: list[bytes] = []
        self.sessions = 0
        self.refused = 0  # RCPTs refused

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                outer.converse(self.rfile, self.wfile)

        super().__init__(Handler, "?starttls=off")

    def converse(self, rfile: Any, wfile: Any) -> None:
        if self.garble == "trickle":  # every reply a byte at a time
            wfile = _Trickle(wfile)
        if self.garble == "banner":
            wfile.write(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
            rfile.readline()
            return
        self.sessions += 1
        wfile.write(b"220 scripted ESMTP\r\n")
        while line := rfile.readline():
            verb = line[:4].upper()
            if verb == b"MAIL" and self.pipelining:
                self._group(rfile, wfile)
            elif verb == b"EHLO":
                extensions = (b"250-SMTPUTF8\r\n" if self.utf8 else b"") + (
                    b"250-8BITMIME\r\n" if self.eight_bit else b"") + (
                    b"250-PIPELINING\r\n" if self.pipelining else b"")
                wfile.write(b"\x1b[31mgarbage\r\n" if self.garble == "ehlo" else
                            b"250-scripted\r\n" + extensions + b"250 HELP\r\n")
            elif verb == b"DATA":
                wfile.write(b"354 go ahead\r\n")
                body = b"".join(iter(rfile.readline, b".\r\n"))
                wfile.write(self._after_data(body))
            elif verb == b"QUIT":
                wfile.write(b"221 bye\r\n")
                return
            else:
                wfile.write(b"250 OK\r\n")

    def _group(self, rfile: Any, wfile: Any) -> None:
        """MAIL (read), RCPT and DATA read before any reply is written, then the body."""
        rcpt, data = rfile.readline(), rfile.readline()
        assert rcpt.startswith(b"RCPT TO:") and data.upper() == b"DATA\r\n", (rcpt, data)
        refuse = self.garble == "refuse-then-354" and not self.refused
        self.refused += refuse
        wfile.write(b"250 OK\r\n" + (b"550 no such user\r\n" if refuse else b"250 OK\r\n")
                    + b"354 go ahead\r\n")
        body = b"".join(iter(rfile.readline, b".\r\n"))
        if refuse:
            wfile.write(b"554 no valid recipients\r\n")
            return
        reply = self._after_data(body)
        stray = self.garble == "unsolicited" and len(self.received) == 1
        wfile.write(reply + (b"250 nobody asked\r\n" if stray else b""))  # one write

    def _after_data(self, body: bytes) -> bytes:
        if self.garble == "after-data":
            return b"25O OK\r\n"
        if self.garble == "long":
            return b"250 " + b"x" * 40_000 + b"\r\n"
        self.received.append(body)
        return b"250 OK queued\r\n"


class _Trickle:
    """A writer that sends what it is given a byte at a time."""

    def __init__(self, wfile: Any) -> None:
        self.wfile = wfile

    def write(self, data: bytes) -> None:
        for i in range(len(data)):
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
