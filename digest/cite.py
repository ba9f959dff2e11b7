"""Citations: papers as BibTeX and RIS, for a reference manager (Zotero, JabRef, EndNote).

BibTeX is written by ``bibtexparser`` (its writer encloses every value in braces) after
each value is escaped here: ASCII specials (``& % $ # _ { } \\ ~ ^``) by a fixed table
(braces as ``\\textbraceleft``, since BibTeX counts even escaped braces), then non-ASCII
characters by ``pylatexenc`` (``é`` -> ``{\\'e}``; characters without a LaTeX spelling,
CJK say, stay UTF-8). Math already in a title (``$\\mathcal{O}(n)$``) is kept as math.
An arXiv paper is ``@misc`` with ``eprint``/``archivePrefix``/``primaryClass``, as arXiv
exports it. RIS is written by ``rispy``: ``TY  - JOUR``, which Zotero's RIS translator
imports as a journal article (``ELEC`` would be a web page, without a DOI).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import islice

import rispy
from anyascii import anyascii
from bibtexparser.entrypoint import write_string
from bibtexparser.library import Library
from bibtexparser.middlewares.names import NameParts, parse_single_name_into_parts
from bibtexparser.model import Entry, Field
from bibtexparser.writer import BibtexFormat
from pylatexenc.latexencode import UnicodeToLatexEncoder

from digest.model import Paper
from digest.text import squash
from digest.vocab import CiteFormat

ARXIV_ABS = "https://arxiv.org/abs/"
ARXIV_DOI = "10.48550/arXiv."  # arXiv's DataCite DOI for every paper
CODE_NOTE = "Code: "
PROJECT_NOTE = "Project page: "
INCOMPLETE_NOTE = "author list incomplete at the source"
ARXIV_JOURNAL = "arXiv"

# ASCII characters special to BibTeX or LaTeX. Braces become text commands: BibTeX counts
# ``\{`` as a group opening, so an escaped lone brace would unbalance the field.
_ASCII_SPECIALS = {
    "\\": r"{\textbackslash}", "{": r"{\textbraceleft}", "}": r"{\textbraceright}",
    "&": r"{\&}", "%": r"{\%}", "$": r"{\$}", "#": r"{\#}", "_": r"{\_}",
    "~": r"{\textasciitilde}", "^": r"{\textasciicircum}",
}
_SPECIAL = re.compile("[" + re.escape("".join(_ASCII_SPECIALS)) + "]")
# TeX's ligatures of plain characters (-- and --- dashes, `` and '' quotes, !` and ?`):
# an empty group between keeps the characters the source wrote.
_LIGATURE = re.compile(r"(?<=-)(?=-)|(?<=`)(?=`)|(?<=')(?=')|(?<=[!?])(?=`)")
# Inline math as a title writes it: ``$`` then no space, closing ``$`` after no space and
# not before a digit (so "$5 and $10" is not math), as pandoc reads TeX math.
_MATH = re.compile(r"\$(?=\S)[^$]*?(?<=\S)\$(?!\d)")
_UNICODE = UnicodeToLatexEncoder(
    non_ascii_only=True, unknown_char_policy="keep", unknown_char_warning=False,
    replacement_latex_protection="braces-all",
)
_BRACES_OUT = str.maketrans("{}", "\ue000\ue001")  # private-use stand-ins
_BRACES_IN = str.maketrans("\ue000\ue001", "{}")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_KEY_STOPWORDS = frozenset({"a", "an", "the", "on", "of", "in", "for", "to", "and", "with",
                            "towards", "toward", "via", "is", "are", "when", "how", "what",
                            "why", "do", "does", "can"})
_NON_KEY = re.compile(r"[^a-z0-9]+")
_ARXIV_CLASS = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")


def write(fmt: CiteFormat, papers: Iterable[Paper]) -> str:
    """The papers in citation format ``fmt``, one entry each."""
    return bibtex(papers) if fmt is CiteFormat.BIBTEX else ris(papers)


def stream(fmt: CiteFormat, papers: Iterable[Paper], per: int = 500) -> Iterator[str]:
    """``write``'s text in pieces of ``per`` entries, keys unique across them all: joined,
    the same text, but never all in memory at once."""
    keyed = zip_keys(papers)
    entries = _bibtex if fmt is CiteFormat.BIBTEX else _ris
    first = True
    while chunk := list(islice(keyed, per)):
        yield ("" if first else "\n") + entries(chunk)
        first = False


def bibtex(papers: Iterable[Paper]) -> str:
    """One ``@misc`` entry per paper, keys stable and unique across the whole export."""
    return _bibtex(zip_keys(papers))


def _bibtex(keyed: Iterable[tuple[str, Paper]]) -> str:
    library = Library()
    for key, paper in keyed:
        library.add(Entry("misc", key, _bib_fields(paper)))
    fmt = BibtexFormat()  # type: ignore[no-untyped-call]
    fmt.indent = "  "
    fmt.block_separator = "\n"
    return write_string(library, bibtex_format=fmt)


def ris(papers: Iterable[Paper]) -> str:
    """One ``TY  - JOUR`` ... ``ER  -`` record per paper."""
    return _ris(zip_keys(papers))


def _ris(keyed: Iterable[tuple[str, Paper]]) -> str:
    records = [_ris_record(key, paper) for key, paper in keyed]
    return str(rispy.dumps(records, implementation=_RisWriter)) if records else ""


class _RisWriter(rispy.RisWriter):  # type: ignore[misc]  # rispy ships no types
    """rispy's writer without the ``1.`` line it puts before each record by default,
    which is not RIS (readers skip it, or read it into the previous record)."""

    def set_header(self, count: int) -> str:
        return ""


def zip_keys(papers: Iterable[Paper]) -> Iterator[tuple[str, Paper]]:
    """Each paper with its citation key: ``firstauthorYEARfirstword``, ASCII; a key taken
    before gets ``b``, ``c``, ... (then numbers), so the same list always gets the same keys."""
    used: set[str] = set()
    for paper in papers:
        base = citation_key(paper)
        key, n = base, 1
        while key in used:
            n += 1
            key = base + (chr(ord("a") + n - 1) if n <= 26 else str(n))
        used.add(key)
        yield key, paper


def citation_key(paper: Paper) -> str:
    """The key before collisions: first author's last name, year, first real title word."""
    author = _key_part(" ".join(_name_parts(paper.authors[0]).last)) if paper.authors else ""
    year = _year(paper)
    words = [_key_part(w) for w in paper.title.split()]
    word = next((w for w in words if w and w not in _KEY_STOPWORDS), "")
    return f"{author or 'anon'}{year or ''}{word}"


