"""Rendering: golden mails for the seeds, hostile input kept inert, size and layout limits."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest.config import load_config
from digest.deliver import MailSettings
from digest.deliver.message import Envelope
from digest.deliver.tokens import Tokens
from digest.model import TRENDING, Digest, Item, Paper, Reason, Section, Subscriber
from digest.plan import build_digests
from digest.rank import plan_digests
from digest.render import (
    Links,
    Renderer,
    period_label,
    render_digest,
    subject,
    summary_line,
)
from digest.render.cards import (
    SHORT_SNIPPET_CHARS,
    SNIPPET_CHARS,
    Link,
    card,
    http_url,
    person_target,
    read_person_target,
)
from digest.render.reference import render_reference
from digest.render.subject import preheader
from digest.store import Store
from digest.vocab import Cadence, Managed, SectionName
from tests.conftest import DATA, GOLDEN, REGEN, ROOT, SEEDS
from tests.test_rank import ingest

NOW = datetime(2026, 6, 1, 6, tzinfo=UTC)  # Monday, 08:00 in Berlin
UNSUBSCRIBE_URL = "https://digest.example.org/unsubscribe/TOKEN"
UNSUBSCRIBE = Links(UNSUBSCRIBE_URL, "https://digest.example.org/manage/TOKEN")
# A sent mail's links: its web copy, where that lists what did not fit, and the feed.
SENT = replace(UNSUBSCRIBE, view="https://digest.example.org/d/TOKEN",
               more="https://digest.example.org/d/TOKEN#more",
               feed="https://digest.example.org/feed/TOKEN.atom")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'd.db'}")
    ingest(store, SEEDS, now=datetime(2026, 6, 1, 5, tzinfo=UTC))
    return store


def normalise(text: str) -> str:
    """Golden comparison ignores the digest's own dates (period line) and paper ids."""
    text = re.sub(r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Week of) "
                  r"\d{1,2} [A-Z][a-z]{2} \d{4}", "<period>", text)
    return re.sub(r"/unsubscribe/[\w.-]+", "/unsubscribe/<token>", text)


@pytest.mark.parametrize("who", ["ada", "grace"])
def test_seed_digest_matches_golden(seeded: Store, who: str) -> None:
    config = load_config(ROOT / "subscriptions.yaml")
    sub = next(s for s in config.subscribers if s.email.startswith(who))
    (digest,) = build_digests(seeded, [sub], NOW)
    mail = render_digest(digest, SENT)
    for suffix, body in (("txt", mail.text), ("html", mail.html), ("subject", mail.subject)):
        path = GOLDEN / "mail" / f"{who}.{suffix}"
        if REGEN:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(normalise(body), encoding="utf-8")
        assert normalise(body) == path.read_text(encoding="utf-8"), f"{path} differs"


def test_text_part_wraps_at_78_columns_and_lists_links(seeded: Store) -> None:
    sub = load_config(ROOT / "subscriptions.yaml").subscribers[0]
    (digest,) = build_digests(seeded, [sub], NOW)
    text = render_digest(digest, UNSUBSCRIBE).text
    for line in text.splitlines():
        assert len(line) <= 78 or "http" in line, line
    assert text.count("Search arXiv: https://arxiv.org/search/") == len(digest.items)
    assert f"Unsubscribe: {UNSUBSCRIBE_URL}" in text


def test_html_has_one_card_per_paper_and_only_the_head_rules_in_a_style_block(
        seeded: Store) -> None:
    sub = load_config(ROOT / "subscriptions.yaml").subscribers[0]
    (digest,) = build_digests(seeded, [sub], NOW)
    html = render_digest(digest, UNSUBSCRIBE).html
    assert html.count('class="card"') == len(digest.items) > 5
    (block,) = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)  # _style.css is inlined
    assert ".snippet" not in block and "@media (prefers-color-scheme:dark)" in block
    assert html.index("<style>") > html.index('<meta charset="utf-8">')
    # Only the classes the kept rules name are left on elements.
    assert set(re.findall(r' class="([\w-]+)"', html)) <= set(re.findall(r"\.([a-z]+)", block))
    assert 'style="' in html
    assert "<script" not in html
    assert "http" not in re.sub(r'href="https?://[^"]*"', "", html).replace(
        UNSUBSCRIBE.unsubscribe, "").replace(UNSUBSCRIBE.manage, "")  # only links


