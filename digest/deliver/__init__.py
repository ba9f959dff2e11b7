"""Delivery: send every digest the outbox holds exactly once.

A pass first plans (``digest.plan``: one digest per subscriber and period, or a skipped
or missed record). Then it delivers: digests are claimed a batch at a time (``sending``,
committed before any SMTP traffic), rendered (``Mailer``: cards and frames once per pass),
sent over the transport's pool of connections, and their outcomes recorded a batch per
transaction after the server's replies: ``sent`` with their papers after a 250; ``retry``
on 4xx, a dropped connection or a timeout (exponential back-off capped at an hour, until
the subscriber's ``grace_hours`` run out); ``failed`` on 5xx, with the server's reply.
Only a refusal of the address is a bounce (DIGEST_BOUNCE_LIMIT of them in a row mark the
subscriber ``bouncing``, skipped until an admin resets them); a refusal of the message or
its sender blames nobody, and the same one for several digests in a row stops the pass
(the set-up's problem: those digests wait to be sent again). A reply that is not SMTP at
all is the server's fault, not the digest's: it is retried without counting, and a few
in a row stop the pass. The pass adapts to a server that wants less (``Throttle``):
fewer connections when it turns one away, sends further apart after a 4xx. Papers of a
digest that failed, or that was still unsent ``grace_hours`` after its time (then
``missed``), stay due for the next digest.
A digest left in ``sending`` by a process that died is sent again with the same
Message-ID once its lease runs out: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.headerregistry import Address
from functools import lru_cache
from typing import TypeVar
from urllib.parse import quote_plus, urlsplit

from digest import defaults
from digest.deliver.dkim import Signer, signer_from_env
from digest.deliver.message import Composer, Envelope
from digest.deliver.refusals import Refusals
from digest.deliver.throttle import Throttle
from digest.deliver.tokens import MAIL_TOKEN_CHARS, Tokens
from digest.deliver.transport import (
    BusyError,
    Message,
    MessageRefused,
    PermanentError,
    ProtocolError,
    SetupError,
    SmtpTransport,
    TransientError,
    Transport,
    wire_bytes,
)
from digest.errors import ConfigError
from digest.heap import pass_heap, settle
from digest.model import Digest, Item, OutboxEntry, Paper, Section, Subscriber, Unsent
from digest.plan import Notes, plan_due
from digest.render import Links, Renderer
from digest.settings import number_setting, switch_setting
from digest.store import DatabaseBusy, DatabaseUnavailable, Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# Card actions take short paths: a 50-card digest carries a hundred of them.
ACTION_PATHS = {"follow": "f", "unfollow": "u", "mute": "m"}
# More / less like this (``digest.web``: they record a like or a dislike).
TASTE_PATHS = {"like": "l", "dislike": "d"}
CARD_PATHS = {**ACTION_PATHS, **TASTE_PATHS}  # every link a card carries


@dataclass(frozen=True)
class MailSettings:
    """Sender, links, pictures and patience, from DIGEST_FROM, DIGEST_NAME,
    DIGEST_BASE_URL, DIGEST_IMAGES, DIGEST_LEASE_SECONDS, DIGEST_BOUNCE_LIMIT and
    DIGEST_BOUNCE_ADDRESS."""

    envelope: Envelope
    base_url: str = defaults.BASE_URL
    lease: timedelta = timedelta(minutes=defaults.SENDING_LEASE_MINUTES)
    bounce_limit: int = defaults.BOUNCE_LIMIT  # refusals in a row that mark an address
    images: bool = defaults.IMAGES  # cards show the sources' thumbnails
    # DIGEST_BOUNCE_ADDRESS: each digest's return path is its local part +TOKEN (VERP),
    # and List-Unsubscribe's mailto unsubscribe+TOKEN@ its domain; None: DIGEST_FROM.
    bounce_address: Address | None = None
    signer: Signer | None = None  # DKIM, when DIGEST_DKIM_KEY is set

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MailSettings:
        """The settings of ``env`` (``digest.app`` hands it the environment it read once).

        Raises ConfigError when DIGEST_FROM is not an address or a DKIM setting is
        wrong (``signer_from_env``)."""
        envelope = Envelope.parse(env.get("DIGEST_FROM") or defaults.MAIL_FROM,
                                  env.get("DIGEST_NAME") or defaults.DIGEST_NAME)
        return cls(envelope, (env.get("DIGEST_BASE_URL") or defaults.BASE_URL).rstrip("/"),
                   timedelta(seconds=number_setting(env, "DIGEST_LEASE_SECONDS")),
                   max(1, int(number_setting(env, "DIGEST_BOUNCE_LIMIT"))),
                   switch_setting(env, "DIGEST_IMAGES"),
                   bounce_address(env.get("DIGEST_BOUNCE_ADDRESS")),
                   signer_from_env(env, envelope.domain))

    def return_path(self, tokens: Tokens, entry: OutboxEntry) -> str:
        """The envelope sender of ``entry``'s mail: ``bounces+TOKEN@domain``, the token
        naming the subscriber and the digest, so a bounce says whose it is (DIGEST_FROM
        without DIGEST_BOUNCE_ADDRESS, or for a ref no token can carry)."""
        bounce = self.bounce_address
        token = bounce and tokens.make_mail("bounce", entry.subscriber.ref, entry.period)
        if not bounce or not token:
            return self.envelope.sender.addr_spec
        return f"{bounce.username}+{token}@{bounce.domain}"

    def unsubscribe_mailto(self, tokens: Tokens, sub: Subscriber) -> str | None:
        """``unsubscribe+TOKEN@domain`` for List-Unsubscribe, or None (no
        DIGEST_BOUNCE_ADDRESS: the mailto goes to DIGEST_FROM with subject unsubscribe)."""
        token = self.bounce_address and tokens.make_mail("mailto", sub.ref)
        return f"{UNSUBSCRIBE_LOCAL}+{token}@{self.bounce_address.domain}" \
            if self.bounce_address and token else None

    def signed(self, message: Message) -> bytes:
        """A mail that is not a digest (a confirmation, a test mail) as its wire bytes,
        DKIM-signed when a key is set."""
        data = wire_bytes(message)
        return self.signer.sign(data) if self.signer else data

    def url(self, action: str, token: str) -> str:
        return f"{self.base_url}/{action}/{token}"

    def links(self, tokens: Tokens, sub: Subscriber) -> Links:
        """The signed links of a mail to ``sub``; card actions only for subscribers who
        manage what they follow themselves. The card actions of a mail share one "card"
        token and name their target after it (``/f/TOKEN?t=Ada+Lovelace``): a digest
        carries dozens of them, and the token proves no more than the manage link does."""
        manage = self.url("manage", tokens.make_bare("manage", sub.ref))
        unsubscribe = self.url("unsubscribe", tokens.make_bare("unsubscribe", sub.ref))
        if sub.managed != "db":
            return Links(unsubscribe, manage)
        card = tokens.make_card(sub.ref)

        def action(kind: str, target: str) -> str:
            return f"{self.base_url}/{CARD_PATHS[kind]}/{card}?t={_target(target)}"

        return Links(unsubscribe, manage, action, card)

    def placeholders(self, sub: Subscriber) -> Links:
        """Links that go nowhere real, for previews and samples: the mail's own, with
        each token blanked to ``preview---...`` of its length, so that a preview holds
        the cards its mail will (a long digest's last cards go when the HTML passes
        the limit)."""
        real = self.links(Tokens("preview"), replace(sub, ref=sub.ref or "x" * 12))
        action = real.action

        def blank(token: str) -> str:
            return "preview".ljust(len(token), "-")

        def blank_url(url: str) -> str:
            head, _, token = url.rpartition("/")
            token, mark, target = token.partition("?")
            return f"{head}/{blank(token)}{mark}{target}"

        return Links(blank_url(real.unsubscribe), blank_url(real.manage),
                     None if action is None else lambda kind, t: blank_url(action(kind, t)),
                     blank(real.token) if real.token else "")


UNSUBSCRIBE_LOCAL = "unsubscribe"  # the local part of List-Unsubscribe's mailto
_LOCAL_OCTETS = 64  # the most a local part may hold (RFC 5321)


def bounce_address(raw: str | None) -> Address | None:
    """DIGEST_BOUNCE_ADDRESS as an address whose local part leaves room for ``+TOKEN``;
    ConfigError naming what to change."""
    if not raw or not raw.strip():
        return None
    local, at, domain = raw.strip().rpartition("@")
    if not (local and at and domain) or not (local + domain).isascii() or \
            any(c in local + domain for c in ' "<>()[],;:\\+') or "@" in local:
        raise ConfigError(f"DIGEST_BOUNCE_ADDRESS {raw!r} is not a plain address; write "
                          "one like bounces@example.org (no name, no +)")
    if len(local) + 1 + MAIL_TOKEN_CHARS > _LOCAL_OCTETS:
        raise ConfigError(f"DIGEST_BOUNCE_ADDRESS {raw!r}: its local part may have at most "
                          f"{_LOCAL_OCTETS - 1 - MAIL_TOKEN_CHARS} characters, to leave room "
                          "for +TOKEN; use a shorter one, like bounces@")
    return Address("", local.lower(), domain.lower())


def refuse_localhost(mail: MailSettings, transport: Transport,
                     env: Mapping[str, str] = os.environ) -> None:
    """Raises ConfigError when mail would go through an SMTP server from an address at
    localhost, or with links to it: no receiver can answer the one or open the others
    (DIGEST_ALLOW_LOCALHOST=1 allows it, for a relay under test)."""
    if not isinstance(transport, SmtpTransport) or switch_setting(env,
                                                                   "DIGEST_ALLOW_LOCALHOST"):
        return
    local = [f"{name} ({value})" for name, value, host in (
        ("DIGEST_FROM", mail.envelope.sender.addr_spec, mail.envelope.domain),
        ("DIGEST_BASE_URL", mail.base_url, urlsplit(mail.base_url).hostname or ""))
        if _is_local(host)]
    if local:
        raise ConfigError(
            f"{' and '.join(local)} point at this machine, but mail goes out through "
            f"{transport.description}: set DIGEST_FROM to an address at your domain (Paper "
            "Digest <digest@example.org>) and DIGEST_BASE_URL to where digest serve is "
            "reachable (https://digest.example.org), or DIGEST_ALLOW_LOCALHOST=1 to send "
            "anyway")


def _is_local(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1 << 14)
def _target(target: str) -> str:
    return quote_plus(target)


def tokens_for(store: Store) -> Tokens:
    """Unsubscribe tokens signed with DIGEST_SECRET, else the database's own secret."""
    return Tokens(os.environ.get("DIGEST_SECRET") or store.secret())


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


