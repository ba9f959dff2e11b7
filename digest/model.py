"""The small frozen records the pipeline stages hand each other.

A ``Paper`` is what a parser reads from one source entry, and also what the store gives
back after merging every source of that paper. ORM rows never leave ``digest.store``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from digest import defaults
from digest.text import name_key, plural
from digest.vocab import Cadence, Managed, MessageKind, OutboxState, ReasonKind


@dataclass(frozen=True)
class Paper:
    """One paper as known from one or more sources.

    ``authors`` is the visible author list in its listed order; ``truncated`` says it is
    shorter than the real one ("et al.", or only a count was shown). ``credited`` names
    profile owners the paper is credited to, who may be cut off the visible list.
    ``claimed`` pairs a listed author's name with the account that claimed the paper as
    theirs at the source (a Hugging Face username), for the authors who did.
    ``doi`` is the identity of a paper that has no arXiv id (a bioRxiv or medRxiv
    preprint's DOI, lower-cased), as ``arxiv_id`` is of an arXiv paper; a journal DOI
    an arXiv record mentions is not kept, so that one DOI names one stored paper.
    ``id`` and ``first_seen`` are set by the store; parsers leave them empty.
    """

    title: str
    authors: tuple[str, ...] = ()
    truncated: bool = False
    author_count: int | None = None
    credited: tuple[str, ...] = ()
    claimed: tuple[tuple[str, str], ...] = ()  # (author name as listed, account)
    arxiv_id: str | None = None
    abstract: str = ""
    organization: str | None = None
    category: str | None = None
    published: date | None = None
    featured: date | None = None
    upvotes: int | None = None
    score: float | None = None
    has_code: bool = False
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    keywords: tuple[str, ...] = ()
    thumbnail: str | None = None  # the source's preview image (Hugging Face's), http(s)
    comments: int | None = None  # comments on the source's page, when it counts them
    announce_type: str | None = None
    doi: str | None = None
    sources: tuple[str, ...] = ()
    first_seen: datetime | None = None
    id: int | None = field(default=None, compare=False)

    @property
    def all_authors(self) -> tuple[str, ...]:
        """Every name known: the listed authors, then credited owners not among them."""
        if not self.credited:
            return self.authors
        listed = {name_key(a) for a in self.authors}
        extra = tuple(c for c in self.credited if name_key(c) not in listed)
        return self.authors + extra


@dataclass(frozen=True)
class Pin:
    """A followed name pinned to one person: by their profile (``profile``, the source
    name a profile listing is stored under), by co-authors (``with_``), by organisation
    (``org``), or by papers the reader said are theirs (``papers``, arXiv ids). A paper
    with that name is theirs only when one of these says so, and never when the reader
    said it is not (``not_``, arXiv ids)."""

    name: str
    profile: str | None = None
    with_: tuple[str, ...] = ()
    org: str | None = None
    papers: tuple[str, ...] = ()
    not_: tuple[str, ...] = ()

    @classmethod
    def decode(cls, entry: Mapping[str, Any]) -> Pin:
        """From the settings' form ``{name, profile?, with?, org?, papers?, not?}``."""
        return cls(str(entry["name"]), entry.get("profile"),
                   tuple(entry.get("with") or ()), entry.get("org"),
                   tuple(entry.get("papers") or ()), tuple(entry.get("not") or ()))

    def describe(self) -> str:
        """Who the pin says the person is, for the reader: ``with Jie Li, Guan Huang; 2
        papers you pinned them by; 1 paper you said is someone else's``."""
        def papers(n: int) -> str:
            return plural(n, "paper")
        said = [f"on the profile {self.profile}" if self.profile else "",
                f"with {', '.join(self.with_)}" if self.with_ else "",
                f"at {self.org}" if self.org else "",
                f"{papers(len(self.papers))} you pinned them by" if self.papers else "",
                f"{papers(len(self.not_))} you said {'is' if len(self.not_) == 1 else 'are'} "
                "someone else's" if self.not_ else ""]
        return "; ".join(x for x in said if x)

    @property
    def pinned(self) -> bool:
        """Whether it says who the person is (a pin with only ``not_`` says only who
        they are not: the name is otherwise followed as if unpinned)."""
        return bool(self.profile or self.with_ or self.org or self.papers)

    def encode(self) -> dict[str, Any]:
        """The settings' form, as subscriptions.yaml writes it (only the keys given)."""
        data: dict[str, Any] = {"name": self.name}
        if self.profile is not None:
            data["profile"] = self.profile
        if self.with_:
            data["with"] = list(self.with_)
        if self.org is not None:
            data["org"] = self.org
        if self.papers:
            data["papers"] = list(self.papers)
        if self.not_:
            data["not"] = list(self.not_)
        return data


def author_name(entry: str | Mapping[str, Any]) -> str:
    """The name of an ``authors:`` entry: a plain name, or a pin's ``name``."""
    return entry if isinstance(entry, str) else str(entry["name"])


def split_authors(entries: Any) -> tuple[tuple[str, ...], tuple[Pin, ...]]:
    """``authors:`` entries as (every name, in order; the pins among them)."""
    listed = tuple(entries or ())
    return (tuple(author_name(e) for e in listed),
            tuple(Pin.decode(e) for e in listed if not isinstance(e, str)))


@dataclass(frozen=True)
class Channel:
    """A team channel a subscriber's digests go to (``channels:``): its ``kind`` (a
    ``vocab.ChannelKind``), the hook or server ``url``, and the ``token`` (a secret: never
    shown) and Matrix ``room`` where the kind takes them."""

    kind: str
    url: str
    token: str = field(default="", repr=False)
    room: str = ""

    @property
    def key(self) -> str:
        """Names the channel in the outbox and its suppression: a digest of what it is, so
        that a channel the subscriber changes (another URL, room or token) is a new one,
        tried afresh, and the key shows nothing of the secret."""
        text = "\n".join((self.kind, self.url, self.room, self.token))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def where(self) -> str:
        """What may be shown of it: the kind and the host (a Slack or Discord URL's path
        is itself the secret)."""
        host = self.url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
        return f"{self.kind} {host}" + (f" {self.room}" if self.room else "")

    def encode(self) -> dict[str, str]:
        """As the settings keep it (the keys given only)."""
        return {k: v for k, v in (("kind", self.kind), ("url", self.url),
                                  ("token", self.token), ("room", self.room)) if v}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Channel:
        return cls(str(data["kind"]), str(data["url"]), str(data.get("token", "")),
                   str(data.get("room", "")))


@dataclass(frozen=True)
class Subscriber:
    """One subscriber as configured, with every default filled in (``digest.prefs.resolve``
    makes them).

    ``send_at`` is ``HH:MM`` local wall-clock time in ``timezone``; ``day`` a weekday name
    (weekly only); ``max_age_days`` None means twice the cadence period.
    """

    email: str
    name: str = ""
    cadence: str = defaults.CADENCE
    send_at: str = defaults.SEND_AT
    day: str = defaults.DAY
    timezone: str = defaults.TIMEZONE
    max_papers: int = defaults.MAX_PAPERS
    trending: int = defaults.TRENDING
    rising: int = defaults.RISING
    recommended: int = defaults.RECOMMENDED
    max_age_days: int | None = defaults.MAX_AGE_DAYS
    authors: tuple[str, ...] = ()  # every followed name, pinned or not
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # arXiv ids of papers they want more (less) of: the "Recommended for you" section
    # learns from them; the latest word on a paper wins (it is in one list only).
    likes: tuple[str, ...] = ()
    dislikes: tuple[str, ...] = ()
    send_empty: bool = False  # a "nothing new" mail when no paper is due
    alert_keywords: bool = False  # instant alerts include keyword matches, not only authors
    grace_hours: int = defaults.GRACE_HOURS  # a missed period older than this is not sent
    pins: tuple[Pin, ...] = ()  # the followed names pinned to one person (see ``Pin``)
    mail: bool = True  # False: channel messages only (``mailed``)
    channels: tuple[Channel, ...] = ()  # team channels each digest goes to as well
    line: int | None = field(default=None, compare=False)
    # Set by the store: the opaque reference tokens carry, and who manages the settings:
    # "file" (subscriptions.yaml, the admin's word) or "db" (the subscriber, or an admin
    # through `digest subscribers`).
    ref: str = field(default="", compare=False)
    managed: str = field(default=Managed.FILE, compare=False)

    def author_entries(self) -> list[str | dict[str, Any]]:
        """``authors`` in the settings' form: plain names, and pins as mappings."""
        pins = {name_key(p.name): p for p in self.pins}
        return [pins[name_key(a)].encode() if name_key(a) in pins else a
                for a in self.authors]

    def pin(self, name: str) -> Pin | None:
        """The pin of a followed name, or None when it is not pinned."""
        return next((p for p in self.pins if name_key(p.name) == name_key(name)), None)

    @property
    def group_key(self) -> str:
        """Who is sent at the same instants: ``cadence|day|HH:MM|zone``, or ``instant``."""
        if self.cadence == Cadence.INSTANT:
            return Cadence.INSTANT
        day = self.day if self.cadence == Cadence.WEEKLY else "-"
        return f"{self.cadence}|{day}|{self.send_at}|{self.timezone}"

    @property
    def period_days(self) -> int:
        """Length of one cadence period in days (instant alerts count as daily)."""
        return Cadence(self.cadence).period_days

    @property
    def mailed(self) -> bool:
        """Whether this subscriber's digests go out by mail: the one place that decides
        it. A digest that is not mailed is recorded as planned (``OutboxState.RECORDED``):
        its web copy, the past digests and the private feed show it, its team channels'
        messages go, its papers count as sent, and no send pass mails it (``cadence:
        feed-only``, or ``mail: false`` for channels only)."""
        return self.mail and self.cadence != Cadence.FEED_ONLY

    @property
    def age_limit_days(self) -> int:
        """How old (by appearance date) a paper may be and still be due."""
        return self.max_age_days if self.max_age_days is not None else 2 * self.period_days


@dataclass(frozen=True)
class Terms:
    """A stored paper's packed terms (``digest.terms``), with what a recommendation
    names of it: its arXiv id and title."""

    paper_id: int | None
    arxiv_id: str | None
    title: str
    packed: bytes


@dataclass(frozen=True)
class Snapshot:
    """A paper's upvote count as an ingest at ``seen_at`` found it (the store keeps only
    counts that changed)."""

    paper_id: int
    seen_at: datetime
    upvotes: int


class Reason(NamedTuple):
    """Why a paper is in a digest: a followed ``author`` (as the subscriber wrote the
    name; for a pinned one ``area`` says how the paper is theirs), a ``keyword`` phrase
    and the ``area`` it matched in (title, abstract or the source's keywords),
    ``trending`` (``area`` a ``vocab.Note``: "in your area" for a paper close to what the
    reader follows), ``rising`` (``value`` the upvotes it gained, ``area`` the ISO day the
    gain is counted from), or ``recommended`` (``value`` the title of the liked paper it
    is most like, ``area`` that paper's arXiv id). A named tuple: a pass decodes and
    hashes (as part of the card caches' keys) a dozen for each digest."""

    kind: str  # a vocab.ReasonKind
    value: str = ""
    area: str = ""

    @classmethod
    def author(cls, name: str, why: str = "") -> Reason:
        """A followed author; for a pinned one, ``why`` (kept as ``area``) says how the
        paper is theirs ("on their profile", "with X, a co-author on 5 of their papers")."""
        return cls(ReasonKind.AUTHOR, name, why)

    @classmethod
    def keyword(cls, phrase: str, area: str) -> Reason:
        return cls(ReasonKind.KEYWORD, phrase, area)

    @classmethod
    def trending(cls, note: str = "") -> Reason:
        """A trending paper; ``note`` a ``vocab.Note`` ("in your area") or nothing."""
        return cls(ReasonKind.TRENDING, "", note)

    @classmethod
    def rising(cls, gain: int, since: date) -> Reason:
        return cls(ReasonKind.RISING, str(gain), since.isoformat())

    @classmethod
    def recommended(cls, like_title: str, like_id: str) -> Reason:
        return cls(ReasonKind.RECOMMENDED, like_title, like_id)

    def encode(self) -> list[str]:
        """The compact JSON form kept in the outbox: ``["author", "Ada"]``."""
        return [self.kind, self.value, self.area] if self.area else (
            [self.kind, self.value] if self.value else [self.kind])

    @classmethod
    def decode(cls, data: Any) -> Reason:
        """From :meth:`encode`'s form, or the text of outbox rows written before reasons
        were typed (``"author: Ada"``, ``"keyword: flow matching (title)"``)."""
        if isinstance(data, list):
            return cls(*(str(x) for x in data[:3]))
        kind, _, value = str(data).partition(": ")
        if kind == ReasonKind.KEYWORD and value.endswith(")") and " (" in value:
            phrase, _, area = value[:-1].rpartition(" (")
            return cls(kind, phrase, area)
        return cls(kind, value)

    def __str__(self) -> str:
        if self.kind == ReasonKind.KEYWORD:
            return f"keyword: {self.value} ({self.area})"
        if self.kind == ReasonKind.RISING:
            return f"rising: +{self.value} since {self.area}"
        if self.kind == ReasonKind.AUTHOR and self.area:
            return f"author: {self.value} ({self.area})"
        if self.kind == ReasonKind.RECOMMENDED:
            return f"recommended: like {self.area}"
        if self.kind == ReasonKind.TRENDING and self.area:
            return f"{self.kind} ({self.area})"
        return f"{self.kind}: {self.value}" if self.value else self.kind


TRENDING = Reason(ReasonKind.TRENDING)


@dataclass(frozen=True)
class Item:
    """A paper in a digest and why it is there."""

    paper: Paper
    reasons: tuple[Reason, ...]

    def values(self, kind: str) -> list[str]:
        """The followed authors (``author``) or keyword phrases (``keyword``) that brought
        this paper, in order, each once."""
        return reason_values(self.reasons, kind)


def reason_values(reasons: tuple[Reason, ...], kind: str) -> list[str]:
    """The values of the ``kind`` reasons among ``reasons``, in order, each once."""
    return list(dict.fromkeys(r.value for r in reasons if r.kind == kind))


@dataclass(frozen=True)
class Section:
    name: str  # a vocab.SectionName
    items: tuple[Item, ...]


@dataclass(frozen=True)
class History:
    """What a subscriber already received: paper ids, and when their last digest went."""

    sent: frozenset[int] = frozenset()
    last_digest_at: datetime | None = None
    # Papers of their digests that never went out (failed, or missed after planning):
    # still due, though first seen before the last cut-off.
    owed: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Digest:
    """One subscriber's digest for the period ``start`` .. ``end``."""

    subscriber: Subscriber
    start: datetime
    end: datetime
    sections: tuple[Section, ...]
    # For the reader, about what they follow ("several people publish as Wei Wang; pin
    # the one you mean"): data the templates show, not part of the papers.
    notes: tuple[str, ...] = ()
    # Papers that matched but did not fit (past ``max_papers``, or left out to keep the
    # mail under ``defaults.MAX_HTML_BYTES``), best first: the mail says how many, and
    # its web copy lists them. (Later digests hold what is new since, not these.)
    more: tuple[Item, ...] = ()
    # How many more did not fit than ``more`` holds: those the outbox keeps, which a mail
    # only counts (its sender does not load them).
    more_elsewhere: int = 0

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)

    def count(self, section: str) -> int:
        return sum(len(s.items) for s in self.sections if s.name == section)


