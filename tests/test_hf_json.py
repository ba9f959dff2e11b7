"""The Hugging Face daily_papers parser against real API responses."""

from __future__ import annotations

import json
from datetime import date

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
