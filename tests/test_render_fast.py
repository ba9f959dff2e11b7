"""What a pass does once instead of once per mail gives the same mail as doing it per
mail: cached cards and frames, and keyword highlighting without a regex per keyword."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import digest.render.fast as render
from digest.config import load_config
from digest.deliver import MailSettings
from digest.deliver.message import Envelope
from digest.deliver.tokens import Tokens
from digest.match import plural_forms, words
from digest.model import Digest, Item, Reason, Section
from digest.plan import build_digests
from digest.render import Links, Renderer, render_digest
from digest.render.cards import _highlighted, snippet_text
from digest.store import Store
from digest.vocab import Managed, MessageKind, ReasonKind, SectionName
from tests.conftest import DATA, ROOT, SEEDS
from tests.test_rank import ingest

NOW = datetime(2026, 6, 1, 6, tzinfo=UTC)
MAIL = MailSettings(Envelope.parse("Paper Digest <digest@example.org>", "Paper Digest"),
                    "https://digest.example.org")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'd.db'}")
    ingest(store, SEEDS, now=datetime(2026, 6, 1, 5, tzinfo=UTC))
    ingest(store, DATA / "hf-daily", now=datetime(2026, 6, 1, 5, tzinfo=UTC))
    return store


def readers(seeded: Store, count: int) -> list[Digest]:
    """Digests of ``count`` readers who follow overlapping authors and keywords, some of
    them self-managed (their cards carry action links), some long (deduplicated links)."""
    config = load_config(ROOT / "subscriptions.yaml")
    base = config.subscribers[0]
    rng = random.Random(5)
    names = sorted({a for p in seeded.papers() for a in p.authors})
    phrases = ["flow matching", "diffusion", "language models", "attention", "transformer"]
    subs = [replace(base, email=f"r{i}@example.org", name=f"Reader {i}",
                    authors=tuple(rng.sample(names, rng.randint(0, 3))),
                    keywords=tuple(rng.sample(phrases, rng.randint(0, 2))),
                    max_papers=rng.choice((5, 20, 30)), max_age_days=3650,
                    managed=rng.choice((Managed.DB, Managed.FILE)), ref=f"ref{i}")
            for i in range(count)]
    return build_digests(seeded, subs, NOW)


def test_a_shared_renderer_gives_every_mail_as_rendering_it_alone(seeded: Store) -> None:
    tokens = Tokens("secret")
    shared = Renderer()
    digests = readers(seeded, 60)
    assert any(len(d.items) > 20 for d in digests)  # long digests drop repeated links
    assert any(d.subscriber.managed == Managed.DB and d.items for d in digests)
    for digest in digests * 2:  # the second round comes from the caches
        links = MAIL.links(tokens, digest.subscriber)
        assert links.token or digest.subscriber.managed != Managed.DB
        # cards filled in once but for the token, or each link of each mail filled in
        assert shared.render(digest, links) == render_digest(digest, links) == \
            render_digest(digest, replace(links, token=""))
        alert = Digest(digest.subscriber, digest.start, digest.end, digest.sections[:1])
        assert shared.render(alert, links, MessageKind.ALERT) == render_digest(
            alert, links, kind=MessageKind.ALERT)


def test_a_long_digest_links_each_action_once_and_every_link_goes_somewhere(
        seeded: Store) -> None:
    """A card that shows a Follow link before Unfollow links, in a long digest whose
    earlier cards linked one of them: the links left out were counted in the wrong order,
    so the card lost its Follow link and showed an Unfollow link with no URL."""
    tokens = Tokens("secret")
    renderer = Renderer()
    checked = 0
    for digest in readers(seeded, 60):
        links = MAIL.links(tokens, digest.subscriber)
        if len(digest.items) <= 20 or not links.token:
            continue
        mail = renderer.render(digest, links)
        actions = re.findall(r"^   ((?:Follow|Unfollow|Mute|More like|Less like)[^:]*):(.*)$",
                             mail.text, re.M)
        assert actions and all(url.startswith(" https://") for _, url in actions), actions
        urls = [url for _, url in actions]
        assert len(urls) == len(set(urls))  # each action linked once
        hrefs = re.findall(r'href="([^"]*)"', mail.html)
        assert "" not in hrefs and sorted(u.strip() for u in urls) == sorted(
            h.replace("&amp;", "&") for h in hrefs if f"/{links.token}?" in h)
        checked += any(label.startswith("Follow") for label, _ in actions) and any(
            label.startswith("Unfollow") for label, _ in actions)
    assert checked  # some of them have both kinds


def test_a_long_digest_links_an_author_once_in_any_spelling(seeded: Store) -> None:
    """Two cards spell a followed author two ways ("Yi-Fan Zhang", "Yifan Zhang"): one
    Unfollow link, as for one spelling (the name is matched in any spelling)."""
    reader = replace(readers(seeded, 1)[0].subscriber, authors=("Yi-Fan Zhang",),
                     managed=Managed.DB, ref="ref-spelling")
    papers = [p for p in seeded.papers() if p.arxiv_id][:25]
    spelled = {0: "Yi-Fan Zhang", 6: "Yifan Zhang", 12: "Yi-fan ZHANG"}
    items = tuple(Item(replace(p, authors=(spelled[i], "A. Other")) if i in spelled else p,
                       (Reason(ReasonKind.AUTHOR, spelled[i]),) if i in spelled else
                       (Reason(ReasonKind.TRENDING),))
                  for i, p in enumerate(papers))
    digest = Digest(reader, NOW - timedelta(days=1), NOW, (Section(SectionName.AUTHORS, items),))
    links = MAIL.links(Tokens("secret"), reader)
    mail = Renderer().render(digest, links)
    unfollow = re.findall(r"^   Unfollow ([^:]+): (\S+)$", mail.text, re.M)
    assert len(unfollow) == 1 and unfollow[0][0] == "Yi-Fan Zhang", unfollow
    assert mail.html.count("Unfollow ") == 1


def test_a_card_kept_filled_in_several_ways_gives_each_mail_its_own(seeded: Store) -> None:
    """One way of showing a card, filled in for two sets of links (a long digest whose
    earlier card linked its Unfollow, and one whose did not) and two sites: each mail
    is the mail rendered alone."""
    reader = replace(readers(seeded, 1)[0].subscriber, authors=("Yi-Fan Zhang",),
                     managed=Managed.DB, ref="ref-several")
    papers = [p for p in seeded.papers() if p.arxiv_id][:25]

    def long_digest(followed_first: bool) -> Digest:
        by = {0, 6} if followed_first else {6}  # the cards by the followed author
        items = tuple(Item(replace(p, authors=("Yi-Fan Zhang", "A. Other")),
                           (Reason(ReasonKind.AUTHOR, "Yi-Fan Zhang"),)) if i in by else
                      Item(p, (Reason(ReasonKind.TRENDING),)) for i, p in enumerate(papers))
        return Digest(reader, NOW - timedelta(days=1), NOW, (Section(SectionName.AUTHORS, items),))

    renderer = Renderer()
    other_site = replace(MAIL, base_url="https://other.example.org")
    for mail in (MAIL, other_site):
        for digest in (long_digest(True), long_digest(False)):
            links = mail.links(Tokens("secret"), reader)
            assert renderer.render(digest, links) == render_digest(digest, links)
    assert max(len(shown.pairs()) for shown in renderer._shown._new.values()) == 4


def test_a_token_that_is_part_of_a_links_path_fills_in_no_card(seeded: Store) -> None:
    """A mail whose token is also a path's part ("f", as in /f/TOKEN) or comes after the
    target: its links are filled in per mail, and no card is kept cut at the wrong place
    for the next mail (a helper found the follow link of the next mail pointing at
    /TOKEN/f)."""
    digest = next(d for d in readers(seeded, 60)
                  if d.subscriber.managed == Managed.DB and len(d.items) <= 20 and d.items)
    real = MAIL.links(Tokens("secret"), digest.subscriber)
    assert real.action is not None
    action = real.action
    odd = [Links(real.unsubscribe, real.manage,
                 lambda k, t: action(k, t).replace(real.token, "f"), "f"),
           Links(real.unsubscribe, real.manage,
                 lambda k, t: f"https://digest.example.org/{k}/{t}/{real.token}", real.token)]
    for links in odd:
        renderer = Renderer()
        assert renderer.render(digest, links) == render_digest(digest, links)
        assert renderer.render(digest, real) == render_digest(digest, real)
        assert "/f/" + real.token in renderer.render(digest, real).text


def test_a_text_part_tidied_as_a_frame_is_the_text_tidied_whole(
        seeded: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = Tokens("secret")
    shared, whole = Renderer(), Renderer()
    whole.tidy_frames = False  # every text part rendered and tidied whole
    tidied: list[int] = []
    real_tidy = render._tidy

    def tidy(text: str) -> str:
        tidied.append(len(text))
        return real_tidy(text)

    monkeypatch.setattr(render, "_tidy", tidy)
    digests = readers(seeded, 60)
    for digest in digests * 2:
        links = MAIL.links(tokens, digest.subscriber)
        for kind in (MessageKind.DIGEST, MessageKind.ALERT):
            tidied.clear()
            text = shared.render(digest, links, kind).text
            as_frame = digest.items and links.token and all(n < len(text) / 2 for n in tidied)
            assert text == whole.render(digest, links, kind).text
            assert as_frame or not (digest.items and links.token), digest.subscriber.email
    assert render._is_tidy("1. A title\n   by Ada\n\n   https://x.org/a") and not any(
        render._is_tidy(t) for t in ("", " 1. x", "1. x ", "1.\n\n\nx", "1.\rx", "a\u2028b",
                                     "a  \nb", "a\n \nb"))


def test_a_card_template_that_leaves_spaces_gives_a_text_tidied_whole(
        seeded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator's card template whose lines end in spaces: its cards are not tidy, so
    each mail's text part is tidied whole, as before."""
    for path in (ROOT / "templates").iterdir():
        if path.is_file():
            (tmp_path / path.name).write_text(path.read_text())
    card = (tmp_path / "_card.txt").read_text()
    title = '| replace("     ", "", 1) }}'
    assert title in card
    (tmp_path / "_card.txt").write_text(card.replace(title, title + "   ", 1))
    monkeypatch.setenv("DIGEST_TEMPLATES", str(tmp_path))
    tokens = Tokens("secret")
    shared, whole = Renderer(), Renderer()
    whole.tidy_frames = False
    for digest in readers(seeded, 12):
        links = MAIL.links(tokens, digest.subscriber)
        text = shared.render(digest, links).text
        assert text == whole.render(digest, links).text
        assert not any(line.endswith(" ") for line in text.splitlines())
    kept = [text for shown in shared._shown._new.values() for _, text in shown.pairs()]
    assert kept and not any(text.tidy for text in kept)  # so each text was tidied whole


