"""Matching rules, both ways, on real names and papers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.match import Matcher, PaperIndex, category_key, plural_forms, words
from digest.model import Paper, Subscriber
from tests.conftest import DATA, SEEDS


def seed_papers(prefix: str) -> list[Paper]:
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    return parse(path.read_bytes(), ParseContext(path.name, date(2026, 5, 31)))[1]


def hf_papers(day: str) -> list[Paper]:
    path = DATA / "hf-daily" / f"{day}.json"
    return parse(path.read_bytes(), ParseContext(path.name, date(2026, 11, 22)))[1]


def follows(*, authors: tuple[str, ...] = (), keywords: tuple[str, ...] = (),
            exclude: tuple[str, ...] = (), categories: tuple[str, ...] = ()) -> Matcher:
    return Matcher([Subscriber("a@example.org", authors=authors, keywords=keywords,
                               exclude=exclude, categories=categories)])


TINY_AYA = next(p for p in hf_papers("2026-03-13") if p.arxiv_id == "2603.11510")
YAO_CHIEH = next(p for p in seed_papers("000") if p.title == "On Flow Matching KL Divergence")


@pytest.mark.parametrize(
    ("followed", "paper"),
    [
        ("Ahmet Ustun", TINY_AYA),  # the paper says "Ahmet Üstün"
        ("Ahmet Üstün", TINY_AYA),
        ("ahmet üstün", TINY_AYA),
        ("Jerry Yaochieh Hu", YAO_CHIEH),  # the paper says "Jerry Yao-Chieh Hu"
        ("Jerry Yao Chieh Hu", YAO_CHIEH),
        ("Jerry Yao-Chieh Hu", YAO_CHIEH),
        ("Maojiang Su", YAO_CHIEH),
    ],
)
def test_followed_name_matches_however_spelled(followed: str, paper: Paper) -> None:
    hits = follows(authors=(followed,)).scan(paper)
    assert hits.authors == {0: [followed]}


def test_spelling_in_the_paper_folds_too() -> None:
    # Both ways: the configured spelling is plain, the paper's is decorated.
    decorated = Paper(title="T", authors=("Paulo Andr\\'e Lima de Castro", "Jerry Yao-Chieh Hu"))
    assert follows(authors=("Paulo Andre Lima de Castro",)).scan(decorated).authors
    assert follows(authors=("Jerry Yaochieh Hu",)).scan(decorated).authors


def test_initials_do_not_match_by_default() -> None:
    assert not follows(authors=("J. Hu",)).scan(YAO_CHIEH).authors
    assert not follows(authors=("M. Su",)).scan(YAO_CHIEH).authors


def test_credited_owner_behind_et_al_matches() -> None:
    phys4d = seed_papers("000")[0]
    assert "Maojiang Su" not in phys4d.authors
    assert follows(authors=("Maojiang Su",)).scan(phys4d).authors == {0: ["Maojiang Su"]}


def test_keyword_rules() -> None:
    kl = YAO_CHIEH  # title "On Flow Matching KL Divergence", abstract says "flow-matching"
    assert follows(keywords=("flow matching",)).scan(kl).keywords == {0: ["flow matching (title)"]}
    assert follows(keywords=("flow-matching",)).scan(kl).keywords  # hyphen = space
    assert follows(keywords=("FLOW MATCHING",)).scan(kl).keywords  # case
    assert follows(keywords=("diffusion model",)).scan(kl).keywords == {  # final plural
        0: ["diffusion model (abstract)"]}
    assert not follows(keywords=("flow match",)).scan(kl).keywords  # whole words only
    assert not follows(keywords=("low matching",)).scan(kl).keywords


def test_keyword_in_latex_markup_matches_after_stripping() -> None:
    phys4d = seed_papers("000")[0]  # "\textbf{a three-stage training paradigm}"
    assert "\\textbf{a three-stage training paradigm}" in phys4d.abstract
    hits = follows(keywords=("three-stage training paradigm",)).scan(phys4d)
    assert hits.keywords == {0: ["three-stage training paradigm (abstract)"]}


def test_source_keywords_are_searched() -> None:
    paper = next(p for p in hf_papers("2026-04-16") if p.arxiv_id == "2604.14148")
    matcher = follows(keywords=("unified architecture",))
    assert not matcher.scan(replace(paper, keywords=())).keywords  # not in title or abstract
    assert matcher.scan(paper).keywords == {0: ["unified architecture (keywords)"]}


def test_exclude_and_categories() -> None:
    kl = YAO_CHIEH
    matcher = follows(authors=("Maojiang Su",), exclude=("divergence",))
    hits = matcher.scan(kl)
    assert hits.excluded == {0}
    assert not matcher.allows(0, kl, hits.excluded)
    for wanted, allowed in ((("LG",), True), (("cs.LG",), True), (("CV",), False)):
        m = follows(authors=("Maojiang Su",), categories=wanted)
        assert m.allows(0, kl, set()) is allowed
    assert follows(categories=("CV",)).allows(0, TINY_AYA, set())  # no category: passes


def test_helpers() -> None:
    assert words("Flow-Matching $L_2$ \\textbf{Phys4D}") == ("flow", "matching", "l", "2",
                                                            "phys4d")
    assert {"model", "models"} <= plural_forms("model")
    assert "study" in plural_forms("studies")
    assert "los" not in plural_forms("loss")
    assert category_key("cs.LG") == category_key("LG") == "LG"


def test_many_subscribers_share_one_index() -> None:
    subs = [Subscriber(f"s{i}@example.org", keywords=("flow matching",)) for i in range(50)]
    subs.append(Subscriber("other@example.org", keywords=("protein folding",)))
    hits = Matcher(subs).scan(YAO_CHIEH)
    assert sorted(hits.keywords) == list(range(50))


IGPO = Paper(title="Inpainting-Guided Policy Optimization for Diffusion Large Language Models",
             abstract="Masked diffusion large language models (dLLMs) are emerging as promising "
                      "alternatives to autoregressive LLMs.")


def index_finds(keyword: str, paper: Paper) -> bool:
    return bool(PaperIndex([paper]).phrase(keyword))


@pytest.mark.parametrize(("keyword", "text"), [
    ("diffusion language model", IGPO.title),  # one extra word, final plural
    ("diffusion language model", "diffusion-based language models"),
    ("flow matching", "Flow-Based Matching of Point Clouds"),
    ("speculative decoding", "speculative parallel decoding"),
])
def test_a_phrase_matches_with_one_extra_word_inside_it(keyword: str, text: str) -> None:
    paper = Paper(title=text)
    assert follows(keywords=(keyword,)).scan(paper).keywords == {0: [f"{keyword} (title)"]}
    assert index_finds(keyword, paper)


@pytest.mark.parametrize(("keyword", "text"), [
    ("diffusion language model", "diffusion for large language models"),  # two extra words
    ("diffusion language model", "diffusion and language models"),  # joins two things
    ("diffusion language model", "diffusion vs. language models"),
    ("language model", "language"),
    ("large language model", "a large language"),  # the last word missing
    ("diffusion model", "latent diffusion"),  # an extra word before is not inside
    ("diffusion large language models", "Scaling Diffusion Language Models"),  # one less
    ("diffusion language model", "Geometric Autoencoder for Diffusion Models"),
])
def test_a_phrase_does_not_match_with_fewer_more_or_joining_words(keyword: str, text: str) -> None:
    paper = Paper(title=text)
    assert not follows(keywords=(keyword,)).scan(paper).keywords
    assert not index_finds(keyword, paper)


def test_the_index_and_the_matcher_agree_on_real_papers_with_slop() -> None:
    papers = hf_papers("2026-03-10") + hf_papers("2026-04-16")
    phrases = ["diffusion language model", "vision language model", "policy optimization",
               "large language model", "reinforcement learning", "video generation model",
               "multimodal large language models", "flow matching", "world model"]
    index = PaperIndex(papers)
    for phrase in phrases:
        matcher = follows(keywords=(phrase,))
        by_matcher = {pos for pos, p in enumerate(papers) if matcher.scan(p).keywords}
        assert set(index.phrase(phrase)) == by_matcher, phrase
    assert len(index.phrase("vision language model")) > len(
        {pos for pos, p in enumerate(papers) if "vision language model" in
         " ".join(words(p.title + " " + p.abstract + " " + " ".join(p.keywords)))})
