"""Taste: "Recommended for you" on real Hugging Face daily papers (tests/data/hf-daily,
170 papers of seven days of 2026), and the "more / less like this" links of the cards.

The topic of these tests is a word: papers whose title or abstract says "video" (31 of
the 170). A subscriber who likes three papers with "video" in the title should get
recommendations that are mostly about video too (a sixth of the papers are).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.config import check_subscriber
from digest.deliver import MailSettings
from digest.deliver.message import Envelope
from digest.deliver.tokens import Tokens
from digest.model import History, Paper, Reason, Subscriber
from digest.plan import build_digests, plan_due, taste
from digest.rank import plan_digests
from digest.render import render_digest
from digest.store import Store
from tests.conftest import DATA
from tests.test_rank import ingest
from tests.test_web import SECRET, Site, site  # noqa: F401  (the site fixture)

NOW = datetime(2026, 8, 22, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('taste') / 'd.db'}")
    ingest(store, DATA / "hf-daily", now=NOW - timedelta(hours=1))
    return store


def about_video(p: Paper) -> bool:
    return "video" in f"{p.title} {p.abstract}".lower()


def liker(store: Store, likes: int = 3, **settings: Any) -> Subscriber:
    liked = [p.arxiv_id or "" for p in store.papers() if "video" in p.title.lower()][:likes]
    return Subscriber("v@example.org", trending=0, rising=0, max_age_days=3650,
                      likes=tuple(liked), **settings)


def test_a_subscriber_who_likes_a_topic_gets_more_of_it(stored: Store) -> None:
    sub = liker(stored, recommended=5)
    (digest,) = build_digests(stored, [sub], NOW)
    items = [it for s in digest.sections if s.name == "recommended" for it in s.items]
    assert len(items) == 5 and digest.count("recommended") == len(digest.items)
    assert sum(about_video(it.paper) for it in items) >= 4, [it.paper.title for it in items]
    titles = {p.arxiv_id: p.title for p in stored.papers()}
    for it in items:
        assert it.paper.arxiv_id not in sub.likes
        (why,) = it.reasons
        assert why.kind == "recommended" and why.area in sub.likes
        assert why.value == titles[why.area]  # the liked paper it is most like
    again = build_digests(stored, [sub], NOW)[0]
    assert again == digest  # a fixed seed: the same every time


def test_three_likes_or_no_section(stored: Store) -> None:
    two = liker(stored, likes=2)
    unknown = replace(two, likes=(*two.likes, "2601.99999"))  # not stored: does not count
    off = replace(liker(stored), recommended=0)
    for sub in (two, unknown, off, replace(two, likes=())):
        (digest,) = build_digests(stored, [sub], NOW)
        assert digest.count("recommended") == 0, sub
    (default,) = build_digests(stored, [liker(stored)], NOW)
    assert digest.count("recommended") == 0 and default.count("recommended") == 3  # default


def test_sent_disliked_and_other_sections_papers_are_not_recommended(stored: Store) -> None:
    papers = stored.papers()
    index = taste(stored, NOW, papers)
    sub = liker(stored, recommended=5)
    (first,) = plan_digests([sub], papers, {}, NOW, taste=index)
    top = [it.paper for it in first.items]
    sent = History(sent=frozenset({top[0].id}))  # type: ignore[arg-type]
    disliked = replace(sub, dislikes=(top[1].arxiv_id or "",))
    (after,) = plan_digests([disliked], papers, {sub.email: sent}, NOW, taste=index)
    shown = [it.paper.arxiv_id for it in after.items]
    assert top[0].arxiv_id not in shown and top[1].arxiv_id not in shown and len(shown) == 5
    # A paper in an earlier section is not recommended again; the digest holds max_papers.
    keyed = replace(sub, keywords=(top[2].title,), max_papers=3)
    (mixed,) = plan_digests([keyed], papers, {}, NOW, taste=index)
    assert [s.name for s in mixed.sections if s.items] == ["keywords", "recommended"]
    assert len(mixed.items) == 3 and len({it.paper.id for it in mixed.items}) == 3


def test_the_section_round_trips_through_the_outbox(stored: Store, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    ingest(store, DATA / "hf-daily", now=NOW - timedelta(hours=1))
    likes = list(liker(store).likes)
    store.put_subscriber({"email": "v@example.org", "cadence": "daily", "send_at": "08:00",
                          "max_age_days": 3650, "trending": 0, "rising": 0, "likes": likes},
                         NOW - timedelta(days=1))
    plans, _ = plan_due(store, NOW)
    (entry,) = store.claim(NOW, timedelta(minutes=10), 10)
    recommended = dict(entry.sections)["recommended"]
    assert len(recommended) == 3 == plans[0].digest.count("recommended")
    planned = [(it.paper.id, it.reasons) for it in plans[0].digest.items]
    assert list(recommended) == planned
    assert all(r.kind == "recommended" and r.area in likes for _, (r,) in recommended)
    assert Reason.decode(Reason.recommended("A title", "2604.1").encode()) == Reason(
        "recommended", "A title", "2604.1")


def mail(store: Store, sub: Subscriber) -> tuple[str, str]:
    (digest,) = build_digests(store, [sub], NOW)
    settings = MailSettings(Envelope.parse("D <d@example.org>", "Paper Digest"),
                            "https://papers.example.org")
    rendered = render_digest(digest, settings.links(Tokens("secret"), sub))
    return rendered.text, rendered.html


def test_recommended_cards_in_the_mail(stored: Store) -> None:
    sub = liker(stored, ref="AbCdEfGhIjKl", managed="db")
    text, html = mail(stored, sub)
    assert "== Recommended for you ==" in text and "3 papers recommended" in text
    assert "Recommended: like “" in text
    cards = html.count('class="card"')
    assert cards >= 3 and text.count("More like this: https://papers.example.org/l/") == cards
    assert text.count("Less like this: https://papers.example.org/d/") == cards
    assert ">More like this</a>" in html and ">Less like this</a>" in html
    file_managed = replace(sub, managed="file")
    text, html = mail(stored, file_managed)
    assert "Recommended: like “" in text and "like this" not in text + html


def test_every_card_has_like_links_and_a_long_digest_stays_under_100_kb(
        stored: Store) -> None:
    sub = Subscriber("a@example.org", max_papers=10, trending=10, max_age_days=3650,
                     ref="AbCdEfGhIjKl", managed="db")
    text, _ = mail(stored, sub)
    assert text.count("More like this: ") == text.count("Less like this: ") == 10
    long = replace(liker(stored), max_papers=30, trending=27, ref="AbCdEfGhIjKl",
                   managed="db")
    text, html = mail(stored, long)
    assert html.count('class="card"') == 30 and "== Recommended for you ==" in text
    assert text.count("More like this: ") == text.count("Less like this: ") == 30
    assert html.count(">More like this</a>") == html.count(">Less like this</a>") == 30
    assert len(html.encode()) < 100_000


def test_likes_in_the_settings_are_checked() -> None:
    good, problems = check_subscriber({"email": "a@example.org", "recommended": 5,
                                       "likes": ["2604.07429", "arXiv:2604.07429v2",
                                                 "hep-th/9901001"], "dislikes": []})
    assert good is not None and not problems
    both, problems = check_subscriber({"email": "a@example.org", "likes": ["2604.07429"],
                                       "dislikes": ["2604.01234", "arXiv:2604.07429v2"]})
    assert both is None and problems == {
        "dislikes": "dislikes: arXiv:2604.07429v2 also in likes; keep each paper in one list"}
    bad, problems = check_subscriber({"email": "a@example.org", "recommended": 21,
                                      "likes": ["flow matching"]})
    assert bad is None and problems == {
        "recommended": "recommended: Input should be less than or equal to 20",
        "likes": "likes: 'flow matching' is not an arXiv id; write it as on arXiv, e.g. "
                 "\"2604.01234\""}


def test_a_likes_number_in_yaml_is_a_clean_error(run: Any, tmp_path: Path) -> None:
    config = tmp_path / "subs.yaml"
    config.write_text("subscribers:\n  - email: a@example.org\n"
                      "    likes: [2604.01230]\n", encoding="utf-8")
    result = run("check", "--config", str(config))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config}:3: subscriber a@example.org: 2604.01230 is read by YAML as a "
        "number (and 2604.01230 as 2604.0123); write arXiv ids in quotes: \"2604.01230\"\n")


def test_like_links_record_for_their_own_subscriber_only(site: Site) -> None:  # noqa: F811
    store = Store(site.db_url)
    for email in ("lu@example.org", "mo@example.org"):
        store.put_subscriber({"email": email, "likes": ["2604.14148"]}, NOW)
    lu, mo = site.record("lu@example.org"), site.record("mo@example.org")
    tokens = Tokens(SECRET)
    card = tokens.make("card", lu.ref)
    web = site.client()
    for url in (f"/l/{card}?t=2604.07429", f"/d/{card}?t=2604.07429"):
        page = web.get(url)
        assert page.status_code == 200 and '<form method="post"' in page.text
        assert "?t=2604.07429" in page.text
    assert site.record("lu@example.org") == lu  # a GET changes nothing
    done = web.post(f"/l/{card}?t=2604.07429")
    assert done.status_code == 200 and "Noted: more papers like arXiv 2604.07429" in done.text
    # a stored paper is named by its title, in the page and in its tab
    ingest(store, DATA / "hf-daily" / "2026-04-16.json")
    (stored,) = store.papers_by_arxiv(["2604.14148"])
    asked = web.get(f"/l/{card}?t=2604.14148").text
    named = f"More papers like “{stored.title}” (arXiv 2604.14148)?"
    assert f"<h1>{named}</h1>" in asked.replace("&#34;", '"')
    assert f"<title>Paper Digest: {named}</title>" in asked
    assert web.post(f"/l/{card}?t=2604.07429").status_code == 200  # again: the same
    after = site.record("lu@example.org").subscriber
    assert (after.likes, after.dislikes) == (("2604.14148", "2604.07429"), ())
    assert web.post(f"/d/{card}?t=2604.14148").status_code == 200  # the latest word wins
    after = site.record("lu@example.org").subscriber
    assert (after.likes, after.dislikes) == (("2604.07429",), ("2604.14148",))
    assert site.record("mo@example.org") == mo  # Lu's token acts for Lu only
    for bad in (f"/l/{card}", f"/l/{tokens.make('manage', mo.ref)}?t=2604.07429",
                f"/l/{Tokens('other').make('card', mo.ref)}?t=2604.07429",
                f"/d/{card[:-2]}xx?t=2604.07429"):
        assert web.post(bad).status_code == 400, bad
    assert web.post(f"/l/{card}?t=not-an-id").status_code == 400
    assert site.record("mo@example.org") == mo
    assert site.record("lu@example.org").subscriber.likes == ("2604.07429",)
    ada = site.record("ada@example.org")  # managed by subscriptions.yaml
    assert web.post(f"/l/{tokens.make('card', ada.ref)}?t=2604.07429").status_code == 409
    assert site.record("ada@example.org") == ada


def test_likes_survive_export_and_import(run: Any, mail_env: dict[str, str], db_url: str,
                                         tmp_path: Path) -> None:
    prefs = {"email": "lu@example.org", "recommended": 4, "likes": ["2604.07429"],
             "dislikes": ["2604.14148"]}
    Store(db_url).put_subscriber(prefs, NOW)
    exported = run("subscribers", "export", env=mail_env)
    assert exported.exit_code == 0, exported.output
    assert "2604.07429" in exported.stdout and "2604.14148" in exported.stdout
    dashed = run("subscribers", "export", "-o", "-", env=mail_env)  # "-": printed as well
    assert dashed.stdout == exported.stdout and not Path("-").exists()
    piped = run("subscribers", "import", "-", env=mail_env, input=exported.stdout)
    assert piped.exit_code == 0 and "from <stdin>: " in piped.stdout, piped.output
    dump = tmp_path / "subscribers.yaml"
    dump.write_text(exported.stdout, encoding="utf-8")
    Store(db_url).put_subscriber({**prefs, "likes": [], "dislikes": []}, NOW)
    imported = run("subscribers", "import", str(dump), env=mail_env)
    assert imported.exit_code == 0, imported.output
    lu = Store(db_url).record(email="lu@example.org").subscriber  # type: ignore[union-attr]
    assert (lu.likes, lu.dislikes, lu.recommended) == (("2604.07429",), ("2604.14148",), 4)


def days_apart(tmp_path: Path) -> Store:
    """The hf-daily test days, each ingested on its own day (first seen then)."""
    store = Store(f"sqlite:///{tmp_path / 'days.db'}")
    for day in sorted((DATA / "hf-daily").glob("2026-0[34]-*.json")):
        ingest(store, day, now=datetime.fromisoformat(f"{day.stem}T23:00+00:00"))
    return store


APRIL = datetime(2026, 4, 17, 9, tzinfo=UTC)


@pytest.mark.parametrize("background", [0, 5000])
def test_a_liked_paper_outside_the_pass_still_steers_it(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          background: int) -> None:
    """A pass reads the papers of the last week; the video papers liked in March are
    not among them, but are found in the archive and teach the model all the same (as
    rows added to the pass's index, or among the papers a small pass is fitted with)."""
    monkeypatch.setattr("digest.defaults.TASTE_BACKGROUND", background)
    store = days_apart(tmp_path)
    march = [p.arxiv_id or "" for p in store.papers() if "video" in p.title.lower()
             and p.featured is not None and p.featured.month == 3]
    assert len(march) == 9
    store.put_subscriber({"email": "v@example.org", "cadence": "daily", "send_at": "08:00",
                          "max_age_days": 7, "trending": 0, "rising": 0, "recommended": 5,
                          "likes": march}, APRIL - timedelta(days=30))
    plans, _ = plan_due(store, APRIL, record=False)
    (plan,) = plans
    items = [it for s in plan.digest.sections if s.name == "recommended" for it in s.items]
    assert len(items) == 5 and all(it.paper.featured.month == 4 for it in items)  # type: ignore[union-attr]
    assert sum(about_video(it.paper) for it in items) >= 3, [it.paper.title for it in items]
    assert {r.area for it in items for r in it.reasons} <= set(march)
    (preview,) = build_digests(store, [plan.digest.subscriber], APRIL)
    assert preview.sections == plan.digest.sections  # a preview sees what the pass does
    monkeypatch.setattr("digest.defaults.TASTE_DAYS", 30)  # March's likes are forgotten
    (forgot,) = build_digests(store, [plan.digest.subscriber], APRIL)
    assert forgot.count("recommended") == 0


def test_the_pass_recommends_what_an_index_of_the_same_papers_read_from_text_does(
        stored: Store) -> None:
    """The pass's index is made from the stored terms; one made from the papers' text
    (``build_index``, as before terms were stored) recommends the very same."""
    from digest.recommend import build_index

    sub = liker(stored, recommended=5)
    papers = stored.papers()
    (from_terms,) = build_digests(stored, [sub], NOW)
    (from_text,) = plan_digests([sub], papers, {}, NOW, taste=build_index(papers))
    assert from_terms.count("recommended") == 5 and from_terms == from_text


def test_others_likes_change_nothing_of_a_subscribers_recommendations(
        stored: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Liked papers outside the pass are added as rows read with the pass's weights:
    another reader's likes add rows, and change neither the fitted rows nor anyone's
    picks."""
    monkeypatch.setattr("digest.defaults.TASTE_BACKGROUND", 0)
    papers = [p for p in stored.papers() if p.featured and p.featured.month == 4]
    older = [p.arxiv_id or "" for p in stored.papers() if p.featured and p.featured.month < 4]
    sub = liker(stored, recommended=5)
    alone = taste(stored, NOW, papers, sub.likes)
    crowded = taste(stored, NOW, papers, [*sub.likes, *older[:40]])
    assert alone.matrix.shape[0] == alone.fitted + 3 and crowded.fitted == alone.fitted
    assert crowded.matrix.shape[0] == crowded.fitted + len({*sub.likes, *older[:40]})
    assert (crowded.matrix[:crowded.fitted] != alone.matrix[:alone.fitted]).nnz == 0
    (one,) = plan_digests([sub], papers, {}, NOW, taste=alone)
    (two,) = plan_digests([sub], papers, {}, NOW, taste=crowded)
    assert one.count("recommended") == 5 and one == two


def test_the_index_weighs_terms_as_a_tfidf_vectorizer_does(stored: Store) -> None:
    """Same maths as scikit-learn's TfidfVectorizer with the old settings (words and
    word pairs, stop words out, in 2 papers or more and at most half, sublinear tf,
    unit rows): hashing the terms changes the papers' likeness by a hair at most."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from digest.recommend import build_index, paper_text

    papers = stored.papers()
    index = build_index(papers)
    ours = index.matrix
    again = index.weights.rows([t.packed for t in stored.paper_terms(p.id for p in papers)])
    assert np.allclose(again.toarray(), ours.toarray())  # rows added later read the same
    theirs = TfidfVectorizer(
        strip_accents="unicode", stop_words="english", ngram_range=(1, 2),
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", sublinear_tf=True, min_df=2,
        max_df=0.5).fit_transform([paper_text(p) for p in papers])
    assert abs(ours.shape[1] - theirs.shape[1]) <= theirs.shape[1] // 100
    assert np.allclose(np.asarray(ours.multiply(ours).sum(axis=1)), 1.0)
    likeness = (ours @ ours.T).toarray() - (theirs @ theirs.T).toarray()
    assert np.abs(likeness).max() < 0.02


def test_negatives_are_drawn_from_the_pass_never_liked_or_disliked() -> None:
    from digest.recommend import _training_rows

    pos, neg = _training_rows(5_000, [7, 3, 7], [3, 11, 4_999], seed=0, negatives=1_000)
    assert pos.tolist() == [7, 3]
    assert neg[:2].tolist() == [11, 4_999] and neg.size == 1_002
    sample = neg[2:].tolist()
    assert len(set(sample)) == 1_000 and sample == sorted(sample)
    assert not {3, 7, 11, 4_999} & set(sample) and max(sample) < 5_000
    assert _training_rows(5_000, [7, 3], [11], 0, 1_000)[1][1:].tolist() == \
        _training_rows(5_000, [7, 3], [11], 0, 1_000)[1][1:].tolist()  # a fixed seed
    few = _training_rows(6, [0, 1], [2], 0, 1_000)[1]
    assert sorted(few.tolist()) == [2, 3, 4, 5]  # every other row, when that is all


def test_a_small_pass_is_fitted_with_the_papers_stored_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass of one day's 21 papers is fitted with the papers stored last before them
    (up to TASTE_BACKGROUND rows in all): its weights and negatives come from enough
    papers, and only its own papers are recommended."""
    store = days_apart(tmp_path)
    everything = [p for p in store.papers() if p.first_seen and p.first_seen <= APRIL]
    day = [p for p in everything if p.featured == APRIL.date() - timedelta(days=1)]
    assert len(day) == 21
    index = taste(store, APRIL, day)
    assert index.fitted == len(everything) == index.matrix.shape[0]
    assert index.paper_ids[:21] == tuple(p.id for p in day)
    monkeypatch.setattr("digest.defaults.TASTE_BACKGROUND", 50)
    small = taste(store, APRIL, day)
    newest = sorted((p.id for p in everything if p not in day), reverse=True)[:29]
    assert small.fitted == 50 and small.paper_ids == (*index.paper_ids[:21], *newest)
    video = [p.arxiv_id or "" for p in everything if "video" in p.title.lower()][:6]
    sub = Subscriber("v@example.org", trending=0, rising=0, max_age_days=1, recommended=5,
                     likes=tuple(video))
    (digest,) = plan_digests([sub], day, {}, APRIL, taste=taste(store, APRIL, day, video))
    assert digest.count("recommended") == 5
    assert {it.paper.id for it in digest.items} <= {p.id for p in day}
