"""Pinned authors: by profile, by co-author, by organisation; and the note for a followed
name the data shows to be several people. On the real seeds and a real HF day too."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from digest import defaults
from digest.config import load_config
from digest.deliver import MailSettings, tokens_for
from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.model import Digest, Item, OutboxEntry, Paper, Pin, Reason, Subscriber
from digest.passes import noted_mailer as Mailer
from digest.pins import Person, _candidate, ident, person_key, resolve, why
from digest.plan import Notes, build_digests, people_of
from digest.render.cards import card
from digest.store import Store
from digest.text import name_key
from tests.conftest import DATA, SEEDS, check_golden
from tests.test_rank import ingest

SEEN = datetime(2026, 6, 1, 7, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 8, tzinfo=UTC)
PROFILE_000 = next(SEEDS.glob("000_*.txt"))
PROFILE_002 = next(SEEDS.glob("002_*.txt"))
REAL_DAY = DATA / "hf-daily" / "2026-03-10.json"  # the one 2026 HF paper with either name


def write_config(folder: Path, authors: str) -> Path:
    path = folder / "subscriptions.yaml"
    path.write_text("subscribers:\n  - email: ada@example.org\n    max_age_days: 3650\n"
                    "    trending: 0\n    max_papers: 500\n    authors:\n" + authors,
                    encoding="utf-8")
    return path


def pinned_subscriber(folder: Path) -> Subscriber:
    """Seed 000's and 002's owners, each pinned to their profile, read from a real file."""
    path = write_config(folder, f"      - {{name: Maojiang Su, profile: {PROFILE_000}}}\n"
                                f"      - {{name: Jiacheng Sun, profile: {PROFILE_002}}}\n")
    (sub,) = load_config(path).subscribers
    return sub


def authored(digest: Digest) -> dict[str, list[str]]:
    return {it.paper.title: [str(r) for r in it.reasons]
            for s in digest.sections if s.name == "authors" for it in s.items}


# ---- the real data ------------------------------------------------------------------

def test_every_paper_with_the_seed_owners_names_and_what_the_pinned_follower_gets(
        db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    ingest(store, SEEDS, now=SEEN)
    ingest(store, REAL_DAY, now=SEEN)
    sub = pinned_subscriber(tmp_path)
    people = people_of(store, [sub])
    got = authored(build_digests(store, [sub], NOW)[0])
    listing = []
    for name in sub.authors:
        pin = sub.pin(name)
        assert pin is not None
        for paper in store.papers_carrying([name_key(name)]).get(name_key(name), []):
            verdict = why(pin, people[person_key(pin)], paper)
            listing.append({"name": name, "title": paper.title, "arxiv_id": paper.arxiv_id,
                            "sources": list(paper.sources), "authors": list(paper.all_authors),
                            "organization": paper.organization, "gets": verdict is not None,
                            "why": verdict})
            expected = [f"author: {name} ({verdict})"] if verdict else None
            assert got.get(paper.title) == expected, paper.title
    check_golden("pinning.json", listing)
    assert sum(e["gets"] for e in listing) == len(got) == 8 + 39
    assert [e["title"][:6] for e in listing if not e["gets"]] == ["FVG-PT"]


def possibly(digest: Digest) -> dict[str, list[str]]:
    return {it.paper.title: [str(r) for r in it.reasons]
            for s in digest.sections if s.name == "possibly" for it in s.items}


def test_an_unpinned_follower_is_asked_once_a_stranger_shares_the_name(db_url: str) -> None:
    """Seed 002's 39 papers are one Jiacheng Sun (his profile credits them); the real
    day adds FVG-PT by a Jiacheng Sun of another organisation who shares no co-author:
    somebody else. Unpinned, the name is now ambiguous: no card is taken as his, a few
    are offered as possibly his, and the digest asks which one is meant."""
    store = Store(db_url)
    ingest(store, PROFILE_002, now=SEEN)
    alone = Subscriber("ada@example.org", authors=("Jiacheng Sun",), max_age_days=3650,
                       trending=0, max_papers=500)
    (before,) = build_digests(store, [alone], NOW)
    assert len(authored(before)) == 39 and before.notes == ()
    ingest(store, REAL_DAY, now=SEEN)
    (after,) = build_digests(store, [alone], NOW)
    assert authored(after) == {}
    assert len(possibly(after)) == 5  # defaults.POSSIBLY
    assert after.notes == ("several people publish as Jiacheng Sun; pin the one you mean",)
    stranger = next(p for p in store.papers() if p.title.startswith("FVG-PT"))
    assert stranger.organization


# ---- the rules, on small made-up stores ---------------------------------------------

PROFILE = "wei.txt"  # a profile source, as `digest ingest` stores a file's name


def paper(title: str, *authors: str, org: str | None = None, credited: tuple[str, ...] = (),
          source: str = "day.json") -> Paper:
    return Paper(title=title, authors=authors, organization=org, credited=credited,
                 sources=(source,), published=date(2026, 5, 30))


def wei_store(db_url: str) -> Store:
    """Wei Wang's profile (with Zhenguo Li on two papers, Ana Ruiz on one), then a day
    with five new papers by some Wei Wang."""
    store = Store(db_url)
    store.save_papers([
        paper("Profile one", "Wei Wang", "Zhenguo Li", credited=("Wei Wang",), source=PROFILE),
        paper("Profile two", "Zhenguo Li", "Wei Wang", "Ana Ruiz", credited=("Wei Wang",),
              source=PROFILE),
    ], source=PROFILE, fmt="profile", now=SEEN)
    store.save_papers([
        paper("With Zhenguo", "Ming Xu", "Wei Wang", "Zhenguo Li"),
        paper("With Ana", "Wei Wang", "Ana Ruiz"),
        paper("Co-author of a co-author", "Wei Wang", "Bo Chen", org="Tencent AI Lab"),
        paper("A stranger", "Wei Wang", "Lee Park", org="Acme"),
        paper("Bo Chen with Ana", "Bo Chen", "Ana Ruiz"),
    ], source="day.json", fmt="hf-json", now=SEEN)
    return store


def digest_of(store: Store, *pins: Pin, authors: tuple[str, ...] = ()) -> dict[str, list[str]]:
    sub = Subscriber("ada@example.org", authors=authors or tuple(p.name for p in pins),
                     pins=pins, max_age_days=3650, trending=0, max_papers=500)
    return authored(build_digests(store, [sub], NOW)[0])


def test_pinned_by_profile_gets_its_papers_and_shared_coauthors_only(db_url: str) -> None:
    store = wei_store(db_url)
    got = digest_of(store, Pin("Wei Wang", profile=PROFILE))
    assert got == {
        "Profile one": ["author: Wei Wang (on their profile)"],
        "Profile two": ["author: Wei Wang (on their profile)"],
        "With Zhenguo": ["author: Wei Wang (with Zhenguo Li, a co-author on 2 of their "
                         "papers)"],
        "With Ana": ["author: Wei Wang (with Ana Ruiz, a co-author on 1 of their papers)"],
    }  # Bo Chen wrote with Ana Ruiz, not with Wei Wang: a co-author of a co-author


def test_pinned_by_coauthor_and_by_organisation(db_url: str) -> None:
    store = wei_store(db_url)
    assert digest_of(store, Pin("Wei Wang", with_=("Lee Park",))) == {
        "A stranger": ["author: Wei Wang (with Lee Park, a co-author you named)"]}
    assert digest_of(store, Pin("Wei Wang", org="tencent")) == {
        "Co-author of a co-author": ["author: Wei Wang (at Tencent AI Lab)"]}
    assert digest_of(store, Pin("Wei Wang", org="Tencent Cloud")) == {}


def test_an_unpinned_name_with_somebody_else_in_it_is_only_possibly_theirs(db_url: str
                                                                          ) -> None:
    """Unpinned, Wei Wang is the profile's circle and, at Tencent AI Lab with nobody in
    common, somebody else: no card is taken for the reader's, the papers are offered as
    possibly theirs (at most five), and the other, pinned name keeps its cards."""
    store = wei_store(db_url)
    sub = Subscriber("ada@example.org", authors=("Wei Wang", "Lee Park"),
                     pins=(Pin("Lee Park", with_=("Nobody",)),), max_age_days=3650,
                     trending=0, max_papers=500)
    (digest,) = build_digests(store, [sub], NOW)
    assert authored(digest) == {}
    maybe = possibly(digest)
    assert len(maybe) == 5 and all("author: Wei Wang" in r for r in maybe.values())
    # Lee Park is pinned to a co-author on none of them: possibly theirs too
    assert maybe["A stranger"] == ["author: Wei Wang", "author: Lee Park"]
    assert set(maybe) < {"Profile one", "Profile two", "With Zhenguo", "With Ana",
                         "Co-author of a co-author", "A stranger"}


def test_an_unpinned_name_of_one_person_gets_their_papers(db_url: str) -> None:
    """Without the Tencent and Acme papers, every Wei Wang paper is one person's (the
    profile's circle): all of them are cards. A lone paper that nothing tells apart (no
    organisation, no co-author in common) is taken as theirs."""
    store = wei_store(db_url)
    sub = Subscriber("ada@example.org", authors=("Wei Wang",), max_age_days=3650,
                     trending=0, max_papers=500)
    papers = [p for p in store.papers() if not p.organization]
    assert len(resolve("Wei Wang", papers).theirs) == 4 and not resolve(
        "Wei Wang", papers).ambiguous
    lone = paper("Alone", "Wei Wang", "Kim Lee")
    assert len(resolve("Wei Wang", [*papers, lone]).theirs) == 5
    assert resolve("Wei Wang", store.papers()).ambiguous
    (digest,) = build_digests(store, [sub], NOW)
    assert authored(digest) == {} and len(possibly(digest)) == 5


def test_the_card_says_how_the_paper_is_theirs() -> None:
    reasons = (Reason.author("Jiacheng Sun", "with Zhenguo Li, a co-author on 5 of their "
                             "papers"), Reason.author("Ada"))
    sub = Subscriber("ada@example.org", authors=("Jiacheng Sun", "Ada"))
    shown = card(Item(paper("T", "Ada", "Jiacheng Sun"), reasons), sub).reasons
    assert shown == ("You follow Jiacheng Sun (with Zhenguo Li, a co-author on 5 of their "
                     "papers), Ada",)
    assert Reason.decode(json.loads(json.dumps(reasons[0].encode()))) == reasons[0]


def test_why_is_pure_and_prefers_the_profile() -> None:
    pin = Pin("Wei Wang", profile=PROFILE, with_=("Ana Ruiz",), org="Acme")
    person = Person.of("Wei Wang", [paper("K", "Wei Wang", "Ana Ruiz", "Zhenguo Li")])
    on = paper("P", "Wei Wang", "Ana Ruiz", credited=("Wei Wang",), source=PROFILE)
    assert why(pin, person, on) == "on their profile"
    assert why(pin, person, paper("Q", "Ana Ruiz", "Wei Wang", org="Acme")) == \
        "with Ana Ruiz, a co-author on 1 of their papers"
    assert why(pin, person, paper("R", "Wei Wang", org="ACME Corp.")) == "at ACME Corp."
    assert why(pin, person, paper("S", "Wei Wang", "Bo Chen")) is None


# ---- ambiguity --------------------------------------------------------------------

def two_wei_wangs(db_url: str) -> Store:
    store = Store(db_url)
    store.save_papers([
        paper("A1", "Wei Wang", "Zhenguo Li", org="Huawei"),
        paper("A2", "Zhenguo Li", "Wei Wang", "Tianyang Hu", org="Huawei"),
        paper("A3", "Tianyang Hu", "Wei Wang"),
        paper("B1", "Wei Wang", "Lee Park", org="Tencent"),
        paper("B2", "Lee Park", "Wei Wang", org="Tencent"),
        paper("C1", "Wei Wang", "Solo Author"),
        paper("D1", "Ada", "Bo Chen"),
        paper("D2", "Ada", "Bo Chen"),
    ], source="day.json", fmt="hf-json", now=SEEN)
    return store


def test_groups_of_a_name_by_shared_coauthors(db_url: str) -> None:
    papers = two_wei_wangs(db_url).papers()
    assert [c.describe() for c in list(resolve("Wei Wang", papers).candidates)] == [
        "3 papers with Tianyang Hu, Zhenguo Li (Huawei)", "2 papers with Lee Park (Tencent)"]
    assert list(resolve("Ada", papers).candidates) == []  # one person: nobody to choose between
    assert len(resolve("Ada", papers).theirs) == 2


def test_the_papers_carrying_a_name_are_the_newest_and_those_known(db_url: str) -> None:
    """A name's papers are read newest first (the day they appeared, then the id), up to
    the bound, plus any the caller holds already; read slim (no abstract) but with the
    authors, credits and sources a resolution needs."""
    store = two_wei_wangs(db_url)
    old = replace(paper("E1", "Wei Wang", "Old Friend", source="old.json"),
                  published=date(2020, 1, 1), abstract="long")
    store.save_papers([old], source="old.json", fmt="hf-json", now=SEEN)
    wei, ada = name_key("Wei Wang"), name_key("Ada")
    found = store.papers_carrying([wei, ada], 4)
    assert sorted(p.title for p in found[wei]) == ["A3", "B1", "B2", "C1"]  # same day: ids
    assert [p.title for p in found[ada]] == ["D1", "D2"]
    assert [p.title for p in store.papers_carrying([wei], 6)[wei]] == [
        "A1", "A2", "A3", "B1", "B2", "C1"]  # E1 is the oldest: left out
    old = next(p for p in store.papers() if p.title == "E1")
    assert old.id is not None
    kept = store.papers_carrying([wei], 1, {old.id: old})[wei]
    assert [p.title for p in kept] == ["C1", "E1"] and kept[1] is old
    slim = store.papers_carrying([wei])[wei][-1]
    assert (slim.title, slim.abstract, slim.authors, slim.sources) == (
        "E1", "", ("Wei Wang", "Old Friend"), ("old.json",))


def test_a_paper_featured_later_becomes_a_names_newest(db_url: str) -> None:
    """The day on the author rows follows the paper's: featured later, it is newer."""
    store = Store(db_url)
    x = replace(paper("X", "Wei Wang", "Ana Ruiz"), arxiv_id="2605.00001")
    y = replace(paper("Y", "Wei Wang", "Bo Chen"), arxiv_id="2605.00002",
                published=date(2026, 5, 1))
    store.save_papers([x, y], source="day.json", fmt="hf-json", now=SEEN)
    wei = name_key("Wei Wang")
    assert [p.title for p in store.papers_carrying([wei], 1)[wei]] == ["X"]
    store.save_papers([replace(y, featured=date(2026, 6, 10))], source="hf.json",
                      fmt="hf-json", now=SEEN)
    assert [p.title for p in store.papers_carrying([wei], 1)[wei]] == ["Y"]