HOSTILE = Paper(
    id=1,
    title='<script>alert("t")</script> Flow\r\nBcc: evil@example.org\u2028Matching',
    abstract='"><img src=x onerror=alert(1)> <b>bold</b> javascript:alert(2) flow matching',
    authors=("Eve <eve@example.org>\r\nBcc: x", "Mallory\u2028Mal"),
    organization="<iframe src=//evil>",
    github_repo="javascript:alert(3)",
    project_page=" JaVaScRiPt:alert(4)",
    arxiv_id='2601.00001"><script>',
    upvotes=3, first_seen=NOW, featured=date(2026, 6, 1))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def hostile_digest() -> Digest:
    sub = Subscriber("eve@example.org", name="Eve\r\nBcc: all@example.org",
                     keywords=("flow matching",))
    item = Item(HOSTILE, (Reason.keyword("flow matching", "abstract"),))
    return Digest(sub, NOW, NOW, (Section(SectionName.KEYWORDS, (item,)),))


def test_hostile_input_is_inert() -> None:
    mail = render_digest(hostile_digest(), UNSUBSCRIBE)
    parser = _Tags()
    parser.feed(mail.html)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "img", "iframe", "b"}
    for tag, attrs in parser.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if "href" in attrs:
            assert re.match(r"https?://", attrs["href"] or ""), attrs["href"]
    assert "&lt;script&gt;" in mail.html
    assert "javascript:alert(3)" not in mail.html and "alert(4)" not in mail.html
    for header_text in (mail.subject,):
        assert not re.search(r"[\r\n\u2028\u2029]", header_text)
    # The title leads the subject, on one line, as text.
    assert "<script>alert(\"t\")</script> Flow Bcc: evil@example.org Matching" in mail.subject
    assert "for Eve Bcc: all@example.org" in mail.text.splitlines()[0]
    assert len(mail.subject) <= 120
    assert not re.search(r"[\r\u2028]", mail.text)
    assert "<script>" in mail.text  # plain text shows it as the text it is


def test_only_http_urls_become_links() -> None:
    assert http_url("https://github.com/a/b") == "https://github.com/a/b"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example", "ftp://x/y",
                "http://exa mple.org", None, ""):
        assert http_url(bad) is None


def test_links_by_what_is_known() -> None:
    sub = Subscriber("a@example.org", authors=("Ahmet Üstün",))
    known = card(Item(Paper(title="T", arxiv_id="2603.11510", github_repo="https://github.com/x/y",
                            authors=("Ahmet Üstün", "B", "C", "D", "E")), ()), sub)
    assert [link.label for link in known.links] == ["arXiv", "PDF", "Hugging Face", "GitHub"]
    assert known.url == "https://arxiv.org/abs/2603.11510"
    assert known.links[1].url == "https://arxiv.org/pdf/2603.11510"
    assert known.links[2].url == "https://huggingface.co/papers/2603.11510"
    assert known.authors[0].followed and known.more_authors == 2
    unknown = card(Item(Paper(title="A Title: With? Marks"), ()), sub)
    assert unknown.url == ("https://arxiv.org/search/?searchtype=title&query="
                           "A+Title%3A+With%3F+Marks")
    assert unknown.upvotes == "–"


def test_snippet_cut_and_highlight() -> None:
    abstract = ("We study \\textbf{flow-matching} models. " + "Words go on and on. " * 30)
    c = card(Item(Paper(title="T", abstract=abstract),
                  (Reason.keyword("flow matching", "abstract"),)), Subscriber("a@example.org"))
    text = "".join(s.text for s in c.snippet)
    assert text.startswith("We study flow-matching models.")
    assert len(text) <= 301 and text.endswith("…") and not text.endswith(" …")
    assert [s.text for s in c.snippet if s.highlight] == ["flow-matching"]


