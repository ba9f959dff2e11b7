"""Matching rules, both ways, on real names and papers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.match import (
    LATER_POINTS,
    STRONG,
    Matcher,
    PaperIndex,
    category_key,
    evidence,
    lead_words,
    named_words,
    plural_forms,
    words,
)
from digest.model import Paper, Subscriber
from digest.vocab import Area
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
    # final plural; said once, late in the abstract: found, but only in passing
    assert follows(keywords=("diffusion model",)).scan(kl).evidence == {(0, "diffusion model"): 2}
    assert not follows(keywords=("diffusion model",)).scan(kl).keywords
    assert not follows(keywords=("flow match",)).scan(kl).keywords  # whole words only
    assert not follows(keywords=("low matching",)).scan(kl).keywords


def test_keyword_in_latex_markup_matches_after_stripping() -> None:
    phys4d = seed_papers("000")[0]  # "\textbf{a three-stage training paradigm}"
    assert "\\textbf{a three-stage training paradigm}" in phys4d.abstract
    hits = follows(keywords=("three-stage training paradigm",)).scan(phys4d)
    assert hits.evidence == {(0, "three-stage training paradigm"): LATER_POINTS}


def test_source_keywords_are_searched() -> None:
    paper = next(p for p in hf_papers("2026-04-16") if p.arxiv_id == "2604.14148")
    matcher = follows(keywords=("unified architecture",))
    assert not matcher.scan(replace(paper, keywords=())).evidence  # not in title or abstract
    # found among the source's keywords, but they are no evidence of what a paper is about
    assert matcher.scan(paper).evidence == {(0, "unified architecture"): 0}
    assert not matcher.scan(paper).keywords


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
        by_matcher = {pos for pos, p in enumerate(papers) if matcher.scan(p).evidence}
        assert set(index.phrase(phrase)) == by_matcher, phrase
    assert len(index.phrase("vision language model")) > len(
        {pos for pos, p in enumerate(papers) if "vision language model" in
         " ".join(words(p.title + " " + p.abstract + " " + " ".join(p.keywords)))})


def test_evidence_by_where_a_keyword_stands() -> None:
    opening = "A method for flow matching. It is fast."
    late = "We study images. We train fast. We compare with flow matching."
    assert evidence([(0, 3, False)], 0) >= STRONG  # the title
    assert evidence([(0, 3, True)], 0) >= STRONG  # the title, with an extra word
    assert lead_words(opening) == 8 and lead_words(late) == 6
    assert evidence([(1, 3, False)], 8) >= STRONG  # the abstract's opening sentences
    assert evidence([(1, 9, False)], 6) < STRONG  # one mention later on: in passing
    assert evidence([(1, 2, False), (1, 9, False)], 1) >= STRONG  # two later on
    assert evidence([(1, 3, True)], 8) < STRONG  # a loose match alone outside the title
    assert evidence([(1, 3, True), (1, 20, False)], 8) >= STRONG  # with another match
    assert evidence([(2, 0, False), (3, 0, False)], 8) == 0  # only the source's keywords
    assert lead_words("See e.g. Smith et al. Jones for this. Next one. Third.") == 11


# Real abstracts of 2026-03-27 and 2026-04-07 (not in tests/data), cut after the sentence
# that matters. S2D2 (2603.25702) is about self-speculative decoding: it says so where it
# says what it is, in its fourth sentence; MARS (2604.07023) only contrasts itself with it.
S2D2 = (
    "Block-diffusion language models offer a promising path toward faster-than-autoregressive "
    "generation by combining block-wise autoregressive decoding with within-block parallel "
    "denoising. However, in the few-step regime needed for practical acceleration, standard "
    "confidence-thresholded decoding is often brittle: aggressive thresholds hurt quality, "
    "while conservative thresholds require unnecessary denoising steps. Existing approaches "
    "that address this issue either require additional training or incur extra test-time "
    "compute. We present S2D2, a training-free self-speculative decoding framework for "
    "block-diffusion language models. Our key observation is that a block-diffusion model "
    "becomes autoregressive when the block size is reduced to one.")
MARS = (
    "Autoregressive language models generate one token per step. Multi-token prediction "
    "could be faster, yet it needs changes to the model. We study how far existing models go. "
    "Unlike speculative decoding, which maintains a separate draft model alongside the "
    "target, or multi-head approaches such as Medusa, which attach additional prediction "
    "heads, MARS requires only continued training on existing instruction data.")


def test_where_a_paper_says_what_it_is_counts_as_its_opening() -> None:
    assert named_words("We present S2D2, a training-free framework. It is.") == (4,)
    assert named_words("In this work, we propose X (Y), the first one; and this paper "
                       "introduces Z, an idea.") == (8, 16)
    assert named_words("We propose a new loss, which helps. We present results.") == ()
    assert evidence([(1, 40, False)], 10, (38,)) >= STRONG  # two words after "a"
    assert evidence([(1, 43, False)], 10, (38,)) < STRONG  # five: past what it calls itself
    assert evidence([(1, 40, True)], 10, (38,)) < STRONG  # a loose match alone, as before
    s2d2 = Paper(title="S2D2: Fast Decoding for Diffusion LLMs via Training-Free "
                       "Self-Speculation", abstract=S2D2)
    mars = Paper(title="MARS: Enabling Autoregressive Models Multi-Token Generation",
                 abstract=MARS)
    index = PaperIndex([s2d2, mars])
    assert lead_words(S2D2) < named_words(S2D2)[0]  # past the opening sentences
    assert index.evidence("speculative decoding") == {0: 4, 1: LATER_POINTS}
    for paper, about in ((s2d2, True), (mars, False)):
        hits = follows(keywords=("speculative decoding",)).scan(paper)
        assert bool(hits.keywords) is about
        assert hits.evidence == {(0, "speculative decoding"): 4 if about else LATER_POINTS}


def test_passing_mentions_and_source_keywords_are_weak_on_real_papers() -> None:
    papers = {p.arxiv_id: p for day in ("2026-03-10", "2026-04-15", "2026-04-16")
              for p in hf_papers(day)}
    weak = [
        # "post-training using supervised fine tuning (SFT) and reinforcement learning
        # (RL)", in the third sentence of a paper about a 120B model
        ("2604.12374", "reinforcement learning", Area.ABSTRACT),
        # "Compared to approaches that inject reflection capability through knowledge
        # distillation", a contrast near the end
        ("2603.08706", "knowledge distillation", Area.ABSTRACT),
        # the abstract says "RL"; only the generated keywords say the phrase
        ("2604.11784", "reinforcement learning", Area.KEYWORDS),
        ("2604.14148", "unified architecture", Area.KEYWORDS),
    ]
    strong = [
        ("2603.08706", "reinforcement learning", Area.ABSTRACT),  # "a reinforcement
        # learning paradigm that trains agents", then twice more
        ("2604.12374", "mixture of experts", Area.TITLE),
        ("2604.12374", "speculative decoding", Area.ABSTRACT),  # the second sentence
    ]
    for arxiv, phrase, area in weak + strong:
        paper = papers[arxiv]
        index = PaperIndex([paper])
        hits = follows(keywords=(phrase,)).scan(paper)
        assert index.phrase(phrase)[0][2] == area
        assert hits.evidence == {(0, phrase): index.evidence(phrase)[0]}
        about = (arxiv, phrase, area) in strong
        assert hits.keywords == ({0: [f"{phrase} ({area})"]} if about else {}), (arxiv, phrase)
        assert (hits.evidence[0, phrase] >= STRONG) is about


def test_the_index_and_the_matcher_agree_on_evidence() -> None:
    papers = hf_papers("2026-03-10") + hf_papers("2026-04-16")
    index = PaperIndex(papers)
    for phrase in ("vision language model", "reinforcement learning", "video generation",
                   "large language models", "diffusion model", "agents"):
        matcher = follows(keywords=(phrase,))
        for pos, points in index.evidence(phrase).items():
            assert matcher.scan(papers[pos]).evidence == {(0, phrase): points}, phrase
