"""The send pass: planning, then delivery. It sits above both, so that delivery
(``digest.deliver``) knows nothing of planning (``digest.plan``): planning hands over the
papers it read and its notes on followed names, delivery sends what the outbox holds.
``digest send``, ``digest worker`` and every bot job run a pass from here
(``digest.passes.workers``: several processes, and the long-running worker).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from digest.deliver import Mailer, MailSettings, Owed, PassReport, deliver
from digest.deliver.channels import WebUrl, deliver_channels
from digest.deliver.tokens import Tokens
from digest.deliver.transport import Transport
from digest.heap import pass_heap
from digest.model import OutboxEntry, Paper
from digest.plan import Notes, plan_due
from digest.settings import HttpSettings
from digest.store import Store
from digest.vocab import OutboxState


def noted_mailer(store: Store, mail: MailSettings, tokens: Tokens,
                 papers: dict[int, Paper] | None = None) -> Mailer:
    """A mailer whose digests carry planning's notes on ambiguous followed names; the
    papers it keeps in memory are the notes' too (not read again)."""
    papers = papers if papers is not None else {}
    return Mailer(store, mail, tokens, papers, Notes(store, papers))


async def send_pass(store: Store, transport: Transport, mail: MailSettings, tokens: Tokens,
                    clock: Callable[[], datetime], *, groups: Iterable[str] | None = None,
                    only: str | None = None, progress: Callable[[int], None] | None = None,
                    stop: asyncio.Event | None = None,
                    shard: tuple[int, int] | None = None, owed: Owed | None = None,
                    http: HttpSettings | None = None) -> PassReport:
    """What ``digest send`` and every bot job do: plan what is due (for everyone, these
    send groups, one address, or shard ``(k, n)`` of everyone), then deliver everything
    due: the mail, then the team channel messages."""
    started = time.perf_counter()
    papers: dict[int, Paper] = {}
    with pass_heap():  # the papers planning reads stay frozen while they are sent
        # Late digests first, so that their papers go into the digests planned now;
        # planning in a thread, so that signals and timers stay prompt on the loop.
        late = await asyncio.to_thread(store.expire_late, clock(), mail.lease)
        _, planned = await asyncio.to_thread(functools.partial(
            plan_due, store, clock(), groups=groups, only=only, papers=papers, keep=False,
            shard=shard))
        planned[OutboxState.MISSED] += late
        planning = time.perf_counter() - started
        report = await deliver(store, transport, mail, tokens, clock, only, progress, stop,
                               mailer=noted_mailer(store, mail, tokens, papers),
                               expire=False,
                               owed=owed)
        report.channels = await send_channels(store, mail, tokens, clock, http, papers=papers,
                                              only=only, stop=stop)
    report.counts.update(planned)
    report.seconds = {"plan": planning, "deliver": time.perf_counter() - started - planning}
    return report



async def send_channels(store: Store, mail: MailSettings, tokens: Tokens,
                        clock: Callable[[], datetime], http: HttpSettings | None, *,
                        papers: dict[int, Paper] | None = None, only: str | None = None,
                        stop: asyncio.Event | None = None) -> Counter[str]:
    """The team channel messages due (``digest.deliver.channels``), under the mail's
    lease, with the app's HTTP settings."""
    return await deliver_channels(store, http or HttpSettings(), tokens.webhook_key, clock,
                                  mail.lease, papers=papers, only=only, stop=stop,
                                  web_url=web_url(mail, tokens))


def web_url(mail: MailSettings, tokens: Tokens) -> WebUrl:
    """Where a digest's web copy is (``/d/TOKEN``), for its channel messages' link."""
    def url(entry: OutboxEntry) -> str:
        return mail.digest_url(tokens, entry.subscriber.ref, entry.period)
    return url