@dataclass(frozen=True)
class OutboxEntry:
    """A digest in the outbox: whom it goes to, for which period, and what it holds.

    ``sections`` are ``(name, ((paper_id, reasons), ...))`` pairs, in order.
    """

    id: int
    subscriber_id: int
    subscriber: Subscriber
    kind: str  # a vocab.MessageKind
    period: datetime
    period_start: datetime
    period_end: datetime
    state: str
    sections: tuple[tuple[str, tuple[tuple[int, tuple[Reason, ...]], ...]], ...]
    attempts: int = 0
    last_error: str | None = None
    # What matched but did not fit (``Digest.more``): (paper_id, reasons), best first; as
    # a sender claims it, only how many (``more_count``), not the papers.
    more: tuple[tuple[int, tuple[Reason, ...]], ...] = ()
    more_count: int = 0

    @property
    def paper_ids(self) -> tuple[int, ...]:
        return tuple(pid for _, items in self.sections for pid, _ in items)


@dataclass(frozen=True)
class ChannelEntry:
    """One digest's message to one channel, claimed to send: the channel as its
    subscriber has it now (None when they removed or changed it since the digest was
    planned), the digest's papers as ``OutboxEntry`` holds them, and when retrying
    stops (the subscriber's grace after the digest's time)."""

    id: int
    digest: OutboxEntry
    key: str
    position: int  # the channel's place in the subscriber's list
    channel: Channel | None
    attempts: int
    give_up_at: datetime


