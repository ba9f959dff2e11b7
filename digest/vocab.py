"""The words every layer shares, each spelled once: cadences, outbox states, digest
sections, reasons, the links a mail carries and what their pages say, source kinds and
what a bounce means.

They are ``StrEnum`` members, so each equals the string the database, the subscriptions
file, the templates and the JSON outputs have always held (``Cadence.WEEKLY == "weekly"``,
hashed alike), and nothing stored changes. A spec record beside an enum holds what the
other layers need of a word (a section's heading and subject label, an action's path and
page text). Code elsewhere looks the words up here; ``tests/test_vocabulary.py`` fails on
a literal spelled anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Cadence(StrEnum):
    """How often a subscriber hears from digest."""

    DAILY = "daily"
    WEEKLY = "weekly"
    INSTANT = "instant"  # an alert as soon as a followed author's paper is ingested
    # A daily digest kept for the web copy, the past digests and the private feed, and
    # never mailed (``Subscriber.mailed``).
    FEED_ONLY = "feed-only"

    @property
    def period_days(self) -> int:
        """Length of one period in days (instant alerts count as daily)."""
        return 7 if self is Cadence.WEEKLY else 1

    @property
    def brand(self) -> str:
        """The digest's title: the subject's brand and the mail's headline."""
        return _TITLES[self]


_TITLES = {Cadence.DAILY: "Daily Papers", Cadence.WEEKLY: "Weekly Papers",
           Cadence.INSTANT: "Paper alert", Cadence.FEED_ONLY: "Daily Papers"}
# The cadences a subscriber may choose on the web pages (instant alerts are the admin's).
SELF_SERVICE_CADENCES = (Cadence.DAILY, Cadence.WEEKLY, Cadence.FEED_ONLY)


class OutboxState(StrEnum):
    """Where a digest of the outbox is. ``planned`` waits for a sender; ``sending`` is
    claimed by one (under a lease); ``retry`` waits for its next attempt; ``sent`` and
    ``failed`` are final; ``skipped`` had nothing to send; ``missed`` was found too late to
    send (recorded, so the period is not planned again); ``recorded`` is a digest of a
    subscriber who takes no mail (``cadence: feed-only``, or ``mail: false`` with team
    channels), kept as planned for the web copy, the feed and its channel messages, its
    papers counted as sent, never mailed."""

    PLANNED = "planned"
    SKIPPED = "skipped"
    MISSED = "missed"
    SENDING = "sending"
    RETRY = "retry"
    SENT = "sent"
    FAILED = "failed"
    RECORDED = "recorded"


# States a sender may still act on.
PENDING_STATES = (OutboxState.PLANNED, OutboxState.SENDING, OutboxState.RETRY)
# States that keep a period's papers from being sent again.
KEPT_STATES = (OutboxState.SENT, OutboxState.SENDING, OutboxState.RECORDED)
# States of a digest its subscriber has (mailed, or kept for the web and the feed): those
# with a web copy, in the past digests and the feed.
DELIVERED_STATES = (OutboxState.SENT, OutboxState.RECORDED)
# States whose papers are still owed to the subscriber.
OWED_STATES = (OutboxState.FAILED, OutboxState.MISSED)


class ChannelKind(StrEnum):
    """Where a team channel message goes (``channels:`` of a subscriber): a Slack-format
    incoming webhook (Slack, Mattermost, Rocket.Chat), a Discord webhook, a Matrix room,
    an ntfy topic, or our own generic JSON webhook (``docs/channels.md``)."""

    SLACK = "slack"
    DISCORD = "discord"
    MATRIX = "matrix"
    NTFY = "ntfy"
    WEBHOOK = "webhook"


class ChannelState(StrEnum):
    """Where one digest's message to one channel is: ``planned`` with the digest,
    ``sending`` under a lease, ``retry`` after a 5xx, a 429 or a timeout, then ``sent`` or
    ``failed``; ``suppressed`` when the hook answered 404 or 410 (the channel is gone: it
    gets nothing more until the subscriber changes it), or was gone already."""

    PLANNED = "planned"
    SENDING = "sending"
    RETRY = "retry"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class MessageKind(StrEnum):
    """What an outbox row is: a digest of a period, or an instant alert."""

    DIGEST = "digest"
    ALERT = "alert"


class Managed(StrEnum):
    """Who keeps a subscriber's settings: the admin's subscriptions file, or the database
    (the subscriber on the web pages, or an admin through ``digest subscribers``)."""

    FILE = "file"
    DB = "db"


class ReasonKind(StrEnum):
    """Why a paper is in a digest."""

    AUTHOR = "author"
    KEYWORD = "keyword"
    TRENDING = "trending"
    RISING = "rising"
    RECOMMENDED = "recommended"


