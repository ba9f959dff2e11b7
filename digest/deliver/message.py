"""Building the email message of a rendered digest. Pure.

Headers are built with ``email.headerregistry.Address`` and the SMTP policy, never by
string concatenation; every value from configuration or sources is one line.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, parseaddr

from digest.errors import ConfigError
from digest.model import Rendered
from digest.render import one_line
from digest.vocab import MessageKind


@dataclass(frozen=True)
class Envelope:
    """Who sends and how the list names itself, from DIGEST_FROM and DIGEST_NAME."""

    sender: Address
    list_name: str

    @classmethod
    def parse(cls, sender: str, list_name: str) -> Envelope:
        """Raises ConfigError when DIGEST_FROM is not an address."""
        name, addr = parseaddr(sender)
        local, at, domain = addr.rpartition("@")
        try:
            if not (local and at and domain) or one_line(addr) != addr:
                raise ValueError("it needs a local part, an @ and a domain")
            address = Address(one_line(name) or one_line(list_name), local, domain)
        except (ValueError, HeaderParseError) as e:
            raise ConfigError(f"DIGEST_FROM {sender!r} is not an address ({e}); write it like "
                              "'Paper Digest <digest@example.org>'") from e
        return cls(address, one_line(list_name))

    @property
    def domain(self) -> str:
        return self.sender.domain

    @property
    def list_id(self) -> str:
        return f"{self.list_name} <digest.{self.domain}>"

    def message_id(self, ref: str, kind: str, period: datetime) -> str:
        """Stable per outbox row (one per subscriber, by their random ref, and period), so
        a retried digest is recognisable as the same mail; no row id in it."""
        return f"<{kind}-{ref}-{period:%Y%m%dT%H%M%S%f}@{self.domain}>"


class Wire(bytes):
    """A message as ``Composer`` builds it: CRLF line ends only, and no line that starts
    with a dot (a part with one is encoded, and the text part then writes such a dot
    ``=2E``), so that SMTP sends it as it is, without the scans and the dot-stuffing
    another message needs (a fifth of a millisecond for a 60 KB digest)."""


class EightBit(Wire):
    """A ``Wire`` message with an 8bit part (text that is not ASCII, unencoded): it goes
    with BODY=8BITMIME, or through ``seven_bit`` to a server that does not offer it."""


def build_message(
    rendered: Rendered, *, envelope: Envelope, to_name: str, to_email: str,
    message_id: str, date: datetime, unsubscribe_url: str,
) -> Wire:
    """``multipart/alternative`` with the text part first and the HTML part last, as the
    bytes that go on the wire (CRLF line ends; each part unencoded where it can be,
    ``_part``)."""
    return Composer(envelope).build(rendered, to_name=to_name, to_email=to_email,
                                    message_id=message_id, date=date,
                                    unsubscribe_url=unsubscribe_url)


class Composer:
    """Builds digest messages without the per-message work of ``email.message``: the
    headers every mail shares are formatted once; the rest take the fast path when they
    are plain ASCII that fits a line, else the SMTP policy folds and encodes them; bodies
    go unencoded when their lines allow, else ``binascii`` encodes them, in C (``_part``)."""

    def __init__(self, envelope: Envelope, sign: Callable[[Wire], Wire] | None = None) -> None:
        self.envelope = envelope
        self._sender = envelope.sender.addr_spec
        self._shared = _header("From", envelope.sender) + _list_id(envelope) + (
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            b"Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n")
        self._sign = sign  # DKIM (``digest.deliver.dkim``), once per message
        self._feedback: dict[str, bytes] = {}

    def feedback_id(self, kind: str) -> bytes:
        """Feedback-ID (Gmail's complaint statistics, ``a:b:c:SenderId``): the mail's kind,
        the list and the sending domain, the same for every subscriber."""
        if kind not in self._feedback:
            slug = re.sub(r"[^a-z0-9]+", "-", self.envelope.list_name.lower()).strip("-")
            self._feedback[kind] = _header(
                "Feedback-ID", f"{kind}:{slug or 'list'}:digest:{self.envelope.domain}")
        return self._feedback[kind]

    def build(self, rendered: Rendered, *, to_name: str, to_email: str, message_id: str,
              date: datetime, unsubscribe_url: str, unsubscribe_mailto: str | None = None,
              kind: str = MessageKind.DIGEST) -> Wire:
        """``unsubscribe_mailto``: the address of List-Unsubscribe's mailto (a tokened
        one, ``MailSettings.unsubscribe_mailto``), else DIGEST_FROM with subject
        unsubscribe."""
        mailto = unsubscribe_mailto or f"{self._sender}?subject=unsubscribe"
        local, _, domain = to_email.rpartition("@")
        boundary = f"=_{hashlib.blake2b(message_id.encode(), digest_size=12).hexdigest()}"
        head = b"".join((
            _header("To", Address(one_line(to_name), local, domain)),
            _header("Subject", one_line(rendered.subject)),
            _header("Date", format_datetime(date)),
            _header("Message-ID", message_id),
            _header("List-Unsubscribe", f"<{unsubscribe_url}>, <mailto:{mailto}>"),
            self.feedback_id(kind),
            self._shared,
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()))
        mark = f"--{boundary}\r\n".encode()
        (text, eight), (html, _) = _part("plain", rendered.text), _part("html", rendered.html)
        data = b"".join((head, mark, text, mark, html, f"--{boundary}--\r\n".encode()))
        message = EightBit(data) if eight else Wire(data)
        return self._sign(message) if self._sign else message


_SAFE_HEADER = re.compile(r"[ -~]*")


def _header(name: str, value: str | Address) -> bytes:
    """One header field: plain ASCII folded at spaces to 78 columns where it can be; other
    text (a subject with "·" or a title's accents) as whole RFC 2047 encoded words, and an
    address folded by the SMTP policy, its name encoded; an address that is not ASCII is
    UTF-8 as it is (RFC 6532; it goes only with SMTPUTF8), for encoded words inside an
    address are not an address. (Python 3.11's folder can split a word across two encoded
    words with a space between them: "trendi ng".)"""
    text = str(value)
    if not _SAFE_HEADER.fullmatch(text):
        if isinstance(value, str):
            return _encoded_words(name, text)
        policy = SMTP if value.addr_spec.isascii() else SMTPUTF8
        return policy.fold_binary(name, policy.header_factory(name, value))
    lines = [f"{name}:"]
    for word in text.split(" "):
        if len(lines[-1]) + 1 + len(word) > 78 and len(lines[-1]) > len(name) + 1:
            lines.append("")
        lines[-1] += " " + word
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _list_id(envelope: Envelope) -> bytes:
    """List-Id (RFC 2919): the list's name, as encoded words when it is not plain ASCII,
    then its id in angle brackets as it is, which filters match."""
    name, ident = envelope.list_id.rsplit(" ", 1)
    if _SAFE_HEADER.fullmatch(name):
        return _header("List-Id", envelope.list_id)
    return _encoded_words("List-Id", name)[:-2] + f"\r\n {ident}\r\n".encode("ascii")


_WORD_BYTES = 42  # of UTF-8 in one encoded word: "Subject: =?utf-8?b?…?=" fits 78 columns


def _encoded_words(name: str, text: str) -> bytes:
    """``text`` as RFC 2047 base64 encoded words of whole characters, one a line: a
    reader joins adjacent encoded words with nothing between them, so a word may end
    anywhere, and spaces travel inside them (email.header's Header does the same, ten
    times slower: it weighs quoted-printable against base64 for every mail). Each word
    is as many whole characters' UTF-8 as fit: cut after _WORD_BYTES, then moved back
    to the start of the character it falls in."""
    data = text.encode("utf-8")
    words, start = [], 0
    while True:
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a character
            end -= 1
        words.append(data[start:end])
        if end >= len(data):
            break
        start = end
    encoded = "\r\n ".join(f"=?utf-8?b?{binascii.b2a_base64(w, newline=False).decode()}?="
                           for w in words)
    return f"{name}: {encoded}\r\n".encode("ascii")


_CR = re.compile(r"\r\n?")
# Octets a line may hold before its CRLF (RFC 5322): a part whose lines all fit goes as
# it is, 7bit or 8bit; one with a longer line is encoded.
_LINE = 998


def _part(subtype: str, body: str) -> tuple[bytes, bool]:
    """A part's headers and body with CRLF line ends, and whether it is 8bit.

    When every line fits and none starts with a dot, the part goes unencoded, which
    costs no CPU and a quarter fewer bytes: the HTML as 7bit, every character that is
    not ASCII written as a character reference (the renderer's one ``<style>`` block is
    ASCII: ``head_stylesheet``), and the text as 7bit or, with such characters, 8bit
    (``EightBit``: sent with BODY=8BITMIME, or re-encoded for a server without it).
    Otherwise the text is quoted-printable, a dot that starts a line written ``=2E``,
    and the HTML base64, which C encodes ten times faster than quoted-printable."""
    if "\r" in body:  # a lone CR is a line end to readers (and to HTML parsers)
        body = _CR.sub("\n", body)
    data = (body.encode("ascii", "xmlcharrefreplace") if subtype == "html"
            else body.encode("utf-8"))
    if _plain(data):
        eight = not data.isascii()
        encoding, encoded = ("8bit" if eight else "7bit"), data.replace(b"\n", b"\r\n")
    elif subtype == "html":
        eight, encoding, encoded = False, "base64", _base64_lines(body.encode("utf-8"))
    else:
        eight, encoding = False, "quoted-printable"
        encoded = binascii.b2a_qp(data, istext=True)
        if encoded.startswith(b"."):
            encoded = b"=2E" + encoded[1:]
        encoded = encoded.replace(b"\n.", b"\n=2E").replace(b"\n", b"\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode() + encoded + (
            b"\r\n" if encoded.endswith(b"\r\n") else b"\r\n\r\n"), eight


def _plain(data: bytes) -> bool:
    """Whether ``data`` (LF line ends) can go unencoded: no line longer than ``_LINE``
    octets, none starting with a dot, no NUL. The lengths are checked by jumping from
    each line to the last line end within reach (a few dozen finds for a digest, not
    one a line)."""
    if data.startswith(b".") or b"\n." in data or b"\0" in data:
        return False
    at, end = 0, len(data)
    while end - at > _LINE:
        line_end = data.rfind(b"\n", at, at + _LINE + 1)
        if line_end == -1:
            return False
        at = line_end + 1
    return True


def _base64_lines(data: bytes) -> bytes:
    """Base64 in lines of 76 characters (RFC 2045), CRLF after each: 57 bytes make one
    line, encoded with its line end by ``binascii``, all of them then given CRs at once
    (a third faster than cutting the whole encoding into lines)."""
    return b"".join([binascii.b2a_base64(data[i:i + 57]) for i in range(0, len(data), 57)]
                    ).replace(b"\n", b"\r\n")


# Headers as they were built: refolded, a long List-Unsubscribe URL would become encoded
# words, which no client reads as a URL.
_SEVEN_BIT = SMTP.clone(cte_type="7bit", refold_source="none")


def seven_bit(message: bytes) -> bytes:
    """An ``EightBit`` message for a server that does not offer 8BITMIME: its 8bit parts
    encoded by the email package (base64), every header and the rest as they were, but
    its DKIM signatures, which the new body would fail (none is honest; one that fails
    says the mail was tampered with)."""
    parsed = BytesParser(policy=_SEVEN_BIT).parsebytes(message)
    del parsed["DKIM-Signature"]
    out = io.BytesIO()
    BytesGenerator(out, policy=_SEVEN_BIT).flatten(parsed)
    return out.getvalue()


def build_notice(*, envelope: Envelope, to_email: str, subject: str, text: str, html: str,
                 date: datetime, message_id: str) -> EmailMessage:
    """A short mail that is not a digest (a confirmation): text and HTML, no list headers."""
    local, _, domain = to_email.rpartition("@")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = envelope.sender
    msg["To"] = Address("", local, domain)
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