# ---- Where a keyword matched, and the sentence holding it ------------------------------

IGPO = Paper(
    title="Inpainting-Guided Policy Optimization for Diffusion Large Language Models",
    abstract=("Masked diffusion large language models (dLLMs) are emerging as promising "
              "alternatives to autoregressive LLMs. " + "They decode in parallel. " * 12),
    arxiv_id="2509.10396", upvotes=5, first_seen=NOW, featured=date(2026, 6, 1))
# A phrase only in the fourth sentence, well past the opening a card shows.
LATE = ("Block-diffusion models offer a promising path toward faster generation by "
        "combining block-wise decoding with parallel denoising. However, in the few-step "
        "regime, standard confidence-thresholded decoding is often brittle: aggressive "
        "thresholds hurt quality. Existing approaches require additional training or incur "
        "extra test-time compute. We present S2D2, a training-free self-speculative decoding "
        "framework for block-diffusion language models. Our key observation is simple.")
S2D2 = Paper(title="S2D2: Fast Decoding for Diffusion LLMs via Training-Free Self-Speculation",
             abstract=LATE, arxiv_id="2603.25702", upvotes=3, first_seen=NOW,
             featured=date(2026, 6, 1))


def keyword_mail(*items: Item) -> tuple[str, str]:
    sub = Subscriber("a@example.org", keywords=("speculative decoding",
                                                "diffusion language model"))
    digest = Digest(sub, NOW, NOW, (Section(SectionName.KEYWORDS, items),))
    mail = render_digest(digest, UNSUBSCRIBE)
    return mail.html, mail.text


def test_a_keyword_card_says_where_its_phrase_matched_in_html_and_text() -> None:
    title = Item(S2D2, (Reason.keyword("speculative decoding", "title"),))
    abstract = Item(S2D2, (Reason.keyword("speculative decoding", "abstract"),))
    both = Item(S2D2, (Reason.keyword("diffusion language model", "title"),
                       Reason.keyword("speculative decoding", "abstract")))
    for item, line in [
        (title, "Matches “speculative decoding” in the title"),
        (abstract, "Matches “speculative decoding” in the abstract"),
        (both, "Matches “diffusion language model” in the title, “speculative decoding” "
               "in the abstract"),
    ]:
        html, text = keyword_mail(item)
        assert f">{line}</div>" in html, line
        assert line.split(", ")[0] in text and "Matches:" not in text
    # Two phrases in one place are said once; a reason stored without its area says none.
    same = Item(S2D2, (Reason.keyword("speculative decoding", "abstract"),
                       Reason.keyword("diffusion language model", "abstract")))
    assert card(same, Subscriber("a@example.org")).reasons == (
        "Matches “speculative decoding” and “diffusion language model” in the abstract",)
    old = Item(S2D2, (Reason.keyword("speculative decoding", ""),))
    assert card(old, Subscriber("a@example.org")).reasons == (
        "Matches “speculative decoding”",)


def test_a_loose_match_shows_the_words_as_they_stand_in_the_paper() -> None:
    # planned for real: the matcher finds the phrase with one extra word in the title
    sub = Subscriber("a@example.org", keywords=("diffusion language model",))
    (digest,) = plan_digests([sub], [IGPO], {}, NOW + timedelta(hours=1))
    (item,) = digest.items
    assert item.reasons == (Reason.keyword("diffusion language model", "title"),)
    html, text = keyword_mail(item)
    line = ("Matches “diffusion language model” (as “Diffusion Large Language Models”) "
            "in the title")
    assert f">{line}</div>" in html
    assert " ".join(text.split()).count(line) == 1
    # in the abstract: as the abstract has them; word for word somewhere: no "as"
    in_abstract = Item(IGPO, (Reason.keyword("diffusion language model", "abstract"),))
    shown = card(in_abstract, sub)
    assert shown.reasons == (
        "Matches “diffusion language model” (as “diffusion large language models”) "
        "in the abstract",)
    assert [s.text for s in shown.snippet if s.highlight] == [
        "diffusion large language models"]  # highlighted as it stands
    exact = replace(IGPO, title="Diffusion Language Models, and Diffusion Large Language "
                                "Models")
    assert card(Item(exact, item.reasons), sub).reasons == (
        "Matches “diffusion language model” in the title",)


