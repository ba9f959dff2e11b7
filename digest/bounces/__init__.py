"""What a mail that came back says: a bounce, a complaint, an unsubscribe request, or
something to keep for a person. Pure: bytes in, a frozen ``Verdict`` out; no database.

Whose it is comes from the most trustworthy evidence there is: the signed token of the
address it came to (the VERP return path ``bounces+TOKEN@``, List-Unsubscribe's
``unsubscribe+TOKEN@``), else what the report names (a DSN's Final-Recipient, an ARF
report's original message and its Message-ID, which carries the subscriber's ref), else
what Mailman's detectors (flufl.bounce) read out of a non-standard bounce. With VERP on,
a bounce must name a digest (a token, or a digest's Message-ID) to suppress anyone: an
address named in a report is what a forger would write. A token that
does not verify is never passed over for weaker evidence: the mail is kept. Only a
failure of the address suppresses; a refusal of the message (5.7.x policy, 5.3.4 size)
says nothing about the address and is kept for the operator to read.
"""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from digest import defaults
from digest.deliver import UNSUBSCRIBE_LOCAL, bounce_address
from digest.deliver.message import Envelope
from digest.deliver.tokens import Tokens
from digest.model import Verdict
from digest.text import one_line
from digest.vocab import Action, BounceKind

KINDS = tuple(BounceKind)
# flufl.bounce logs a traceback when a detector trips over a mail (hostile ones do); to
# digest that only means the mail is not a bounce it knows, and no traceback is shown.
_FLUFL_LOG = logging.getLogger("flufl.bounce")
_FLUFL_LOG.addHandler(logging.NullHandler())
_FLUFL_LOG.propagate = False
_FIELD_CHARS = 200  # of a sender, subject or date kept for the report


@dataclass(frozen=True)
class Addresses:
    """Where mails come back: the bounce address's local part and domain (None without
    DIGEST_BOUNCE_ADDRESS), DIGEST_FROM, and the domain of the digests' Message-IDs."""

    bounce_local: str | None
    domain: str | None
    sender: str
    message_domain: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Addresses:
        """From DIGEST_FROM, DIGEST_NAME and DIGEST_BOUNCE_ADDRESS alone (ConfigError for a
        bad one): reading bounces needs no DKIM key, and a bad one must not hold them up."""
        envelope = Envelope.parse(env.get("DIGEST_FROM") or defaults.MAIL_FROM,
                                  env.get("DIGEST_NAME") or defaults.DIGEST_NAME)
        bounce = bounce_address(env.get("DIGEST_BOUNCE_ADDRESS"))
        return cls(bounce.username if bounce else None, bounce.domain if bounce else None,
                   envelope.sender.addr_spec.lower(), envelope.domain.lower())


def classify(raw: bytes, tokens: Tokens, where: Addresses) -> Verdict:
    """What ``raw`` (one whole mail) says. Never raises: a mail that cannot be read,
    however malformed or hostile, is kept with the reason."""
    try:
        msg = email.message_from_bytes(raw[:defaults.MAX_BOUNCE_BYTES])
        about = Verdict(BounceKind.KEPT, "", sender=_field(parseaddr(_text(msg, "From"))[1]
                                                  or _text(msg, "From")),
                        subject=_field(_decoded(_text(msg, "Subject"))),
                        date=_field(_text(msg, "Date")))
    except Exception as e:  # not even headers: nothing to say about it but that
        return Verdict(BounceKind.KEPT, f"cannot be read as a mail ({type(e).__name__})")
    try:
        found = _classify(msg, tokens, where)
    except Exception as e:  # a structure no check foresaw (nesting, encodings)
        found = Verdict(BounceKind.KEPT, f"cannot be read ({type(e).__name__}: {_field(str(e))})")
    return replace(found, sender=about.sender, subject=about.subject, date=about.date)