class SectionName(StrEnum):
    """The sections of a digest."""

    AUTHORS = "authors"
    KEYWORDS = "keywords"
    TRENDING = "trending"
    RISING = "rising"
    RECOMMENDED = "recommended"
    # Papers carrying a followed name that nothing links to the person the reader means
    # (an ambiguous or unpinned name, another spelling): asked about, never a lead.
    POSSIBLY = "possibly"


@dataclass(frozen=True)
class SectionSpec:
    """What the layers need of a section: its ``heading`` in the mail, its ``phrase`` in
    the summary line ("3 papers from authors you follow"), its ``label`` in the subject's
    counts ("8 for you"), and ``mine``: whether it holds papers the subscriber asked for
    (followed authors, keywords), which lead the subject line."""

    name: SectionName
    heading: str
    phrase: str
    label: str
    mine: bool = False


# In the order a digest shows them.
SECTIONS = (
    SectionSpec(SectionName.AUTHORS, "From authors you follow", "from authors you follow",
                "for you", mine=True),
    SectionSpec(SectionName.KEYWORDS, "Matching your keywords", "matching your keywords",
                "for you", mine=True),
    SectionSpec(SectionName.TRENDING, "Trending", "trending", "trending"),
    SectionSpec(SectionName.RISING, "Rising", "rising", "rising"),
    SectionSpec(SectionName.RECOMMENDED, "Recommended for you", "recommended", "recommended"),
    SectionSpec(SectionName.POSSIBLY, "Possibly by authors you follow",
                "possibly by authors you follow", "possibly yours"),
)
SECTION = {spec.name: spec for spec in SECTIONS}
MINE = tuple(spec.name for spec in SECTIONS if spec.mine)


class Action(StrEnum):
    """What a signed token lets its holder do; each has its own key, so a token of one
    action never works for another."""

    UNSUBSCRIBE = "unsubscribe"
    MANAGE = "manage"  # the preferences page
    CONFIRM = "confirm"  # a subscription (double opt-in)
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    MUTE = "mute"  # a keyword
    LIKE = "like"  # more like this paper
    DISLIKE = "dislike"  # less like this paper
    FORM = "form"  # the subscribe form's CSRF token
    CARD = "card"  # one per mail, for all its cards' links, which name their target
    BOUNCE = "bounce"  # the return path's token (VERP)
    MAILTO = "mailto"  # List-Unsubscribe's mailto address
    THEM = "them"  # a "Possibly by" paper is by the person the reader follows
    NOT_THEM = "not-them"  # it is by someone else of that name
    VIEW = "view"  # the web copy of one digest (``/d/TOKEN``), per subscriber and digest
    FEED = "feed"  # a subscriber's private Atom feed (``/feed/TOKEN.atom``)


# The actions a token is made for. Like and dislike ride on the mail's card token.
TOKEN_ACTIONS = (Action.UNSUBSCRIBE, Action.MANAGE, Action.CONFIRM, Action.FOLLOW,
                 Action.UNFOLLOW, Action.MUTE, Action.FORM, Action.CARD, Action.BOUNCE,
                 Action.MAILTO, Action.VIEW, Action.FEED)
# bare REF.SIGNATURE tokens
BARE_ACTIONS = (Action.CARD, Action.MANAGE, Action.UNSUBSCRIBE, Action.FEED)
# hex tokens of a ref and a period: in addresses (case-blind), and the web copy's, which
# names one digest
MAIL_ACTIONS = (Action.BOUNCE, Action.MAILTO, Action.VIEW)
# The paths of a digest's web copy (``/d/TOKEN``, ``.bib``, ``.ris``) and of the feed.
DIGEST_PATH = "d"
FEED_PATH = "feed"
FEED_SUFFIX = ".atom"
# Where the web copy lists the papers that matched and did not fit (its fragment).
MORE_ANCHOR = "more"


@dataclass(frozen=True)
class CardAction:
    """A link a card carries: its short ``path`` (a 50-card digest holds a hundred of
    them), and the page it opens: the question ``ask``, the ``button`` that confirms, what
    ``done`` says after. ``{}`` in them is the target (a name, a phrase, an arXiv id).
    ``taste``: it records a like or a dislike rather than changing what is followed.
    ``person``: it answers a "Possibly by" card: its target is a paper's arXiv id and a
    followed name, and it teaches that name's pin; in its texts ``{0}`` is the name and
    ``{1}`` the paper, and its ``button`` is also the card's link."""

    action: Action
    path: str
    ask: str
    button: str
    done: str
    taste: bool = False
    person: bool = False