def test_a_keyword_card_whose_phrase_is_in_the_abstract_shows_the_sentence_holding_it(
        ) -> None:
    sub = Subscriber("a@example.org", keywords=("speculative decoding",))
    opening = card(Item(S2D2, ()), sub).plain_snippet
    assert "speculative decoding" not in opening  # the opening does not show it
    found = card(Item(S2D2, (Reason.keyword("speculative decoding", "abstract"),)), sub)
    assert found.plain_snippet == ("…We present S2D2, a training-free self-speculative "
                                   "decoding framework for block-diffusion language models. "
                                   "Our key observation is simple.")
    assert [s.text for s in found.snippet if s.highlight] == ["speculative decoding"]
    html, text = keyword_mail(Item(S2D2, (Reason.keyword("speculative decoding", "abstract"),)))
    assert '<span class="hl" style="background:#fde68a">speculative decoding</span>' in html
    assert "…We present S2D2, a training-free self-speculative" in text
    # A title match, a paper by a followed author, or an opening that shows the phrase:
    # the opening, as before.
    for reasons in [(Reason.keyword("speculative decoding", "title"),),
                    (Reason.author("Ada"), Reason.keyword("speculative decoding", "abstract"))]:
        assert card(Item(S2D2, reasons), sub).plain_snippet == opening
    early = Item(S2D2, (Reason.keyword("block diffusion model", "abstract"),))
    assert card(early, sub).plain_snippet == opening


def test_the_sentence_keeps_the_snippet_length_rules() -> None:
    sub = Subscriber("a@example.org", keywords=("flow matching",))
    long_sentence = ("We study images. " * 30 + "Then, " + "with many words in a row, " * 20
                     + "we train a flow matching model " + "and go on and on " * 20 + ".")
    paper = Paper(title="T", abstract=long_sentence)
    item = Item(paper, (Reason.keyword("flow matching", "abstract"),))
    for chars in (SNIPPET_CHARS, SHORT_SNIPPET_CHARS):
        shown = card(item, sub, snippet_chars=chars)
        text = shown.plain_snippet
        assert len(text) <= chars + 1 and text.startswith("…") and text.endswith("…")
        assert not text.endswith(" …") and not text.startswith("… ")
        assert [s.text for s in shown.snippet if s.highlight] == ["flow matching"]
    # a short abstract is shown whole, as before
    short = Item(Paper(title="T", abstract="Short. It uses flow matching."), item.reasons)
    assert card(short, sub).plain_snippet == "Short. It uses flow matching."


def test_header_lines() -> None:
    weekly = Subscriber("a@example.org", name="Ada", timezone="Europe/Berlin")
    daily = Subscriber("a@example.org", name="Ada", cadence=Cadence.DAILY, timezone="Asia/Kolkata")
    start = datetime(2026, 8, 16, 23, tzinfo=UTC)  # Monday 17 Aug in Berlin
    end = datetime(2026, 8, 21, 2, 30, tzinfo=UTC)  # Friday 21 Aug in Kolkata
    assert period_label(Digest(weekly, start, end, ())) == "Week of 17 Aug 2026"
    assert period_label(Digest(daily, start, end, ())) == "Friday 21 Aug 2026"
    paper = Paper(title="T")
    sections = (Section(SectionName.AUTHORS, (Item(paper, ()),) * 3),
                Section(SectionName.KEYWORDS, (Item(paper, ()),) * 4),
                Section(SectionName.TRENDING, (Item(paper, (TRENDING,)),) * 5))
    assert summary_line(Digest(daily, start, end, sections)) == (
        "3 papers from authors you follow, 4 matching your keywords, 5 trending")
    rising = Section(SectionName.RISING, (Item(paper, (Reason.rising(3, date(2026, 8, 19)),)),) * 2)
    assert summary_line(Digest(daily, start, end, (*sections, rising))).endswith(
        ", 5 trending, 2 rising")
    assert summary_line(Digest(daily, start, end, ())) == "Nothing new this time."