def _classify(msg: Message, tokens: Tokens, where: Addresses) -> Verdict:
    tagged = _tagged(_recipients(msg), where)
    named: tuple[str, datetime | None] | None = None
    if tagged:
        action, token = tagged
        named = tokens.read_mail(action, token)
        if named is None:
            return Verdict(BounceKind.KEPT, f"it came to a {action} address whose token does not "
                           "verify (tampered, or signed with another secret)")
        if action == Action.MAILTO:
            return Verdict(BounceKind.UNSUBSCRIBE, "asked by mail (List-Unsubscribe)", ref=named[0])
    report = msg.get_param("report-type", header="content-type") \
        if msg.get_content_type() == "multipart/report" else None
    if isinstance(report, str) and report.lower() == "feedback-report":
        return _complaint(msg, named, tokens, where)
    if isinstance(report, str) and report.lower() == "delivery-status" and (
            found := _dsn(msg, named, where)) is not None:
        return _vouched(found, where)
    if named is None and (asked := _asks_by_subject(msg, where)) is not None:
        return asked
    if (auto := _auto_reply(msg)) is not None:
        return Verdict(BounceKind.KEPT, f"an automatic reply ({auto}), not a bounce")
    detected = _detected(msg, named)
    return _vouched(detected, where) if detected else Verdict(
        BounceKind.KEPT, "not a bounce, a complaint or an unsubscribe request that digest knows")


def _vouched(verdict: Verdict, where: Addresses) -> Verdict:
    """A bounce that may suppress someone: with VERP (DIGEST_BOUNCE_ADDRESS), only one
    that names a digest, by the token of the address it came to or the returned
    original's Message-ID (the subscriber's random ref). An address the report names is
    no evidence then: anyone can write a report naming anyone, and every digest's bounce
    comes back to its tokened address."""
    failed = verdict.kind in (BounceKind.HARD, BounceKind.SOFT)
    if where.bounce_local is None or not failed or verdict.ref:
        return verdict
    return replace(verdict, kind=BounceKind.KEPT, detail=f"{verdict.detail}; kept: it names no "
                   "digest (no token in the address it came to, no digest's Message-ID), "
                   "and every digest's bounce comes back to a tokened address", emails=())


# ---- addresses -------------------------------------------------------------------------

_ENVELOPE = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")


def _recipients(msg: Message, headers: tuple[str, ...] = _ENVELOPE) -> list[str]:
    """The addresses a mail was delivered to, the envelope's first (an MTA's
    Delivered-To and X-Original-To), then its headers'."""
    values = [str(v) for h in headers for v in msg.get_all(h, [])]
    return [addr.lower() for _, addr in getaddresses(values) if "@" in addr]


def _tagged(addresses: list[str], where: Addresses) -> tuple[str, str] | None:
    """``(action, token)`` of the first address that is ``bounces+TOKEN@`` or
    ``unsubscribe+TOKEN@`` at the bounce domain."""
    if where.domain is None:
        return None
    for addr in addresses:
        local, _, domain = addr.rpartition("@")
        base, plus, token = local.partition("+")
        if plus and token and domain == where.domain:
            if base == where.bounce_local:
                return Action.BOUNCE, token
            if base == UNSUBSCRIBE_LOCAL:
                return Action.MAILTO, token
    return None


def _asks_by_subject(msg: Message, where: Addresses) -> Verdict | None:
    """A mail with "unsubscribe" as its subject to the unsubscribe address or DIGEST_FROM
    (where older digests' mailto pointed): from the subscriber's own address."""
    subject = re.sub(r"^\s*((re|fwd?|aw|wg)\s*:\s*)*", "", _decoded(_text(msg, "Subject")),
                     flags=re.I)
    if subject.strip().lower() != "unsubscribe":  # not vocab: the word a reader writes
        return None
    ours = {where.sender} | ({f"{UNSUBSCRIBE_LOCAL}@{where.domain}"} if where.domain else set())
    sender = parseaddr(_text(msg, "From"))[1].lower()
    if not ours & set(_recipients(msg)) or "@" not in sender:
        return None
    return Verdict(BounceKind.UNSUBSCRIBE, "asked by mail from their own address", emails=(sender,))


# ---- reports ---------------------------------------------------------------------------

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_UNKNOWN = re.compile(r"unknown|no such|does not exist|doesn't exist|not exist|not found|"
                      r"invalid (recipient|mailbox|address|user)|mailbox unavailable|"
                      r"disabled|deactivated|inactive|no longer|not a valid|unrouteable",
                      re.I)
_FULL = re.compile(r"quota|mailbox (is )?full|over ?limit|insufficient (storage|space)|"
                   r"too many messages", re.I)