class Mailer:
    """Turns outbox rows into messages: papers kept in memory once loaded (or handed over
    by planning), cards and frames rendered once per pass (``Renderer``), headers built
    once (``Composer``)."""

    def __init__(self, store: Store, mail: MailSettings, tokens: Tokens,
                 papers: dict[int, Paper] | None = None) -> None:
        self.store = store
        self.mail = mail
        self.tokens = tokens
        self.papers: dict[int, Paper] = papers if papers is not None else {}
        # ambiguous followed names, each looked up once a pass
        self.notes = Notes(store, self.papers)
        self.renderer = Renderer(mail.envelope.list_name, images=mail.images)
        self.composer = Composer(mail.envelope, mail.signer.sign if mail.signer else None)

    def load(self, entries: Iterable[OutboxEntry]) -> None:
        """Read the papers of these rows that are not in memory yet, and what is known of
        their subscribers' followed names, in one go."""
        entries = list(entries)
        missing = {pid for e in entries for pid in e.paper_ids if pid not in self.papers}
        if missing:
            self.papers.update(self.store.papers_by_id(missing))
        self.notes.load(e.subscriber for e in entries)

    def compose(self, entry: OutboxEntry, now: datetime) -> tuple[bytes, OutboxEntry]:
        """The message of an outbox row, rendered now from its papers, and the row as the
        mail shows it: a digest whose HTML would pass ``defaults.MAX_HTML_BYTES`` shows
        fewer cards, and only the papers shown count as sent."""
        self.load([entry])
        sections = tuple(Section(name, tuple(Item(self.papers[pid], reasons)
                                             for pid, reasons in items if pid in self.papers))
                         for name, items in entry.sections)
        digest = Digest(entry.subscriber, entry.period_start, entry.period_end, sections,
                        self.notes.of(entry.subscriber))
        links = self.mail.links(self.tokens, entry.subscriber)
        rendered, shown = self.renderer.render_within(digest, links, entry.kind)
        if shown is not digest:
            entry = _showing(entry, shown)
        return self.composer.build(
            rendered, to_name=entry.subscriber.name, to_email=entry.subscriber.email,
            date=now, unsubscribe_url=links.unsubscribe, kind=entry.kind,
            unsubscribe_mailto=self.mail.unsubscribe_mailto(self.tokens, entry.subscriber),
            message_id=self.mail.envelope.message_id(entry.subscriber.ref, entry.kind,
                                                     entry.period)), entry

    def return_path(self, entry: OutboxEntry) -> str:
        """The envelope sender of ``entry``'s mail (``MailSettings.return_path``)."""
        return self.mail.return_path(self.tokens, entry)