def test_subject_examples() -> None:
    ada = Subscriber("ada@example.org", name="Ada", cadence=Cadence.DAILY)
    weekly = replace(ada, cadence=Cadence.WEEKLY)

    def item(title: str, *reasons: Reason) -> Item:
        return Item(Paper(title=title), reasons)

    authors = Section(SectionName.AUTHORS, tuple(
        item(f"Paper {i} by Su", Reason.author("Maojiang Su")) for i in range(3)))
    keywords = Section(SectionName.KEYWORDS, (item("On Flow Matching", Reason.keyword(
        "flow matching", "title")),))
    trending = Section(SectionName.TRENDING, (item("Popular", TRENDING),) * 5)
    digest = Digest(ada, NOW, NOW, (authors, keywords, trending))
    # The top paper by a followed author leads; the subscriber's own papers are counted
    # apart from the trending ones; the brand is last.
    assert subject(digest) == "Maojiang Su: Paper 0 by Su · 4 for you, 5 trending · Daily Papers"
    only_keyword = Digest(weekly, NOW, NOW, (Section(SectionName.AUTHORS, ()), keywords, trending))
    assert subject(only_keyword) == (
        "“flow matching”: On Flow Matching · 1 for you, 5 trending · Weekly Papers")
    assert subject(Digest(ada, NOW, NOW, (trending,))) == (
        "Trending: Popular · 5 trending · Daily Papers")
    rising = Section(SectionName.RISING,
                     (item("Climbing", Reason.rising(12, date(2026, 5, 30))),) * 2)
    assert subject(Digest(ada, NOW, NOW, (Section(SectionName.TRENDING, ()), rising))) == (
        "Rising: Climbing · 2 rising · Daily Papers")
    assert subject(Digest(ada, NOW, NOW, (authors, trending, rising))).endswith(
        " · 3 for you, 5 trending, 2 rising · Daily Papers")
    assert subject(Digest(weekly, NOW, NOW, ())) == "Nothing new this week · Weekly Papers"
    long_title = "A Very Long Title About Flow Matching " * 6
    long = Digest(ada, NOW, NOW, (Section(SectionName.AUTHORS, (item(long_title, Reason.author(
        "Maojiang Su")),)), trending))
    line = subject(long)
    assert len(line) <= 120 and "\n" not in line
    assert line.startswith("Maojiang Su: A Very Long Title") and "… · 1 for you" in line
    assert line.endswith(" · 1 for you, 5 trending · Daily Papers")  # the counts survive


def test_preheader_says_what_else_is_inside() -> None:
    ada = Subscriber("ada@example.org", name="Ada", cadence=Cadence.DAILY)
    papers = [Item(Paper(title=f"Title {i}"), (Reason.author("Ada"),)) for i in range(6)]
    digest = Digest(ada, NOW, NOW, (Section(SectionName.AUTHORS, tuple(papers)),))
    assert preheader(digest) == "Also: Title 1; Title 2; Title 3 and 2 more"
    html = render_digest(digest, UNSUBSCRIBE).html
    hidden = re.search(r'<div style="display:none;[^"]*">([^<]*)</div>', html)
    assert hidden and hidden.group(1).startswith("Also: Title 1; Title 2")
    assert html.index(hidden.group(0)) < html.index(">Title 0<")  # first thing in the body
    assert preheader(Digest(ada, NOW, NOW, ())) == (
        "Nothing new matched what you follow this time.")


