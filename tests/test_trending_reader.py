"""Trending for the reader: of the first papers of the trending pool, those close to what a
reader follows (their keywords' words, their followed authors' and liked papers' topical
words, their categories) count their trending score three times, and their card says
"Trending in your area"; a paper that barely trends never leads for it."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime

from digest.match import PaperIndex
from digest.model import Digest, History, Item, Paper, Reason, Subscriber
from digest.rank import TRENDING_WINDOW, Ranking, plan_digests, trending_score
from digest.render import Links, render_digest
from digest.trending import CATEGORY_FIT, NEAR, NEAR_BOOST, TOPICAL, Affinity
from digest.vocab import Cadence, Note, SectionName
from tests.test_rank import hf_day

NOW = datetime(2026, 4, 17, 8, tzinfo=UTC)
PAPERS = hf_day("2026-04-10", "2026-04-14", "2026-04-15", "2026-04-16")
LINKS = Links("https://digest.example.org/unsubscribe/T", "https://digest.example.org/manage/T")


def digests(*subs: Subscriber, papers: list[Paper] = PAPERS, now: datetime = NOW
            ) -> list[Digest]:
    return plan_digests(list(subs), papers, {}, now)


def trending(*subs: Subscriber, papers: list[Paper] = PAPERS, now: datetime = NOW
             ) -> list[list[tuple[str | None, str]]]:
    """Each reader's trending papers, as (arXiv id, note)."""
    return [[(it.paper.arxiv_id, it.reasons[0].area) for it in section(d)]
            for d in digests(*subs, papers=papers, now=now)]


def section(digest: Digest) -> tuple[Item, ...]:
    return next(s.items for s in digest.sections if s.name == SectionName.TRENDING)


def reader(email: str, cadence: Cadence = Cadence.WEEKLY, **follows: object) -> Subscriber:
    return Subscriber(email, cadence=cadence, **follows)  # type: ignore[arg-type]


def test_two_readers_with_different_interests_get_different_trending_papers() -> None:
    nobody, video, gui = trending(reader("n@example.org"),
                                  reader("v@example.org", keywords=("video generation",)),
                                  reader("g@example.org", keywords=("gui agents",)))
    assert all(note == "" for _, note in nobody)  # no interests: the shared order
    assert video != gui and set(video) != set(gui)
    # LPM 1.0 (video-based character performance, 27 upvotes) is in the video reader's,
    # CocoaBench and KnowU-Bench (agent benchmarks, 22 and 30) in the GUI-agent reader's;
    # none of them is in the shared order's first five.
    assert ("2604.07823", Note.NEAR) in video and "2604.07823" not in dict(gui)
    assert {("2604.11201", Note.NEAR), ("2604.08455", Note.NEAR)} <= set(gui)
    assert not {"2604.07823", "2604.11201", "2604.08455"} & set(dict(nobody))
    assert "2604.07823" not in dict(gui) and "2604.11201" not in dict(video)


def test_a_daily_digest_is_for_the_reader_too() -> None:
    yesterday = History(last_digest_at=datetime(2026, 4, 16, 8, tzinfo=UTC))
    subs = [reader("n@example.org", Cadence.DAILY),
            reader("b@example.org", Cadence.DAILY, keywords=("benchmark",))]
    ranking = Ranking(PAPERS, NOW)
    nobody, benchmarks = (ranking.digest(sub, yesterday) for sub in subs)
    assert [it.paper.arxiv_id for it in section(nobody)] != [
        it.paper.arxiv_id for it in section(benchmarks)]
    # TREX (automating LLM fine-tuning, a benchmark) is close, with 6 upvotes: in, noted,
    # and after the papers with 18 and more.
    last = section(benchmarks)[-1]
    assert (last.paper.arxiv_id, last.paper.upvotes) == ("2604.14116", 6)
    assert last.reasons == (Reason.trending(Note.NEAR),)


def test_liked_papers_tell_a_readers_area() -> None:
    nobody, liked = trending(reader("n@example.org"),
                             reader("l@example.org", likes=("2604.08523",)))
    # Liked ClawBench (can AI agents complete everyday online tasks?): ClawBench itself,
    # trending and never sent to this reader, comes up and says why.
    assert liked != nobody and ("2604.08523", Note.NEAR) in liked
    assert "2604.08523" not in dict(nobody)


def test_followed_authors_tell_a_readers_area() -> None:
    followed = [_paper(i, f"Spin glasses and lattice magnets, part {i}", 0) for i in (1, 2)]
    filler = [_paper(i, f"Paper {i} on compilers", 100 - i) for i in range(3, 80)]
    magnets = _paper(100, "Frustrated magnets on a kagome lattice", 75)  # 25th
    followed = [replace(p, authors=("Ada Lovelace",)) for p in followed]
    papers = [*followed, *filler, magnets]
    nobody, ada = trending(reader("n@example.org"),
                           reader("a@example.org", authors=("Ada Lovelace",)), papers=papers)
    assert (None, Note.NEAR) not in nobody and len(nobody) == len(ada) == 5
    assert ada[0] == (None, Note.NEAR)  # 75 x 3 beats the leader's 97
    (digest,) = digests(reader("a@example.org", authors=("Ada Lovelace",)), papers=papers)
    assert section(digest)[0].paper.id == 100


def test_the_card_says_trending_in_your_area_in_the_html_and_the_text() -> None:
    (digest,) = digests(reader("v@example.org", keywords=("video generation",)))
    near = next(it for it in section(digest) if it.reasons[0].area == Note.NEAR)
    assert near.paper.arxiv_id == "2604.07823"
    mail = render_digest(digest, LINKS)
    line = "Trending in your area: 27 upvotes on Daily Papers"
    assert line in mail.text and line in mail.html
    # The others say where they trend, as before.
    assert mail.text.count("Trending on Daily Papers: ") == len(section(digest)) - 1
    assert mail.html.count("Trending on Daily Papers: ") == len(section(digest)) - 1


