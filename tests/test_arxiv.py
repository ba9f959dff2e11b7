"""The arXiv Atom parser against the real feed snapshot."""

from __future__ import annotations

from datetime import date

import pytest

from digest.errors import InputError
from digest.ingest import parse
from digest.ingest.common import ParseContext
from tests.conftest import DATA, check_golden, paper_fields

FEED = DATA / "arxiv" / "cs.AI-2025-08-20.atom.xml"


def read():  # type: ignore[no-untyped-def]
    fmt, papers = parse(FEED.read_bytes(), ParseContext(FEED.name, date(2025, 8, 20)))
    assert fmt == "arxiv-atom"
    return papers


def test_feed_matches_golden() -> None:
    check_golden("arxiv/cs.AI-2025-08-20.json", [paper_fields(p) for p in read()])


def test_entries() -> None:
    papers = read()
    assert len(papers) == 7
    first = papers[0]
    assert first.arxiv_id == "2508.13426"
    assert first.announce_type == "cross"
    assert first.category == "cs.CL"
    assert first.authors == ("Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang")
    assert first.abstract.startswith("As large language models")
    assert (first.published, first.featured) == (date(2025, 8, 20), date(2025, 8, 20))
    assert [p.announce_type for p in papers].count("new") == 2


def test_latex_accents_in_names_are_decoded() -> None:
    alpha = next(p for p in read() if p.arxiv_id == "2508.13429")
    assert alpha.authors == ("Paulo André Lima de Castro",)


def test_cut_off_feed_is_an_error() -> None:
    with pytest.raises(InputError, match="not well-formed XML"):
        parse(FEED.read_bytes()[:3000], ParseContext("cut.xml", date(2025, 8, 20)))
