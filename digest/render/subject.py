"""The lines an inbox shows before the mail is opened: the subject and the preheader. Pure.

The subject leads with what matters to the subscriber, the top paper by a followed author
or on a keyword (``Maojiang Su: Discrete Flow Matching Policy Optimization · 8 for you, 5
trending · Daily Papers``), counts their papers apart from the trending and rising ones,
and ends with the short brand; the preheader (the hidden first line that inboxes show
under the subject) says what else is inside.
"""

from __future__ import annotations

from digest.model import Digest, Item
from digest.text import latex_to_text, one_line
from digest.vocab import MINE, SECTIONS, Cadence, ReasonKind

__all__ = ["brand", "one_line", "preheader", "subject"]

SUBJECT_MAX = 120
PREHEADER_MAX = 150
_BRANDS: dict[str, str] = {cadence: cadence.brand for cadence in Cadence}
_PERIODS: dict[str, str] = {Cadence.DAILY: "today", Cadence.WEEKLY: "this week"}
# How a digest of none of the subscriber's own papers leads, by its top paper's reason.
_LEADS: dict[str, str] = {ReasonKind.RISING: "Rising: ", ReasonKind.RECOMMENDED: "Recommended: "}
# The subject's counts: the sections counted together under each label, in order.
_COUNTED = tuple((label, tuple(s.name for s in SECTIONS if s.label == label))
                 for label in dict.fromkeys(s.label for s in SECTIONS))


def brand(cadence: str) -> str:
    """The digest's title (``Cadence.brand``), "Papers" for a cadence it does not know."""
    return _BRANDS.get(cadence, "Papers")


def subject(digest: Digest) -> str:
    """One header-safe line of at most 120 characters."""
    sub = digest.subscriber
    title = brand(sub.cadence)
    if not digest.items:
        return _fit(f"Nothing new {_PERIODS.get(sub.cadence, 'this time')} · {title}")
    mine = _items(digest, MINE)
    top = mine[0] if mine else digest.items[0]
    counts = _counts(digest)
    tail = f" · {counts} · {title}" if sub.cadence != Cadence.INSTANT or len(mine) > 1 else (
        f" · {title}")
    lead = _lead(top) if mine else _LEADS.get(top.reasons[0].kind if top.reasons else "",
                                              "Trending: ")
    return _fit(lead + _cut(_title(top), SUBJECT_MAX - len(lead) - len(tail)) + tail)


def preheader(digest: Digest) -> str:
    """What the digest holds besides its top paper: the next titles and how many more."""
    if not digest.items:
        return "Nothing new matched what you follow this time."
    mine = _items(digest, MINE)
    top = mine[0] if mine else digest.items[0]
    rest = [it for it in digest.items if it is not top]
    if not rest:
        return _cut(_title(top), PREHEADER_MAX)
    more = len(rest) - 3
    tail = f" and {more} more" if more > 0 else ""
    return _cut("Also: " + "; ".join(_title(it) for it in rest[:3]), PREHEADER_MAX - len(tail)
                ) + tail


def _items(digest: Digest, names: tuple[str, ...]) -> list[Item]:
    return [it for s in digest.sections if s.name in names for it in s.items]


def _counts(digest: Digest) -> str:
    """``8 for you, 5 trending, 3 rising, 3 recommended``: the subscriber's own papers
    apart."""
    parts = []
    for label, names in _COUNTED:
        n = len(_items(digest, names))
        if n:
            parts.append(f"{n} {label}")
    return ", ".join(parts)


def _lead(item: Item) -> str:
    """``Maojiang Su: `` or ``“flow matching”: ``: why the top paper is there."""
    for kind in (ReasonKind.AUTHOR, ReasonKind.KEYWORD):
        values = item.values(kind)
        if values:
            name = one_line(values[0])
            return f"{name}: " if kind == ReasonKind.AUTHOR else f"“{name}”: "
    return ""


def _title(item: Item) -> str:
    return one_line(latex_to_text(item.paper.title))


def _cut(text: str, room: int) -> str:
    """``text`` cut at a word to at most ``room`` characters (with an ellipsis)."""
    if len(text) <= room:
        return text
    room = max(room, 12)
    cut = text[: room - 1].rsplit(" ", 1)[0] if " " in text[: room - 1] else text[: room - 1]
    return cut.rstrip(",;:·- ") + "…"


def _fit(line: str) -> str:
    line = one_line(line)
    if len(line) <= SUBJECT_MAX:
        return line
    return _cut(line, SUBJECT_MAX)
