"""Text helpers shared by every stage: LaTeX decoding, name and title folding, arXiv ids.

Folding turns a name or title into a key that two spellings of the same thing share:
accents removed (Üstün = Ustun), LaTeX accents decoded (``Andr\\'e`` = André), case,
hyphens, dots, punctuation and spacing ignored (Yao-Chieh = Yaochieh = Yao Chieh).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii
from pylatexenc.latex2text import LatexNodes2Text

_LATEX = LatexNodes2Text(math_mode="text")
_SPACES = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
# The LaTeX in running text: math ($...$), commands with their arguments (\textbf{X}),
# accent commands (\'e, \"{u}) and braced groups that start with a command ({\"u}).
# Only these spans go through pylatexenc, which is slow on whole abstracts.
_LATEX_SPAN = re.compile(
    r"\$\$.+?\$\$|\$[^$]+\$"
    r"|\\[a-zA-Z]+\*?(?:\[[^\]]*\])?(?:\{[^{}]*\})*"
    r"|\\[^a-zA-Z\s](?:\{[^{}]*\}|[a-zA-Z])?"
    r"|\{\\[^{}]*\}"
)


# Anything that could break a header line or hide text: controls, line and paragraph
# separators (U+2028/U+2029), next-line (U+0085), format characters.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\ufeff]+")


@lru_cache(maxsize=1 << 16)
def one_line(text: str) -> str:
    """``text`` with every line break or control character turned into a single space."""
    return " ".join(_BREAKS.sub(" ", text).split())


def squash(text: str) -> str:
    """Collapse runs of white space (newlines included) to one space and strip the ends."""
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def latex_to_text(text: str) -> str:
    """Decode LaTeX markup to plain Unicode (``\\'e`` -> é, ``\\textbf{X}`` -> X, ``$L_2$`` ->
    L_2). Text without a backslash or dollar sign is returned unchanged."""
    if "\\" not in text and "$" not in text:
        return text
    return _LATEX_SPAN.sub(lambda m: _decode(m.group()), text)


@lru_cache(maxsize=65536)
def _decode(span: str) -> str:
    try:
        decoded: str = _LATEX.latex_to_text(span)
    except Exception:  # pylatexenc raises on some malformed markup; keep the raw text
        return span
    return decoded


@lru_cache(maxsize=1 << 17)
def fold(text: str) -> str:
    """The folded key of ``text``: LaTeX and accents decoded, lower case, only a-z and 0-9."""
    plain = unicodedata.normalize("NFKC", latex_to_text(text))
    return _NON_ALNUM.sub("", anyascii(plain).lower())


def name_key(name: str) -> str:
    """Key under which two spellings of one author's name are the same person."""
    return fold(name)


# Where a name splits into parts: spaces, dots, hyphens, and a lower-case letter followed
# by a capital ("YiFan" is "Yi Fan").
_NAME_SPLIT = re.compile(r"[\s.\-\u2010\u2011]+|(?<=[a-z])(?=[A-Z])")


@lru_cache(maxsize=1 << 16)
def name_parts(name: str) -> tuple[str, ...]:
    """The folded parts of a name (``Yi-Fan Zhang`` and ``YiFan Zhang`` -> yi, fan, zhang;
    ``Ryan A. Rossi`` -> ryan, a, rossi)."""
    plain = unicodedata.normalize("NFKC", latex_to_text(name))
    return tuple(p for p in (fold(x) for x in _NAME_SPLIT.split(plain) if x) if p)