def test_cards_carry_follow_unfollow_and_mute_links(seeded: Store) -> None:
    sub = replace(load_config(ROOT / "subscriptions.yaml").subscribers[0], ref="R",
                  managed=Managed.DB)
    (digest,) = build_digests(seeded, [sub], NOW)
    links = Links("u", "m", lambda kind, target: f"https://x.example/{kind}/{target}")
    cards = [card(it, sub, links.action) for it in digest.items]
    by_su = [c for c in cards if any(a.name == "Maojiang Su" for a in c.authors)]
    assert by_su and all(Link("Unfollow Maojiang Su", "https://x.example/unfollow/Maojiang Su")
                         in c.actions for c in by_su)
    flow = [c for c, it in zip(cards, digest.items, strict=True)
            if Reason.keyword("flow matching", "title") in it.reasons
            or Reason.keyword("flow matching", "abstract") in it.reasons]
    assert flow and all(any(a.label == "Mute “flow matching”" for a in c.actions) for c in flow)
    first_unfollowed = [c for c in cards if c.authors and not c.authors[0].followed]
    assert all(c.actions[0].label == f"Follow {c.authors[0].name}" for c in first_unfollowed)
    file_managed = card(digest.items[0], replace(sub, managed=Managed.FILE), None)
    assert file_managed.actions == ()  # subscriptions.yaml decides what they follow
    text = render_digest(digest, links).text
    assert "   Unfollow Maojiang Su: https://x.example/unfollow/Maojiang Su" in text


def fifty_papers(tmp_path: Path) -> tuple[Digest, Links]:
    """A 50-paper digest of real papers, and its signed links: managed in the database, so
    every card carries follow / mute links too."""
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    now = datetime(2026, 4, 16, 9, tzinfo=UTC)
    ingest(store, DATA / "hf-daily", now=now)
    sub = Subscriber("a@example.org", name="Ada", max_papers=50, trending=50, max_age_days=3650,
                     keywords=("model", "agent"), ref="AbCdEfGhIjKl", managed=Managed.DB)
    (digest,) = build_digests(store, [sub], now)
    mail = MailSettings(Envelope.parse("D <d@example.org>", "Paper Digest"),
                        "https://papers.example.org")
    return digest, mail.links(Tokens("secret"), sub)


def test_a_preview_holds_the_cards_its_mail_will(tmp_path: Path) -> None:
    """A digest past the size limit loses its last cards; a preview's placeholder links
    are as long as the mail's, so the preview loses the same ones."""
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    now = datetime(2026, 4, 16, 9, tzinfo=UTC)
    ingest(store, DATA / "hf-daily", now=now)
    sub = Subscriber("carol@example.org", name="Carol", max_papers=50, trending=10,
                     max_age_days=3650, ref="AbCdEfGhIjKl", managed=Managed.DB,
                     authors=("Wei Wang", "Hao Li", "Yu Zhang", "Jiacheng Sun"),
                     keywords=("model", "agent", "reasoning", "diffusion", "video",
                               "benchmark", "language", "learning"))
    (digest,) = build_digests(store, [sub], now)
    assert len(digest.items) == 50
    mail = MailSettings(Envelope.parse("D <d@example.org>", "Paper Digest"),
                        "https://paper-digest.computer-science.example-university.org")
    renderer = Renderer()
    sent, shown = renderer.render_within(digest, mail.links(Tokens("secret"), sub, now))
    preview, previewed = renderer.render_within(digest, mail.placeholders(sub))
    assert len(shown.items) < 50  # this one is over the limit with every card
    assert previewed == shown and len(preview.html) == len(sent.html)
    assert "/f/preview---" in preview.html and "/manage/preview---" in preview.html


def test_fifty_real_papers_stay_under_100_kb(tmp_path: Path) -> None:
    digest, links = fifty_papers(tmp_path)
    html = render_digest(digest, links).html
    assert len(digest.items) == 50
    assert html.count('class="card"') == 50
    assert html.count("https://papers.example.org/f/") >= 45  # follow the first author
    assert html.count(">Mute “model”<") == html.count(">Mute “agent”<") == 1  # once in 50
    assert html.count(">More like this<") == html.count(">Less like this<") == 50
    size = len(html.encode("utf-8"))
    assert size < 100_000, f"{size} bytes"
    print(f"50-paper digest: {size} bytes of HTML")