def test_the_shipped_card_templates_are_rendered_in_parts_and_inlined_once() -> None:
    renderer = Renderer()
    html, text = renderer._templates["html"], renderer._templates["txt"]
    assert html.parted and html.inline is None  # the stylesheet is in the template
    assert text.parted


def test_a_card_template_that_cannot_be_inlined_ahead_is_inlined_per_card(
        seeded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (ROOT / "templates").iterdir():
        if path.is_file():
            (tmp_path / path.name).write_text(path.read_text())
    card = (tmp_path / "_card.html").read_text()
    # A loop around cells: an HTML parser moves the loop's tags (text in a table row)
    # out of the table, so inlining the template's source would break the loop.
    (tmp_path / "_card.html").write_text(card.replace(
        "<tr>", '<tr>{% for b in card.badges %}<td class="vote">{{ b }}</td>{% endfor %}', 1))
    monkeypatch.setenv("DIGEST_TEMPLATES", str(tmp_path))
    renderer = Renderer()
    assert not renderer._templates["html"].parted
    digest = next(d for d in readers(seeded, 20) if any(it.paper.has_code for it in d.items))
    links = MAIL.placeholders(digest.subscriber)
    html = renderer.render(digest, links).html
    assert html == render_digest(digest, links).html
    assert '<td style="width:44px;padding:14px 0 0 12px">Code</td>' in html


OLD_CARD = """\
<table role="presentation" class="card" cellpadding="0" cellspacing="0"><tr>
<td class="vote"><div class="votebox">&#9650;<br>{{ card.upvotes }}</div></td>
<td class="body"><a class="title" href="{{ card.url }}">{{ card.title }}</a>
<div>{% for author in card.authors %}{{ author.name }} {% endfor %}</div>
{%- if card.actions %}<div class="acts">{% for link in card.actions %}\
<a href="{{ link.url }}">{{ link.label }}</a>{% endfor %}</div>{% endif %}
</td></tr></table>
"""


def test_a_card_template_without_parts_is_rendered_whole(
        seeded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A template written before cards had parts (no macros) still works."""
    for path in (ROOT / "templates").iterdir():
        if path.is_file():
            (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "_card.html").write_text(OLD_CARD)
    monkeypatch.setenv("DIGEST_TEMPLATES", str(tmp_path))
    renderer = Renderer()
    assert not renderer._templates["html"].parted
    digest = next(d for d in readers(seeded, 20)
                  if d.subscriber.managed == Managed.DB and d.items)
    links = MAIL.links(Tokens("secret"), digest.subscriber)
    html = renderer.render(digest, links).html
    assert html == render_digest(digest, links).html
    assert html.count('style="width:100%;background:#fff') == len(digest.items)
    assert "https://digest.example.org/f/" in html  # action links filled in


# One extra word inside a phrase, never a word that joins two things (``match.loose``).
_EXTRA = (r"(?!(?:and|or|nor|but|vs|versus|than|not)(?![A-Za-z0-9]))"
          r"[A-Za-z0-9]+[^A-Za-z0-9]+")


def regex_highlights(text: str, keywords: tuple[str, ...]) -> list[tuple[str, bool]]:
    """Highlighting done another way: one IGNORECASE regex for the keywords, the words of
    a phrase apart by anything but letters and digits (as the matcher reads them), word
    for word first, then with one extra word inside; for ASCII text, where characters
    need no transliteration."""
    alternatives = []
    for keyword in keywords:
        tokens = words(keyword)
        if tokens:
            last = "|".join(sorted((re.escape(f) for f in plural_forms(tokens[-1])), key=len,
                                   reverse=True))
            parts = [re.escape(t) + r"[^A-Za-z0-9]+" for t in tokens[:-1]]
            alternatives.append(f"{''.join(parts)}(?:{last})")
            alternatives += [f"{''.join(parts[:gap])}{_EXTRA}{''.join(parts[gap:])}(?:{last})"
                             for gap in range(1, len(parts) + 1)]
    if not alternatives:
        return [(text, False)] if text else []
    pattern = re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(alternatives) +
                         r")(?![A-Za-z0-9])", re.IGNORECASE)
    out, at = [], 0
    for m in pattern.finditer(text):
        if m.start() > at:
            out.append((text[at:m.start()], False))
        out.append((m.group(), True))
        at = m.end()
    if at < len(text):
        out.append((text[at:], False))
    return out


def test_highlighting_marks_what_the_regex_marked() -> None:
    rng = random.Random(2)
    checked = 0
    for path in sorted((DATA / "hf-daily").glob("*.json")):
        for entry in json.loads(path.read_text()):
            paper = entry["paper"]
            text = snippet_text(paper.get("summary", ""), 300)
            if not text.replace("…", "").isascii():
                continue  # the property test in test_properties covers the rest
            found = words(text)
            picks = list(paper.get("ai_keywords") or [])[:3] + [
                " ".join(found[j:j + rng.randint(1, 3)])
                for j in rng.sample(range(max(1, len(found) - 3)), min(3, len(found)))]
            for keywords in [(k,) for k in picks] + [tuple(picks)]:
                got = [(s.text, s.highlight) for s in _highlighted(text, keywords)]
                assert got == regex_highlights(text, keywords), (text, keywords)
                checked += 1
    assert checked > 200


def test_the_card_caches_keep_what_is_used_within_their_size() -> None:
    from digest.render.kept import Lru as _Lru

    cache: _Lru[int, str] = _Lru(100)
    for i in range(1000):
        cache.put(i, str(i))
        assert cache.get(0) == "0"  # used all along: never forgotten
        assert len(cache) <= 100
    assert cache.get(999) == "999" and cache.get(500) is None  # long unused: forgotten
    assert sum(cache.get(i) is not None for i in range(1000)) >= 50  # about the last half


def test_a_card_shown_again_the_same_way_is_only_given_the_mail_token(
        seeded: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A renderer keeps every way a card is shown, filled in but for the token, as pieces
    shared with the paper's other cards: a second round of the same mails builds no card
    and renders no part, and two ways of showing one paper hold one copy of its frame."""
    import digest.render.fast as rendering

    tokens = Tokens("secret")
    renderer = Renderer()
    digests = [d for d in readers(seeded, 60) if d.subscriber.managed == Managed.DB]
    first = [renderer.render(d, MAIL.links(tokens, d.subscriber)) for d in digests]
    built: list[object] = []
    real_card = rendering.cards.card

    def counted_card(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return real_card(*args, **kwargs)

    def no_part(template: Any, name: str, c: Any) -> str:
        raise AssertionError(f"the {name} part was rendered again")

    monkeypatch.setattr(rendering, "card", counted_card)
    monkeypatch.setattr(rendering._CardTemplate, "part", no_part)
    again = [renderer.render(d, MAIL.links(tokens, d.subscriber)) for d in digests]
    assert again == first and not built
    views: dict[int, list[Any]] = {}
    for key, shown in {**renderer._shown._old, **renderer._shown._new}.items():
        views.setdefault(key[0], []).extend(f[0].pieces for f in shown.pairs())
    one, other, *_ = next(v for v in views.values() if len(v) > 1)
    assert one != other and one[0] is other[0]  # the frame's start: table, votes, title


def test_the_cards_kept_hold_one_copy_of_each_piece(seeded: Store) -> None:
    """With part caches far smaller than the pass (as in a pass of 100,000), parts are
    rendered again after they are forgotten, but the cards kept still hold one copy of
    each piece (the text between links recurs on nearly every card), and still give
    the mails a renderer with room for everything gives."""
    tokens = Tokens("secret")
    small, roomy = Renderer(cards=8), Renderer()
    digests = [d for d in readers(seeded, 60) if d.subscriber.managed == Managed.DB]
    for d in digests:
        links = MAIL.links(tokens, d.subscriber)
        assert small.render(d, links) == roomy.render(d, links)
    pieces = [piece for shown in {**small._shown._old, **small._shown._new}.values()
              for pair in shown.pairs() for filled in pair for piece in filled.pieces]
    assert len(pieces) > 3 * len(set(pieces))  # pieces recur ...
    assert len({id(p) for p in pieces}) == len(set(pieces))  # ... one copy each
