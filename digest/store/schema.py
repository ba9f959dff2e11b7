"""The database schema, portable between SQLite and PostgreSQL.

Papers are stored once; ``paper_authors`` keeps each paper's author list in order (with
the profile owners it is credited to, and the accounts that claimed it), ``authors`` one
row per folded name so that papers can be found by author, ``paper_sources`` every file
or URL a paper was read from, and ``ingest_runs`` one row per file or URL ingested. Later
stages add their own tables here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
    or_,
)

from digest.vocab import PENDING_STATES, MessageKind


class UTCDateTime(TypeDecorator[datetime]):
    """A time stored as naive UTC and always read back as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"UTCDateTime needs an aware datetime, got {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

papers = Table(
    "papers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("arxiv_id", String(64), unique=True),
    Column("title", Text, nullable=False),
    Column("title_key", String(1024), nullable=False, index=True),
    Column("abstract", Text, nullable=False, default=""),
    Column("author_count", Integer),
    Column("truncated", Boolean, nullable=False, default=False),
    Column("organization", String(512)),
    Column("category", String(64)),
    Column("published", Date),
    Column("featured", Date),
    Column("upvotes", Integer),
    Column("score", Float),
    Column("has_code", Boolean, nullable=False, default=False),
    Column("github_repo", String(1024)),
    Column("github_stars", Integer),
    Column("project_page", String(1024)),
    Column("ai_summary", Text),
    Column("keywords", JSON, nullable=False, default=list),  # not vocab: a column
    Column("announce_type", String(32)),
    Column("thumbnail", String(1024)),  # the source's preview image URL
    Column("comments", Integer),  # comments on the source's page
    Column("first_seen", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("doi", String(255)),  # the identity of a paper without an arXiv id (bioRxiv)
)
# The full-text index of the papers (``store.search``: SQLite FTS5, or a PostgreSQL table
# that refers to papers) is not a portable table, so not in this metadata; a drop_all
# drops it first.
event.listen(metadata, "before_drop",
             DDL("DROP TABLE IF EXISTS paper_search"))  # type: ignore[no-untyped-call]
# The day a paper appeared (featured, else published): what the Daily Papers page's views
# select by (``store.browse``), without reading the whole table for a day.
Index("ix_papers_day", func.coalesce(papers.c.featured, papers.c.published))


def appeared_since(since: datetime) -> ColumnElement[bool]:
    """Whether a paper appeared (featured, else published, else first seen) on or after
    the day of ``since``."""
    day = func.coalesce(papers.c.featured, papers.c.published)
    return or_(day >= since.date(), day.is_(None) & (papers.c.first_seen >= since))

Index("ix_papers_doi", papers.c.doi, unique=True)
Index("ix_papers_first_seen", papers.c.first_seen)

# Each paper's upvote count as ingests saw it over time (only changes are stored): what
# a paper's momentum (upvotes gained per hour lately) is computed from.
upvote_snapshots = Table(
    "upvote_snapshots",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("seen_at", UTCDateTime, primary_key=True),
    Column("upvotes", Integer, nullable=False),
)
Index("ix_upvote_snapshots_seen_at", upvote_snapshots.c.seen_at)

# Each paper's terms (``digest.terms``: hashed words and word pairs of its title and
# abstract, with their counts, packed), written with the paper and again when its title
# or abstract change; a paper stored before they were kept gets them when first needed.
paper_features = Table(
    "paper_features",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("terms", LargeBinary, nullable=False),
)

authors = Table(
    "authors",  # not vocab: a table
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(512), nullable=False, unique=True),
    Column("name", String(512), nullable=False),
)

