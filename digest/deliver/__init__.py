"""Delivery: send every digest the outbox holds exactly once.

A pass first plans (``digest.plan``: one digest per subscriber and period, or a skipped
or missed record). Then it delivers: each digest is claimed (``sending``, committed
before any SMTP traffic), rendered, sent, and marked ``sent`` with its papers recorded in
one transaction after the server's 250; or ``retry`` (4xx, dropped connection, timeout:
exponential back-off, at most 5 attempts) or ``failed`` (5xx, with the server's reply). A
digest left in ``sending`` by a
process that died is sent again with the same Message-ID: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from digest import defaults
from digest.deliver.message import Envelope, build_message
from digest.deliver.tokens import Tokens
from digest.deliver.transport import (
    PermanentError,
    RateLimiter,
    SetupError,
    SmtpTransport,
    TransientError,
    Transport,
)
from digest.model import Digest, Item, OutboxEntry, Section, Subscriber
from digest.plan import plan_due
from digest.render import Links, render_digest
from digest.store import Store

# Card actions take short paths: a 50-card digest carries a hundred of them.
ACTION_PATHS = {"follow": "f", "unfollow": "u", "mute": "m"}


@dataclass(frozen=True)
class MailSettings:
    """Sender, links and patience, from DIGEST_FROM, DIGEST_NAME, DIGEST_BASE_URL."""

    envelope: Envelope
    base_url: str = defaults.BASE_URL
    lease: timedelta = timedelta(minutes=defaults.SENDING_LEASE_MINUTES)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> MailSettings:
        """Raises ConfigError when DIGEST_FROM is not an address."""
        return cls(Envelope.parse(env.get("DIGEST_FROM") or defaults.MAIL_FROM,
                                  env.get("DIGEST_NAME") or defaults.DIGEST_NAME),
                   (env.get("DIGEST_BASE_URL") or defaults.BASE_URL).rstrip("/"))

    def url(self, action: str, token: str) -> str:
        return f"{self.base_url}/{action}/{token}"

    def links(self, tokens: Tokens, sub: Subscriber) -> Links:
        """The signed links of a mail to ``sub``; card actions only for subscribers who
        manage what they follow themselves."""
        def action(kind: str, target: str) -> str:
            return self.url(ACTION_PATHS[kind], tokens.make(kind, sub.ref, target))

        return Links(self.url("unsubscribe", tokens.make("unsubscribe", sub.ref)),
                     self.url("manage", tokens.make("manage", sub.ref)),
                     action if sub.managed == "db" else None)

    def placeholders(self, sub: Subscriber) -> Links:
        """Links that go nowhere real, for previews and samples."""
        return Links.placeholders(self.base_url, actions=sub.managed == "db")


def tokens_for(store: Store) -> Tokens:
    """Unsubscribe tokens signed with DIGEST_SECRET, else the database's own secret."""
    return Tokens(os.environ.get("DIGEST_SECRET") or store.secret())


@dataclass
class PassReport:
    """What one send pass did."""

    counts: Counter[str] = field(default_factory=Counter)
    error: str | None = None  # the mail set-up is broken; the pass stopped


def compose(store: Store, entry: OutboxEntry, mail: MailSettings, tokens: Tokens,
            now: datetime) -> EmailMessage:
    """The message of an outbox row, rendered now from its stored papers."""
    papers = store.papers_by_id(entry.paper_ids)
    sections = tuple(Section(name, tuple(Item(papers[pid], reasons) for pid, reasons in items
                                         if pid in papers)) for name, items in entry.sections)
    digest = Digest(entry.subscriber, entry.period_start, entry.period_end, sections)
    links = mail.links(tokens, entry.subscriber)
    rendered = render_digest(digest, links, mail.envelope.list_name, entry.kind)
    return build_message(
        rendered, envelope=mail.envelope, to_name=entry.subscriber.name,
        to_email=entry.subscriber.email, date=now, unsubscribe_url=links.unsubscribe,
        message_id=mail.envelope.message_id(entry.id, entry.period))


async def deliver(store: Store, transport: Transport, mail: MailSettings, tokens: Tokens,
                  clock: Callable[[], datetime], only: str | None = None,
                  progress: Callable[[int], None] | None = None,
                  stop: asyncio.Event | None = None) -> PassReport:
    """Send every due digest through ``transport`` with its pool of workers."""
    report = PassReport()
    queue = deque(store.due_digests(clock(), mail.lease, only))
    if progress:
        progress(len(queue))
    limiter = RateLimiter(transport_rate(transport))
    halt = stop or asyncio.Event()

    async def worker() -> None:
        connection = transport.connection()
        try:
            while queue and not halt.is_set():
                entry = store.claim(queue.popleft(), clock(), mail.lease)
                if entry is None:
                    continue
                message = compose(store, entry, mail, tokens, clock())
                await limiter.wait()
                try:
                    await connection.send(message, mail.envelope.sender.addr_spec,
                                          entry.subscriber.email)
                except SetupError:
                    store.release(entry)
                    halt.set()
                    raise
                except (TransientError, PermanentError) as e:
                    report.counts[_record_failure(store, entry, e, clock())] += 1
                else:
                    store.mark_sent(entry, clock())
                    report.counts["sent"] += 1
                if progress:
                    progress(-1)
        finally:
            await connection.close()

    results = await asyncio.gather(*(worker() for _ in range(transport.workers)),
                                   return_exceptions=True)
    for result in results:
        if isinstance(result, SetupError):
            report.error = str(result)
        elif isinstance(result, BaseException):
            raise result
    return report


async def send_pass(store: Store, transport: Transport, mail: MailSettings, tokens: Tokens,
                    clock: Callable[[], datetime], *, groups: Iterable[str] | None = None,
                    only: str | None = None, progress: Callable[[int], None] | None = None,
                    stop: asyncio.Event | None = None) -> PassReport:
    """What ``digest send`` and every bot job do: plan what is due (for everyone, these
    send groups, or one address), then deliver everything due."""
    _, planned = plan_due(store, clock(), groups=groups, only=only)
    report = await deliver(store, transport, mail, tokens, clock, only, progress, stop)
    report.counts.update(planned)
    return report


def _record_failure(store: Store, entry: OutboxEntry, error: Exception, now: datetime) -> str:
    if isinstance(error, PermanentError) or entry.attempts >= defaults.MAX_ATTEMPTS:
        store.mark_unsent(entry, "failed", str(error))
        return "failed"
    wait = timedelta(minutes=defaults.RETRY_FIRST_MINUTES * 2 ** (entry.attempts - 1))
    store.mark_unsent(entry, "retry", str(error), now + wait)
    return "retry"


def transport_rate(transport: Transport) -> float:
    return transport.settings.rate if isinstance(transport, SmtpTransport) else 0.0
