"""Text helpers shared by every stage: LaTeX decoding, name and title folding.

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

_SPACES = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_LATEX_HINT = re.compile(r"[\\${}]")


def squash(text: str) -> str:
    """Collapse runs of white space (newlines included) to one space and strip the ends."""
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def latex_to_text(text: str) -> str:
    """Decode LaTeX markup to plain Unicode (``\\'e`` -> é, ``\\textbf{X}`` -> X).

    Text without any LaTeX hint is returned unchanged, so plain names cost nothing.
    """
    if not _LATEX_HINT.search(text):
        return text
    try:
        decoded: str = LatexNodes2Text(math_mode="text").latex_to_text(text)
    except Exception:  # pylatexenc raises on some malformed markup; keep the raw text
        return text
    return decoded


@lru_cache(maxsize=1 << 17)
def fold(text: str) -> str:
    """The folded key of ``text``: LaTeX and accents decoded, lower case, only a-z and 0-9."""
    plain = unicodedata.normalize("NFKC", latex_to_text(text))
    return _NON_ALNUM.sub("", anyascii(plain).lower())


def name_key(name: str) -> str:
    """Key under which two spellings of one author's name are the same person."""
    return fold(name)


def title_key(title: str) -> str:
    """Key under which two copies of one paper's title are the same paper.

    A title with no letters or digits at all keys on itself, so such titles never merge.
    """
    return fold(title) or squash(title).lower()
