"""Storing papers once: merge rules, seeds end to end, idempotent re-ingest."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.merge import merge
from digest.model import Paper
from digest.store import Store
from tests.conftest import DATA, totals

T1 = datetime(2026, 6, 1, 8, tzinfo=UTC)
T2 = datetime(2026, 6, 2, 8, tzinfo=UTC)


def test_merge_keeps_most_complete_authors_highest_counts_every_source() -> None:
    profile = Paper(title="X", authors=("A", "B", "C"), truncated=True, credited=("Owner",),
                    score=70.0, published=date(2025, 5, 1), sources=("p.txt",), first_seen=T2)
    hf = Paper(title="x", authors=("A", "B", "C", "D"), author_count=4, arxiv_id="2501.00001",
               upvotes=12, published=date(2025, 5, 2), featured=date(2025, 5, 3),
               sources=("d.json",), first_seen=T1)
    page = Paper(title="X", truncated=True, author_count=9, upvotes=3, sources=("004.txt",))
    merged = merge(merge(profile, hf), page)
    assert merged.authors == ("A", "B", "C", "D") and not merged.truncated
    assert merged.author_count == 4
    assert merged.credited == ("Owner",)
    assert merged.all_authors == ("A", "B", "C", "D", "Owner")
    assert (merged.upvotes, merged.score, merged.arxiv_id) == (12, 70.0, "2501.00001")
    assert merged.sources == ("004.txt", "d.json", "p.txt")  # every one, in name order
    assert merge(page, merge(hf, profile)) == merged  # whatever order they are read in
    assert merged.first_seen == T1
    assert merged.published == date(2025, 5, 1)
    assert merge(merged, merged) == merged


def test_truncated_lists_keep_the_longest_and_largest_count() -> None:
    a = Paper(title="X", truncated=True, author_count=10, sources=("a",))
    b = Paper(title="X", authors=("A", "B", "C"), truncated=True, sources=("b",))
    merged = merge(a, b)
    assert merged.authors == ("A", "B", "C") and merged.truncated and merged.author_count == 10


def test_papers_with_different_arxiv_ids_never_merge(db_url: str) -> None:
    store = Store(db_url)
    store.save_papers([Paper(title="Same Title", arxiv_id="2501.00001", sources=("a",))],
                      source="a", fmt="hf-json", now=T1)
    result = store.save_papers([Paper(title="Same title", arxiv_id="2501.00002",
                                      sources=("b",))], source="b", fmt="hf-json", now=T1)
    assert (result.new, result.merged) == (1, 0)
    assert store.count_papers() == 2


def test_title_match_adopts_the_arxiv_id(db_url: str) -> None:
    store = Store(db_url)
    store.save_papers([Paper(title="On Flow Matching KL Divergence", sources=("p",))],
                      source="p", fmt="profile", now=T1)
    store.save_papers([Paper(title="On flow-matching KL divergence", arxiv_id="2511.05480",
                             sources=("h",))], source="h", fmt="hf-json", now=T2)
    (paper,) = store.papers()
    assert paper.arxiv_id == "2511.05480"
    assert paper.sources == ("p", "h")
    assert paper.first_seen == T1


def test_seeds_give_140_papers_and_shared_ones_have_both_sources(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "seeds/", "--now", "2026-06-01T08:00:00Z")
    assert result.exit_code == 0, result.output
    papers = [json.loads(line) for line in run("papers", "--json").stdout.splitlines()]
    assert len(papers) == 140
    shared = [p for p in papers if len(p["sources"]) > 1]
    assert sorted(p["title"] for p in shared) == [
        "Discrete Flow Matching Policy Optimization",
        "In-Context Deep Learning via Transformer Models",
    ]
    for p in shared:
        assert p["sources"] == ["000_442c504325d89d3a.txt", "001_aebde13873380d76.txt"]
        assert "Maojiang Su" in p["authors"]
    dfm = next(p for p in shared if p["title"].startswith("Discrete"))
    assert dfm["score"] == 78.5  # from 000; 001 shows no score
    phys4d = next(p for p in papers if p["title"].startswith("Phys4D"))
    assert phys4d["authors"] == ["Haoran Lu", "Shang Wu", "Jianshu Zhang", "Maojiang Su"]
    assert phys4d["truncated"] is True and phys4d["author_count"] is None


def test_reingest_changes_nothing(run) -> None:  # type: ignore[no-untyped-def]
    sources = ("seeds/", "tests/data/hf-daily", "tests/data/arxiv")  # not the mail samples
    run("ingest", *sources, "--now", "2026-06-01T08:00:00Z")
    before = run("papers", "--json").stdout
    again = run("ingest", *sources, "--now", "2026-07-01T08:00:00Z")
    assert again.exit_code == 0
    read, new, merged, errors = totals(again.stdout)
    assert (new, merged, errors) == (0, read, 0) and read > 140
    assert run("papers", "--json").stdout == before


def hf_day(name: str) -> list[Paper]:
    path = DATA / "hf-daily" / name
    return parse(path.read_bytes(), ParseContext(path.name, date(2026, 4, 20)))[1]


def test_claimed_accounts_are_stored_and_read_back(url: str) -> None:
    day = hf_day("2026-03-13.json")
    assert sum(len(p.claimed) for p in day) == 20
    store = Store(url)
    store.save_papers(day, source="2026-03-13.json", fmt="hf-json", now=T1)
    stored = {p.arxiv_id: p for p in store.papers()}
    assert {p.arxiv_id: p.claimed for p in day} == {a: p.claimed for a, p in stored.items()}
    assert stored["2603.12252"].claimed == (("Yuhang Zang", "yuhangzang"),)
    again = store.save_papers(day, source="2026-03-13.json", fmt="hf-json", now=T2)
    assert (again.new, again.merged) == (0, len(day))
    assert store.papers() == list(stored.values())
    store.engine.dispose()


def test_a_claim_arriving_later_is_added_and_kept(url: str) -> None:
    (paper,) = [p for p in hf_day("2026-03-13.json") if p.arxiv_id == "2603.12247"]
    unclaimed = Paper(title=paper.title, authors=paper.authors, arxiv_id=paper.arxiv_id,
                      sources=("arxiv.xml",))
    store = Store(url)
    store.save_papers([unclaimed], source="arxiv.xml", fmt="arxiv", now=T1)
    assert store.papers()[0].claimed == ()
    store.save_papers([paper], source="hf.json", fmt="hf-json", now=T2)
    store.save_papers([unclaimed], source="arxiv.xml", fmt="arxiv", now=T2)
    (stored,) = store.papers()
    assert stored.claimed == (("Junming Lin", "mjuicem"), ("Yuhang Zang", "yuhangzang"))
    assert stored.authors == paper.authors
    store.engine.dispose()


def test_merge_keeps_every_claim_one_per_author_in_list_order() -> None:
    a = Paper(title="X", authors=("Ada B", "Yang Liu", "Cy D"),
              claimed=(("Cy D", "cyd"), ("Yang Liu", "yliu-cs")))
    b = Paper(title="X", authors=("Ada B", "Yang Liu"), truncated=True,
              claimed=(("Ada B", "ada"), ("yang liu", "yliu-cs")))
    merged = merge(a, b)
    assert merged.claimed == (("Ada B", "ada"), ("Yang Liu", "yliu-cs"), ("Cy D", "cyd"))
    assert merge(b, a) == merged and merge(merged, b) == merged
    other = Paper(title="X", claimed=(("Yang Liu", "yang-l"), ("Eve F", "eve")))
    assert merge(merge(a, b), other) == merge(a, merge(b, other))
    assert merge(merged, other).claimed[1:] == (("Yang Liu", "yliu-cs"), ("Cy D", "cyd"),
                                                ("Eve F", "eve"))  # not listed: last
