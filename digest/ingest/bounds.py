"""Bounds on what one paper may hold, applied to every paper a parser reads.

A hostile or broken source must not put megabytes into a title (and so into every mail
that shows it), a number past what the database holds or one that would top every
ranking, or text the database cannot encode into the store. Each fix is counted per file
and reported as one warning naming the file, how many papers it touched and the first of
them; the papers are still stored. The bounds live in ``digest.defaults``. Pure: no
store, clock or network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from digest import defaults as d
from digest.model import Paper

Note = Callable[[str], None]
_COUNT_RANGE = f"outside 0 to {d.MAX_COUNT:,}, stored as unknown"
_SCORE_RANGE = f"outside 0 to {d.MAX_SCORE:,.0f}, stored as unknown"
# A surrogate left unpaired (JSON's "\ud800") is no character: no database can store it.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class _Fixes:
    """What was fixed in one file: per kind of fix, how many papers and the first one."""

    source: str
    found: dict[str, tuple[int, str]] = field(default_factory=dict)

    def noter(self, title: str) -> Note:
        """What notes the fixes of the paper titled ``title`` (each kind once)."""
        done: set[str] = set()

        def note(what: str) -> None:
            if what not in done:
                done.add(what)
                count, first = self.found.get(what, (0, title))
                self.found[what] = (count + 1, first)

        return note

    def warnings(self) -> list[str]:
        return [f"{self.source}: {what} in {count} paper{'' if count == 1 else 's'} "
                f"(first: {first[:60]!r})" for what, (count, first) in self.found.items()]


def bound_papers(papers: Sequence[Paper], source: str) -> tuple[list[Paper], list[str]]:
    """``papers`` with every field within bounds, and one warning per kind of fix."""
    fixes = _Fixes(source)
    bounded = [_paper(p, fixes.noter(p.title)) for p in papers]
    return bounded, fixes.warnings()


def _paper(p: Paper, note: Note) -> Paper:
    authors = _names(p.authors, "author lists", note)
    return replace(
        p,
        title=_cut(p.title, d.MAX_TITLE_CHARS, "titles", note),
        authors=authors,
        truncated=p.truncated or len(authors) < len(p.authors),
        author_count=_count(p.author_count, "author counts", note),
        credited=_names(p.credited, "credited owners", note),
        claimed=_claims(p.claimed, authors, note),
        arxiv_id=_drop(p.arxiv_id, d.MAX_ID_CHARS, "arXiv ids", note),
        abstract=_cut(p.abstract, d.MAX_ABSTRACT_CHARS, "abstracts", note),
        organization=_maybe(p.organization, d.MAX_NAME_CHARS, "organisations", note),
        category=_maybe(p.category, d.MAX_LABEL_CHARS, "categories", note),
        upvotes=_count(p.upvotes, "upvotes", note),
        score=_score(p.score, note),
        github_repo=_drop(p.github_repo, d.MAX_URL_CHARS, "GitHub URLs", note),
        github_stars=_count(p.github_stars, "GitHub stars", note),
        project_page=_drop(p.project_page, d.MAX_URL_CHARS, "project page URLs", note),
        ai_summary=_maybe(p.ai_summary, d.MAX_ABSTRACT_CHARS, "AI summaries", note),
        keywords=tuple(_cut(k, d.MAX_KEYWORD_CHARS, "keywords", note)  # not vocab
                       for k in _first(p.keywords, d.MAX_KEYWORDS, "keyword lists", note)),
        announce_type=_maybe(p.announce_type, d.MAX_LABEL_CHARS, "announce types", note),
        thumbnail=_drop(p.thumbnail, d.MAX_URL_CHARS, "thumbnail URLs", note),
        comments=_count(p.comments, "comment counts", note),
    )


def _names(names: tuple[str, ...], what: str, note: Note) -> tuple[str, ...]:
    return tuple(_cut(n, d.MAX_NAME_CHARS, "author names", note)
                 for n in _first(names, d.MAX_AUTHORS, what, note))


def _claims(claimed: tuple[tuple[str, str], ...], authors: tuple[str, ...], note: Note
            ) -> tuple[tuple[str, str], ...]:
    """The claims of authors still on the (bounded) list, their names cut as it cuts
    them (the parser keeps accounts short already)."""
    kept = set(authors)
    cut = ((_cut(name, d.MAX_NAME_CHARS, "author names", note), account)
           for name, account in claimed)
    return tuple((name, account) for name, account in cut if name in kept)


def _first(values: tuple[str, ...], limit: int, what: str, note: Note) -> tuple[str, ...]:
    if len(values) <= limit:
        return values
    note(f"{what} longer than {limit:,} cut to their first {limit:,}")
    return values[:limit]


def _cut(text: str, limit: int, what: str, note: Note) -> str:
    """``text`` encodable, and at most ``limit`` characters, "…" ending a cut."""
    text = _encodable(text, what, note)
    if len(text) <= limit:
        return text
    note(f"{what} longer than {limit:,} characters cut")
    return text[: limit - 1].rstrip() + "…"


def _maybe(text: str | None, limit: int, what: str, note: Note) -> str | None:
    return None if text is None else _cut(text, limit, what, note)


def _drop(text: str | None, limit: int, what: str, note: Note) -> str | None:
    """``text`` when it is encodable and at most ``limit`` characters, else None."""
    if text is None or (len(text) <= limit and not _SURROGATE.search(text)):
        return text
    note(f"{what} longer than {limit:,} characters or not text dropped")
    return None


def _encodable(text: str, what: str, note: Note) -> str:
    if not _SURROGATE.search(text):
        return text
    note(f"{what} holding an unpaired surrogate: replaced by U+FFFD")
    return _SURROGATE.sub("\ufffd", text)


def _count(value: int | None, what: str, note: Note) -> int | None:
    if value is None or 0 <= value <= d.MAX_COUNT:
        return value
    note(f"{what} {_COUNT_RANGE}")
    return None


def _score(value: float | None, note: Note) -> float | None:
    if value is None or (math.isfinite(value) and 0 <= value <= d.MAX_SCORE):
        return value
    note(f"scores {_SCORE_RANGE}")
    return None