@dataclass(frozen=True)
class ChannelOutcome:
    """What one channel send came to: a ``vocab.ChannelState`` (sent, retry, failed,
    suppressed), the error, when to try again, and the HTTP status (0: none came)."""

    entry: ChannelEntry
    state: str
    error: str | None = None
    next_attempt: datetime | None = None
    status: int = 0


@dataclass(frozen=True)
class Delivered:
    """A digest its subscriber has (mailed, or recorded for the web): what its web copy
    is rendered from. ``entry.sections`` are the papers as planned; ``shown`` those the
    mail showed (a long one is cut to fit ``defaults.MAX_HTML_BYTES``; the rest did not
    fit, as ``entry.more`` did not)."""

    entry: OutboxEntry
    shown: frozenset[int]
    sent_at: datetime | None


@dataclass(frozen=True)
class PastDigest:
    """One of a subscriber's past digests, as their preferences page lists it."""

    period: datetime
    period_end: datetime
    kind: str  # a vocab.MessageKind
    papers: int  # the papers it showed
    mailed: bool  # False: recorded for the web and the feed only


@dataclass(frozen=True)
class FeedPaper:
    """A paper one of a subscriber's digests held, for their feed: when that digest
    went (or was recorded), and why the paper was in it."""

    paper_id: int
    at: datetime
    section: str  # a vocab.SectionName
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Unsent:
    """How one claimed digest's attempt ended when it did not go out: ``retry`` (at
    ``next_attempt``) or ``failed``, with the reason."""

    entry: OutboxEntry
    state: str  # retry | failed
    error: str
    next_attempt: datetime | None = None
    counted: bool = True  # counts toward the attempts (not after a reply that was not SMTP)
    bounce: bool = False  # the server refused this address for good
    reply_class: str = "none"  # 4xx, 5xx, invalid, none, unsupported, compose