CARD_ACTIONS = (
    CardAction(Action.FOLLOW, "f", "Follow {}?", "Follow", "You now follow {}."),
    CardAction(Action.UNFOLLOW, "u", "Unfollow {}?", "Unfollow", "You no longer follow {}."),
    CardAction(Action.MUTE, "m", "Mute “{}”?", "Mute",
               "Papers that only match “{}” are muted."),
    CardAction(Action.LIKE, "l", "More papers like {}?", "More like this",
               "Noted: more papers like {}.", taste=True),
    CardAction(Action.DISLIKE, "d", "Fewer papers like {}?", "Less like this",
               "Noted: fewer papers like {}.", taste=True),
    CardAction(Action.THEM, "y", "Is {1} by the {0} you follow?", "Yes, that's them",
               "Noted: {1} is by the {0} you follow.", person=True),
    CardAction(Action.NOT_THEM, "n", "Is {1} by someone else named {0}?", "Not them",
               "Noted: {1} is by another {0}, and is not shown as theirs again.",
               person=True),
)
CARD_ACTION = {spec.action: spec for spec in CARD_ACTIONS}


class SourceKind(StrEnum):
    """What a scheduled source is (``sources:`` in subscriptions.yaml). Each kind's fetcher
    is registered in ``digest.ingest.runner``."""

    PATH = "path"  # a file or folder, ingested when it changes
    HF_DAILY = "hf-daily"  # the Hugging Face daily_papers API
    ARXIV = "arxiv"  # an arXiv category's RSS feed
    ARXIV_OAI = "arxiv-oai"  # all of arXiv (or one set of it) through OAI-PMH, incrementally
    BIORXIV = "biorxiv"  # all of bioRxiv or medRxiv through api.biorxiv.org, incrementally


class PreprintServer(StrEnum):
    """The servers api.biorxiv.org serves (``biorxiv: SERVER`` in sources:, ``digest
    ingest --biorxiv SERVER``): the word is the one in the API's URL."""

    BIORXIV = "biorxiv"
    MEDRXIV = "medrxiv"


# ``arxiv_oai: all`` / ``--arxiv-oai all``: the whole archive, with no set= filter.
WHOLE_ARCHIVE = "all"


class BounceKind(StrEnum):
    """What one mail read back means: the address failed for good (``hard``) or for now
    (``soft``), the reader marked a digest as spam (``complaint``), asked by mail to leave
    (``unsubscribe``), or none of these (``kept``, for a person to read)."""

    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    KEPT = "kept"


class Area(StrEnum):
    """Where in a paper a keyword phrase matched, best first."""

    TITLE = "title"
    ABSTRACT = "abstract"
    KEYWORDS = "keywords"  # one of the source's keywords (Hugging Face's ai_keywords)


class CardPart(StrEnum):
    """The parts of a card that differ between readers: macros of the card templates
    (``_card.html``, ``_card.txt``) of these names, rendered once per way they are shown.
    ``authors`` is a part here, not the section."""

    AUTHORS = "authors"  # who wrote it, the followed ones bold (HTML)
    BYLINE = "byline"  # votes, authors and meta on one line (text)
    SNIPPET = "snippet"  # the abstract, keyword matches highlighted (HTML)
    REASONS = "reasons"  # why the paper is there
    ACTIONS = "actions"  # the reader's own links: follow, mute, more like this


HTML_PARTS = (CardPart.AUTHORS, CardPart.SNIPPET, CardPart.REASONS, CardPart.ACTIONS)
TEXT_PARTS = (CardPart.BYLINE, CardPart.REASONS, CardPart.ACTIONS)


class Note(StrEnum):
    """What a card may add about why a paper suits its reader (kept as a reason's
    ``area``)."""

    NEAR = "in your area"  # a trending paper close to what the reader follows


class Span(StrEnum):
    """How many days a view of the Daily Papers page holds (``/papers/2026-03-13``,
    ``/papers/week/2026-W11``, ``/papers/month/2026-03``)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


# The Daily Papers page (``digest.web.papers``): its paths, and what its banner says.
PAPERS_PATH = "papers"  # /papers, /papers/2026-03-13, /papers/ARXIV_ID
PAPERS_FEED = "papers.atom"  # its public Atom feed
READER_PATH = "p"  # /p/CARD_TOKEN/ARXIV_ID: a paper's page for the mail's reader
SUBSCRIBE_BANNER = "Get trending papers in your email inbox!"
SUBSCRIBE_BUTTON = "Subscribe"
# How a card and a paper's page label the source's one-line AI summary: not the authors'
# words. (Only Hugging Face's API gives one.)
AI_SUMMARY_LABEL = "TL;DR (Hugging Face AI summary)"
class CiteFormat(StrEnum):
    """A citation format papers are exported in (``digest papers --format``, a digest's
    ``.bib`` / ``.ris`` on the web)."""

    BIBTEX = "bibtex"
    RIS = "ris"


@dataclass(frozen=True)
class CiteSpec:
    """A citation format's file suffix and media type (what a browser saves it as)."""

    format: CiteFormat
    suffix: str
    media_type: str


CITE_SPECS = (
    CiteSpec(CiteFormat.BIBTEX, ".bib", "application/x-bibtex"),
    CiteSpec(CiteFormat.RIS, ".ris", "application/x-research-info-systems"),
)
CITE_SPEC = {spec.format: spec for spec in CITE_SPECS}