paper_authors = Table(
    "paper_authors",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("author_id", Integer, ForeignKey("authors.id"), nullable=False),
    Column("name", String(512), nullable=False),
    # listed: on the visible author list; credited: the paper sits on this owner's profile.
    Column("listed", Boolean, nullable=False),
    Column("credited", Boolean, nullable=False),
    # The account this listed author claimed the paper with at the source (a Hugging Face
    # username), on the first row of their name; null when they did not.
    Column("user", String(64)),
    # The day the paper appeared (featured, else published), copied from it: a name's
    # newest papers are read from the index below, not by looking up every paper on it
    # (which serves every lookup by author: there is no index on the author alone).
    Column("day", Date),
)
Index("ix_paper_authors_author_day", paper_authors.c.author_id, paper_authors.c.day,
      paper_authors.c.paper_id)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(2048), nullable=False),
    Column("format", String(32)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("read", Integer, nullable=False, default=0),
    Column("new", Integer, nullable=False, default=0),
    Column("merged", Integer, nullable=False, default=0),
    Column("error", Text),
)

paper_sources = Table(
    "paper_sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(2048), nullable=False),
    Column("run_id", Integer, ForeignKey("ingest_runs.id"), nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("paper_id", "source"),
)
Index("ix_paper_sources_source", paper_sources.c.source)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email_key", String(320), nullable=False, unique=True),  # casefolded address
    Column("email", String(320), nullable=False),
    Column("name", String(256), nullable=False, default=""),
    Column("settings", JSON, nullable=False),  # the resolved subscriber settings
    # The subscriber's own settings (email and name included), without `defaults:`; the
    # resolved ones above are made again from them when `defaults:` changes.
    Column("prefs", JSON, nullable=False),
    # Who manages prefs: "file" (subscriptions.yaml) or "db" (the subscriber's own pages,
    # or an admin with `digest subscribers add/import`).
    Column("managed", String(8), nullable=False),
    # Opaque random reference that signed links carry (never the row id or the address).
    Column("ref", String(32), nullable=False, unique=True),
    # Who shares send instants: cadence|day|HH:MM|zone, or "instant" (Subscriber.group_key).
    Column("group_key", String(128), nullable=False, index=True),
    # A file-managed subscriber: listed in subscriptions.yaml now. Database-managed: True.
    Column("active", Boolean, nullable=False),
    # Double opt-in: null until the subscriber confirmed (admins' and the file's are).
    Column("confirmed_at", UTCDateTime),
    Column("paused_at", UTCDateTime),
    # Since when they take digests (created, confirmed, resumed, resubscribed): periods
    # before it are not theirs to miss.
    Column("active_since", UTCDateTime, nullable=False),
    # The latest digest period in the outbox for them.
    Column("last_period", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
    # Set by a one-click unsubscribe; cleared only by `digest resubscribe`.
    Column("unsubscribed_at", UTCDateTime),
    # The cut-off of the latest digest planned for them: papers first seen after it are new.
    Column("last_digest_at", UTCDateTime),
    # Permanent refusals of their address in a row (a sent digest resets it); at the
    # bounce limit they are marked bouncing and skipped until `digest subscribers reset`.
    Column("bounces", Integer, nullable=False, server_default="0"),
    Column("bouncing_since", UTCDateTime),
    # Why they get nothing, from a mail read back (`digest bounces`): hard (the address
    # failed for good), soft (temporary failures in DIGEST_SOFT_BOUNCE_LIMIT digests) or
    # complaint (marked as spam: unsubscribed), with the reason and when.
    Column("suppressed_kind", String(16)),
    Column("suppressed_reason", Text),
    Column("suppressed_at", UTCDateTime),
    Column("complained_at", UTCDateTime),  # the first complaint; kept after a resubscribe
)

# Temporary delivery failures read back, one per subscriber and digest (period): a
# bounce of the same digest from several relays, or read twice, counts once.
soft_bounces = Table(
    "soft_bounces",
    metadata,
    Column("subscriber_id", Integer, ForeignKey("subscribers.id"), primary_key=True),
    Column("period", UTCDateTime, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),
)

# Every mail `digest bounces` read, by the SHA-256 of its bytes, recorded in the same
# transaction as what it did: a mail read again (a copied mailbox, a crash before it was
# moved) does nothing twice. kind: hard | soft | complaint | unsubscribe | kept.
mail_messages = Table(
    "mail_messages",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("kind", String(16), nullable=False, index=True),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id")),
    Column("detail", Text, nullable=False),
    Column("sender", String(512), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("date", String(128), nullable=False),  # its Date header, as written
    Column("read_at", UTCDateTime, nullable=False),
)

# Every paper ever sent to a subscriber: what makes "never the same paper twice" hold.
sent_papers = Table(
    "sent_papers",
    metadata,
    Column("subscriber_id", Integer, ForeignKey("subscribers.id"), primary_key=True),
    Column("paper_id", Integer, ForeignKey("papers.id"), primary_key=True),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("digest_id", Integer, ForeignKey("digests.id")),
)

# The outbox: one row per subscriber and period, planned once (the UNIQUE constraint makes
# planning twice, or from two processes, plan once), then planned -> sending -> sent, or
# retry / failed; skipped when nothing was due; missed when the period passed unsent.
digests = Table(
    "digests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id"), nullable=False),
    Column("kind", String(8), nullable=False, default=MessageKind.DIGEST),  # digest | alert
    Column("period", UTCDateTime, nullable=False),  # the scheduled send instant
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),  # papers first seen up to here
    Column("state", String(16), nullable=False, index=True),
    Column("sections", JSON, nullable=False),  # [{"name", "items": [{"paper_id", "reasons"}]}]
    # What matched and did not fit (Digest.more): [[paper_id, [reason, ...]], ...]
    Column("more", JSON(none_as_null=True)),  # none: SQL NULL (json_array_length reads it)
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("claimed_at", UTCDateTime),
    Column("last_error", Text),
    # What the server's last reply to it was, by class: 2xx, 4xx, 5xx, invalid (not SMTP),
    # none (no reply: a timeout or a dropped connection), unsupported, compose (ours).
    Column("reply_class", String(16)),
    Column("planned_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("subscriber_id", "period"),
)
# Claims walk the outbox by state in id order (SQLite's index on state has the row id in
# it already; PostgreSQL's needs it spelled out).
Index("ix_digests_state_id", digests.c.state, digests.c.id)