@dataclass(frozen=True)
class Plan:
    """A digest (or alert) to put in the outbox for one subscriber's period."""

    digest: Digest
    period: datetime
    empty_ok: bool = False  # send it even with no papers ("nothing new" mails)
    kind: str = MessageKind.DIGEST
    missed: bool = False  # found too late: recorded, not sent
    subscriber_id: int | None = None  # the store's row, when planning read it from there

    @property
    def state(self) -> str:
        if self.missed:
            return OutboxState.MISSED
        if not self.digest.items and not self.empty_ok:
            return OutboxState.SKIPPED
        # not mailed: kept at once for the web, the feed and the team channels
        return OutboxState.PLANNED if self.digest.subscriber.mailed else OutboxState.RECORDED


@dataclass(frozen=True)
class Rendered:
    """A digest ready for the mailer."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Source:
    """A source the bot ingests on a schedule: a file or folder (when it changes), the
    Hugging Face daily papers, an arXiv category, or a whole archive (arXiv through
    OAI-PMH, ``target`` a set or ``all``; bioRxiv or medRxiv, ``target`` the server),
    whose first harvest reaches ``days`` back; ``schedule`` is a crontab line."""

    name: str
    kind: str  # a vocab.SourceKind
    target: str  # the path, the arXiv category or OAI set, the preprint server
    schedule: str
    timezone: str = defaults.TIMEZONE
    days: int = defaults.HARVEST_DAYS  # a whole-archive source's first reach back


@dataclass(frozen=True)
class Verdict:
    """What one mail read back means. ``kind``: hard (the address failed for good),
    soft (it failed for now), complaint (marked as spam), unsubscribe (asked by mail),
    kept (none of these: kept for a person, acted on never). The subscriber is ``ref``
    when a signed token or the original's Message-ID named them, else one of ``emails``;
    ``period`` names the digest that failed, when the mail says which."""

    kind: str
    detail: str
    ref: str | None = None
    emails: tuple[str, ...] = ()
    period: datetime | None = None
    sender: str = ""
    subject: str = ""
    date: str = ""
