"""Citations (digest.cite): BibTeX written with bibtexparser is read back with another
parser (pybtex) and decoded with pylatexenc; RIS is read back with rispy. Every field a
reference manager maps must come back as the paper had it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import rispy
from pybtex.database import Entry as BibEntry
from pybtex.database import parse_string
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from digest import cite
from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.model import Paper
from digest.text import squash
from tests.conftest import DATA


def _decoder() -> LatexNodes2Text:
    """LaTeX -> Unicode as a reader of the .bib sees it; math stays as written (it was
    math in the title). pylatexenc knows no text for three text-mode commands LaTeX has."""
    db = get_default_latex_context_db()
    db.add_context_category("text-commands", prepend=True, macros=[
        MacroTextSpec("textbraceleft", "{"), MacroTextSpec("textbraceright", "}"),
        MacroTextSpec("textasciicircum", "^")])
    return LatexNodes2Text(math_mode="verbatim", latex_context=db, strict_latex_spaces=True)


DECODE = _decoder().latex_to_text


def bib_entries(papers: list[Paper]) -> list[tuple[str, BibEntry]]:
    return list(parse_string(cite.bibtex(papers), "bibtex").entries.items())


def bib_names(entry: BibEntry) -> list[str]:
    return [" ".join(DECODE(part) for part in (p.first_names + p.middle_names
                                               + p.prelast_names + p.last_names
                                               + p.lineage_names))
            for p in entry.persons.get("author", [])]


def assert_bib_intact(paper: Paper, key: str, entry: BibEntry) -> None:
    """Every field of one entry, read back and decoded, says what the paper says."""
    f = entry.fields
    assert entry.type == "misc"
    assert DECODE(f["title"]) == squash(paper.title), key
    assert bib_names(entry) == [squash(a) for a in paper.authors], key
    assert DECODE(f.get("abstract", "")) == squash(paper.abstract), key
    day = paper.published or paper.featured
    assert day is not None
    assert f["year"] == str(day.year)
    assert f["month"] == date(2000, day.month, 1).strftime("%B")  # pybtex expands macros
    assert f["eprint"] == paper.arxiv_id
    assert f["archivePrefix"] == "arXiv"
    assert f["doi"] == f"10.48550/arXiv.{paper.arxiv_id}"
    assert f["url"] == f"https://arxiv.org/abs/{paper.arxiv_id}"
    if paper.github_repo:
        assert paper.github_repo in DECODE(f["note"])


def assert_ris_intact(paper: Paper, record: dict[str, object]) -> None:
    assert record["type_of_reference"] == "JOUR"
    assert record["title"] == squash(paper.title)
    assert record["authors"] == [cite.ris_name(a) for a in paper.authors]
    assert [" ".join(reversed(a.split(", "))) for a in record["authors"]] == [  # type: ignore[attr-defined]
        squash(a) for a in paper.authors]
    assert record.get("abstract", "") == squash(paper.abstract)
    day = paper.published or paper.featured
    assert day is not None
    assert record["year"] == str(day.year)
    assert record["date"] == day.strftime("%Y/%m/%d/")
    assert record["doi"] == f"10.48550/arXiv.{paper.arxiv_id}"
    assert record["urls"] == [f"https://arxiv.org/abs/{paper.arxiv_id}"]


HARD = Paper(
    title="Fast $\\mathcal{O}(n)$ Sorting {Beyond} 50% & R_1 #2: Café ~^\\ -- ``Ünïcødé'' 中文 $5",
    authors=("José Ángel Núñez", "Jean-Baptiste de la Fontaine", "Łukasz Kaiser", "OpenAI",
             "Anand Smith", "Ana {Weird} Name"),
    arxiv_id="2601.00001", abstract="We show $x^2$ costs 5% -- and \\textbf{not} more.\nOK?",
    published=date(2026, 1, 5), github_repo="https://github.com/a/b_c", category="cs.LG")


def test_bibtex_escapes_and_reads_back_intact() -> None:
    """Specials, accents, braces, ligatures and CJK come back as written; math kept."""
    [(key, entry)] = bib_entries([HARD])
    assert key == "nunez2026fast"
    assert "$\\mathcal{O}(n)$" in entry.fields["title"]
    assert "{\\textbraceleft}" in entry.fields["title"]
    assert entry.fields["primaryClass"] == "cs.LG"
    assert_bib_intact(HARD, key, entry)


def test_bibtex_is_ascii_except_characters_latex_cannot_spell() -> None:
    text = cite.bibtex([HARD])
    assert {ch for ch in text if not ch.isascii()} == set("中文")


def test_keys_are_unique_ascii_and_stable() -> None:
    """Two papers that would share a key get suffixes; the same list, the same keys."""
    a = Paper(title="The Learning of Things", authors=("Zoë Müller",), arxiv_id="2601.1",
              published=date(2026, 2, 1))
    b = Paper(title="Learning Again", authors=("Zoe Muller",), arxiv_id="2601.2",
              published=date(2026, 3, 1))
    c = Paper(title="???", arxiv_id="2601.3")
    keys = [k for k, _ in bib_entries([a, b, c])]
    assert keys == ["muller2026learning", "muller2026learningb", "anon"]
    assert [k for k, _ in cite.zip_keys([a, b, c])] == keys


def test_truncated_author_list_says_others() -> None:
    p = Paper(title="T", authors=("A B",), truncated=True, arxiv_id="2601.4",
              published=date(2026, 1, 1))
    [(_, entry)] = bib_entries([p])
    assert str(entry.persons["author"][-1]) == "others"
    [record] = rispy.loads(cite.ris([p]))
    assert cite.INCOMPLETE_NOTE in record["notes"][0]


def test_ris_reads_back_intact() -> None:
    [record] = rispy.loads(cite.ris([HARD]))
    assert_ris_intact(HARD, record)
    assert record["id"] == "nunez2026fast"
    assert record["authors"][1] == "de la Fontaine, Jean-Baptiste"


def test_nothing_to_cite_is_empty() -> None:
    assert cite.bibtex([]) == ""
    assert cite.ris([]) == ""


REAL = DATA / "cite" / "hf-50.json"


@pytest.fixture(scope="module")
def real() -> list[Paper]:
    _, papers = parse(REAL.read_bytes(), ParseContext(REAL.name, date(2026, 9, 1)))
    return papers


def test_fifty_real_papers_read_back_intact_from_bibtex(real: list[Paper]) -> None:
    """Accents, LaTeX, braces, particles: each of 50 real papers' fields comes back."""
    assert len(real) == 50
    entries = bib_entries(real)
    assert len(entries) == 50
    assert len({k for k, _ in entries}) == 50
    assert all(k.isascii() and k.isalnum() for k, _ in entries)
    for (key, entry), paper in zip(entries, real, strict=True):
        assert_bib_intact(paper, key, entry)