# A digest's message to each of its subscriber's team channels: planned with the digest
# (once per digest and channel), claimed, sent, retried like the digest's mail.
# ``channel`` is ``model.Channel.key`` (the URL and token are in the subscriber's
# settings, never here); ``position`` its place in their list.
channel_sends = Table(
    "channel_sends",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest_id", Integer, ForeignKey("digests.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("claimed_at", UTCDateTime),
    Column("last_error", Text),
    Column("status", Integer),  # the hook's last HTTP status
    Column("planned_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("digest_id", "channel"),
)
Index("ix_channel_sends_state_id", channel_sends.c.state, channel_sends.c.id)

# Channels that answered 404 or 410: gone, like an address refused for good. Nothing goes
# there again until the subscriber changes the channel (a new ``channel`` key).
channel_blocks = Table(
    "channel_blocks",
    metadata,
    Column("subscriber_id", Integer, ForeignKey("subscribers.id"), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("since", UTCDateTime, nullable=False),
    Column("error", Text, nullable=False),
)

# Outbox states whose papers count as on their way to the subscriber.
PENDING = PENDING_STATES

# Small settings the database keeps for itself (the generated signing secret).
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Every mail the subscribe form caused (a confirmation, or "you are subscribed already"):
# what caps such mails per address and day.
form_mails = Table(
    "form_mails",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email_key", String(320), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # confirm | known
    Column("sent_at", UTCDateTime, nullable=False),
)

# One row per bot job run: what `digest status` shows as each job's last run.
job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", String(256), nullable=False, index=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("counts", JSON, nullable=False),
    Column("error", Text),
)

# The shared pace of SMTP sends (DIGEST_SMTP_RATE is a total over every worker): one row,
# the moment (seconds since the epoch) from which the next send may be booked.
send_pace = Table(
    "send_pace",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("next_at", Float, nullable=False),
)

# Who runs a bot job now: one bot at a time per job, the lease taken over once it expires
# (its holder died or hangs).
leases = Table(
    "leases",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
