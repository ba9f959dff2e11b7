"""Parser for author-profile listings copied from a profile page (seeds 000-003).

An optional header names the owner and gives statistics; then every entry is::

    [score]CATEGORYMon D[, YYYY][Code]
    Title
    <blank>
    A, B, C et al. · affiliation
    <blank>
    Abstract

or, in the compact layout (seed 001), the title runs straight into the author list on one
line and the abstract follows on the next. The owner of a named profile is credited with
every paper on it, even where "et al." cuts the name off.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

from digest import defaults
from digest.ingest.common import (
    MONTH_RE,
    AuthorLine,
    ParseContext,
    parse_author_line,
    resolve_date,
    split_author_suffixes,
)
from digest.model import Paper
from digest.text import name_key, squash

ENTRY_LINE = re.compile(
    rf"^(?P<score>\d+(?:\.\d+)?)?(?P<cat>[A-Z][A-Za-z.-]{{0,11}}?)"
    rf"(?P<mon>{MONTH_RE}) (?P<day>\d{{1,2}})(?:, (?P<year>\d{{4}}))?(?P<code>Code)?$"
)
_HEADER_STAT = re.compile(
    r"^(h-index\s*\d+|[\d,]+\s*(papers|citations)|Novelty\s*\d+%|AI Score\s*\d+|[\d,]+ Papers"
    r"|[A-Z]{1,6})$"
)
# Lower-case words that may stand inside a name ("Paulo Lima de Castro").
_PARTICLES = frozenset({
    "al", "bin", "da", "das", "de", "del", "della", "den", "der", "di", "do", "dos", "du",
    "el", "la", "le", "ten", "ter", "van", "von", "y",
})


def parse_profile(text: str, ctx: ParseContext) -> list[Paper]:
    """Read every entry of a profile listing; raises InputError naming the line."""
    lines = [line.strip() for line in text.splitlines()]
    starts = [i for i, line in enumerate(lines) if ENTRY_LINE.match(line)]
    if not starts:
        raise ctx.error("no entry found: expected a line like 'LGNov 7, 2025' before each title")
    owner = ctx.owner or _header_owner(lines[: starts[0]])
    known = _known_names(lines, starts, owner)
    papers = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        papers.append(_entry(lines, start, end, ctx, owner, known))
    return papers


def _header_owner(header: list[str]) -> str | None:
    """The owner's name: the header's first line when it is not a statistic."""
    for line in header:
        if line:
            return None if _HEADER_STAT.match(line) else line
    return None


def _entry(
    lines: list[str], start: int, end: int, ctx: ParseContext, owner: str | None, known: set[str]
) -> Paper:
    head = ENTRY_LINE.match(lines[start])
    assert head is not None
    body = [(i, lines[i]) for i in range(start + 1, end) if lines[i]]
    if not body or body[0][0] != start + 1:
        raise ctx.error("entry has no title on the line after its date", start + 1)
    title_line = body[0][1]
    full_layout = start + 2 < end and not lines[start + 2]
    if full_layout:
        if len(body) < 3:
            raise ctx.error(f"entry {title_line!r} lacks its author line or abstract; "
                            "is the file cut off?", start + 2)
        title, authors, rest = title_line, parse_author_line(body[1][1]), body[2:]
    else:
        if len(body) < 2:
            raise ctx.error(f"entry {title_line!r} has no abstract; is the file cut off?",
                            start + 2)
        split = split_title_authors(title_line, known)
        if split is None:
            raise ctx.error("cannot tell where the title ends and the author list begins in "
                            f"{title_line!r}", start + 2)
        (title, authors), rest = split, body[1:]
    try:
        published = resolve_date(head["mon"], int(head["day"]),
                                 int(head["year"]) if head["year"] else None, ctx.captured)
    except ValueError as e:
        raise ctx.error(str(e), start + 1) from e
    return Paper(
        title=squash(title),
        authors=authors.names,
        truncated=authors.truncated,
        author_count=None if authors.truncated else len(authors.names),
        credited=(owner,) if owner else (),
        abstract="\n".join(text for _, text in rest),
        organization=authors.affiliation,
        category=head["cat"],
        published=published,
        score=float(head["score"]) if head["score"] else None,
        has_code=bool(head["code"]),
        sources=(ctx.source,),
    )


def split_title_authors(line: str, known: set[str]) -> tuple[str, AuthorLine] | None:
    """Split a compact line ``"...AdaptationWeimin Wu, Jiayuan Fan et al. · x"``.

    The first author's name is glued to the end of the title. Every place where an upper-case
    letter follows a non-space could start it; a place counts only if all that follows is a
    list of plausible names. Of those, a name already known from this page (``known`` holds
    name keys and given-name keys) wins; otherwise the last place, as CamelCase title words
    ("MeanFlow") are more common than CamelCase given names ("TianQi").
    """
    names_part, truncated, affiliation = split_author_suffixes(line)
    candidates = list(_author_starts(names_part))
    if not candidates:
        return None

    def rank(candidate: tuple[int, str]) -> tuple[bool, bool, int]:
        first = candidate[1]
        return (name_key(first) in known, name_key(first.split()[0]) in known, candidate[0])

    i, _ = max(candidates, key=rank)
    names = tuple(n.strip() for n in names_part[i:].split(","))
    return names_part[:i].strip(), AuthorLine(names, truncated, affiliation)


def _author_starts(text: str) -> Iterator[tuple[int, str]]:
    """Each place in ``text`` where a list of plausible names could start, with the first
    name: an upper-case letter after a non-space, not a hyphen, with only plausible names
    from there on. A name is at most MAX_NAME_CHARS long, so only that many places before
    each comma are tried (a line of megabytes is not read once per capital letter)."""
    ends = [m.start() for m in re.finditer(",", text)] + [len(text)]
    for j in range(len(ends) - 1, -1, -1):
        begin = ends[j - 1] + 1 if j else 0
        for i in range(max(1, begin, ends[j] - defaults.MAX_NAME_CHARS), ends[j]):
            if text[i].isupper() and not text[i - 1].isspace() and text[i - 1] != "-":
                first = text[i:ends[j]].strip()
                if is_plausible_name(first):
                    yield i, first
        if not is_plausible_name(text[begin:ends[j]].strip()):
            return  # no name list can run across an implausible name


def is_plausible_name(name: str) -> bool:
    """Whether ``name`` looks like a person's name: 1-6 capitalised words or particles."""
    tokens = name.split()
    if not 1 <= len(tokens) <= 6 or tokens[0].lower() in _PARTICLES:
        return False
    return all(t.lower() in _PARTICLES or _is_name_word(t) for t in tokens)


def _is_name_word(word: str) -> bool:
    parts = word.rstrip(".").split("-")
    return all(_is_name_part(p) for p in parts)


def _is_name_part(part: str) -> bool:
    if not part or not part[0].isupper():
        return False
    if not all(c.isalpha() or c in "'’" for c in part):
        return False
    # Two capitals in a row belong to acronyms ("IMED", "DiTs)"), not to names.
    return not any(a.isupper() and b.isupper() for a, b in pairwise(part))


def _known_names(lines: list[str], starts: list[int], owner: str | None) -> set[str]:
    """Keys of names (and given names) seen where no title is glued to them."""
    names: list[str] = [owner] if owner else []
    for start in starts:
        if start + 3 < len(lines) and not lines[start + 2]:
            names.extend(parse_author_line(lines[start + 3]).names)
        elif start + 1 < len(lines):
            parts = parse_author_line(lines[start + 1]).names[1:]
            for part in reversed(parts):
                if not is_plausible_name(part):
                    break
                names.append(part)
    keys = {name_key(n) for n in names}
    keys.update(name_key(n.split()[0]) for n in names if n.split())
    return keys

