"""Which person a followed name is (issue 35): spellings, and who the stored papers show
behind a name. The rules are in ``digest.text`` (spellings) and ``digest.pins``
(``resolve``); the big-data test reads the real 2026 Hugging Face days beside the
project and is skipped, saying so, without them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.ingest.common import ParseContext
from digest.ingest.hf_json import parse_hf_json
from digest.model import History, Item, Paper, Pin, Reason, Subscriber
from digest.pins import PINNED_BY, Person, resolve, why
from digest.rank import plan_digests
from digest.render.cards import card
from digest.text import name_key, name_keys, spelled_alike
from digest.vocab import SectionName

NOW = datetime(2026, 6, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(("followed", "listed", "alike"), [
    ("Ryan Rossi", "Ryan A. Rossi", True),  # a middle initial one side leaves out
    ("Albert Q. Jiang", "Albert Jiang", True),
    ("Philip S. Yu", "Philip S Yu", True),
    ("Yi-Fan Zhang", "YiFan Zhang", True),  # the same parts, written together
    ("Yi-Fan Zhang", "Yi Fan Zhang", True),
    ("Yu-Gang Jiang", "Yu-gang Jiang", True),
    ("Yi-Fan Zhang", "Yifan Zhang", False),  # joined: perhaps another person
    ("Ming-Yu Liu", "Mingyu Liu", False),
    ("Yi-Fan Zhang", "Y. Zhang", False),  # initials for the given names
    ("Yi-Fan Zhang", "Y.-F. Zhang", False),
    ("Albert Q. Jiang", "A. Q. Jiang", False),
    ("Yi-Fan Zhang", "J. Zhang", None),
    ("Y. Zhang", "Yi Zhang", None),  # an initial followed is not expanded
    ("Philip S. Yu", "Philip H. Yu", None),  # other middle initials: another name
    ("Hao Li", "Haoli Zhang", None),
    ("Wei Wang", "Wei Wan", None),
])
def test_spellings_of_a_followed_name(followed: str, listed: str, alike: bool | None) -> None:
    assert spelled_alike(followed, listed) is alike
    if alike is not None:  # every spelling that may be the person is looked up
        assert name_key(listed) in name_keys(followed)


def test_name_keys_stay_few_and_never_take_a_bare_initial() -> None:
    assert name_keys("Albert Q. Jiang") == ("albertqjiang", "albertjiang", "ajiang",
                                            "aqjiang")
    assert len(name_keys("Ryan Rossi")) == 28  # itself, a middle initial a..z, R. Rossi
    assert name_keys("Y. Zhang") == ("yzhang",)  # an initial alone is nobody in particular


def paper(title: str, *authors: str, org: str | None = None, arxiv: str | None = None,
          day: int = 30, pid: int | None = None) -> Paper:
    return Paper(title=title, authors=authors, organization=org, arxiv_id=arxiv,
                 published=date(2026, 5, day), sources=("day.json",),
                 first_seen=datetime(2026, 5, day, 20, tzinfo=UTC), id=pid, upvotes=day)


def authored(subscriber: Subscriber, papers: list[Paper]) -> dict[str, dict[str, list[str]]]:
    (digest,) = plan_digests([subscriber], papers, {}, NOW)
    return {s.name: {it.paper.title: [str(r) for r in it.reasons] for it in s.items}
            for s in digest.sections if s.name in (SectionName.AUTHORS, SectionName.POSSIBLY)}


def test_another_spelling_is_theirs_only_when_tied_to_them() -> None:
    """Yi-Fan Zhang's circle (Chaoyou Fu) also writes him "Yifan Zhang": that paper is
    his, and the card names the spelling; a "Yifan Zhang" with nobody in common is only
    possibly him."""
    papers = [paper("MME one", "Yi-Fan Zhang", "Chaoyou Fu", pid=1, day=20),
              paper("MME two", "Chaoyou Fu", "Yifan Zhang", pid=2, day=21),
              paper("Sampling", "Yifan Zhang", "Mengdi Wang", pid=3, day=22)]
    sub = Subscriber("ada@example.org", authors=("Yi-Fan Zhang",), max_age_days=60,
                     trending=0)
    assert authored(sub, papers) == {
        SectionName.AUTHORS: {"MME two": ["author: Yi-Fan Zhang (as Yifan Zhang)"],
                              "MME one": ["author: Yi-Fan Zhang"]},
        SectionName.POSSIBLY: {"Sampling": ["author: Yi-Fan Zhang (as Yifan Zhang)"]}}


def test_initials_are_theirs_only_when_tied_to_them_and_never_offered() -> None:
    """"Y. Zhang" beside Yi-Fan Zhang's co-author is him; "Y. Zhang" on another paper is
    one of too many people to offer as possibly him."""
    papers = [paper("MME one", "Yi-Fan Zhang", "Chaoyou Fu", pid=1, day=20),
              paper("MME two", "Chaoyou Fu", "Y. Zhang", pid=2, day=21),
              paper("Report", "A. Author", "Y. Zhang", "Q. Li", pid=3, day=22)]
    sub = Subscriber("ada@example.org", authors=("Yi-Fan Zhang",), max_age_days=60,
                     trending=0)
    assert authored(sub, papers) == {
        SectionName.AUTHORS: {"MME two": ["author: Yi-Fan Zhang (as Y. Zhang)"],
                              "MME one": ["author: Yi-Fan Zhang"]},
        SectionName.POSSIBLY: {}}


def test_a_middle_initial_left_out_is_the_same_spelling() -> None:
    papers = [paper("A", "Ryan A. Rossi", "Franck Dernoncourt", pid=1),
              paper("B", "Ryan Rossi", "Franck Dernoncourt", pid=2, day=29)]
    sub = Subscriber("ada@example.org", authors=("Ryan Rossi",), max_age_days=60)
    assert authored(sub, papers)[SectionName.AUTHORS] == {
        "A": ["author: Ryan Rossi (as Ryan A. Rossi)"], "B": ["author: Ryan Rossi"]}


def test_somebody_else_with_one_paper_makes_the_name_ambiguous() -> None:
    """A lone paper at another organisation, with nobody in common, is somebody else
    (issue 35: the other Hao Lis had one paper each); a lone paper that nothing tells
    apart is taken as the person's; a circle of students is the same person."""
    circle = [paper("G1", "Hao Li", "Jie Li", "Guan Huang", org="GigaAI", pid=1),
              paper("G2", "Jindi Lv", "Hao Li", "Jie Li", org="GigaAI", pid=2),
              paper("G3", "Hao Li", "Guan Huang", pid=3)]
    assert not resolve("Hao Li", circle).ambiguous
    assert len(resolve("Hao Li", [*circle, paper("Lone", "Hao Li", "Kim Park")]).theirs) == 4
    other = [*circle, paper("Drugs", "He Cao", "Hao Li", org="IDEA", pid=9)]
    found = resolve("Hao Li", other)
    assert found.ambiguous and found.theirs == frozenset()
    assert [c.describe() for c in found.candidates] == [
        "3 papers with Guan Huang, Jie Li, Jindi Lv (GigaAI)", "1 paper with He Cao (IDEA)"]
    students = [*circle, paper("S1", "Hao Li", "Ann Student", org="GigaAI", pid=5),
                paper("S2", "Bo Student", "Hao Li", pid=6)]  # tied by the organisation
    assert not resolve("Hao Li", students).ambiguous