def _paper(i: int, title: str, upvotes: int, day: date = date(2026, 4, 16)) -> Paper:
    return Paper(title, abstract=title, published=day, featured=day, upvotes=upvotes, id=i,
                 first_seen=datetime(day.year, day.month, day.day, 20, tzinfo=UTC))


def test_a_barely_voted_paper_never_leads_trending_because_of_interest() -> None:
    filler = [_paper(i, f"Paper {i} on compilers", 40 - i) for i in range(1, 20)]
    barely = _paper(100, "Magnets on a lattice", 1)
    some = _paper(101, "Magnets on a lattice, at scale", 13)  # a third of the leader's 39
    sub = Subscriber("p@example.org", keywords=("lattice magnet",), trending=5,
                     max_age_days=7)
    (got,) = digests(sub, papers=[*filler, barely, some])
    items = section(got)
    # Both are close (neither title holds the phrase: no keyword card); the one with 13
    # upvotes comes second (13 x 3 = 39: after the leader's 39, which came first), the one
    # with 1 upvote counts as 3 and stays behind every paper with more than 3.
    assert [(it.paper.id, it.reasons[0].area) for it in items] == [
        (1, ""), (101, Note.NEAR), (2, ""), (3, ""), (4, "")]
    alone = [*filler[:3], barely]  # a small pool: it is in, noted, and last
    (got,) = digests(sub, papers=alone)
    assert [it.paper.id for it in section(got)] == [1, 2, 3, 100]


def test_interest_never_lifts_a_paper_above_one_trending_three_times_as_much() -> None:
    # A real week's whole window for a reader of reinforcement learning: its close papers
    # (one with 22 upvotes) are ahead of papers trending less than three times as much,
    # never of the others.
    sub = reader("x@example.org", keywords=("reinforcement learning",), trending=40)
    ranking = Ranking(PAPERS, NOW)
    items = section(ranking.digest(sub, History()))
    scores = ranking._trending[True][2]
    pos = {p.id: n for n, p in enumerate(ranking.papers)}
    shown = [(scores[pos[it.paper.id]], it.reasons[0].area) for it in items]
    assert any(note == Note.NEAR for _, note in shown)
    for n, (score, note) in enumerate(shown):
        weight = NEAR_BOOST if note == Note.NEAR else 1.0
        behind = [s * (NEAR_BOOST if m == Note.NEAR else 1.0) for s, m in shown[n + 1:]]
        assert all(score * weight >= b for b in behind)
        if note == Note.NEAR:  # never ahead of a paper trending three times as much
            assert all(s <= score * NEAR_BOOST for s, _ in shown[n + 1:])


def test_only_the_first_papers_of_the_pool_are_read() -> None:
    filler = [_paper(i, f"Paper {i} on compilers", 500 - i) for i in range(1, 60)]
    inside = _paper(100, "Magnets on a lattice", 500 - 10)  # tenth in the pool
    outside = _paper(101, "Magnets without a lattice", 300)  # 3 x 300 beats 499, but 60th
    sub = Subscriber("p@example.org", keywords=("lattice magnet",), trending=3,
                     max_age_days=7)
    (got,) = digests(sub, papers=[*filler, inside, outside])
    assert [it.paper.id for it in section(got)] == [100, 1, 2]
    assert trending_score(outside, NOW.date()) * NEAR_BOOST > trending_score(
        filler[0], NOW.date())


def test_a_reader_costs_a_window_not_the_pool() -> None:
    papers = [_paper(i, f"Paper {i} on compilers", 1000 - i) for i in range(1, 400)]
    ranking = Ranking(papers, NOW)
    for n in range(50):
        sub = Subscriber(f"r{n}@example.org", keywords=(f"topic {n}",), max_age_days=7)
        assert ranking.digest(sub, History()).count(SectionName.TRENDING) == 5
    # Words were read of the first papers of the pool, not of all 399; and no topic of a
    # followed paper (nobody follows one).
    assert len(ranking.affinity._read) <= 2 * TRENDING_WINDOW
    assert not ranking.affinity._about


def test_a_word_counts_once_in_any_form_and_a_category_counts_as_a_topical_word() -> None:
    filler = [_paper(i, f"Paper {i} on compilers", 10) for i in range(1, 40)]
    agents = replace(_paper(50, "Agents: an agent for agent tools", 10), category="cs.AI")
    affinity = Affinity(PaperIndex([*filler, agents]))
    at = len(filler)
    weight = math.log(40)  # 1 paper of 40 holds "agent" and "agents"
    # "agent" and "agents" are one word; the whole keyword is there: NEAR.
    assert affinity.closeness([at, 0], ("agent",), (), ()) == [weight + NEAR, 0.0]
    assert affinity.closeness([at, 0], ("agents",), (), ("AI",)) == [
        weight + NEAR + CATEGORY_FIT, 0.0]
    # A followed paper's rare words count by the share of followed papers holding them;
    # common ones ("compilers", in 39 of 40) not at all.
    assert dict(affinity.topical([at]))["agent"] == weight >= TOPICAL
    halves = dict(affinity.topical([at, 0]))  # "1" is as rare: in "Paper 1 on compilers"
    assert halves["agent"] == halves["1"] == weight / 2
    assert "compilers" not in dict(affinity.topical([0]))


def test_a_trending_reason_with_a_note_is_kept_and_read_back() -> None:
    near = Reason.trending(Note.NEAR)
    assert Reason.decode(near.encode()) == near and str(near) == "trending (in your area)"
