"""What is due, in which section and order: on the seeds and real HF days."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.ingest.manifest import FileSettings
from digest.ingest.runner import ingest_file, plan
from digest.match import TITLE_POINTS, PaperIndex
from digest.model import Digest, Paper, Subscriber
from digest.plan import build_digests
from digest.rank import plan_digests, section_order, trending_score
from digest.store import Store
from digest.vocab import Area
from tests.conftest import DATA, SEEDS

INGESTED = datetime(2026, 6, 1, 7, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 8, tzinfo=UTC)


def ingest(store: Store, *paths: Path, now: datetime = INGESTED) -> None:
    jobs, failures = plan(list(paths), FileSettings())
    assert not failures
    for job in jobs:
        assert ingest_file(store, job, now).error is None


@pytest.fixture
def seeded(db_url: str) -> Store:
    store = Store(db_url)
    ingest(store, SEEDS)
    return store


def digest_for(store: Store, now: datetime = NOW, **settings: object) -> Digest:
    sub = Subscriber("a@example.org", **{"max_age_days": 3650, "trending": 0,  # type: ignore[arg-type]
                                         "max_papers": 200, **settings})
    (digest,) = build_digests(store, [sub], now)
    return digest


def titles(digest: Digest, section: str) -> list[str]:
    return [it.paper.title for s in digest.sections if s.name == section for it in s.items]


def test_follower_of_maojiang_su_gets_all_eight_papers_and_no_others(seeded: Store) -> None:
    digest = digest_for(seeded, authors=("Maojiang Su",))
    profile = (next(SEEDS.glob("000_*.txt"))).read_text().splitlines()
    expected = {profile[i + 1] for i, line in enumerate(profile)
                if re.match(r"^(\d+\.\d)?[A-Z]{2}[A-Z][a-z]{2} \d", line)}
    assert len(expected) == 8
    assert set(titles(digest, "authors")) == expected
    assert len(titles(digest, "authors")) == 8
    assert titles(digest, "keywords") == titles(digest, "trending") == []
    assert all(tuple(map(str, it.reasons)) == ("author: Maojiang Su",) for it in digest.items)


def test_keyword_follower_gets_exactly_the_papers_with_the_phrase(seeded: Store) -> None:
    digest = digest_for(seeded, keywords=("flow matching",))
    phrase = re.compile(r"\bflow[\s-]+matching\b", re.IGNORECASE)
    expected = {p.title for p in seeded.papers() if phrase.search(p.title + " " + p.abstract)}
    assert len(expected) == 4  # 000 (three) and 004 (one); checked by grep as well
    assert set(titles(digest, "keywords")) == expected
    for item in digest.items:
        assert str(item.reasons[0]) in ("keyword: flow matching (title)",
                                   "keyword: flow matching (abstract)")


def test_a_paper_appears_once_in_its_first_section(seeded: Store) -> None:
    digest = digest_for(seeded, authors=("Maojiang Su",), keywords=("flow matching",), trending=5)
    ids = [it.paper.id for it in digest.items]
    assert len(ids) == len(set(ids))
    kl = next(it for it in digest.items if it.paper.title == "On Flow Matching KL Divergence")
    assert tuple(map(str, kl.reasons)) == ("author: Maojiang Su", "keyword: flow matching (title)")
    assert kl.paper.title in titles(digest, "authors")
    assert len(titles(digest, "trending")) == 5
    assert not set(titles(digest, "trending")) & set(titles(digest, "authors"))


def test_order_within_sections_and_cap(db_url: str) -> None:
    store = Store(db_url)
    day = datetime(2026, 4, 16, 9, tzinfo=UTC)
    ingest(store, DATA / "hf-daily" / "2026-04-16.json", now=day)
    digest = digest_for(store, now=day + timedelta(hours=1), keywords=("model",),
                        max_age_days=None, trending=0)
    items = [it for s in digest.sections for it in s.items]
    assert len(items) > 5
    # Papers holding "model" as strongly as a title does first, then the others; each
    # group by upvotes.
    points = PaperIndex([it.paper for it in items]).evidence("model")
    strong = [points[i] >= TITLE_POINTS for i in range(len(items))]
    assert 0 < strong.count(True) < len(items)
    assert strong == sorted(strong, reverse=True)
    for group in (True, False):
        chosen = [it for it, s in zip(items, strong, strict=True) if s is group]
        assert chosen == sorted(chosen, key=section_order)
        upvotes = [it.paper.upvotes for it in chosen]
        assert upvotes == sorted(upvotes, reverse=True)  # type: ignore[type-var]
    capped = digest_for(store, now=day + timedelta(hours=1), keywords=("model",),
                        max_age_days=None, max_papers=3, trending=5)
    assert [it.paper.id for it in capped.items] == [it.paper.id for it in items[:3]]
    assert capped.count("trending") == 0


def test_trending_takes_the_top_unmatched_papers(db_url: str) -> None:
    store = Store(db_url)
    day = datetime(2026, 4, 16, 9, tzinfo=UTC)
    ingest(store, DATA / "hf-daily" / "2026-04-16.json", now=day)
    now = day + timedelta(hours=1)
    digest = digest_for(store, now=now, max_age_days=None, trending=4)
    chosen = [it.paper for s in digest.sections if s.name == "trending" for it in s.items]
    assert len(chosen) == 4
    lowest = min(trending_score(p, now.date()) for p in chosen)
    others = [p for p in store.papers() if p.id not in {c.id for c in chosen}]
    assert all(trending_score(p, now.date()) <= lowest for p in others)
    top = max(chosen, key=lambda p: trending_score(p, now.date()))
    excluded = digest_for(store, now=now, max_age_days=None, trending=4,
                          exclude=(top.title.split(":")[0],))
    assert top.title not in titles(excluded, "trending")


def test_papers_too_old_or_not_yet_seen_are_not_due(seeded: Store) -> None:
    assert digest_for(seeded, authors=("Maojiang Su",), max_age_days=60).items  # Apr, Mar papers
    recent = {it.paper.title for it in digest_for(seeded, authors=("Maojiang Su",),
                                                   max_age_days=60).items}
    assert recent == {"Discrete Flow Matching Policy Optimization"}  # Apr 7; Mar 3 is older
    before_ingest = digest_for(seeded, now=INGESTED - timedelta(hours=1), authors=("Maojiang Su",))
    assert before_ingest.items == ()


def test_preview_json_and_records_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "subs.yaml"
    config.write_text("subscribers:\n  - email: ada@example.org\n    name: Ada\n"
                      "    cadence: daily\n    max_age_days: 3650\n    trending: 2\n"
                      "    authors: [Maojiang Su]\n    keywords: [flow matching]\n")
    run("ingest", "seeds/", "--now", "2026-06-01T07:00:00Z")
    env = {"DIGEST_CONFIG": str(config), "DIGEST_NOW": "2026-06-01T08:00:00Z"}
    first = run("preview", "ADA@example.org", "--format", "json", env=env)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["subscriber"] == "ada@example.org"
    count = sum(len(s["papers"]) for s in data["sections"])
    assert count == 8 + 1 + 2  # eight by Maojiang Su, one more with the keyword, two trending
    assert data["subject"] == ("Maojiang Su: Discrete Flow Matching Policy Optimization · "
                               "9 for you, 2 trending · Daily Papers")
    assert data["period"] == {"start": "2026-05-31T08:00:00+00:00",
                              "end": "2026-06-01T08:00:00+00:00"}
    assert [s["name"] for s in data["sections"]] == ["authors", "keywords", "trending",
                                                       "rising", "recommended", "possibly"]
    paper = data["sections"][0]["papers"][0]
    assert set(paper) == {"id", "arxiv_id", "title", "reasons", "upvotes", "score",
                          "published", "featured"}
    assert run("preview", "ada@example.org", "--format", "json", env=env).stdout == first.stdout
    unknown = run("preview", "bob@example.org", env=env)
    assert unknown.exit_code == 1
    assert f"Error: no subscriber bob@example.org in {config}" in unknown.stderr


def hf_day(*days: str) -> list[Paper]:
    """Real papers of these days, as the store gives them (an id, first seen that day)."""
    papers = []
    for day in days:
        path = DATA / "hf-daily" / f"{day}.json"
        seen = datetime.fromisoformat(f"{day}T20:00:00+00:00")
        papers += [replace(p, first_seen=seen) for p in
                   parse(path.read_bytes(), ParseContext(path.name, seen.date()))[1]]
    return [replace(p, id=i) for i, p in enumerate(papers, 1)]


def test_a_keyword_only_in_passing_or_in_the_source_keywords_makes_no_card() -> None:
    papers = hf_day("2026-04-14", "2026-04-15", "2026-04-16")
    sub = Subscriber("a@example.org", keywords=("reinforcement learning",), max_papers=50,
                     trending=0, rising=0, max_age_days=7)
    (digest,) = plan_digests([sub], papers, {}, datetime(2026, 4, 17, 8, tzinfo=UTC))
    cards = {it.paper.arxiv_id: it for it in digest.items}
    assert "2604.12374" not in cards  # Nemotron 3 Super: one late mention of its RL step
    assert "2604.11784" not in cards  # ClawGUI: only in the generated keywords
    index = PaperIndex(papers)
    mentioned = {papers[pos].arxiv_id for pos in index.phrase("reinforcement learning")}
    assert {"2604.12374", "2604.11784"} <= mentioned
    assert len(mentioned) == 12 and len(cards) == 7
    # Strongest first: the papers naming it in their title, then the others; each card
    # says where the phrase stands.
    areas = [it.reasons[0].area for it in digest.items]
    assert areas[0] == Area.TITLE and areas[-1] == Area.ABSTRACT
    assert areas == sorted(areas, key=[Area.TITLE, Area.ABSTRACT].index)
    assert all(r.area != Area.KEYWORDS for it in digest.items for r in it.reasons)
