"""The Hugging Face daily_papers parser against real API responses."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from digest.errors import InputError
from digest.ingest import parse
from digest.ingest.common import ParseContext
from tests.conftest import DATA, check_golden, paper_fields

DAY = DATA / "hf-daily" / "2026-01-02.json"


def read(path=DAY):  # type: ignore[no-untyped-def]
    fmt, papers = parse(path.read_bytes(), ParseContext(path.name, date(2026, 11, 22)))
    assert fmt == "hf-json"
    return papers


def test_day_matches_golden() -> None:
    check_golden("hf-daily/2026-01-02.json", [paper_fields(p) for p in read()])


def test_fields_match_the_raw_items() -> None:
    items = json.loads((DATA / "hf-daily" / "2026-04-16.json").read_text())
    papers = read(DATA / "hf-daily" / "2026-04-16.json")
    assert len(papers) == len(items)
    for item, paper in zip(items, papers, strict=True):
        raw = item["paper"]
        assert paper.arxiv_id == raw["id"]
        assert paper.authors == tuple(a["name"] for a in raw["authors"])
        assert paper.author_count == len(raw["authors"]) and not paper.truncated
        assert paper.upvotes == raw["upvotes"]
        assert paper.github_repo == raw.get("githubRepo")
        assert paper.has_code == bool(raw.get("githubRepo"))
        assert paper.github_stars == raw.get("githubStars")
        assert paper.project_page == raw.get("projectPage")
        assert paper.keywords == tuple(raw.get("ai_keywords", ()))
        assert paper.featured == date.fromisoformat(raw["submittedOnDailyAt"][:10])
        assert paper.published == date.fromisoformat(raw["publishedAt"][:10])
        org = raw.get("organization")
        assert paper.organization == (org["fullname"] if org else None)


def test_missing_optional_fields_are_read_as_absent() -> None:
    item = {"paper": {"id": "2601.00001", "title": "A  Paper\n", "authors": [{"name": "A B"}]}}
    (paper,) = parse(json.dumps([item]).encode(), ParseContext("x.json", date(2026, 1, 1)))[1]
    assert paper.title == "A Paper"
    assert (paper.upvotes, paper.github_repo, paper.featured, paper.keywords) == (None, None,
                                                                                  None, ())


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"paper": {}}', "expected a JSON list of daily_papers items, found a dict"),
        (b'[{"paper": {"id": "1"}}]', "item 1 has no paper title"),
        (b"[1, 2]", "item 1 is a int, not an object"),
        (DAY.read_bytes()[:5000], "not valid JSON"),
    ],
)
def test_bad_json_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        parse(payload, ParseContext("bad.json", date(2026, 1, 1)), "hf-json")


def test_claimed_accounts_are_those_of_the_raw_authors() -> None:
    path = DATA / "hf-daily" / "2026-03-13.json"
    items = json.loads(path.read_text())
    for item, paper in zip(items, read(path), strict=True):
        raw = [(a["name"], a["user"]["user"]) for a in item["paper"]["authors"] if "user" in a]
        assert paper.claimed == tuple(raw)
    zang = [p for p in read(path) if ("Yuhang Zang", "yuhangzang") in p.claimed]
    assert sorted(p.arxiv_id for p in zang) == ["2603.12247", "2603.12252"]


@pytest.mark.parametrize("user", [
    "", "a b", "x" * 65, "ü-ber", "<script>", "a\nb", 12, None, True, ["yliu-cs"],
    {"user": {"user": "x"}},
])
def test_a_claimed_account_not_a_short_username_is_ignored(user: Any) -> None:
    authors = [{"name": "Yang Liu", "user": {"user": user}}, {"name": "Ada B", "user": user},
               {"name": "Cy D", "user": {"user": "cy.d_9-x"}}]
    item = {"paper": {"id": "2601.00001", "title": "T", "authors": authors}}
    (paper,) = parse(json.dumps([item]).encode(), ParseContext("x.json", date(2026, 1, 1)))[1]
    assert paper.authors == ("Yang Liu", "Ada B", "Cy D")
    assert paper.claimed == (("Cy D", "cy.d_9-x"),)


def test_a_name_listed_twice_is_claimed_as_its_first_entry_is() -> None:
    authors = [{"name": "Yang Liu"}, {"name": "Yang  Liu", "user": {"user": "yliu-cs"}},
               {"name": "Ada B", "user": {"user": "ada"}}, {"name": "Ada B",
                                                           "user": {"user": "other"}}]
    item = {"paper": {"id": "2601.00001", "title": "T", "authors": authors}}
    (paper,) = parse(json.dumps([item]).encode(), ParseContext("x.json", date(2026, 1, 1)))[1]
    assert paper.claimed == (("Ada B", "ada"),)


def test_claims_follow_their_authors_through_the_bounds() -> None:
    long = "L" * 150
    authors = [{"name": long, "user": {"user": "long"}}] + [
        {"name": f"Author {i}", "user": {"user": f"a{i}"}} for i in range(1_001)]
    item = {"paper": {"id": "2601.00001", "title": "T", "authors": authors}}
    (paper,) = parse(json.dumps([item]).encode(), ParseContext("x.json", date(2026, 1, 1)))[1]
    assert len(paper.authors) == 1_000 and paper.truncated
    assert paper.claimed[0] == (paper.authors[0], "long") and len(paper.authors[0]) == 100
    assert paper.claimed[-1] == ("Author 998", "a998") and len(paper.claimed) == 1_000
