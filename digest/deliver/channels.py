"""The send pass's team channel messages: claim a batch of due ones, build each digest's
compact message (``digest.render.chat``), post it with httpx, record what came of it.

A 2xx is sent. A 5xx, a 429 or 408, a timeout or a dropped connection is tried again with
the outbox's back-off (a longer Retry-After wins) until the subscriber's grace after the
digest's time runs out, then it fails. A 404 or 410 means the hook is gone: the channel
is suppressed (``Store.record_channels`` blocks it) and gets nothing more until the
subscriber changes it, as a hard bounce suppresses an address. Any other 4xx fails with
the hook's words. Redirects are followed only to the same origin, keeping the method
(307, 308); a token goes only where it was given for.

Errors and logs name a channel by ``Channel.where`` (kind and host): a Slack or Discord
URL's path and every token are secrets."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import hmac
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urljoin, urlsplit

import httpx

from digest import __version__, defaults
from digest.model import (
    Channel,
    ChannelEntry,
    ChannelOutcome,
    Digest,
    Item,
    OutboxEntry,
    Paper,
    Section,
)
from digest.render import chat
from digest.settings import HttpSettings
from digest.store import Store
from digest.vocab import ChannelKind, ChannelState

log = logging.getLogger(__name__)

BATCH = 100  # channel messages claimed per transaction
AT_ONCE = 8  # requests in flight (a remote hook answers in tens of milliseconds)
REDIRECTS = 3
ERROR_CHARS = 200  # of a hook's answer kept as the error
SIGNATURE_HEADER = "X-Digest-Signature-256"
DELIVERY_HEADER = "X-Digest-Delivery"
WebUrl = Callable[[OutboxEntry], "str | None"]


@dataclass
class Request:
    method: str
    url: str
    body: bytes
    headers: dict[str, str]


def transaction_id(entry: ChannelEntry) -> str:
    """Stable per digest and channel: Matrix's txnId (a retry is not posted twice), our
    webhook's delivery id."""
    return f"digest-{entry.digest.id}-{entry.key}"


def request_of(channel: Channel, entry: ChannelEntry, m: chat.ChatMessage,
               webhook_key: bytes) -> Request:
    """The HTTP request that posts ``m`` to ``channel``."""
    kind = ChannelKind(channel.kind)
    auth = {"Authorization": f"Bearer {channel.token}"} if channel.token else {}
    headers = {"Content-Type": "application/json", **auth}
    if kind is ChannelKind.MATRIX:
        url = (f"{channel.url.rstrip('/')}/_matrix/client/v3/rooms/"
               f"{quote(channel.room, safe='')}/send/m.room.message/"
               f"{quote(transaction_id(entry), safe='')}")
        return Request("PUT", url, _json(chat.matrix(m)), headers)
    if kind is ChannelKind.NTFY:
        parts = urlsplit(channel.url)
        base, _, topic = parts.path.rstrip("/").rpartition("/")
        return Request("POST", f"{parts.scheme}://{parts.netloc}{base}/",
                       _json(chat.ntfy(m, topic)), headers)
    body = _json(chat.BUILDERS[kind](m))
    if kind is ChannelKind.WEBHOOK:
        key = channel.token.encode() if channel.token else webhook_key
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        headers.update({SIGNATURE_HEADER: f"sha256={signature}",
                        DELIVERY_HEADER: transaction_id(entry)})
    return Request("POST", channel.url, body, headers)


def _json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def backoff(attempts: int, now: datetime, retry_after: float | None) -> datetime:
    """The outbox's back-off for the ``attempts``-th try (``outcomes.failure_of``), or
    the hook's Retry-After when it asks for longer."""
    minutes = min(defaults.RETRY_MAX_MINUTES,
                  defaults.RETRY_FIRST_MINUTES * 2 ** min(max(0, attempts - 1), 16))
    wait = max(timedelta(minutes=minutes), timedelta(seconds=retry_after or 0))
    return now + min(wait, timedelta(days=1))


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a Retry-After header asks for (a number, or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when.astimezone(UTC) - now).total_seconds()) if when.tzinfo else None


def verdict(entry: ChannelEntry, response: httpx.Response, now: datetime) -> ChannelOutcome:
    """What the hook's answer means for this message."""
    code = response.status_code
    if 200 <= code < 300:
        return ChannelOutcome(entry, ChannelState.SENT, status=code)
    said = f"{code} {response.reason_phrase}: {_words(response)}".rstrip(": ")
    if code in (404, 410):
        return ChannelOutcome(entry, ChannelState.SUPPRESSED,
                              f"the hook answered {said}; it gets nothing more until the "
                              "subscriber changes it", status=code)
    if code in (408, 429) or code >= 500:
        wait = retry_after(response.headers.get("Retry-After"), now)
        return _retry(entry, f"the hook answered {said}", now, wait, code)
    if 300 <= code < 400:
        return ChannelOutcome(entry, ChannelState.FAILED,
                              f"the hook answered {code} (a redirect to another place); "
                              "write the URL it points to", status=code)
    return ChannelOutcome(entry, ChannelState.FAILED, f"the hook refused it: {said}",
                          status=code)


def _words(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:ERROR_CHARS]


