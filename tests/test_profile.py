"""The profile parser, full and compact layouts, against the real seed pages."""

from __future__ import annotations

from datetime import date

import pytest

from digest.errors import InputError
from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.ingest.profile import split_title_authors
from digest.model import Paper
from tests.conftest import SEEDS, check_golden, paper_fields

CAPTURED = date(2026, 5, 31)


def read_seed(prefix: str, owner: str | None = None) -> list[Paper]:
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    fmt, papers = parse(path.read_bytes(), ParseContext(path.name, CAPTURED, owner))
    assert fmt == "profile"
    return papers


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003"])
def test_seed_matches_golden(prefix: str) -> None:
    check_golden(f"seeds/{prefix}.json", [paper_fields(p) for p in read_seed(prefix)])


def test_000_full_layout_owner_credited() -> None:
    papers = read_seed("000")
    assert len(papers) == 8
    assert all(p.credited == ("Maojiang Su",) for p in papers)
    phys4d = papers[0]
    assert phys4d.title.startswith("Phys4D: Fine-Grained")
    assert phys4d.authors == ("Haoran Lu", "Shang Wu", "Jianshu Zhang")
    assert phys4d.truncated
    assert phys4d.all_authors[-1] == "Maojiang Su"  # cut off by "et al.", credited at the end
    assert phys4d.published == date(2026, 3, 3)  # "Mar 3", captured May 2026
    assert "\\textbf{Phys4D}" in phys4d.abstract  # LaTeX kept in storage
    dfm = next(p for p in papers if p.title == "Discrete Flow Matching Policy Optimization")
    assert (dfm.score, dfm.category, dfm.published) == (78.5, "LG", date(2026, 4, 7))
    genomic = next(p for p in papers if p.title.startswith("Fast and Low-Cost"))
    assert genomic.has_code and genomic.published == date(2025, 5, 1)


def test_001_compact_layout_splits_title_from_authors() -> None:
    papers = read_seed("001")
    assert len(papers) == 10
    by_title = {p.title: p for p in papers}
    ime = by_title["Instance-aware Model Ensemble With Distillation For Unsupervised Domain "
                   "Adaptation"]
    assert ime.authors == ("Weimin Wu", "Jiayuan Fan", "Tao Chen")
    assert ime.organization == "deepmind"
    dits = by_title["On Statistical Rates and Provably Efficient Criteria of Latent Diffusion "
                    "Transformers (DiTs)"]  # a title ending in a bracket
    assert dits.authors[0] == "Jerry Yao-Chieh Hu"
    factory = by_title["Genome-Factory: An Integrated Library for Tuning, Deploying, and "
                       "Interpreting Genomic Models"]  # commas inside the title
    assert factory.authors == ("Weimin Wu", "Xuefeng Song", "Yibo Wen")
    assert all(p.credited == () for p in papers)  # 001 names no owner; none is guessed


def test_owner_given_for_unnamed_profile_is_credited() -> None:
    papers = read_seed("003", owner="Difan Zou")
    assert all(p.credited == ("Difan Zou",) for p in papers)
    hou = next(p for p in papers if "TianQi Hou" in p.authors)
    assert hou.authors == ("Zhenyu Liao", "Jiaqing Liu", "TianQi Hou")


def test_complete_author_list_is_not_truncated() -> None:
    paper = next(p for p in read_seed("002")
                 if p.title == "On the Generalization of Diffusion Model")
    assert paper.authors == ("Mingyang Yi", "Jiacheng Sun", "Zhenguo Li")
    assert (paper.truncated, paper.author_count) == (False, 3)


@pytest.mark.parametrize(
    ("line", "title", "first"),
    [
        ("Model Distillation For IMEDWeimin Wu, Tao Chen et al.", "Model Distillation For IMED",
         "Weimin Wu"),  # title ends in capitals
        ("Results on VisDA 2017Weimin Wu, Tao Chen", "Results on VisDA 2017", "Weimin Wu"),
        ("Diffusion Transformers (DiTs)Jerry Yao-Chieh Hu, Weimin Wu",
         "Diffusion Transformers (DiTs)", "Jerry Yao-Chieh Hu"),  # bracket, hyphenated name
        ("A Random Matrix Analysis of AttentionTianQi Hou, Zhenyu Liao",
         "A Random Matrix Analysis of Attention", "TianQi Hou"),  # inner capital, known name
        ("How Does Critical Batch Size Scale in Pre-training?Hanlin Zhang, Depen Morwani",
         "How Does Critical Batch Size Scale in Pre-training?", "Hanlin Zhang"),
        ("Neural PDE Solvers via MeanFlowJerry Hu", "Neural PDE Solvers via MeanFlow",
         "Jerry Hu"),  # CamelCase title word, unknown name: the later split wins
    ],
)
def test_compact_split(line: str, title: str, first: str) -> None:
    known = {"tianqihou", "tianqi"}
    split = split_title_authors(line, known)
    assert split is not None
    assert split[0] == title
    assert split[1].names[0] == first


def test_compact_split_refuses_a_line_without_author_list() -> None:
    assert split_title_authors("A title with no authors at all", set()) is None


def test_truncated_profile_is_an_error_naming_the_line() -> None:
    text = (next(SEEDS.glob("000_*.txt")).read_text().split("LGNov 25, 2024")[0]
            + "LGNov 25, 2024\nIn-Context Deep Learning via Transformer Models\n\n")
    with pytest.raises(InputError, match=r"cut\.txt: line \d+: entry 'In-Context"):
        parse(text.encode(), ParseContext("cut.txt", CAPTURED), "profile")


def test_year_less_date_resolves_before_capture() -> None:
    papers = read_seed("000")
    early = parse(next(SEEDS.glob("000_*.txt")).read_bytes(),
                  ParseContext("x", date(2026, 3, 2)))[1]
    assert papers[0].published == date(2026, 3, 3)
    assert early[0].published == date(2025, 3, 3)  # Mar 3 had not come yet on 2026-03-02
