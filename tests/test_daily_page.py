"""The Daily Papers page parser against seed 004."""

from __future__ import annotations

from datetime import date

import pytest

from digest.errors import InputError
from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.model import Paper
from tests.conftest import SEEDS, check_golden, paper_fields

SEED = next(SEEDS.glob("004_*.txt"))


def read(captured: date = date(2026, 4, 22)) -> list[Paper]:
    fmt, papers = parse(SEED.read_bytes(), ParseContext(SEED.name, captured))
    assert fmt == "daily-page"
    return papers


def test_seed_matches_golden() -> None:
    check_golden("seeds/004.json", [paper_fields(p) for p in read()])


def test_entries_and_metadata() -> None:
    papers = read()
    assert len(papers) == 35
    by_title = {p.title: p for p in papers}
    grow = papers[0]
    assert grow.title.startswith("GrowCLIP")
    assert (grow.author_count, grow.published, grow.upvotes) == (10, date(2023, 8, 22), None)
    assert grow.authors == () and grow.truncated
    adamp = next(p for p in papers if p.title.startswith("AdamP"))
    assert adamp.organization == "NAVER AI Lab" and adamp.author_count is None
    instr = by_title["Instruction-Guided Autoregressive Neural Network Parameter Generation"]
    assert (instr.published, instr.upvotes, instr.author_count) == (date(2025, 4, 2), 2, 4)
    arc = next(p for p in papers if p.title.startswith("ArcFlow"))
    assert (arc.published, arc.author_count, arc.upvotes) == (None, None, None)
    assert arc.abstract.startswith("Diffusion models have achieved")
    particle = next(p for p in papers if p.title.startswith("A Physics-Informed, Global"))
    assert (particle.published, particle.upvotes) == (date(2026, 3, 11), 1)  # "Mar 11 1"
    assert papers[-1].title.startswith("Adam Improves Muon")  # last entry, no metadata
    assert all(p.featured is None for p in papers)


def test_page_date_anchors_year_less_dates() -> None:
    # Captured "today" (Nov 2026): the page's own "Apr 22" still anchors "Mar 30" to 2026.
    late = read(captured=date(2026, 11, 22))
    assert [p.published for p in late] == [p.published for p in read()]


def test_cut_off_page_is_an_error() -> None:
    text = SEED.read_text().split("Adam Improves Muon")[0] + "Adam Improves Muon: Adaptive\n"
    with pytest.raises(InputError, match="has no abstract; is the file cut off"):
        parse(text.encode(), ParseContext("cut.txt", date(2026, 4, 22)), "daily-page")