def _showing(entry: OutboxEntry, shown: Digest) -> OutboxEntry:
    """``entry`` holding only the papers ``shown`` holds."""
    kept = {it.paper.id for it in shown.items}
    return replace(entry, sections=tuple(
        (name, tuple((pid, why) for pid, why in items if pid in kept))
        for name, items in entry.sections))


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
                        self._outcome(entry, Unsent(entry, "failed",
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
            self._outcome(entry, _failure(entry, e, self.clock()))
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
        self._outcome(entry, _failure(entry, e, self.clock()))

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
        settled, error = self.refusals.add(_failure(entry, e, self.clock()), e)
        self._tally(*settled)
        if error is not None:
            self.halt.set()
            raise error from e

    def _outcome(self, entry: OutboxEntry, failure: Unsent | None) -> None:
        del self.held[entry.id]
        if failure is None:
            self.sent.append(entry)
            self.report.counts["sent"] += 1
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
        report.counts["missed"] += late
    return report


async def send_pass(store: Store, transport: Transport, mail: MailSettings, tokens: Tokens,
                    clock: Callable[[], datetime], *, groups: Iterable[str] | None = None,
                    only: str | None = None, progress: Callable[[int], None] | None = None,
                    stop: asyncio.Event | None = None,
                    shard: tuple[int, int] | None = None, owed: Owed | None = None
                    ) -> PassReport:
    """What ``digest send`` and every bot job do: plan what is due (for everyone, these
    send groups, one address, or shard ``(k, n)`` of everyone), then deliver everything
    due."""
    started = time.perf_counter()
    papers: dict[int, Paper] = {}
    with pass_heap():  # the papers planning reads stay frozen while they are sent
        # Late digests first, so that their papers go into the digests planned now;
        # planning in a thread, so that signals and timers stay prompt on the loop.
        late = await asyncio.to_thread(store.expire_late, clock(), mail.lease)
        _, planned = await asyncio.to_thread(functools.partial(
            plan_due, store, clock(), groups=groups, only=only, papers=papers, keep=False,
            shard=shard))
        planned["missed"] += late
        planning = time.perf_counter() - started
        report = await deliver(store, transport, mail, tokens, clock, only, progress, stop,
                               mailer=Mailer(store, mail, tokens, papers), expire=False,
                               owed=owed)
    report.counts.update(planned)
    report.seconds = {"plan": planning, "deliver": time.perf_counter() - started - planning}
    return report


def _failure(entry: OutboxEntry, error: Exception, now: datetime) -> Unsent:
    """Failed for good on a refusal (a bounce when the address was refused), else a retry
    with exponential back-off capped at RETRY_MAX_MINUTES: the retries go on until the
    digest's grace runs out (``Store.expire_late`` makes it missed). A reply that was not
    SMTP is never a verdict on the digest, so that attempt does not count."""
    reply = str(getattr(error, "reply_class", "none"))
    if isinstance(error, PermanentError):
        return Unsent(entry, "failed", str(error), bounce=not isinstance(error, MessageRefused),
                      reply_class=reply)
    counted = not isinstance(error, ProtocolError)
    tried = entry.attempts if counted else entry.attempts - 1
    minutes = min(defaults.RETRY_MAX_MINUTES,
                  defaults.RETRY_FIRST_MINUTES * 2 ** min(max(0, tried - 1), 16))
    return Unsent(entry, "retry", str(error), now + timedelta(minutes=minutes), counted,
                  reply_class=reply)


def transport_rate(transport: Transport) -> float:
    return transport.settings.rate if isinstance(transport, SmtpTransport) else 0.0
