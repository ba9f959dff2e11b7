"""The send pass's delivery: claim a batch of due digests, compose them, send them over
the transport's connections, record their outcomes (see ``digest.deliver``)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from digest import defaults
from digest.deliver.mail import MailSettings
from digest.deliver.mailer import Mailer
from digest.deliver.outcomes import Owed, Pace, PassReport, failure_of, transport_rate
from digest.deliver.refusals import Refusals
from digest.deliver.replies import (
    BusyError,
    MessageRefused,
    PermanentError,
    ProtocolError,
    SetupError,
    TransientError,
)
from digest.deliver.throttle import Throttle
from digest.deliver.tokens import Tokens
from digest.deliver.transport import Transport
from digest.heap import pass_heap, settle
from digest.model import OutboxEntry, Unsent
from digest.store import DatabaseBusy, DatabaseUnavailable, Store
from digest.vocab import OutboxState

log = logging.getLogger(__name__)
T = TypeVar("T")

# Digests claimed per transaction; outcomes are recorded at least every FLUSH mails (and
# when the next batch is claimed), so a crash leaves few sent mails unrecorded, to be sent
# again (with the same Message-ID) once their lease runs out.
BATCH = 200
FLUSH = 50
# A database that cannot be reached is tried again after 0.25 s, then twice as long each
# time, up to 8 s between tries.
DB_RETRY_FIRST = 0.25
DB_RETRY_MOST = 8.0


class _Delivery:
    """One process's share of a pass: claim a batch, compose it, hand the messages to the
    SMTP connections, record the outcomes of a batch in one transaction."""

    def __init__(self, store: Store, transport: Transport, mailer: Mailer,
                 clock: Callable[[], datetime], only: str | None, stop: asyncio.Event,
                 progress: Callable[[int], None] | None, batch: int,
                 owed: Owed | None = None) -> None:
        self.store, self.transport, self.mailer = store, transport, mailer
        self.clock, self.only, self.progress = clock, only, progress
        # This pass stops taking work: when ``stop`` is set (SIGTERM, the bot stopping),
        # or for a reason of its own, which must not stop the worker or bot that runs it.
        self.stop, self.halt = stop, asyncio.Event()
        self.batch = batch
        self.report = PassReport()
        self.queue: asyncio.Queue[tuple[OutboxEntry, bytes] | None] = asyncio.Queue(batch)
        self.held: dict[int, OutboxEntry] = {}  # claimed, no outcome yet
        # Outcomes not recorded yet: the owed lists themselves, so that what this pass
        # cannot record stays owed for the next one.
        owed = owed if owed is not None else Owed()
        self.sent, self.unsent = owed.sent, owed.unsent
        self.garbled = 0  # replies in a row that were not SMTP
        self.pace = Pace(store, transport_rate(transport))
        self._recorder: asyncio.Task[None] | None = None  # recording outcomes meanwhile
        self._recording = asyncio.Lock()  # one write of outcomes at a time
        self.throttle = Throttle(transport.workers)
        self.again: deque[tuple[OutboxEntry, bytes]] = deque()  # turned away: to resend
        self.refusals = Refusals()  # of the message or its sender, in a row

    async def run(self) -> PassReport:
        workers = [asyncio.create_task(self._worker()) for _ in range(self.transport.workers)]
        follow = asyncio.create_task(self._follow_stop())
        try:
            await self._claim_and_compose(len(workers))
        except BaseException:
            # Stop taking work, but let each connection finish the mail it is sending:
            # cancelled mid-transaction, a mail the server may have would be released
            # and sent again.
            self.halt.set()
            raise
        finally:
            results = await asyncio.gather(*workers, return_exceptions=True)
            follow.cancel()
            settled, error = self.refusals.last(sent_nothing=not self.report.counts)
            self._tally(*settled)
            if error is not None and self.report.error is None:
                self.report.error = str(error)
            await self._settle()
            await self._db(functools.partial(self.store.release, list(self.held.values())),
                           "giving back the digests not sent")
        for result in results:
            if isinstance(result, SetupError):
                self.report.error = str(result)
            elif isinstance(result, BaseException):
                raise result
        return self.report

    async def _follow_stop(self) -> None:
        await self.stop.wait()
        self.halt.set()

    async def _claim_and_compose(self, workers: int) -> None:
        mail = self.mailer.mail
        try:
            while not self.halt.is_set():
                await self._settle()  # what was sent is recorded before more is taken
                entries = await self._db(functools.partial(
                    self.store.claim, self.clock(), mail.lease, self.batch, self.only),
                    "claiming digests")
                if not entries:
                    break
                self.held.update((e.id, e) for e in entries)
                await self._db(functools.partial(self.mailer.load, entries),
                               "reading the papers of the digests claimed")
                for entry in entries:
                    if self.halt.is_set():
                        break
                    try:
                        message, entry = self.mailer.compose(entry, self.clock())
                    except Exception as e:
                        self._outcome(entry, Unsent(entry, OutboxState.FAILED,
                                                    f"could not compose the mail: {e!r}",
                                                    reply_class="compose"))
                        continue
                    await self.queue.put((entry, message))
                settle()
        finally:
            for _ in range(workers):
                await self.queue.put(None)

    async def _worker(self) -> None:
        connection = self.transport.connection()
        try:
            while (job := self.again.popleft() if self.again else await self.queue.get()):
                entry, message = job
                if self.halt.is_set():
                    continue
                await self.pace.wait()
                if self.throttle.gap:
                    await self.throttle.wait()
                try:
                    await connection.send(message, self.mailer.return_path(entry),
                                          entry.subscriber.email)
                except Exception as e:
                    await self._failed(entry, message, e)
                else:
                    self._outcome(entry, None)
                    self.garbled = 0
                    self.throttle.went_through()
                    if self.refusals.held:
                        self._tally(*self.refusals.end())
        finally:
            self.throttle.leave()
            await connection.close()

    async def _failed(self, entry: OutboxEntry, message: bytes, e: Exception) -> None:
        """What a failed send means for the digest, the pass and its pace; raises
        SetupError when the pass must stop."""
        if isinstance(e, SetupError):
            self.halt.set()
            raise e
        if isinstance(e, BusyError) and await self._turned_away(entry, message, e):
            return
        if isinstance(e, ProtocolError):
            self._outcome(entry, failure_of(entry, e, self.clock()))
            self.garbled += 1
            if self.garbled >= defaults.GARBLED_REPLIES:
                self.halt.set()
                raise SetupError(f"{e}; the pass stopped after {self.garbled} such "
                                 "replies in a row (the digests wait to be tried "
                                 "again)") from e
            return
        if not isinstance(e, (TransientError, PermanentError)):
            raise e
        self.garbled = 0
        if isinstance(e, MessageRefused):
            self._refusal(entry, e)
            return
        if e.reply is not None and isinstance(e, TransientError):
            self.throttle.slow_down()  # a 4xx to a mail: often a rate limit
            if self.throttle.slowed == 1:
                log.info("%s; the pass sends more slowly for now", e)
        self._outcome(entry, failure_of(entry, e, self.clock()))

    async def _turned_away(self, entry: OutboxEntry, message: bytes, e: BusyError) -> bool:
        """The server turned the connection away: True when the digest goes on another
        connection (this worker parks), or on this one a little later, untried; False
        when the last connection was turned away BUSY_TRIES times in a row: the pass
        stops, and the digest is retried later."""
        if self.throttle.turned_away():
            if self.throttle.turned == 1:  # once a pass: it may happen every few mails
                log.info("%s; fewer connections for now", e)
            self.again.append((entry, message))
            await self.throttle.park()
            return True
        if self.throttle.try_again():
            self.again.append((entry, message))
            return True
        log.warning("%s, %d times in a row: the rest wait for the next pass", e,
                    defaults.BUSY_TRIES)
        self.halt.set()
        return False

    def _refusal(self, entry: OutboxEntry, e: MessageRefused) -> None:
        """The server refused the message or its sender: see ``Refusals``."""
        del self.held[entry.id]
        if self.progress:
            self.progress(-1)
        settled, error = self.refusals.add(failure_of(entry, e, self.clock()), e)
        self._tally(*settled)
        if error is not None:
            self.halt.set()
            raise error from e

    def _outcome(self, entry: OutboxEntry, failure: Unsent | None) -> None:
        del self.held[entry.id]
        if failure is None:
            self.sent.append(entry)
            self.report.counts[OutboxState.SENT] += 1
        else:
            self._tally(failure)
        if self.progress:
            self.progress(-1)
        self._flush_soon()

    def _tally(self, *failures: Unsent) -> None:
        for failure in failures:
            self.unsent.append(failure)
            self.report.counts[failure.state] += 1
        self._flush_soon()

    def _flush_soon(self) -> None:
        """Start recording what is owed, once there is enough of it, unless a recording is
        under way or failed (``_settle`` raises that failure)."""
        recorder = self._recorder
        if recorder is not None and not (recorder.done() and not recorder.cancelled()
                                         and recorder.exception() is None):
            return
        if len(self.sent) + len(self.unsent) >= FLUSH:
            self._recorder = asyncio.create_task(self._flush())

    async def _settle(self) -> None:
        """Record every outcome owed, after the recording under way (whose failure is
        raised here, never left in a task nobody awaits)."""
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            await recorder
        await self._flush()

    async def _flush(self) -> None:
        """Record the outcomes owed so far, in one transaction. They stay owed, in
        memory, until it commits: a write that fails (the database restarted) is tried
        again, and never loses what the server accepted. Outcomes only ever join the
        end of the lists, so those written are the lists' first ones."""
        async with self._recording:
            sent, unsent = self.sent[:], self.unsent[:]
            if not (sent or unsent):
                return
            await self._db(functools.partial(self._record, sent, unsent),
                           "recording what was sent")
            del self.sent[:len(sent)], self.unsent[:len(unsent)]

    async def _db(self, work: Callable[[], T], what: str) -> T:
        """``work`` in a thread; while the database cannot be reached or is locked, tried
        again with back-off for at most half the lease, so that no other process takes
        over the digests this one holds in the meantime; then the error stands."""
        deadline = time.monotonic() + self.mailer.mail.lease.total_seconds() / 2
        wait = DB_RETRY_FIRST
        while True:
            try:
                return await asyncio.to_thread(work)
            except (DatabaseUnavailable, DatabaseBusy) as e:
                if time.monotonic() + wait > deadline:
                    raise
                log.warning("%s: %s; trying again in %g s", what, e, wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, DB_RETRY_MOST)

    def _record(self, sent: list[OutboxEntry], unsent: list[Unsent]) -> None:
        self.report.bouncing += self.store.record_outcomes(
            sent, unsent, self.clock(), self.mailer.mail.bounce_limit)


async def deliver(store: Store, transport: Transport, mail: MailSettings, tokens: Tokens,
                  clock: Callable[[], datetime], only: str | None = None,
                  progress: Callable[[int], None] | None = None,
                  stop: asyncio.Event | None = None, *, mailer: Mailer | None = None,
                  batch: int = BATCH, expire: bool = True, owed: Owed | None = None
                  ) -> PassReport:
    """Send every due digest through ``transport`` with its pool of connections: first
    what an earlier pass of this process could not record (``owed``), then, with
    ``expire``, the digests past their grace become missed (``Store.expire_late``)."""
    delivery = _Delivery(store, transport, mailer or Mailer(store, mail, tokens), clock, only,
                         stop or asyncio.Event(), progress, batch, owed)
    if owed:
        await delivery._settle()
    late = await asyncio.to_thread(store.expire_late, clock(), mail.lease) if expire else 0
    if progress:
        progress(await asyncio.to_thread(store.count_due, clock(), mail.lease, only))
    with pass_heap():
        report = await delivery.run()
    if late:
        report.counts[OutboxState.MISSED] += late
    return report

