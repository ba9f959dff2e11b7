"""Building the email message of a rendered digest. Pure.

Headers are built with ``email.headerregistry.Address`` and the SMTP policy, never by
string concatenation; every value from configuration or sources is one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from digest.errors import ConfigError
from digest.render import Rendered, one_line


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

    def message_id(self, digest_id: int, period: datetime) -> str:
        """Stable per outbox row, so a retried digest is recognisable as the same mail."""
        return f"<digest-{digest_id}-{period:%Y%m%d%H%M}@{self.domain}>"


def build_message(
    rendered: Rendered, *, envelope: Envelope, to_name: str, to_email: str,
    message_id: str, date: datetime, unsubscribe_url: str,
) -> EmailMessage:
    """``multipart/alternative`` with the text part first and the HTML part last."""
    local, _, domain = to_email.rpartition("@")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = envelope.sender
    msg["To"] = Address(one_line(to_name), local, domain)
    msg["Subject"] = one_line(rendered.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["List-Id"] = envelope.list_id
    msg["List-Unsubscribe"] = (f"<{unsubscribe_url}>, <mailto:{envelope.sender.addr_spec}"
                               "?subject=unsubscribe>")
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg


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
