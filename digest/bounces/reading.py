"""Reading a mailbox of mails that came back: classify each, record its effect with it
in one transaction, and only then let the mailbox move it (``Mailbox.done``)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from digest.bounces import Addresses, classify
from digest.bounces.mailbox import Mailbox, open_mailbox
from digest.deliver.tokens import Tokens
from digest.settings import number_setting
from digest.store import Store
from digest.store.bounces import MailOutcome
from digest.vocab import BounceKind


@dataclass
class ReadReport:
    """What a reading did: mails by kind (``already`` for those an earlier reading
    recorded), and each outcome in order."""

    counts: Counter[str] = field(default_factory=Counter)
    outcomes: list[MailOutcome] = field(default_factory=list)


def read_mailbox(box: Mailbox, store: Store, tokens: Tokens, where: Addresses,
                 clock: Callable[[], datetime], soft_limit: int) -> ReadReport:
    """Act on every mail of ``box`` once. A kept mail stays where it is, for a person;
    one acted on (now or by an earlier reading that crashed before moving it) is done.
    Raises StoreError when the database cannot record (nothing of that mail is done)."""
    report = ReadReport()
    for key, raw in box.messages():
        verdict = classify(raw, tokens, where)
        outcome = store.record_mail(hashlib.sha256(raw).hexdigest(), verdict, clock(),
                                    soft_limit)
        report.counts[outcome.kind if outcome.new else "already"] += 1
        report.outcomes.append(outcome)
        if outcome.kind != BounceKind.KEPT:
            box.done(key)
    return report


def read_source(source: str, store: Store, tokens: Tokens, clock: Callable[[], datetime],
                env: Mapping[str, str], stdin: BinaryIO | None = None) -> ReadReport:
    """Open the mailbox ``source`` names (``open_mailbox``), read it with the mail
    settings of ``env`` (DIGEST_BOUNCE_ADDRESS, DIGEST_FROM, DIGEST_SOFT_BOUNCE_LIMIT, and
    an IMAP mailbox's DIGEST_IMAP_PASSWORD and DIGEST_IMAP_CAFILE), close it. ConfigError
    for a source that is no mailbox or a bad setting."""
    where = Addresses.from_env(env)
    soft_limit = int(number_setting(env, "DIGEST_SOFT_BOUNCE_LIMIT"))
    box = open_mailbox(source, stdin, env)
    try:
        return read_mailbox(box, store, tokens, where, clock, soft_limit)
    finally:
        box.close()
