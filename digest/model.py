"""The small frozen records the pipeline stages hand each other.

A ``Paper`` is what a parser reads from one source entry, and also what the store gives
back after merging every source of that paper. ORM rows never leave ``digest.store``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from digest import defaults
from digest.text import name_key


@dataclass(frozen=True)
class Paper:
    """One paper as known from one or more sources.

    ``authors`` is the visible author list in its listed order; ``truncated`` says it is
    shorter than the real one ("et al.", or only a count was shown). ``credited`` names
    profile owners the paper is credited to, who may be cut off the visible list.
    ``id`` and ``first_seen`` are set by the store; parsers leave them empty.
    """

    title: str
    authors: tuple[str, ...] = ()
    truncated: bool = False
    author_count: int | None = None
    credited: tuple[str, ...] = ()
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
    announce_type: str | None = None
    sources: tuple[str, ...] = ()
    first_seen: datetime | None = None
    id: int | None = field(default=None, compare=False)

    @property
    def all_authors(self) -> tuple[str, ...]:
        """Every name known: the listed authors, then credited owners not among them."""
        listed = {name_key(a) for a in self.authors}
        extra = tuple(c for c in self.credited if name_key(c) not in listed)
        return self.authors + extra


@dataclass(frozen=True)
class Subscriber:
    """One subscriber as configured, with every default filled in.

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
    max_age_days: int | None = defaults.MAX_AGE_DAYS
    authors: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    send_empty: bool = False  # a "nothing new" mail when no paper is due
    alert_keywords: bool = False  # instant alerts include keyword matches, not only authors
    grace_hours: int = defaults.GRACE_HOURS  # a missed period older than this is not sent
    line: int | None = field(default=None, compare=False)

    @property
    def period_days(self) -> int:
        """Length of one cadence period in days (instant alerts count as daily)."""
        return 7 if self.cadence == "weekly" else 1

    @property
    def age_limit_days(self) -> int:
        """How old (by appearance date) a paper may be and still be due."""
        return self.max_age_days if self.max_age_days is not None else 2 * self.period_days


@dataclass(frozen=True)
class OutboxEntry:
    """A digest in the outbox: whom it goes to, for which period, and what it holds.

    ``sections`` are ``(name, ((paper_id, reasons), ...))`` pairs, in order.
    """

    id: int
    subscriber_id: int
    subscriber: Subscriber
    kind: str  # digest | alert
    period: datetime
    period_start: datetime
    period_end: datetime
    state: str
    sections: tuple[tuple[str, tuple[tuple[int, tuple[str, ...]], ...]], ...]
    attempts: int = 0
    last_error: str | None = None

    @property
    def paper_ids(self) -> tuple[int, ...]:
        return tuple(pid for _, items in self.sections for pid, _ in items)


@dataclass(frozen=True)
class Source:
    """A source the bot ingests on a schedule: a file or folder (when it changes), the
    Hugging Face daily papers, or an arXiv category; ``schedule`` is a crontab line."""

    name: str
    kind: str  # path | hf-daily | arxiv
    target: str  # the path, or the arXiv category ("" for hf-daily)
    schedule: str
    timezone: str = defaults.TIMEZONE