def _core(parts: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the parts without middle initials, the middle initials)."""
    if len(parts) < 3:
        return parts, ()
    middle = parts[1:-1]
    return ((parts[0], *(p for p in middle if len(p) > 1), parts[-1]),
            tuple(p for p in middle if len(p) == 1))


def spelled_alike(followed: str, listed: str) -> bool | None:
    """How a listed author's name stands to a followed one: True when it is spelt the same
    but for a middle initial one of them leaves out (``Ryan Rossi``, ``Ryan A. Rossi``);
    False when only joining or splitting its parts tells them apart (``Yi-Fan Zhang``,
    ``Yifan Zhang``), or it gives the given names as initials (``Y. Zhang``): maybe
    another person; None when it is another name (other middle initials, other
    letters)."""
    core_f, initials_f = _core(name_parts(followed))
    core_l, initials_l = _core(name_parts(listed))
    if initials_f and initials_l and initials_f != initials_l:
        return None
    if core_f == core_l:
        return True
    if "".join(core_f) == "".join(core_l):
        return False
    return False if "".join(core_l) in _initialled(core_f) else None


def by_initials(followed: str, listed: str) -> bool:
    """Whether ``listed`` gives the followed name's given names as initials only
    (``Y. Zhang`` for ``Yi-Fan Zhang``): too many people to offer as possibly theirs."""
    core_f, _ = _core(name_parts(followed))
    core_l, _ = _core(name_parts(listed))
    return core_f != core_l and "".join(core_l) in _initialled(core_f)


def _initialled(core: tuple[str, ...]) -> tuple[str, ...]:
    """The keys of a name written with initials for its given names (``Yi-Fan Zhang``:
    ``Y. Zhang``, ``Y.-F. Zhang``); none for a name whose given name is an initial."""
    given, last = core[:-1], core[-1]
    if not given or len(given[0]) < 2:
        return ()
    every = "".join(p[0] for p in given)
    return tuple(dict.fromkeys((given[0][0] + last, every + last)))


def name_keys(name: str) -> tuple[str, ...]:
    """The folded keys (``name_key``) a name's spellings may have: its own, without its
    middle initials, with any one middle initial (``ryanrossi``, ``ryanarossi`` ..
    ``ryanzrossi``), and with initials for its given names (``rrossi``; ``aqjiang`` for
    Albert Q. Jiang). Whether a listed name under one of them is the same spelling is
    ``spelled_alike``'s to say."""
    core, initials = _core(name_parts(name))
    own = name_key(name)
    if len(core) < 2 or len(core[0]) < 2:
        return (own,)
    short = _initialled(core)
    if initials:
        middle = "".join(initials)
        spelt = ("".join(core), *short, short[0][:1] + middle + short[0][1:])
    else:
        head, last = "".join(core[:-1]), core[-1]
        spelt = (*(head + chr(c) + last for c in range(ord("a"), ord("z") + 1)), *short)
    return tuple(dict.fromkeys((own, *spelt)))


def title_key(title: str) -> str:
    """Key under which two copies of one paper's title are the same paper.

    A title with no letters or digits at all keys on itself, so such titles never merge.
    """
    return fold(title) or squash(title).lower()


_ARXIV_VERSION = re.compile(r"v\d+$")


def arxiv_key(arxiv_id: str) -> str:
    """An arXiv id as likes compare it: no ``arXiv:`` prefix, no version, lower case
    (``arXiv:2604.01234v2`` -> ``2604.01234``)."""
    return paper_id(arxiv_id.strip().lower())


def paper_id(arxiv_id: str) -> str:
    """An arXiv id naming the paper, not one version, as written otherwise
    (``arXiv:2604.01234v2`` -> ``2604.01234``; ``math.AG/0101001`` keeps its capitals)."""
    return _ARXIV_VERSION.sub("", arxiv_id.removeprefix("arXiv:").removeprefix("arxiv:"))


def plural(n: int, noun: str) -> str:
    """``1 author``, ``3 authors``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def more_papers(n: int) -> str:
    """``1 more paper``, ``12 more papers``: what did not fit in a digest."""
    return plural(n, "paper").replace(" ", " more ", 1)


# Markdown some authors write in abstracts, shown as plain text: **bold**, *italic*,
# `code` (not LaTeX's `quotes''), [text](url). Only tight pairs around words: a lone
# asterisk (a footnote, "x*", math) stays.
_MARKDOWN = (
    (re.compile(r"\*\*(\S(?:[^*\n]{0,200}?\S)?)\*\*"), r"\1"),
    (re.compile(r"(?<![\w*\\$^_{}])\*(?=\w)([^*\n$]{0,200}?\w)\*(?![\w*])"), r"\1"),
    (re.compile(r"`([^`'\n]{1,200})`"), r"\1"),
    (re.compile(r"\[([^\]\n]{1,300})\]\((https?://[^)\s]{1,2000})\)"), r"\1"),
)


def plain_markdown(text: str) -> str:
    """``text`` with the Markdown marks of an abstract taken out, the words kept."""
    if not any(mark in text for mark in "*`["):
        return text
    for pattern, keep in _MARKDOWN:
        text = pattern.sub(keep, text)
    return text