def _retry(entry: ChannelEntry, error: str, now: datetime, wait: float | None,
           code: int = 0) -> ChannelOutcome:
    at = backoff(entry.attempts, now, wait)
    if at > entry.give_up_at:
        return ChannelOutcome(entry, ChannelState.FAILED, f"{error}; not sent within the "
                              "subscriber's grace_hours of its time, so no more tries",
                              status=code)
    return ChannelOutcome(entry, ChannelState.RETRY, error, at, code)


class ChannelDelivery:
    """One process's share of a pass's channel messages."""

    def __init__(self, store: Store, http: HttpSettings, webhook_key: bytes,
                 clock: Callable[[], datetime], lease: timedelta,
                 papers: dict[int, Paper] | None = None, web_url: WebUrl | None = None,
                 batch: int = BATCH) -> None:
        self.store, self.http, self.webhook_key = store, http, webhook_key
        self.clock, self.lease = clock, lease
        self.papers = papers if papers is not None else {}
        # The web copy of a digest: wired by the app once the pages serve one.
        self.web_url = web_url
        self.batch = batch
        self.client: httpx.AsyncClient | None = None
        self.counts: Counter[str] = Counter()

    async def run(self, only: str | None = None, stop: asyncio.Event | None = None
                  ) -> Counter[str]:
        """Send every due channel message; returns how many came to each state."""
        async with httpx.AsyncClient(
                timeout=httpx.Timeout(self.http.timeout), follow_redirects=False,
                headers={"User-Agent": f"digest/{__version__} (paper digest bot)"}) as client:
            self.client = client
            while not (stop and stop.is_set()):
                entries = await asyncio.to_thread(self.store.claim_channels, self.clock(),
                                                  self.lease, self.batch, only)
                if not entries:
                    break
                await asyncio.to_thread(self._load, entries)
                limit = asyncio.Semaphore(AT_ONCE)
                outcomes = await asyncio.gather(*(self._one(e, limit) for e in entries))
                await asyncio.to_thread(self.store.record_channels, outcomes, self.clock())
                self.counts.update(o.state for o in outcomes)
        return self.counts

    def _load(self, entries: list[ChannelEntry]) -> None:
        missing = {pid for e in entries for pid in e.digest.paper_ids
                   if pid not in self.papers}
        if missing:
            self.papers.update(self.store.papers_by_id(missing))

    async def _one(self, entry: ChannelEntry, limit: asyncio.Semaphore) -> ChannelOutcome:
        if entry.channel is None:
            return ChannelOutcome(entry, ChannelState.FAILED, "the subscriber removed or "
                                  "changed this channel after the digest was planned")
        if self.clock() > entry.give_up_at:  # a pass that ran days late: as mail, not sent
            return ChannelOutcome(entry, ChannelState.FAILED, "not sent within the "
                                  "subscriber's grace_hours of its time")
        async with limit:
            outcome = await self.send(entry, entry.channel)
        if outcome.state != ChannelState.SENT:
            log.info("%s, digest %d: %s", entry.channel.where, entry.digest.id, outcome.error)
        return outcome

    def message(self, entry: ChannelEntry) -> chat.ChatMessage:
        d = entry.digest
        sections = tuple(Section(name, tuple(Item(self.papers[pid], why)
                                             for pid, why in items if pid in self.papers))
                         for name, items in d.sections)
        digest = Digest(d.subscriber, d.period_start, d.period_end, sections)
        web = self.web_url(d) if self.web_url else None
        return chat.message(digest, d.kind, d.period.isoformat(), web)

    async def send(self, entry: ChannelEntry, channel: Channel) -> ChannelOutcome:
        """Post the message once (following same-origin 307/308s); the outcome."""
        now = self.clock()
        try:
            request = request_of(channel, entry, self.message(entry), self.webhook_key)
        except Exception as e:  # a digest that cannot be put in words is ours to fix
            return ChannelOutcome(entry, ChannelState.FAILED,
                                  f"could not build the message: {e!r}")
        try:
            response = await self._post(request)
        except httpx.TimeoutException:
            return _retry(entry, f"no answer within {self.http.timeout:g} s", now, None)
        except httpx.TransportError as e:
            return _retry(entry, f"could not reach {channel.where}: {type(e).__name__}",
                          now, None)
        return verdict(entry, response, self.clock())

    async def _post(self, request: Request) -> httpx.Response:
        assert self.client is not None
        url = request.url
        for _ in range(REDIRECTS + 1):
            response = await self.client.request(request.method, url, content=request.body,
                                                 headers=request.headers)
            target = response.headers.get("Location")
            if response.status_code not in (307, 308) or not target:
                return response
            following = urljoin(url, target)
            if _origin(following) != _origin(url):
                return response
            url = following
        return response


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


async def deliver_channels(store: Store, http: HttpSettings, webhook_key: bytes,
                           clock: Callable[[], datetime], lease: timedelta, *,
                           papers: dict[int, Paper] | None = None, only: str | None = None,
                           stop: asyncio.Event | None = None, web_url: WebUrl | None = None,
                           batch: int = BATCH) -> Counter[str]:
    """Send every due team channel message (see the module's doc), claimed ``batch`` at
    a time."""
    return await ChannelDelivery(store, http, webhook_key, clock, lease, papers,
                                 web_url, batch).run(only, stop)