def test_a_name_is_resolved_from_its_newest_papers(db_url: str, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    """With room for the newest three papers only (B1, B2, C1: one group of two and a
    lone paper), Wei Wang is one person; with room for all, two."""
    store = two_wei_wangs(db_url)
    sub = [Subscriber("a@example.org", authors=("Wei Wang", "Ada"))]
    notes = Notes(store)
    notes.load(sub)
    assert len(notes.people("Wei Wang")) == 2 and notes.people("Ada") == ()
    monkeypatch.setattr(defaults, "RESOLVE_PAPERS", 3)
    notes = Notes(store)
    notes.load(sub)
    assert notes.people("Wei Wang") == ()
    theirs = notes.resolutions(sub)[("wei", "wang")].theirs
    assert len(theirs) == 3


def test_a_profile_owner_is_one_person_whoever_their_coauthors(db_url: str) -> None:
    """Seed 002 credits 39 papers to Jiacheng Sun, in groups of co-authors that share
    nobody: still one person, the profile's owner (no note)."""
    store = Store(db_url)
    ingest(store, PROFILE_002)
    papers = [p for p in store.papers() if "Jiacheng Sun" in p.all_authors]
    assert len(papers) == 39
    assert list(resolve("Jiacheng Sun", papers).candidates) == []
    assert len(resolve("Jiacheng Sun", papers).theirs) == 39
    # Were he offered, the pin would name his three commonest co-authors (on 13 of 39).
    found = [_candidate(papers, "Jiacheng Sun")]
    assert found[0].describe().startswith("39 papers, 13 with Tianyang Hu, ")
    assert found[0].matched == sum(
        1 for p in papers if {"Tianyang Hu", "Cheng-Yen Yang", "Fan Bao"} & set(p.all_authors))
    sub = Subscriber("grace@example.org", authors=("Jiacheng Sun",), max_age_days=3650)
    (digest,) = build_digests(store, [sub], SEEN)
    assert digest.notes == ()


def test_the_digest_notes_an_ambiguous_unpinned_name(db_url: str) -> None:
    store = two_wei_wangs(db_url)
    sub = Subscriber("ada@example.org", authors=("Wei Wang", "Ada"), max_age_days=3650)
    (digest,) = build_digests(store, [sub], NOW)
    assert digest.notes == ("several people publish as Wei Wang; pin the one you mean",)
    pinned = Subscriber("ada@example.org", authors=("Wei Wang",), max_age_days=3650,
                        pins=(Pin("Wei Wang", with_=("Lee Park",)),))
    assert build_digests(store, [pinned], NOW)[0].notes == ()


def test_check_notes_an_ambiguous_name_with_a_pin_for_each_person(
        db_url: str, tmp_path: Path, run: Any) -> None:
    two_wei_wangs(db_url)
    config = write_config(tmp_path, "      - Wei Wang\n      - Ada\n"
                          "      - {name: Lee Park, profile: stored:nothing.txt}\n")
    result = run("check", str(config))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == [
        f"{config}:2: subscriber ada@example.org: note: several people publish as Wei Wang; "
        "pin the one you mean, e.g. with one of:",
        '    - {name: "Wei Wang", with: ["Tianyang Hu", "Zhenguo Li"]}  # 3 papers with '
        "Tianyang Hu, Zhenguo Li (Huawei)",
        '    - {name: "Wei Wang", with: ["Lee Park"]}  # 2 papers with Lee Park (Tencent)',
        f"{config}:2: subscriber ada@example.org: note: Lee Park is pinned to the profile "
        "nothing.txt, but the database has no papers it credits to Lee Park; digest ingest "
        "that profile",
    ]
    verdict = json.loads(run("check", str(config), "--json").output)
    assert verdict["ok"] is True and len(verdict["notes"]) == 2
    assert verdict["pins"] == [  # what the text offers to paste, as JSON too
        {"subscriber": "ada@example.org", "name": "Wei Wang",
         "pin": '{name: "Wei Wang", with: ["Tianyang Hu", "Zhenguo Li"]}',
         "about": "3 papers with Tianyang Hu, Zhenguo Li (Huawei)",
         "titles": ["A3", "A2"], "papers": []},  # made-up papers: no arXiv ids
        {"subscriber": "ada@example.org", "name": "Wei Wang",
         "pin": '{name: "Wei Wang", with: ["Lee Park"]}',
         "about": "2 papers with Lee Park (Tencent)", "titles": ["B2", "B1"], "papers": []}]


def test_a_json_preview_carries_the_notes(db_url: str, tmp_path: Path, run: Any) -> None:
    two_wei_wangs(db_url)
    config = write_config(tmp_path, "      - Wei Wang\n")
    shown = run("preview", "ada@example.org", "--now", NOW.isoformat(), "--format", "json",
                env={"DIGEST_CONFIG": str(config)})
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["notes"] == [
        "several people publish as Wei Wang; pin the one you mean"]


@pytest.mark.parametrize(("entry", "message"), [
    ("{name: Ada, colour: red}", "authors: entry 1: unknown key 'colour'; a pinned author "
     "takes name, profile, with, org, papers, not"),
    ("{name: Ada, wiht: [Bo]}", "authors: entry 1: unknown key 'wiht'; did you mean 'with'?"),
    ("{name: Ada}", "authors: entry 1: 'Ada' is pinned to nobody; give profile:, with:, "
     "org:, papers: or not:, or write the name alone"),
    ("{name: Ada, papers: [2603.12390]}", "2603.12390 is read by YAML as a number (and "
     "2604.01230 as 2604.0123); write arXiv ids in quotes: \"2603.12390\""),
    ("{name: Ada, with: Bo}", "authors: entry 1: with: expected a list such as [a, b], "
     "found text"),
    ("{name: Ada, profile: missing.txt}", "authors: entry 1: profile: {dir}/missing.txt is "
     "not a file; give the path of a profile listing (relative to this file), or "
     "stored:NAME for one already in the database"),
    (f"{{name: Ada, profile: {PROFILE_002}}}", f"authors: entry 1: profile: {PROFILE_002} is "
     "the profile of Jiacheng Sun, not of Ada; pin the right profile, or follow that name"),
    (f"{{name: Ada, profile: {DATA / 'hf-daily' / '2026-03-10.json'}}}", "authors: entry 1: "
     f"profile: {DATA / 'hf-daily' / '2026-03-10.json'}: not a profile listing (it reads as "
     "hf-json)"),
])
def test_bad_pins_are_clean_errors_naming_file_line_and_subscriber(
        tmp_path: Path, run: Any, entry: str, message: str) -> None:
    config = write_config(tmp_path, f"      - Bo\n      - {entry}\n")
    result = run("check", str(config))
    assert result.exit_code == 1
    wanted = message.replace("entry 1", "entry 2").format(dir=tmp_path)
    assert result.output == f"Error: {config}:8: subscriber ada@example.org: {wanted}\n"



def test_the_mailer_gives_the_digest_its_notes(db_url: str) -> None:
    """The templates do not show the notes yet; the digest they are given holds them."""
    store = two_wei_wangs(db_url)
    sub = Subscriber("ada@example.org", authors=("Wei Wang",))
    mailer = Mailer(store, MailSettings.from_env({}), tokens_for(store))
    rendered: list[Digest] = []
    render = mailer.renderer.render_within

    def recording(digest: Digest, *args: Any) -> Any:
        rendered.append(digest)
        return render(digest, *args)

    mailer.renderer.render_within = recording  # type: ignore[method-assign]
    mailer.compose(OutboxEntry(1, 1, sub, "digest", NOW, SEEN, NOW, "sending", ()), NOW)
    assert rendered[0].notes == ("several people publish as Wei Wang; pin the one you mean",)


def test_follow_and_unfollow_links_know_pinned_names() -> None:
    from digest.web import changed

    prefs = {"authors": [{"name": "Wei Wang", "with": ["Lee Park"]}, "Ada"]}
    assert changed(prefs, "follow", "wei wang") == prefs
    assert changed(prefs, "unfollow", "Wei Wang") == {"authors": ["Ada"]}


def test_the_docs_pin_example_is_valid(tmp_path: Path) -> None:
    readme = (SEEDS.parent / "docs" / "subscriptions.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\nauthors:\n", 1)[1].split("```", 1)[0]
    entries = "".join(f"    {line}\n" for line in block.splitlines())
    config = write_config(tmp_path, entries.replace("seeds/", f"{SEEDS}/"))
    (sub,) = load_config(config).subscribers
    assert sub.authors == ("Ada Lovelace", "Jiacheng Sun", "Maojiang Su", "Wei Wang", "Hao Li",
                           "Yang Liu")
    assert sub.pins[-1] == Pin("Yang Liu", papers=("2603.25406",), not_=("2603.10178",))
    assert [p.profile for p in sub.pins[:2]] == [PROFILE_002.name, PROFILE_000.name]


# ---- claimed accounts ---------------------------------------------------------------

CLAIMED_DAY = DATA / "hf-daily" / "2026-03-13.json"  # Yuhang Zang claimed two papers


def zang_store(db_url: str) -> Store:
    """A real day on which one Hugging Face account (yuhangzang) claimed Yuhang Zang on
    two papers of two organisations (SJTU VisionXLab, Intern Large Models) that share no
    other author."""
    store = Store(db_url)
    fmt, papers = parse(CLAIMED_DAY.read_bytes(), ParseContext(CLAIMED_DAY.name,
                                                               SEEN.date()))
    store.save_papers(papers, source=CLAIMED_DAY.name, fmt=fmt, now=SEEN)
    return store


def test_one_claimed_account_ties_papers_with_no_coauthor_in_common(db_url: str) -> None:
    papers = zang_store(db_url).papers()
    zang = [p for p in papers if "Yuhang Zang" in p.authors]
    assert [p.arxiv_id for p in zang] == ["2603.12247", "2603.12252"]
    assert not (set(zang[0].authors) & set(zang[1].authors)) - {"Yuhang Zang"}
    assert zang[0].organization != zang[1].organization
    unclaimed = resolve("Yuhang Zang", [replace(p, claimed=()) for p in papers])
    assert unclaimed.ambiguous  # two lone papers of two organisations: two people
    found = resolve("Yuhang Zang", papers)
    assert not found.ambiguous and found.theirs == {ident(p) for p in zang}
    person = found.person("Yuhang Zang")
    assert person is not None and person.papers == 2
    other = replace(zang[1], claimed=(("Yuhang Zang", "another-account"),))
    assert resolve("Yuhang Zang", [zang[0], other]).ambiguous


def test_why_pins_a_paper_by_the_account_that_claimed_it(db_url: str) -> None:
    store = zang_store(db_url)
    pin = Pin("Yuhang Zang", papers=("2603.12247",))
    person = people_of(store, [Subscriber("ada@example.org", pins=(pin,))])[person_key(pin)]
    assert person.accounts == {"yuhangzang"}
    (other,) = store.papers_by_arxiv(["2603.12252"])
    assert why(pin, person, other) == "claimed by yuhangzang on Hugging Face"
    assert why(pin, person, replace(other, claimed=())) is None
    assert why(pin, person, replace(other, claimed=(("Kai Chen", "yuhangzang"),))) is None
    assert why(replace(pin, not_=("2603.12252",)), person, other) is None
    assert digest_of(store, pin) == {
        "Trust Your Critic: Robust Reward Modeling and Reinforcement Learning for Faithful "
        "Image Editing and Generation": ["author: Yuhang Zang (a paper you pinned them by)"],
        "EndoCoT: Scaling Endogenous Chain-of-Thought Reasoning in Diffusion Models": [
            "author: Yuhang Zang (claimed by yuhangzang on Hugging Face)"]}
