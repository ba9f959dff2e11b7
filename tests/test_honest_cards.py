"""A mail people open (issue 13): cards that say only what is true, the PDF link, comment
counts, thumbnails only when the operator turns images on, text lines within 78 columns,
and, in Chromium, tap targets of at least 44 px on a phone and readable contrast in dark
mode (screenshots in light and dark at 375 and 800 px under tests/output/)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.model import TRENDING, Digest, Item, Paper, Reason, Section, Subscriber
from digest.plan import build_digests
from digest.render import Links, Renderer, render_digest
from digest.render.cards import NO_DATE, card
from digest.store import Store
from tests.browser import chromium, png_size, screenshot
from tests.conftest import DATA, ROOT, SEEDS
from tests.test_rank import ingest
from tests.test_render import fifty_papers

NOW = datetime(2026, 6, 1, 6, tzinfo=UTC)
LINKS = Links("https://d.example.org/unsubscribe/T", "https://d.example.org/manage/T")
OUTPUT = ROOT / "tests" / "output"
EVERYTHING = Subscriber("a@example.org", name="Ada", max_papers=200, trending=200,
                        max_age_days=36500)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('honest') / 'd.db'}")
    ingest(store, SEEDS, now=datetime(2026, 6, 1, 5, tzinfo=UTC))
    return store


def test_trending_names_its_signal_and_a_paper_with_none_is_never_trending(
        seeded: Store) -> None:
    (digest,) = build_digests(seeded, [EVERYTHING], NOW)
    trending = [it for s in digest.sections if s.name == "trending" for it in s.items]
    assert trending
    profile_only = {p.id for p in seeded.papers() if p.upvotes is None and not p.score}
    assert profile_only  # seed 003's entries: no upvotes and no score
    assert not {it.paper.id for it in trending} & profile_only
    text = render_digest(digest, LINKS).text
    for it in trending:
        why = card(it, EVERYTHING).reasons[-1]
        if it.paper.upvotes:  # only Daily Papers (seed 004, the API) counts upvotes
            assert why == f"Trending on Daily Papers: {it.paper.upvotes} upvotes" or (
                it.paper.upvotes == 1 and why == "Trending on Daily Papers: 1 upvote")
        else:
            assert it.paper.score and why == (
                f"Trending: a score of {it.paper.score:g} on an author's profile page")
        assert why in text
    scored = [it for it in trending if not it.paper.upvotes]
    assert scored and all("Daily Papers" not in card(it, EVERYTHING).reasons[-1]
                          for it in scored)


def test_a_paper_without_a_date_says_so(seeded: Store) -> None:
    (adam,) = [p for p in seeded.papers() if p.title.startswith("Adam Improves Muon")]
    assert adam.published is None and adam.featured is None
    assert adam.first_seen is not None  # read on 1 Jun, which is not its date
    shown = card(Item(adam, (TRENDING,)), EVERYTHING)
    assert NO_DATE in shown.meta and "1 Jun 2026" not in shown.meta
    dated = card(Item(replace(adam, published=date(2026, 4, 7)), ()), EVERYTHING)
    assert "7 Apr 2026" in dated.meta and NO_DATE not in dated.meta


def test_author_counts_are_singular_when_one() -> None:
    one = card(Item(Paper(title="Solo", author_count=1), ()), EVERYTHING)
    assert "1 author ·" in one.byline + " ·" and "1 authors" not in one.byline
    many = card(Item(Paper(title="Team", author_count=4), ()), EVERYTHING)
    assert "4 authors" in many.byline
    html = render_digest(Digest(EVERYTHING, NOW, NOW, (Section("trending", (
        Item(Paper(title="Solo", author_count=1, upvotes=2), (TRENDING,)),)),)), LINKS)
    assert ">1 author<" in html.html and "1 authors" not in html.text


def test_text_lines_stay_within_78_columns_with_two_digit_numbers(seeded: Store) -> None:
    (digest,) = build_digests(seeded, [EVERYTHING], NOW)
    numbered = [line for line in render_digest(digest, LINKS).text.splitlines()
                if re.match(r"\d{2}\. ", line)]
    assert len(numbered) >= 5  # the trending section runs past paper 9
    long_titles = Digest(EVERYTHING, NOW, NOW, (Section("trending", tuple(
        Item(Paper(title="Word " * 14 + f"number {i}", upvotes=3, id=i), (TRENDING,))
        for i in range(1, 120))),))
    for d in (digest, long_titles):
        for line in render_digest(d, LINKS).text.splitlines():
            assert len(line) <= 78 or re.search(r"https?://\S+$", line), line


def test_pdf_link_and_comment_count_from_the_api(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    ingest(store, DATA / "hf-daily" / "2026-01-02.json", now=datetime(2026, 1, 3, tzinfo=UTC))
    raw = json.loads((DATA / "hf-daily" / "2026-01-02.json").read_text())
    commented = next(item for item in raw if item["numComments"] > 1)
    paper = next(p for p in store.papers() if p.arxiv_id == commented["paper"]["id"])
    assert paper.comments == commented["numComments"]
    shown = card(Item(paper, (TRENDING,)), EVERYTHING)
    assert f"{paper.comments} comments" in shown.badges
    assert ("PDF", f"https://arxiv.org/pdf/{paper.arxiv_id}") in [
        (link.label, link.url) for link in shown.links]
    mail = render_digest(Digest(EVERYTHING, NOW, NOW, (Section("trending", (
        Item(paper, (TRENDING,)),)),)), LINKS)
    assert f'href="https://arxiv.org/pdf/{paper.arxiv_id}"' in mail.html
    assert f"   PDF: https://arxiv.org/pdf/{paper.arxiv_id}" in mail.text


def test_a_lone_comment_is_not_a_badge(tmp_path: Path) -> None:
    """On 78% of real papers the one comment is the source's bot's (Hugging Face's
    librarian): a count that says nothing about the paper."""
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    ingest(store, DATA / "hf-daily" / "2026-01-02.json", now=datetime(2026, 1, 3, tzinfo=UTC))
    lone = [p for p in store.papers() if p.comments == 1]
    assert lone
    for paper in lone:
        assert not any("comment" in b for b in card(Item(paper, (TRENDING,)), EVERYTHING).badges)


@pytest.mark.parametrize(("abstract", "shown"), [
    ("We present **Lean4Agent**, a *verified* agent.", "We present Lean4Agent, a verified agent."),
    ("Scores on `SWE-Bench Verified` rise.", "Scores on SWE-Bench Verified rise."),
    ("Code: [github.com/a/b](https://github.com/a/b).", "Code: github.com/a/b."),
    ("A bound of $x^*$ with 5* marked.", "A bound of x^* with 5* marked."),
])
def test_markdown_in_an_abstract_is_shown_as_plain_text(abstract: str, shown: str) -> None:
    paper = Paper(title="T", abstract=abstract, upvotes=1)
    assert "".join(s.text for s in card(Item(paper, (TRENDING,)), EVERYTHING).snippet) == shown
    mail = render_digest(Digest(EVERYTHING, NOW, NOW, (Section("trending", (
        Item(paper, (TRENDING,)),)),)), LINKS)
    assert "**" not in mail.text and "`" not in mail.text.split("http")[0]


def test_thumbnails_only_when_images_are_on(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    ingest(store, DATA / "hf-daily" / "2026-01-02.json", now=datetime(2026, 1, 3, tzinfo=UTC))
    paper = store.papers()[0]
    assert paper.thumbnail and paper.thumbnail.startswith("https://cdn-thumbnails.")
    digest = Digest(EVERYTHING, NOW, NOW, (Section("trending", (Item(paper, (TRENDING,)),)),))
    assert "<img" not in render_digest(digest, LINKS).html  # off by default: nothing remote
    html = render_digest(digest, LINKS, images=True).html
    (img,) = re.findall(r"<img [^>]*>", html)
    assert f'src="{paper.thumbnail}"' in img and 'alt="Preview image"' in img
    assert html.index(img) < html.index(f'">{paper.title}</a>')  # above the title, as on HF
    hostile = replace(paper, thumbnail='javascript:alert(1)" onerror="x', id=None)
    plain = replace(paper, thumbnail="http://insecure.example/t.png", id=None)
    for bad in (hostile, plain):
        shown = render_digest(Digest(EVERYTHING, NOW, NOW, (Section("trending", (
            Item(bad, (TRENDING,)),)),)), LINKS, images=True).html
        assert "<img" not in shown


def test_the_images_setting_is_on_or_off(tmp_path: Path) -> None:
    config = tmp_path / "subscriptions.yaml"
    config.write_text("subscribers:\n  - email: ada@example.org\n    keywords: [model]\n")
    env = {"DIGEST_DB": f"sqlite:///{tmp_path / 'd.db'}", "DIGEST_CONFIG": str(config)}
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(DATA / "hf-daily" / "2026-01-02.json"),
                               "--now", "2026-01-02T12:00:00Z"], env=env).exit_code == 0
    args = ["preview", "ada@example.org", "--now", "2026-01-02T13:00:00Z", "--format", "html"]
    off = runner.invoke(cli, args, env=env)
    on = runner.invoke(cli, args, env={**env, "DIGEST_IMAGES": "on"})
    assert off.exit_code == on.exit_code == 0, off.output + on.output
    cards = on.stdout.count('class="card"')
    assert "<img" not in off.stdout and on.stdout.count("<img") == cards > 0
    bad = runner.invoke(cli, args, env={**env, "DIGEST_IMAGES": "sometimes"})
    assert bad.exit_code == 1
    assert "DIGEST_IMAGES: 'sometimes' is neither on nor off" in bad.output
    assert "Traceback" not in bad.output


def test_fifty_papers_with_images_on_stay_under_100_kb_and_keep_every_paper(
        tmp_path: Path) -> None:
    digest, links = fifty_papers(tmp_path)
    # Without their TL;DRs: a long digest's card shows the TL;DR instead of the snippet
    # (tests/test_render_tldr.py), which leaves room for nearly every thumbnail.
    digest = replace(digest, sections=tuple(
        replace(s, items=tuple(replace(i, paper=replace(i.paper, ai_summary=None))
                               for i in s.items)) for s in digest.sections))
    assert len(digest.items) == 50
    everything = Renderer(images=True).render(digest, links)
    assert len(everything.html.encode()) > 100_000  # 50 thumbnails do not fit
    mail, shown = Renderer(images=True).render_within(digest, links)
    size = len(mail.html.encode())
    assert size <= 100_000 and shown == digest  # pictures went, papers stayed
    images = re.findall(r"<img [^>]*>", mail.html)
    # Each card says where its keyword matched ("Matches “model” in the abstract", about
    # 29 bytes more than "Matches: model"): 50 cards leave room for 3 thumbnails, not 10.
    assert 3 <= len(images) < 50
    # only as many pictures went as had to: one more would not fit
    one_more = Renderer(images=True).render(digest, links, thumbnails=len(images) + 1)
    assert len(one_more.html.encode()) > 100_000
    first_cards = mail.html.split('class="card"')[1:len(images) + 1]
    assert all("<img" in c for c in first_cards)  # the first cards keep theirs
    print(f"50 papers with images on: {size} bytes of HTML, {len(images)} thumbnails")


# ---- In Chromium ------------------------------------------------------------------------

# Lays the mail out in an iframe WIDTH px wide (headless Chromium will not make its own
# window narrower than 500 px) and reports, for --dump-dom, each link's height and the
# contrast of each kind of text against the background it sits on (WCAG's formula).
PROBE = """<!DOCTYPE html><html><body style="margin:0"><pre id="probe"></pre>
<iframe id="frame" style="width:WIDTHpx;height:6000px;border:0"></iframe><script>
const frame = document.getElementById('frame');
function rgb(c) { return (c.match(/[\\d.]+/g) || []).map(Number); }
function lum(c) {
  const [r, g, b] = rgb(c).slice(0, 3).map(v => v / 255).map(
    v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function background(e, win) {
  for (; e; e = e.parentElement) {
    const c = win.getComputedStyle(e).backgroundColor, parts = rgb(c);
    if (parts.length && !(parts.length === 4 && parts[3] === 0)) return c;
  }
  return 'rgb(255, 255, 255)';
}
function contrast(e, win) {
  const a = lum(win.getComputedStyle(e).color), b = lum(background(e, win));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
frame.onload = () => {
  const doc = frame.contentDocument, win = frame.contentWindow;
  const links = [...doc.querySelectorAll('a')].map(a => ({text: a.textContent.trim(),
    height: a.getBoundingClientRect().height}));
  const roles = {title: '.title', text: '.body', why: '.why', link: '.links a',
                 action: '.acts a', headline: '.headline', summary: '.summary',
                 footer: '.footer', highlight: '.hl', badge: '.badge'};
  const ratios = {};
  for (const [role, sel] of Object.entries(roles)) {
    const found = [...doc.querySelectorAll(sel)].map(e => contrast(e, win));
    if (found.length) ratios[role] = Math.min(...found);
  }
  const page = win.getComputedStyle(doc.body).backgroundColor;
  document.getElementById('probe').textContent = JSON.stringify({links, ratios, page});
};
frame.srcdoc = MAIL;
</script></body></html>"""


def probe(html: str, width: int, tmp_path: Path, *flags: str) -> dict[str, Any]:
    page = tmp_path / f"probe-{width}.html"
    mail = json.dumps(html).replace("</", "<\\/")
    page.write_text(PROBE.replace("WIDTH", str(width)).replace("MAIL", mail), encoding="utf-8")
    dom = chromium(page.as_uri(), "--dump-dom", *flags, width=800)
    found = dom.split('<pre id="probe">', 1)[1].split("</pre>", 1)[0]
    return json.loads(found.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&amp;", "&"))


@pytest.fixture(scope="module")
def demo(seeded: Store) -> str:
    """The seeds' demo digest for Ada, as a subscriber who manages it (action links)."""
    sub = replace(load_config(ROOT / "subscriptions.yaml").subscribers[0], managed="db")
    (digest,) = build_digests(seeded, [sub], NOW)
    return render_digest(digest, Links.placeholders("https://digest.example.org", True)).html


def test_every_link_is_a_44_px_tap_target_on_a_phone(demo: str, tmp_path: Path) -> None:
    phone = probe(demo, 375, tmp_path)
    assert len(phone["links"]) > 30
    small = [link for link in phone["links"] if link["height"] < 44]
    assert not small, small[:5]
    desktop = probe(demo, 800, tmp_path)  # the compact layout stays on wide screens
    assert min(link["height"] for link in desktop["links"]) < 30


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_contrast_in_light_and_dark_mode(demo: str, tmp_path: Path, mode: str) -> None:
    flags = ("--force-dark-mode",) if mode == "dark" else ()
    found = probe(demo, 800, tmp_path, *flags)
    page = [int(v) for v in re.findall(r"\d+", found["page"])[:3]]
    assert (sum(page) < 100) == (mode == "dark"), found["page"]  # the palette switched
    ratios = found["ratios"]
    assert set(ratios) >= {"title", "text", "why", "link", "action", "headline", "footer"}
    low = {role: round(r, 2) for role, r in ratios.items() if r < 4.5}
    assert not low, f"contrast under 4.5:1 in {mode} mode: {low}"


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 800])
def test_screenshots(demo: str, tmp_path: Path, mode: str, width: int) -> None:
    page = tmp_path / "digest.html"
    page.write_text(demo, encoding="utf-8")
    flags = ("--force-dark-mode",) if mode == "dark" else ()
    out = OUTPUT / f"digest-{width}-{mode}.png"
    shot = screenshot(page.as_uri(), out, width=width, flags=flags)
    assert png_size(shot)[0] == width



def test_a_rising_card_says_how_many_votes_since_when() -> None:
    paper = Paper(title="Climbing Fast", upvotes=40, arxiv_id="2604.00001", id=7)
    digest = Digest(EVERYTHING, NOW, NOW, (Section("rising", (
        Item(paper, (Reason.rising(12, date(2026, 5, 30)),)),)),))
    mail = render_digest(digest, LINKS)
    assert ">Rising<" in mail.html and "== Rising ==" in mail.text
    assert "Rising: +12 upvotes since 30 May" in mail.html
    assert "   Rising: +12 upvotes since 30 May" in mail.text
    assert mail.subject == "Rising: Climbing Fast · 1 rising · Weekly Papers"
    assert "1 paper rising" in mail.text


def test_a_note_on_an_ambiguous_name_and_no_empty_following() -> None:
    note = "several people publish as Wei Wang; pin the one you mean"
    paper = Item(Paper(title="T", upvotes=3, id=9), (TRENDING,))
    sub = Subscriber("a@example.org", authors=("Wei Wang",), managed="db")
    mail = render_digest(Digest(sub, NOW, NOW, (Section("trending", (paper,)),), notes=(note,)),
                         LINKS)
    said = "Several people publish as Wei Wang; pin the one you mean."
    assert re.search(re.escape(said) + r' Your <a href="https://d\.example\.org/manage/T"'
                     r'[^>]*>preferences page</a> lists who they are\.', mail.html)
    assert said in mail.text.replace("\n", " ")
    renderer = Renderer()  # the same frame shape without notes shows none
    quiet = renderer.render(Digest(replace(sub, authors=()), NOW, NOW,
                                   (Section("trending", (paper,)),)), LINKS)
    assert "publish as" not in quiet.html and "publish as" not in quiet.text
    assert "following ." not in quiet.html and "subscribed to Paper Digest." in quiet.html
