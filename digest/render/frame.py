"""What a mail shows around its cards: the values its frame templates (``digest.html``,
``alert.txt``, ...) are rendered with, the links a mail carries, and the rules that
shape a digest's cards as a whole. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from digest.model import Digest
from digest.render.subject import brand, one_line, preheader, subject
from digest.text import more_papers, name_key
from digest.vocab import SECTIONS, Action, Cadence, Managed

# What follows the preheader: spaces that keep inboxes from showing the mail's first
# lines after it (a joiner and a no-break space, as mail templates use).
PREHEADER_FILL = "\u200c\xa0" * 40
_NAMES = (Action.FOLLOW, Action.UNFOLLOW)  # actions whose target is an author's name
# Each section's heading, by the name a digest's section has.
HEADINGS: dict[str, str] = {spec.name: spec.heading for spec in SECTIONS}


@dataclass(frozen=True)
class Links:
    """Where a mail's own links go: unsubscribe, the subscriber's preferences page, and
    the actions on cards (``action("follow", "Ada Lovelace")`` -> URL); no ``action``
    when the subscriber cannot change what they follow (subscriptions.yaml does).
    ``view``: the digest's web copy ("View in browser"; none on the web copy itself);
    ``more``: where it lists the papers that did not fit; ``feed``: the subscriber's
    private Atom feed."""

    unsubscribe: str
    manage: str
    action: Callable[[str, str], str] | None = None
    # The part of every action URL that differs between mails (the card token), when
    # there is one: a card's links are then filled in once, and each mail's token after.
    token: str = ""
    view: str = ""
    more: str = ""
    feed: str = ""

    @classmethod
    def placeholders(cls, base_url: str, actions: bool = False) -> Links:
        """Links that go nowhere real, for previews and samples."""
        def action(kind: str, target: str) -> str:
            return f"{base_url}/{kind}/preview"
        return cls(f"{base_url}/{Action.UNSUBSCRIBE}/preview",
                   f"{base_url}/{Action.MANAGE}/preview", action if actions else None)


@dataclass(frozen=True)
class Section:
    """A section as the frame templates lay it out."""

    heading: str
    cards: tuple[str, ...]  # each card rendered already (Markup in HTML)


def frame_values(digest: Digest, links: Links, digest_name: str) -> dict[str, object]:
    """The values the frame templates are rendered with."""
    sub = digest.subscriber
    follows = [*sub.authors, *(f'"{k}"' for k in sub.keywords)]
    return {
        "subject": subject(digest),
        "preheader": preheader(digest),
        "digest_name": one_line(digest_name),
        "title": brand(sub.cadence),
        "who": one_line(sub.name) or sub.email.split("@")[0],
        "email": sub.email,
        "period": period_label(digest),
        "summary": summary_line(digest),
        "follows": one_line(", ".join(follows[:6]) + (" and more" if len(follows) > 6 else "")),
        "unsubscribe_url": links.unsubscribe,
        "manage_url": links.manage,
        "self_managed": sub.managed == Managed.DB,
        "preheader_fill": PREHEADER_FILL,
        "notes": " ".join(_sentence(n) for n in digest.notes),
        "view_url": links.view,
        "more": more_line(digest) if links.more else "",
        "more_url": links.more,
        "feed_url": links.feed,
    }


def more_line(digest: Digest) -> str:
    """``12 more papers matched`` (the papers that did not fit), or "" when none."""
    n = len(digest.more) + digest.more_elsewhere
    if not n:
        return ""
    return f"{more_papers(n)} matched"


def _sentence(text: str) -> str:
    """``several people ...`` as a sentence: a capital first letter and a full stop."""
    text = one_line(text)
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else ""


def period_label(digest: Digest) -> str:
    """``Week of 17 Aug 2026`` (weekly) or ``Friday 21 Aug 2026``, in the subscriber's zone."""
    zone = ZoneInfo(digest.subscriber.timezone)
    if digest.subscriber.cadence == Cadence.WEEKLY:
        return f"Week of {_day(digest.start.astimezone(zone))}"
    end = digest.end.astimezone(zone)
    return f"{end:%A} {_day(end)}"


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def summary_line(digest: Digest) -> str:
    """``3 papers from authors you follow, 4 matching your keywords, 5 trending, 3
    rising, 3 recommended``."""
    parts: list[str] = []
    for spec in SECTIONS:
        n = digest.count(spec.name)
        if n:
            noun = "paper" if n == 1 else "papers"
            parts.append(f"{n} {noun} {spec.phrase}" if not parts else f"{n} {spec.phrase}")
    return ", ".join(parts) if parts else "Nothing new this time."


@lru_cache(maxsize=1 << 14)
def same_action(action: tuple[str, str]) -> tuple[str, str]:
    """What makes two card actions the same in a long digest (which links each once): an
    author's name in any spelling (``name_key``), anything else as it is."""
    kind, target = action
    return (kind, name_key(target)) if kind in _NAMES else action


def without_last(digest: Digest) -> Digest:
    """``digest`` without its last item (the last one of its last non-empty section),
    which goes first among the papers that did not fit (``more``)."""
    sections = list(digest.sections)
    at = max(i for i, s in enumerate(sections) if s.items)
    last = sections[at].items[-1]
    sections[at] = replace(sections[at], items=sections[at].items[:-1])
    return replace(digest, sections=tuple(sections), more=(last, *digest.more))