def test_three_lone_papers_are_nobody_in_particular() -> None:
    lone = [paper(f"P{i}", "Wei Wang", f"Co Author{i}", pid=i) for i in range(3)]
    assert resolve("Wei Wang", lone).ambiguous
    assert not resolve("Wei Wang", lone[:2]).ambiguous  # two: nothing tells them apart


def test_a_big_team_ties_nobody_by_its_authors() -> None:
    """A report of hundreds of authors lists some Wei Wang's co-authors by chance: it
    ties papers only through its organisation."""
    team = [f"Member {i}" for i in range(60)]
    papers = [paper("Report", "Wei Wang", *team, pid=1),
              paper("Small", "Wei Wang", "Member 3", pid=2),
              paper("Other", "Wei Wang", "Member 7", "Zed Q", pid=3)]
    found = resolve("Wei Wang", papers)
    assert found.ambiguous  # three lone papers: not one circle through the report
    small = [*papers[1:], paper("Paper", "Wei Wang", *team[:30], pid=4)]
    assert not resolve("Wei Wang", small).ambiguous  # 31 authors: a circle of its own
    with_org = [paper("Report", "Wei Wang", *team, org="LongCat", pid=1),
                paper("Prover", "Wei Wang", "Xi Xiang", org="LongCat", pid=4), *papers[1:]]
    assert resolve("Wei Wang", with_org).person("Wei Wang").papers == 4  # type: ignore[union-attr]