def _dsn(msg: Message, named: tuple[str, datetime | None] | None, where: Addresses
         ) -> Verdict | None:
    """A delivery status notification (RFC 3464): the gravest verdict over its recipients
    (hard, then soft, then a refused message); None when it names no recipient."""
    judged = [(_judge(f), f) for f in _recipient_fields(msg)]
    ref, period = named if named else _original_ref(msg, where)
    for kind in (BounceKind.HARD, BounceKind.SOFT, "message"):
        hits = [(detail, f) for (k, detail), f in judged if k == kind]
        if not hits:
            continue
        emails = tuple(dict.fromkeys(a for _, f in hits for a in _report_addresses(f)))
        if kind == "message":
            return Verdict(BounceKind.KEPT, "the message was refused, not the address: "
                           f"{hits[0][0]}", emails=emails)
        return Verdict(kind, hits[0][0], ref=ref, emails=emails, period=period)
    if judged:
        return Verdict(BounceKind.KEPT, f"a delivery report, not a failure: {judged[0][0][1]}")
    return None


def _recipient_fields(msg: Message) -> list[dict[str, str]]:
    """The per-recipient field groups of the message/delivery-status parts."""
    groups = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, Message):
                continue
            fields = {k.lower(): one_line(str(v)) for k, v in block.items()}
            if "action" in fields or "final-recipient" in fields:
                groups.append(fields)
    return groups


def _judge(fields: dict[str, str]) -> tuple[str, str]:
    """(hard | soft | message | none, why) for one recipient of a DSN."""
    action = fields.get("action", "").lower()
    diagnostic = fields.get("diagnostic-code", "")
    found = _STATUS.search(fields.get("status", "")) or _STATUS.search(diagnostic)
    status = ".".join(found.groups()) if found else ""
    said = diagnostic.partition(";")[2].strip() or diagnostic or \
        _STATUS.sub("", fields.get("status", "")).strip(" ()")  # "5.0.0 (disk quota)"
    why = _field(" ".join(x for x in (status, said) if x) or action or "no status")
    if action in ("delivered", "relayed", "expanded"):
        return "none", action
    if action == "delayed" or status.startswith("4"):
        return BounceKind.SOFT, why
    if not status.startswith("5"):
        # "failed" is RFC 3464's Action field, not an outbox state
        failed = action == "failed"  # not vocab
        return (BounceKind.SOFT, why) if failed else ("none", action or "no action")
    return _permanent(status, said), why


def _permanent(status: str, diagnostic: str) -> str:
    """What a 5.x.x status says of the address: hard (it is gone: 5.1.x, 5.2.1, 5.4.4,
    5.0.0/5.5.x "user unknown"), soft (it may come back: 5.2.2 mailbox full, a mail
    system's trouble) or message (the message was refused: 5.7.x policy, 5.3.4 and 5.2.3
    size, 5.6.x content)."""
    subject = status.split(".")[1]
    if subject == "1" or status in ("5.2.1", "5.4.4"):
        return BounceKind.HARD
    if subject in ("6", "7") or status in ("5.3.4", "5.2.3"):
        return "message"
    if status == "5.2.2" or _FULL.search(diagnostic):
        return BounceKind.SOFT
    if subject in ("0", "5", "2") and _UNKNOWN.search(diagnostic):
        return BounceKind.HARD
    return BounceKind.SOFT


def _report_addresses(fields: dict[str, str]) -> list[str]:
    """Final-Recipient and Original-Recipient (``rfc822;ada@example.org``)."""
    found = []
    for key in ("original-recipient", "final-recipient", "x-actual-recipient"):
        addr = fields.get(key, "").partition(";")[2].strip().strip("<>").lower()
        if "@" in addr:
            found.append(addr)
    return found


