"""Delivery: plan every due digest into the outbox once, then send it exactly once.

A pass first plans: for each subscriber, the latest scheduled instant not after now
names the period; if the outbox has no digest for (subscriber, period), one is planned
with the papers ranking chose (or recorded as skipped when nothing is due). Several missed
periods collapse into the latest one, which covers everything due since the last digest.
Then it delivers: each digest is claimed (``sending``, committed before any SMTP traffic),
rendered, sent, and marked ``sent`` with its papers recorded in one transaction after the
server's 250; or ``retry`` (4xx, dropped connection, timeout: exponential back-off, at most
5 attempts) or ``failed`` (5xx, with the server's reply). A digest left in ``sending`` by a
process that died is sent again with the same Message-ID: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage

from digest import defaults
from digest.deliver.message import Envelope, build_message
from digest.deliver.schedule import latest_slot, slots_between
from digest.deliver.tokens import Tokens
from digest.deliver.transport import (
    PermanentError,
    RateLimiter,
    SetupError,
    SmtpTransport,
    TransientError,
    Transport,
)
from digest.model import OutboxEntry, Subscriber
from digest.plan import build_digests
from digest.rank import Digest, Item, Section
from digest.render import render_digest
from digest.store import Store
from digest.store.outbox import Plan


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

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.base_url}/unsubscribe/{token}"


def tokens_for(store: Store) -> Tokens:
    """Unsubscribe tokens signed with DIGEST_SECRET, else the database's own secret."""
    return Tokens(os.environ.get("DIGEST_SECRET") or store.secret())


@dataclass
class PassReport:
    """What one send pass did."""

    counts: Counter[str] = field(default_factory=Counter)
    error: str | None = None  # the mail set-up is broken; the pass stopped


def plan_due(store: Store, subscribers: Sequence[Subscriber], now: datetime,
             only: str | None = None, record: bool = True) -> tuple[list[Plan], Counter[str]]:
    """The digests and alerts due at ``now`` that the outbox does not have yet; with
    ``record``, put them in it. Returns the plans and counts by state (and ``already``).

    The subscribers must be in the store already (``Store.sync_subscribers``).
    """
    gone = store.unsubscribed()
    targets = [s for s in subscribers if s.email.casefold() not in gone
               and (only is None or s.email.casefold() == only.casefold())]
    digests, already = _digest_plans(store, [s for s in targets if s.cadence != "instant"], now)
    plans = digests + _alert_plans(store, [s for s in targets if s.cadence == "instant"], now)
    counts: Counter[str] = Counter(already=already)
    if record:
        counts.update(store.plan_outbox(plans, now))
    else:
        counts.update(p.state for p in plans)
    return plans, counts


def _digest_plans(store: Store, subscribers: Sequence[Subscriber], now: datetime
                  ) -> tuple[list[Plan], int]:
    """Scheduled digests, one for the latest slot. Earlier slots passed over since the
    last digest (the bot was down), and a latest slot found more than ``grace_hours`` late,
    are recorded as missed rather than sent late, for someone subscribed by then."""
    slots = {s.email.casefold(): latest_slot(s, now) for s in subscribers}
    done = store.planned_for(slots)
    created, last = store.created(), store.last_periods()
    todo = [s for s in subscribers if s.email.casefold() not in done]

    def late(sub: Subscriber) -> bool:
        slot = slots[sub.email.casefold()]
        return (now - slot > timedelta(hours=sub.grace_hours)
                and created.get(sub.email.casefold(), now) <= slot)

    def missed(sub: Subscriber, slot: datetime) -> Plan:
        return Plan(Digest(sub, slot, slot, ()), slot, missed=True)

    plans = [Plan(d, slots[d.subscriber.email.casefold()], d.subscriber.send_empty)
             for d in build_digests(store, [s for s in todo if not late(s)], now)]
    for sub in todo:
        key = sub.email.casefold()
        skipped_over = slots_between(sub, last[key], slots[key] - timedelta(minutes=1)) \
            if key in last else []
        plans += [missed(sub, slot) for slot in skipped_over]
        if late(sub):
            plans.append(missed(sub, slots[key]))
    return plans, len(done)


def _alert_plans(store: Store, subscribers: Sequence[Subscriber], now: datetime
                 ) -> list[Plan]:
    """Instant alerts: papers new to the subscriber by followed authors (and keyword
    matches when ``alert_keywords``), one mail each. The period is the newest paper's
    first-seen time, so two bots that ingested the same papers plan one alert."""
    plans = []
    for digest in build_digests(store, [replace(s, trending=0) for s in subscribers], now):
        wanted = ("authors", "keywords") if digest.subscriber.alert_keywords else ("authors",)
        sections = tuple(s for s in digest.sections if s.name in wanted and s.items)
        seen = [it.paper.first_seen for s in sections for it in s.items if it.paper.first_seen]
        if seen:
            plans.append(Plan(replace(digest, sections=sections), max(seen), kind="alert"))
    return plans


def compose(store: Store, entry: OutboxEntry, mail: MailSettings, tokens: Tokens,
            now: datetime) -> EmailMessage:
    """The message of an outbox row, rendered now from its stored papers."""
    papers = store.papers_by_id(entry.paper_ids)
    sections = tuple(Section(name, tuple(Item(papers[pid], reasons) for pid, reasons in items
                                         if pid in papers)) for name, items in entry.sections)
    digest = Digest(entry.subscriber, entry.period_start, entry.period_end, sections)
    url = mail.unsubscribe_url(tokens.make(entry.subscriber_id))
    rendered = render_digest(digest, url, mail.envelope.list_name, entry.kind)
    return build_message(
        rendered, envelope=mail.envelope, to_name=entry.subscriber.name,
        to_email=entry.subscriber.email, date=now, unsubscribe_url=url,
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


async def send_pass(store: Store, subscribers: Sequence[Subscriber], transport: Transport,
                    mail: MailSettings, tokens: Tokens, clock: Callable[[], datetime],
                    only: str | None = None, progress: Callable[[int], None] | None = None,
                    stop: asyncio.Event | None = None) -> PassReport:
    """What ``digest send`` and every bot job do: plan what is due, then deliver it.

    The subscribers must be in the store already (``Store.sync_subscribers``).
    """
    _, planned = plan_due(store, subscribers, clock(), only)
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
