"""Several processes for one send pass, and the long-running delivery worker.

``digest send --workers N`` runs the pass in N processes (spawned, each with its own
database connections and SMTP pool): process k plans every N-th subscriber (shard k) and
then delivers from the shared outbox, claiming batches until none is left, so the cores
share both the planning and the mail. ``digest worker`` delivers whatever the outbox
holds, beside other workers and bots on other machines that share one PostgreSQL
database (claims are ``FOR UPDATE SKIP LOCKED``; a worker that dies leaves its claimed
rows ``sending`` until the lease runs out, then another takes them over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from typing import Protocol

from digest.deliver import MailSettings, Owed, PassReport, deliver
from digest.deliver.tokens import Tokens
from digest.deliver.transport import Transport
from digest.errors import DigestError
from digest.passes import noted_mailer, send_channels, send_pass
from digest.settings import HttpSettings
from digest.store import DatabaseUnavailable, Store

log = logging.getLogger(__name__)

# What a worker's counts call its team channel messages' states: "channel sent", ...
CHANNEL = "channel "
# A pass uses one process per this many subscribers at most: forking for a handful of
# digests costs more than it saves.
SUBSCRIBERS_PER_WORKER = 1_000


class Wiring(Protocol):
    """What a pass works with, built on first use (``digest.app.App``): picklable, so
    that each process of a pass builds its own database connections and SMTP pool."""

    @property
    def store(self) -> Store: ...
    @property
    def transport(self) -> Transport: ...
    @property
    def mail(self) -> MailSettings: ...
    @property
    def tokens(self) -> Tokens: ...
    @property
    def now(self) -> Callable[[], datetime]: ...
    @property
    def http(self) -> HttpSettings: ...
    def refuse_localhost(self) -> None: ...


def worker_count(requested: int, store: Store) -> int:
    """How many processes a pass of everyone uses: as asked, but no more than the
    subscribers make worth it."""
    return max(1, min(requested, store.count_members() // SUBSCRIBERS_PER_WORKER))


def send_in_processes(app: Wiring, count: int) -> PassReport:
    """One pass of everyone in ``count`` processes; their reports added up (stage times
    are the slowest process's)."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        reports = list(pool.map(_shard_pass, [app] * count, range(count), [count] * count))
    total = PassReport(counts=Counter())
    for report in reports:
        total.counts.update(report.counts)
        total.error = total.error or report.error
        total.bouncing += report.bouncing
        total.channels.update(report.channels)
        for stage, seconds in report.seconds.items():
            total.seconds[stage] = max(total.seconds.get(stage, 0.0), seconds)
    total.seconds["total"] = time.perf_counter() - started
    return total


def _shard_pass(app: Wiring, k: int, n: int) -> PassReport:
    return asyncio.run(send_pass(app.store, app.transport, app.mail, app.tokens, app.now,
                                 shard=(k, n), http=app.http))


async def work(app: Wiring, once: bool, poll: float) -> Counter[str]:
    """Deliver what is due, again every ``poll`` seconds, until SIGTERM or SIGINT (or,
    with ``once``, until nothing is left); the mail in flight is finished first. A
    database that goes away (a restart) is waited for, not a reason to exit."""
    store, mail, transport, tokens = app.store, app.mail, app.transport, app.tokens
    app.refuse_localhost()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    counts: Counter[str] = Counter()
    owed = Owed()  # what a pass could not record: the next one records it first
    while not stop.is_set():
        try:
            report = await deliver(store, transport, mail, tokens, app.now, stop=stop,
                                   mailer=noted_mailer(store, mail, tokens), owed=owed)
            report.counts.update({CHANNEL + state: n for state, n in (await send_channels(
                store, mail, tokens, app.now, app.http, stop=stop)).items()})
        except DatabaseUnavailable as e:  # a restart, a full server: wait it out
            log.warning("%s; the worker tries again in %g s", e, poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll)
            continue
        counts.update(report.counts)
        if report.error:
            raise DigestError(report.error)
        if once and not report.counts:
            break
        if not report.counts:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll)
    return counts
