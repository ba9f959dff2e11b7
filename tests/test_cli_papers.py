"""``digest papers`` over a real store: --since and --limit choose the papers, every output
(table, JSON lines, BibTeX, RIS) is written a chunk at a time and reads the same as the
whole, and bad values are one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from digest import cite
from digest.store import Store
from digest.vocab import CiteFormat
from tests.conftest import DATA

DAYS = sorted((DATA / "hf-daily").glob("*.json"))


@pytest.fixture
def stored(run: Any, db_url: str) -> list[dict[str, Any]]:
    """Every test day ingested; the papers as ``digest papers --json`` lists them."""
    assert run("ingest", *map(str, DAYS), "--now", "2026-08-22T12:00:00Z").exit_code == 0
    return [json.loads(line) for line in run("papers", "--json").stdout.splitlines()]


def listed(run: Any, *args: str) -> list[dict[str, Any]]:
    result = run("papers", "--json", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def appeared(paper: dict[str, Any]) -> str:
    return str(paper["featured"] or paper["published"] or paper["first_seen"][:10])


def test_limit_is_the_end_of_the_listing(run: Any, stored: list[dict[str, Any]]) -> None:
    assert len(stored) > 100 and [p["id"] for p in stored] == sorted(p["id"] for p in stored)
    assert listed(run, "--limit", "7") == stored[-7:]
    assert listed(run, "--limit", str(len(stored) + 5)) == stored


def test_since_is_the_day_a_paper_appeared(run: Any, stored: list[dict[str, Any]]) -> None:
    day = "2026-04-14"
    since = [p for p in stored if appeared(p) >= day]
    assert 0 < len(since) < len(stored)
    assert listed(run, "--since", day) == since
    assert listed(run, "--since", day, "--limit", "3") == since[-3:]
    assert listed(run, "--since", "2030-01-01") == []


def test_the_table_shows_the_papers_chosen(run: Any, stored: list[dict[str, Any]]) -> None:
    table = run("papers", "--limit", "2").stdout
    assert table.splitlines()[0].split()[:2] == ["ID", "arXiv"]
    assert all(p["title"][:30] in table for p in stored[-2:])
    assert stored[-3]["title"][:30] not in table
    assert table.endswith("2 papers\n")
    assert run("papers", "--since", "2030-01-01").stdout.endswith("0 papers\n")


@pytest.mark.parametrize("fmt", [f.value for f in CiteFormat])
def test_an_export_streamed_is_the_export_whole(run: Any, db_url: str, tmp_path: Any,
                                                stored: list[dict[str, Any]], fmt: str) -> None:
    papers = Store(db_url).papers()
    assert run("papers", "--format", fmt).stdout == cite.write(CiteFormat(fmt), papers)
    target = tmp_path / f"last.{fmt}"
    assert run("papers", "--format", fmt, "--limit", "4", "--output", str(target)).exit_code == 0
    assert target.read_text() == cite.write(CiteFormat(fmt), papers[-4:])


@pytest.mark.parametrize("fmt", list(CiteFormat))
def test_citations_in_pieces_join_to_the_whole(db_url: str, stored: list[dict[str, Any]],
                                               fmt: CiteFormat) -> None:
    papers = Store(db_url).papers()
    pieces = list(cite.stream(fmt, papers, per=7))
    assert len(pieces) > 2 and "".join(pieces) == cite.write(fmt, papers)


def test_the_store_hands_papers_over_a_chunk_at_a_time(db_url: str,
                                                       stored: list[dict[str, Any]]) -> None:
    store = Store(db_url)
    chunks = list(store.paper_chunks(size=40))
    assert {len(c) for c in chunks[:-1]} == {40} and 0 < len(chunks[-1]) <= 40
    assert [p for c in chunks for p in c] == store.papers()
    since = datetime(2026, 4, 14, tzinfo=UTC)
    assert [p for c in store.paper_chunks(since, 9, size=4) for p in c] == store.papers(since)[-9:]
    assert list(store.paper_chunks(datetime(2030, 1, 1, tzinfo=UTC))) == []
    assert all((p.featured or p.published or date.min) >= since.date()
               for c in store.paper_chunks(since) for p in c)


@pytest.mark.parametrize(("args", "error"), [
    (("--limit", "0"), "Invalid value for '--limit': 0 is not in the range x>=1."),
    (("--limit", "ten"), "Invalid value for '--limit': 'ten' is not a valid integer range."),
    (("--since", "2026-02-30"), "Invalid value for '--since': day '2026-02-30' is not a day"),
    (("--rising", "--limit", "5"), "Error: --since and --limit choose stored papers"),
])
def test_bad_values_are_one_line_errors(run: Any, args: tuple[str, ...], error: str) -> None:
    result = run("papers", *args)
    assert result.exit_code == 2 and error in result.stderr
    assert "Traceback" not in result.output
