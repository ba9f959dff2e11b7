"""Sending digests through the real outbox into a Maildir, for tests that replay days."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from digest.deliver import MailSettings, deliver
from digest.deliver.message import Envelope
from digest.deliver.tokens import Tokens
from digest.deliver.transport import MaildirTransport
from digest.model import Digest, Subscriber
from digest.plan import plan_due
from digest.store import Store

MAIL = MailSettings(Envelope.parse("Digest <digest@example.org>", "Paper Digest"))


def send_due(store: Store, subscribers: Sequence[Subscriber], now: datetime,
             maildir: Path) -> list[Digest]:
    """Plan and deliver what is due at ``now``; returns the digests planned."""
    store.sync_subscribers(subscribers, now)
    plans, _ = plan_due(store, now)
    report = asyncio.run(deliver(store, MaildirTransport(maildir), MAIL, Tokens("test"),
                                 lambda: now))
    assert report.error is None
    return [p.digest for p in plans]
