"""Rendering: turning a planned digest into what a person reads. Pure."""

from __future__ import annotations

from digest.model import Digest
from digest.text import one_line

__all__ = ["one_line", "subject"]

SUBJECT_MAX = 120
_TITLES = {"daily": "Daily Papers", "weekly": "Weekly Papers", "instant": "Paper alert"}


def subject(digest: Digest) -> str:
    """One header-safe line of at most 120 characters, e.g.
    ``Daily Papers for Ada: 7 new, from Maojiang Su and "flow matching"``."""
    sub = digest.subscriber
    who = one_line(sub.name) or sub.email.split("@")[0]
    count = len(digest.items)
    head = f"{_TITLES.get(sub.cadence, 'Papers')} for {who}: "
    if count == 0:
        return _fit(head + "nothing new")
    highlights = _highlights(digest)
    if not highlights:
        return _fit(f"{head}{count} trending")
    shown = highlights[:2]
    rest = len(highlights) - len(shown)
    joined = " and ".join(shown) if not rest else f"{', '.join(shown)} and {rest} more"
    return _fit(f"{head}{count} new, from {joined}")


def _highlights(digest: Digest) -> list[str]:
    """Followed authors, then quoted keywords, that brought papers, in section order."""
    found: list[str] = []
    for item in digest.items:
        for reason in item.reasons:
            label = reason.value if reason.kind == "author" else f'"{reason.value}"'
            if reason.kind in ("author", "keyword") and label not in found:
                found.append(label)
    authors = [h for h in found if not h.startswith('"')]
    return [one_line(h) for h in authors + [h for h in found if h.startswith('"')]]


def _fit(line: str) -> str:
    line = one_line(line)
    if len(line) <= SUBJECT_MAX:
        return line
    cut = line[: SUBJECT_MAX - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