def _key_part(text: str) -> str:
    return _NON_KEY.sub("", anyascii(text).lower())


def _year(paper: Paper) -> int | None:
    day = _day(paper)
    return day.year if day else None


def _day(paper: Paper) -> date | None:
    return paper.published or paper.featured


def _bib_fields(paper: Paper) -> list[Field]:
    """The entry's fields, in the order arXiv's own export writes them, then the rest."""
    fields = [Field("title", latex(squash(paper.title)))]
    if paper.authors:
        fields.append(Field("author", _bib_authors(paper)))  # not vocab: a BibTeX field
    day = _day(paper)
    if day:
        fields += [Field("year", str(day.year)),
                   Field("month", _MONTHS[day.month - 1], enclosing="no-enclosing")]
    if paper.arxiv_id:
        fields += [Field("eprint", paper.arxiv_id), Field("archivePrefix", "arXiv")]
        if paper.category and _ARXIV_CLASS.match(paper.category):
            fields.append(Field("primaryClass", paper.category))
        fields.append(Field("doi", _doi(paper.arxiv_id)))
    url = _url(paper)
    if url:
        fields.append(Field("url", _escape_url(url)))
    if paper.abstract.strip():
        fields.append(Field("abstract", latex(squash(paper.abstract))))
    note = _note(paper)
    if note:
        fields.append(Field("note", latex(note)))
    return fields


def latex(text: str) -> str:
    """``text`` as a BibTeX field's LaTeX: specials and non-ASCII escaped, math kept."""
    out, last = [], 0
    for m in _MATH.finditer(text):
        if _math_safe(m.group()):
            out += [_escape(text[last:m.start()]), m.group()]
            last = m.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _math_safe(span: str) -> bool:
    """Math kept verbatim must keep the field's braces balanced and hold no comment."""
    depth = 0
    for ch in span:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0 and "%" not in span and "#" not in span


