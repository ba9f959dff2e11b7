"""The fast path gives the mail the reference renderer gives, byte for byte.

``Renderer`` keeps cards filled in but for each mail's token, renders each mail's frame
once per shape and fills in the values, and tidies text frames apart from their cards;
``render_reference`` renders every card and the whole frame straight through the
templates. Both render the same digests here, on the real papers of ``seeds/`` and
``tests/data/hf-daily``: digests planned for seeded random subscribers (every cadence,
self-managed or not, followed authors, some of them pinned, keywords, likes, ambiguous
names that bring notes) and digests made by hand so that every section and every kind of
reason shows (trending ones "in your area" too), with notes, an empty digest and long
ones. Each is rendered as a digest and as an alert, with real and placeholder links,
images off and on, twice (the second time from the renderer's caches), and the subject,
text and HTML must be equal.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from digest.deliver import MailSettings
from digest.deliver.message import Envelope
from digest.deliver.tokens import Tokens
from digest.model import TRENDING, Digest, Item, Paper, Pin, Reason, Rendered, Section, Subscriber
from digest.plan import build_digests
from digest.render import Links, Renderer
from digest.render.reference import render_reference
from digest.store import Store
from digest.vocab import (
    SECTIONS,
    Cadence,
    Managed,
    MessageKind,
    Note,
    ReasonKind,
    SectionName,
)
from tests.conftest import DATA, SEEDS
from tests.test_rank import ingest

NOW = datetime(2026, 8, 22, 9, tzinfo=UTC)
MAIL = MailSettings(Envelope.parse("Paper Digest <digest@example.org>", "Paper Digest"),
                    "https://digest.example.org")
PHRASES = ("flow matching", "diffusion", "language models", "attention", "video",
           "reinforcement learning", "agents", "benchmark")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
NAMES = ("", "Ada", "Zoë O'Brien", "Reader <&> \"quoted\"")


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('reference') / 'd.db'}")
    ingest(store, SEEDS, now=NOW - timedelta(hours=2))
    ingest(store, DATA / "hf-daily", now=NOW - timedelta(hours=1))
    return store


@pytest.fixture(scope="module")
def planned(stored: Store) -> list[Digest]:
    """The digests of seeded random subscribers, as a pass plans them."""
    return plan(stored)


@pytest.fixture(scope="module")
def made(stored: Store) -> list[Digest]:
    """Digests made by hand from real papers."""
    return make(stored)


def plan(store: Store) -> list[Digest]:
    """The digests of seeded random subscribers, as a pass plans them."""
    rng = random.Random(11)
    papers = [p for p in store.papers() if p.arxiv_id]
    names = sorted({a for p in papers for a in p.authors})
    by_org = [p for p in papers if p.organization and p.authors]
    subs = []
    for i in range(48):
        pinned = rng.choice(by_org)
        pins = (Pin(pinned.authors[0], org=pinned.organization),) if i % 4 == 0 else ()
        authors = (*rng.sample(names, rng.randint(0, 3)), *(p.name for p in pins),
                   *(("Shuo Zhang", "Difan Zou") if i % 5 == 0 else ()))
        subs.append(Subscriber(
            f"r{i}@example.org", name=NAMES[i % len(NAMES)],
            cadence=tuple(Cadence)[i % len(Cadence)],
            timezone=ZONES[i % len(ZONES)], authors=authors, pins=pins,
            keywords=tuple(rng.sample(PHRASES, rng.randint(0, 3))),
            likes=tuple(p.arxiv_id or "" for p in rng.sample(papers, 4)) if i % 3 else (),
            max_papers=rng.choice((5, 20, 30, 50)), trending=rng.choice((0, 5)),
            recommended=rng.choice((0, 3, 5)), max_age_days=3650, alert_keywords=i % 2 == 0,
            managed=(Managed.DB, Managed.FILE)[i // 3 % 2], ref=f"ref{i}"))
    return build_digests(store, subs, NOW)


def make(store: Store) -> list[Digest]:
    """Digests made by hand from real papers: every section and kind of reason (pinned
    authors, rising gains, liked papers), notes, an empty digest and long ones."""
    rng = random.Random(12)
    papers = [p for p in store.papers() if p.arxiv_id and p.authors]
    digests = []
    for i in range(12):
        picked = rng.sample(papers, rng.choice((1, 4, 9, 26)))
        followed = tuple(dict.fromkeys(p.authors[0] for p in picked[:3]))
        sub = Subscriber(f"m{i}@example.org", name=NAMES[i % len(NAMES)],
                         cadence=tuple(Cadence)[i % len(Cadence)],
                         timezone=ZONES[i % len(ZONES)], authors=followed,
                         keywords=PHRASES[:3], managed=(Managed.DB, Managed.FILE)[i % 2],
                         ref=f"made{i}")
        sections: dict[str, list[Item]] = {spec.name: [] for spec in SECTIONS}
        for n, paper in enumerate(picked):
            name = SECTIONS[n % len(SECTIONS)].name
            sections[name].append(Item(paper, reasons(name, paper, rng)))
        notes = ("several people publish as Wei Wang; pin the one you mean",) if i % 2 else ()
        more = tuple(Item(p, reasons(SectionName.KEYWORDS, p, rng))
                     for p in rng.sample(papers, (0, 1, 7)[i % 3]))  # matched, did not fit
        digests.append(Digest(sub, NOW - timedelta(days=7), NOW, tuple(
            Section(name, tuple(items)) for name, items in sections.items()), notes, more))
    empty = replace(digests[0], sections=(), notes=())
    return [*digests, empty, replace(empty, subscriber=digests[1].subscriber)]


def reasons(section: str, paper: Paper, rng: random.Random) -> tuple[Reason, ...]:
    """Why ``paper`` is in ``section``: the reasons a plan would give it, or several."""
    if section == SectionName.AUTHORS:
        why = rng.choice(("", "on their profile", "with Lee Park, a co-author"))
        return (Reason.author(paper.authors[0], why), Reason.keyword(PHRASES[0], "title"))
    if section == SectionName.KEYWORDS:
        return tuple(Reason.keyword(k, "abstract") for k in rng.sample(PHRASES[:3], 2))
    if section == SectionName.TRENDING:  # some close to the reader's interests
        return (Reason.trending(Note.NEAR) if len(paper.title) % 2 else TRENDING,)
    if section == SectionName.RISING:
        return (Reason.rising(rng.randint(1, 90), date(2026, 8, 19)),)
    if section == SectionName.POSSIBLY:  # a followed name, and maybe the spelling that matched
        why = rng.choice(("", f"as {paper.authors[-1]}"))
        return (Reason.author(paper.authors[0], why),)
    liked = rng.choice(("A liked paper on <video> & “flow”", ""))
    return (Reason.recommended(liked, "2604.00001"),)


def link_sets(sub: Subscriber) -> list[Links]:
    """The links of a real mail to ``sub`` (with and without its web copy's) and those
    of a preview of it."""
    return [MAIL.links(Tokens("secret"), sub), MAIL.links(Tokens("secret"), sub, NOW),
            MAIL.placeholders(sub)]


def assert_same(fast: Rendered, reference: Rendered, what: str) -> None:
    for part in ("subject", "text", "html"):
        got, want = getattr(fast, part), getattr(reference, part)
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
                      min(len(got), len(want)))
            pytest.fail(f"{what}: the {part} differs at {at}:\n"
                        f"fast      {got[max(0, at - 120):at + 120]!r}\n"
                        f"reference {want[max(0, at - 120):at + 120]!r}")


def test_the_digests_compared_cover_every_setting(planned: list[Digest],
                                                  made: list[Digest]) -> None:
    digests = planned + made
    planned_sections = {s.name for d in planned for s in d.sections if s.items}
    assert {SectionName.AUTHORS, SectionName.KEYWORDS, SectionName.RECOMMENDED} <= (
        planned_sections)
    assert {s.name for d in digests for s in d.sections if s.items} == set(SectionName)
    kinds = {r.kind for d in digests for it in d.items for r in it.reasons}
    assert kinds == set(ReasonKind)
    assert any(r.kind == ReasonKind.AUTHOR and r.area for d in planned
               for it in d.items for r in it.reasons)  # a real pin
    assert {d.subscriber.cadence for d in digests} == set(Cadence)
    assert any(d.notes for d in planned) and any(d.notes for d in made)
    assert any(not d.items for d in digests) and any(len(d.items) > 20 for d in digests)
    assert any(len(d.more) == 1 for d in made) and any(len(d.more) > 1 for d in digests)
    assert any(d.subscriber.likes and d.count(SectionName.RECOMMENDED) for d in digests)
    assert any(Reason.trending(Note.NEAR) in it.reasons for d in made for it in d.items)


@pytest.mark.parametrize("images", [False, True])
def test_the_fast_path_gives_the_reference_mail(planned: list[Digest], made: list[Digest],
                                                images: bool) -> None:
    renderer = Renderer(images=images)
    mails = [(n, digest, links, kind) for n, digest in enumerate(planned + made)
             for links in link_sets(digest.subscriber) for kind in MessageKind]
    references = [render_reference(digest, links, kind=kind,
                                   thumbnails=len(digest.items) if images else 0)
                  for _, digest, links, kind in mails]
    for round_ in range(2):  # the second from the renderer's caches
        for (n, digest, links, kind), reference in zip(mails, references, strict=True):
            assert_same(renderer.render(digest, links, kind), reference,
                        f"round {round_}, digest {n}, {kind}, images {images}")


def test_some_thumbnails_and_a_mail_cut_to_fit_are_the_reference_mail(
        planned: list[Digest], made: list[Digest]) -> None:
    """The first cards with thumbnails and the others without, and a mail whose last
    cards were left out to fit a limit, as ``Renderer.render_within`` does."""
    renderer, plain = Renderer(images=True), Renderer()
    for digest in [d for d in planned + made if len(d.items) > 3]:
        links = MAIL.links(Tokens("secret"), digest.subscriber)
        assert_same(renderer.render(digest, links, thumbnails=3),
                    render_reference(digest, links, thumbnails=3), "three thumbnails")
        rendered, shown = plain.render_within(digest, links, limit=40_000)
        assert_same(rendered, render_reference(shown, links), "cut to fit")
