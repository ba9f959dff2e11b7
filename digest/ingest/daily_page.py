"""Parser for the text of a Hugging Face "Daily Papers" page (seed 004).

After a header ending in the page's date ("Daily Papers" ... "Apr 22"), each entry is a
title, an abstract and, optionally, a metadata block::

    • 10 authors          (or an organisation line: "naver-ai NAVER AI Lab")
    ·
    Aug 22, 2023 2        (date, and the upvote count when there is one)

separated by blank lines. Entries without metadata are still papers. The page's date is
the day it was viewed, not a date the papers were featured, so ``featured`` stays empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from digest.ingest.common import MONTH_RE, ParseContext, resolve_date, whole_number
from digest.model import Paper
from digest.text import squash

AUTHOR_COUNT = re.compile(r"^•\s*(?P<n>\d+)\s+authors?$")
META_DATE = re.compile(
    rf"^(?P<mon>{MONTH_RE}) (?P<day>\d{{1,2}})(?:, (?P<year>\d{{4}}))?(?: (?P<upvotes>\d+))?$"
)
_PAGE_DATE = re.compile(rf"^(?P<mon>{MONTH_RE}) (?P<day>\d{{1,2}})(?:, (?P<year>\d{{4}}))?$")
_SEPARATOR = "·"


@dataclass(frozen=True)
class _Block:
    line: int  # 1-based number of the block's first line
    lines: tuple[str, ...]

    @property
    def is_meta(self) -> bool:
        return _SEPARATOR in self.lines or bool(AUTHOR_COUNT.match(self.lines[0]))


@dataclass(frozen=True)
class _Meta:
    author_count: int | None = None
    organization: str | None = None
    published: date | None = None
    upvotes: int | None = None


def parse_daily_page(text: str, ctx: ParseContext) -> list[Paper]:
    """Read every entry of a Daily Papers page; raises InputError naming the line."""
    blocks = _blocks(text)
    start, captured = _skip_header(blocks, ctx)
    papers: list[Paper] = []
    i = start
    while i < len(blocks):
        title = blocks[i]
        if title.is_meta:
            raise ctx.error("metadata block without a title before it", title.line)
        if i + 1 >= len(blocks) or blocks[i + 1].is_meta:
            raise ctx.error(f"entry {title.lines[0]!r} has no abstract; is the file cut off?",
                            title.line)
        abstract, i = blocks[i + 1], i + 2
        meta = _Meta()
        if i < len(blocks) and blocks[i].is_meta:
            meta, i = _parse_meta(blocks[i], ctx, captured), i + 1
        papers.append(_paper(title, abstract, meta, ctx))
    if not papers:
        raise ctx.error("no paper entries found after the page header")
    return papers


def _blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    current: list[str] = []
    first = 0
    for number, raw in enumerate([*text.splitlines(), ""], 1):
        line = raw.strip()
        if line:
            first = first if current else number
            current.append(line)
        elif current:
            blocks.append(_Block(first, tuple(current)))
            current = []
    return blocks


def _skip_header(blocks: list[_Block], ctx: ParseContext) -> tuple[int, date]:
    """Index of the first entry block and the page's own date (else the capture date)."""
    heading = next((i for i, b in enumerate(blocks[:12]) if b.lines == ("Daily Papers",)), None)
    if heading is None:
        return 0, ctx.captured
    for i in range(heading + 1, min(heading + 4, len(blocks))):
        m = _PAGE_DATE.match(" ".join(blocks[i].lines))
        if m:
            year = int(m["year"]) if m["year"] else None
            return i + 1, resolve_date(m["mon"], int(m["day"]), year, ctx.captured)
    return heading + 1, ctx.captured


def _parse_meta(block: _Block, ctx: ParseContext, captured: date) -> _Meta:
    before, _, after = _split_at_separator(block.lines)
    count = organization = None
    for line in before:
        m = AUTHOR_COUNT.match(line)
        if m:
            count = whole_number(m["n"])
        else:
            slug, _, fullname = line.partition(" ")
            organization = fullname.strip() or slug
    if not after:
        return _Meta(count, organization)
    m = META_DATE.match(" ".join(after))
    if m is None:
        raise ctx.error(f"expected a date like 'Aug 22, 2023' after '·', found {after[0]!r}",
                        block.line + len(before) + 1)
    try:
        year = int(m["year"]) if m["year"] else None
        published = resolve_date(m["mon"], int(m["day"]), year, captured)
    except ValueError as e:
        raise ctx.error(str(e), block.line + len(before) + 1) from e
    upvotes = whole_number(m["upvotes"]) if m["upvotes"] else None
    return _Meta(count, organization, published, upvotes)


def _split_at_separator(lines: tuple[str, ...]) -> tuple[tuple[str, ...], bool, tuple[str, ...]]:
    if _SEPARATOR not in lines:
        return lines, False, ()
    at = lines.index(_SEPARATOR)
    return lines[:at], True, lines[at + 1 :]


def _paper(title: _Block, abstract: _Block, meta: _Meta, ctx: ParseContext) -> Paper:
    return Paper(
        title=squash(" ".join(title.lines)),
        authors=(),
        truncated=True,
        author_count=meta.author_count,
        abstract="\n".join(abstract.lines),
        organization=meta.organization,
        published=meta.published,
        upvotes=meta.upvotes,
        sources=(ctx.source,),
    )