def possibly_digest(managed: str) -> Digest:
    """A digest whose last section asks whether two papers are by a followed name."""
    sub = Subscriber("yan@example.org", authors=("Yi-Fan Zhang", "Hao Li"), managed=managed,
                     ref="yanref")
    other = Paper("Speech Tokens at Scale", authors=("Yifan Zhang", "Bo Chen"),
                  arxiv_id="2604.01234", abstract="Spoken language models.", upvotes=4,
                  organization="Elsewhere Lab", first_seen=NOW, featured=date(2026, 6, 1))
    hao = replace(other, title="Graph Kernels Again", authors=("Hao Li", "Mia Wong"),
                  arxiv_id="2604.04321")
    mine = replace(other, title="A Paper Of Theirs", authors=("Yifan Zhang",),
                   arxiv_id="2604.09999")
    return Digest(sub, NOW, NOW, (
        Section(SectionName.AUTHORS, (Item(mine, (Reason.author("Yi-Fan Zhang",
                                                                "as Yifan Zhang"),)),)),
        Section(SectionName.POSSIBLY, (
            Item(other, (Reason.author("Yi-Fan Zhang", "as Yifan Zhang"),)),
            Item(hao, (Reason.author("Hao Li"),))))))


def test_the_possibly_section_asks_with_two_signed_links_at_the_end() -> None:
    """The "Possibly by" cards come last, say which followed name (and the spelling on
    the paper), and carry only "Yes, that's them" and "Not them", links under the mail's
    card token that name the paper and the followed name; the fast path gives the
    reference mail."""
    digest = possibly_digest(Managed.DB)
    mail = MailSettings(Envelope.parse("Paper Digest <digest@example.org>", "Paper Digest"),
                        "https://digest.example.org")
    tokens = Tokens("secret")
    links = mail.links(tokens, digest.subscriber)
    rendered = render_digest(digest, links)
    assert rendered == render_reference(digest, links)
    text, html = rendered.text, rendered.html
    assert text.index("== From authors you follow ==") < text.index(
        "== Possibly by authors you follow ==")
    assert "You follow Yi-Fan Zhang (as Yifan Zhang)" in text  # the authors section
    assert "Possibly by Yi-Fan Zhang (as Yifan Zhang)" in text and "Possibly by Hao Li\n" in text
    assert "Possibly by Yi-Fan Zhang (as Yifan Zhang)" in html and "Possibly by Hao Li<" in html
    card = tokens.make_card("yanref")
    for target in ("2604.01234+Yi-Fan+Zhang", "2604.04321+Hao+Li"):
        yes = f"https://digest.example.org/y/{card}?t={target}"
        no = f"https://digest.example.org/n/{card}?t={target}"
        assert f"Yes, that's them: {yes}\n" in text and f"Not them: {no}\n" in text
        assert f'href="{yes}">Yes, that&#39;s them</a>' in html
        assert f'href="{no}">Not them</a>' in html
    assert tokens.read("card", card) == ["yanref"]
    possibly = text[text.index("== Possibly by"):]
    assert "Follow " not in possibly and "More like this" not in possibly  # only the two
    # Subscribers the admin's file manages get no card links, these neither.
    file = possibly_digest(Managed.FILE)
    plain = render_digest(file, mail.links(tokens, file.subscriber))
    assert "Possibly by Hao Li" in plain.text and "/y/" not in plain.text + plain.html
    assert plain == render_reference(file, mail.links(tokens, file.subscriber))


def test_a_possibly_link_names_the_paper_and_the_name_within_bounds() -> None:
    assert person_target("2604.01234", "Hao Li") == "2604.01234 Hao Li"
    assert read_person_target("2604.01234 Hao Li") == ("2604.01234", "Hao Li")
    assert read_person_target("hep-th/9901001v2 Wei Wang") == ("hep-th/9901001v2", "Wei Wang")
    for bad in ("2604.01234", "2604.01234 ", "not-an-id Hao Li", " 2604.01234 Hao Li",
                "2604.01234  Hao Li", f"2604.01234 {'x' * 190}"):
        assert read_person_target(bad) is None, bad
    assert person_target(None, "Hao Li") is None and person_target("2604.01234", " ") is None
    assert person_target("2604.01234", "x" * 190) is None  # past MAX_TARGET: no links