def test_a_pin_learns_from_the_papers_the_reader_named() -> None:
    known = paper("Known", "Hao Li", "Jie Li", org="GigaAI", arxiv="2602.12099")
    person = Person.of("Hao Li", [known])
    pin = Pin("Hao Li", papers=("2602.12099",), not_=("2603.03655",))
    assert why(pin, person, known) == PINNED_BY
    assert why(pin, person, paper("New", "Hao Li", "Jie Li")) == \
        "with Jie Li, a co-author on 1 of their papers"
    assert why(pin, person, paper("Org", "Hao Li", org="GigaAI")) == "at GigaAI"
    refused = paper("Mozi", "Hao Li", "Jie Li", arxiv="2603.03655")
    assert why(pin, person, refused) is None  # the reader said: not them


def test_the_card_says_which_spelling_matched() -> None:
    reasons = (Reason.author("Yi-Fan Zhang", "as Yifan Zhang"),)
    sub = Subscriber("ada@example.org", authors=("Yi-Fan Zhang",))
    shown = card(Item(paper("T", "Yifan Zhang"), reasons), sub).reasons
    assert shown == ("You follow Yi-Fan Zhang (as Yifan Zhang)",)


def _days(root: Path, last: str) -> list[Paper]:
    papers: list[Paper] = []
    for i, path in enumerate(sorted((root / "hf-daily").glob("2026-*.json"))):
        if path.stem > last:
            break
        found = parse_hf_json(path.read_text(encoding="utf-8"),
                              ParseContext(path.name, date.fromisoformat(path.stem)))
        papers += [Paper(**{**p.__dict__, "id": i * 1000 + j}) for j, p in enumerate(found)]
    return papers


@pytest.mark.slow
def test_common_names_are_asked_about_and_one_person_is_not(shared_data: Path) -> None:
    """Over the real days of 2026 up to 10 April: every common name of the labelled set
    (tests/data/quality/match_labels.yaml) is offered as several people, and no name of
    one person is (Hung-Yi Lee's two student groups, Yu-Gang Jiang's circle with a
    survey of new co-authors, Philip S. Yu's students, each paper a circle of its own)."""
    papers = _days(shared_data, "2026-04-10")
    for name in ("Hao Li", "Wei Wang", "Yang Liu"):
        assert resolve(name, papers).ambiguous, name
    for name in ("Hung-Yi Lee", "Yu-Gang Jiang", "Philip Yu", "Philip Torr", "Ryan Rossi",
                 "Kevin Shih", "Albert Q. Jiang", "Yi-Fan Zhang"):
        found = resolve(name, papers)
        assert not found.ambiguous and found.theirs, name


def test_history_is_not_needed_for_the_possibly_section() -> None:
    """Without any stored history, a paper carrying an ambiguous name is offered, never a
    card, and never leads: the subject line is the trending paper's."""
    papers = [paper("Mine", "Hao Li", "Jie Li", org="GigaAI", pid=1),
              paper("Mine too", "Hao Li", "Jie Li", org="GigaAI", pid=2),
              paper("Theirs", "Hao Li", "He Cao", org="IDEA", pid=3),
              paper("Theirs too", "He Cao", "Hao Li", org="IDEA", pid=4)]
    sub = Subscriber("ada@example.org", authors=("Hao Li",), max_age_days=60, trending=0)
    (digest,) = plan_digests([sub], papers, {"ada@example.org": History()}, NOW)
    sections = {s.name: [it.paper.title for it in s.items] for s in digest.sections}
    assert sections[SectionName.AUTHORS] == []
    assert sorted(sections[SectionName.POSSIBLY]) == ["Mine", "Mine too", "Theirs",
                                                      "Theirs too"]


def test_a_pin_says_who_the_person_is() -> None:
    assert Pin("Hao Li", with_=("Jie Li", "Guan Huang"), papers=("2602.12099", "2604.08168"),
               not_=("2603.03655",)).describe() == (
        "with Jie Li, Guan Huang; 2 papers you pinned them by; 1 paper you said is "
        "someone else's")
    assert Pin("Ada", profile="ada.txt", org="Acme").describe() == \
        "on the profile ada.txt; at Acme"