def _escape(text: str) -> str:
    ascii_safe = _LIGATURE.sub("{}", _SPECIAL.sub(lambda m: _ASCII_SPECIALS[m.group()], text))
    return str(_UNICODE.unicode_to_latex(ascii_safe)) if not ascii_safe.isascii() else ascii_safe


def _escape_url(url: str) -> str:
    """A URL as BibTeX's url field holds it (verbatim for ``\\url``): only ``%`` and the
    braces need care, and a cleaned-up URL of ours has neither unbalanced."""
    return url.replace("{", "%7B").replace("}", "%7D")


def _bib_authors(paper: Paper) -> str:
    names = [_bib_name(a) for a in paper.authors]
    if paper.truncated:
        names.append("others")
    return " and ".join(names)


def _bib_name(name: str) -> str:
    """``von Last, Jr, First`` with each word escaped; a lone ``and`` braced so that it
    does not split the list."""
    parts = _name_parts(name)

    def words(ws: list[str]) -> str:
        return " ".join("{and}" if w.lower() == "and" else latex(w) for w in ws)

    last = " ".join(x for x in (words(parts.von), words(parts.last)) if x)
    pieces = [last] + ([words(parts.jr)] if parts.jr else [])
    if parts.first:
        pieces.append(words(parts.first))
    return ", ".join(pieces) if len(pieces) > 1 else last


def _name_parts(name: str) -> NameParts:
    """BibTeX's split of a name into first, von, last and jr (bibtexparser's). Braces in
    the name are characters, not BibTeX groups: they are stood in for while splitting."""
    clean = squash(name).translate(_BRACES_OUT)
    try:
        parts = parse_single_name_into_parts(clean)
    except Exception:  # bibtexparser raises InvalidNameError on names it cannot split
        parts = NameParts(first=[], von=[], last=[clean], jr=[])
    if not parts.last:
        parts = NameParts(first=[], von=[], last=[clean], jr=[])
    back = [[w.translate(_BRACES_IN) for w in ws]
            for ws in (parts.first, parts.von, parts.last, parts.jr)]
    return NameParts(first=back[0], von=back[1], last=back[2], jr=back[3])


def ris_name(name: str) -> str:
    """``Last, First`` as RIS wants it: the same split as BibTeX's, in plain Unicode."""
    parts = _name_parts(name)
    last = " ".join(parts.von + parts.last)
    rest = [" ".join(parts.jr)] if parts.jr else []
    if parts.first:
        rest.append(" ".join(parts.first))
    return ", ".join([last, *rest]) if rest else last


def _doi(arxiv_id: str) -> str:
    return ARXIV_DOI + re.sub(r"v\d+$", "", arxiv_id)


def _url(paper: Paper) -> str | None:
    if paper.arxiv_id:
        return ARXIV_ABS + paper.arxiv_id
    return paper.project_page or None


def _note(paper: Paper) -> str:
    parts = []
    if paper.github_repo:
        parts.append(CODE_NOTE + paper.github_repo)
    if paper.project_page and paper.arxiv_id:
        parts.append(PROJECT_NOTE + paper.project_page)
    if paper.truncated:
        parts.append(INCOMPLETE_NOTE)
    return squash("; ".join(parts))  # one line: RIS has no continuation lines


def _ris_record(key: str, paper: Paper) -> dict[str, object]:
    """One RIS record as rispy names its tags; every value on one line."""
    record: dict[str, object] = {"type_of_reference": "JOUR", "id": key,
                                 "title": squash(paper.title)}
    if paper.authors:
        record["authors"] = [ris_name(a) for a in paper.authors]
    day = _day(paper)
    if day:
        record["year"] = str(day.year)
        record["date"] = day.strftime("%Y/%m/%d/")
    if paper.arxiv_id:
        record["secondary_title"] = ARXIV_JOURNAL
        record["accession_number"] = paper.arxiv_id
        record["doi"] = _doi(paper.arxiv_id)
    url = _url(paper)
    if url:
        record["urls"] = [url]
    if paper.abstract.strip():
        record["abstract"] = squash(paper.abstract)
    if paper.keywords:
        record["keywords"] = [squash(k) for k in paper.keywords]
    note = _note(paper)
    if note:
        record["notes"] = [note]
    return record