def test_fifty_real_papers_read_back_intact_from_ris(real: list[Paper]) -> None:
    records = rispy.loads(cite.ris(real))
    assert len(records) == 50
    for record, paper in zip(records, real, strict=True):
        assert_ris_intact(paper, record)


def test_cli_exports_every_stored_paper(run: Any, tmp_path: Path) -> None:
    """``digest papers --format`` on a real store: one entry per stored paper, to stdout
    or into a file; a mistake is a message, not a traceback."""
    assert run("ingest", str(REAL)).exit_code == 0
    shown = run("papers", "--json").output.splitlines()
    out = run("papers", "--format", "bibtex")
    assert out.exit_code == 0
    bib = parse_string(out.output, "bibtex")
    assert len(bib.entries) == len(shown) == 50
    stored = {json.loads(line)["arxiv_id"] for line in shown}
    assert {e.fields["eprint"] for e in bib.entries.values()} == stored
    target = tmp_path / "papers.ris"
    assert run("papers", "--format", "ris", "--output", str(target)).output == ""
    assert len(rispy.loads(target.read_text())) == 50
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".papers.ris")]
    failed = run("papers", "--format", "ris", "--output", str(tmp_path / "no" / "x.ris"))
    assert failed.exit_code == 1 and "cannot write" in failed.output
    assert "Traceback" not in failed.output
    assert run("papers", "--format", "ris", "--json").exit_code == 2