def _complaint(msg: Message, named: tuple[str, datetime | None] | None, tokens: Tokens,
               where: Addresses) -> Verdict:
    """An abuse report (ARF, RFC 5965): whose, by the token of the address it came to,
    else the original's return path, its Message-ID, its To."""
    report = next((p for p in msg.walk() if p.get_content_type() == "message/feedback-report"),
                  None)
    fields = _report_fields(report)
    detail = _field(f"marked as {fields.get('feedback-type', 'abuse')} by "
                    f"{fields.get('user-agent') or fields.get('reporting-mta') or 'a receiver'}")
    original = _original(msg)
    if named is None and original is not None and (
            tagged := _tagged(_recipients(original, ("Return-Path",)), where)) is not None:
        named = tokens.read_mail(Action.BOUNCE, tagged[1]) if tagged[0] == Action.BOUNCE else None
        if named is None:
            return Verdict(BounceKind.KEPT, "a complaint whose original's return path "
                           "carries a token that does not verify")
    ref, period = named if named else _original_ref(msg, where)
    emails = [a.partition(";")[2].strip().strip("<>").lower() or a.lower()
              for a in (fields.get("original-rcpt-to", ""),) if "@" in a]
    if original is not None:
        emails += _recipients(original, ("To",))
    return Verdict(BounceKind.COMPLAINT, detail, ref=ref, emails=tuple(dict.fromkeys(emails)),
                   period=period)


def _report_fields(part: Message | None) -> dict[str, str]:
    """The fields of a message/feedback-report part (parsed as headers)."""
    if part is None:
        return {}
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [b for b in payload if isinstance(b, Message)]
        return {k.lower(): one_line(str(v)) for b in blocks for k, v in b.items()}
    text = payload if isinstance(payload, str) else ""
    return {k.lower(): one_line(str(v)) for k, v in HeaderParser().parsestr(text).items()}


def _original(msg: Message) -> Message | None:
    """The returned original (message/rfc822, or its headers: text/rfc822-headers)."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if kind in ("text/rfc822-headers", "message/rfc822-headers"):
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                return HeaderParser().parsestr(text.decode("utf-8", "replace"))
    return None


_MESSAGE_ID = re.compile(r"<?(?:digest|alert)-(.+)-(\d{8}T\d{12})@([^>\s]+)>?")


def _original_ref(msg: Message, where: Addresses) -> tuple[str | None, datetime | None]:
    """The ref and period in the returned original's Message-ID
    (``<digest-REF-20260601T060000000000@domain>``, ``Envelope.message_id``)."""
    original = _original(msg)
    found = _MESSAGE_ID.fullmatch(_text(original, "Message-ID").strip()) \
        if original is not None else None
    if found is None or found.group(3).lower() != where.message_domain:
        return None, None
    try:
        period = datetime.strptime(found.group(2), "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:
        return None, None
    return found.group(1), period


# ---- everything else -------------------------------------------------------------------

_VACATION = re.compile(r"out of (the )?office|automatic reply|auto[- ]?reply|autoreply|"
                       r"vacation|away from|abwesen|absence|réponse automatique", re.I)


def _auto_reply(msg: Message) -> str | None:
    """Why a mail is a person's automatic reply (vacation, out of office), or None."""
    for header in ("X-Autoreply", "X-Autorespond", "X-Vacation"):
        if msg.get(header) is not None:
            return header
    if _text(msg, "Precedence").strip().lower() == "auto_reply":
        return "Precedence: auto_reply"
    if _VACATION.search(_decoded(_text(msg, "Subject"))):
        return "its subject"
    return None


def _detected(msg: Message, named: tuple[str, datetime | None] | None) -> Verdict | None:
    """A bounce in an MTA's own format (qmail, Exim, old Sendmail...), by Mailman's
    detectors; None when none of them recognises it."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector tripped on this mail: it is not one it knows
        return None
    ref, period = named if named else (None, None)
    for kind, found in ((BounceKind.HARD, permanent), (BounceKind.SOFT, temporary)):
        emails = tuple(sorted({a.decode("utf-8", "replace").lower() if isinstance(a, bytes)
                               else str(a).lower() for a in found}))
        if emails:
            why = "failed for good" if kind == BounceKind.HARD else "failed for now"
            return Verdict(kind, f"{why}: a bounce in a mail server's own format",
                           ref=ref, emails=emails, period=period)
    return None


def _text(msg: Message | None, name: str) -> str:
    value = msg.get(name) if msg is not None else None
    return "" if value is None else str(value)


def _decoded(value: str) -> str:
    """An RFC 2047 header as text (as it is, when its encoded words are broken)."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def _field(text: str) -> str:
    text = one_line(text)
    return text if len(text) <= _FIELD_CHARS else text[:_FIELD_CHARS] + "…"
