"""What a pass's sends come to: the outcome of a failed send (a retry with back-off, or
a failure), what a pass reports, what it owes when the database stays away, and the pace
that all processes sharing the database keep together."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest import defaults
from digest.deliver.replies import MessageRefused, PermanentError, ProtocolError
from digest.deliver.transport import SmtpTransport, Transport
from digest.model import OutboxEntry, Unsent
from digest.store import Store
from digest.vocab import OutboxState


@dataclass
class Owed:
    """What a process's passes sent or failed but could not record (the database stayed
    away longer than a pass waits for it): kept here, in memory, and recorded by the
    next pass of the same process before it takes any work (``deliver(owed=...)``), so
    that a long outage costs a long-running worker or bot no resend."""

    sent: list[OutboxEntry] = field(default_factory=list)
    unsent: list[Unsent] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sent or self.unsent)


@dataclass
class PassReport:
    """What one send pass did."""

    counts: Counter[str] = field(default_factory=Counter)
    error: str | None = None  # the mail set-up is broken; the pass stopped
    bouncing: list[str] = field(default_factory=list)  # addresses marked bouncing
    seconds: dict[str, float] = field(default_factory=dict)  # time spent per stage
    channels: Counter[str] = field(default_factory=Counter)  # team channel messages by state


class Pace:
    """Spaces sends so that all workers sharing the database together send at most
    ``rate`` messages per second (no limit when 0): slots are booked in the database a
    block at a time."""

    def __init__(self, store: Store, rate: float) -> None:
        self.store = store
        self.rate = rate
        self._slots: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            if not self._slots:
                block = max(1, int(self.rate / 4))  # a quarter of a second's sends
                start = await asyncio.to_thread(self.store.reserve_sends, block, self.rate,
                                                time.time())
                self._slots.extend(start + i / self.rate for i in range(block))
            slot = self._slots.popleft()
        delay = slot - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


def failure_of(entry: OutboxEntry, error: Exception, now: datetime) -> Unsent:
    """Failed for good on a refusal (a bounce when the address was refused), else a retry
    with exponential back-off capped at RETRY_MAX_MINUTES: the retries go on until the
    digest's grace runs out (``Store.expire_late`` makes it missed). A reply that was not
    SMTP is never a verdict on the digest, so that attempt does not count."""
    reply = str(getattr(error, "reply_class", "none"))
    if isinstance(error, PermanentError):
        return Unsent(entry, OutboxState.FAILED, str(error),
                      bounce=not isinstance(error, MessageRefused), reply_class=reply)
    counted = not isinstance(error, ProtocolError)
    tried = entry.attempts if counted else entry.attempts - 1
    minutes = min(defaults.RETRY_MAX_MINUTES,
                  defaults.RETRY_FIRST_MINUTES * 2 ** min(max(0, tried - 1), 16))
    return Unsent(entry, OutboxState.RETRY, str(error), now + timedelta(minutes=minutes), counted,
                  reply_class=reply)


def transport_rate(transport: Transport) -> float:
    return transport.settings.rate if isinstance(transport, SmtpTransport) else 0.0
