"""A paper's terms: what recommendations read of it, counted once and stored.

The words and word pairs of a paper's title and abstract, as scikit-learn's
``TfidfVectorizer`` read them for the index before terms were stored (lower case, accents
folded, a word two or more letters, digits or underscores starting with a letter,
English stop words left out, then each word and each pair of neighbours), each hashed
to one of ``BUCKETS`` buckets (its CRC-32), with how often it occurs: so many buckets
that two terms of a pass's papers share one only a few hundred times in a million. ``hashed``
packs a text's terms in bucket order, each as its bucket (a little-endian 32-bit number)
and its count (a byte, at most 255): five bytes a term, about 1.2 KB a paper. The store
keeps that per paper (``paper_features``), written when the paper is stored or its title
or abstract change, so that a pass's index is built from numbers, not from text. Plain
Python and numpy: an ingest does not load scikit-learn (2 s and 110 MB) to count words.

``BUCKETS``, the hash and the packing are a stored format: changing them means emptying
``paper_features`` (each paper's terms are made again when next needed).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["BUCKETS", "analyse", "hashed", "paper_text", "unpack"]

BUCKETS = 2**32  # hashed term buckets: every CRC-32
_MAX_COUNT = 255
_TERM = np.dtype([("bucket", "<u4"), ("count", "u1")])  # 5 bytes, no padding
_WORD = re.compile(r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b")
# scikit-learn's English stop words (ENGLISH_STOP_WORDS, from the Glasgow Information
# Retrieval Group's list; BSD-3-Clause), as the index left them out before.
_STOP_WORDS = frozenset((
    "a", "about", "above", "across", "after", "afterwards", "again", "against", "all",
    "almost", "alone", "along", "already", "also", "although", "always", "am", "among",
    "amongst", "amoungst", "amount", "an", "and", "another", "any", "anyhow", "anyone",
    "anything", "anyway", "anywhere", "are", "around", "as", "at", "back", "be", "became",
    "because", "become", "becomes", "becoming", "been", "before", "beforehand", "behind",
    "being", "below", "beside", "besides", "between", "beyond", "bill", "both", "bottom",
    "but", "by", "call", "can", "cannot", "cant", "co", "con", "could", "couldnt", "cry",
    "de", "describe", "detail", "do", "done", "down", "due", "during", "each", "eg", "eight",
    "either", "eleven", "else", "elsewhere", "empty", "enough", "etc", "even", "ever",
    "every", "everyone", "everything", "everywhere", "except", "few", "fifteen", "fifty",
    "fill", "find", "fire", "first", "five", "for", "former", "formerly", "forty", "found",
    "four", "from", "front", "full", "further", "get", "give", "go", "had", "has", "hasnt",
    "have", "he", "hence", "her", "here", "hereafter", "hereby", "herein", "hereupon", "hers",
    "herself", "him", "himself", "his", "how", "however", "hundred", "i", "ie", "if", "in",
    "inc", "indeed", "interest", "into", "is", "it", "its", "itself", "keep", "last",
    "latter", "latterly", "least", "less", "ltd", "made", "many", "may", "me", "meanwhile",
    "might", "mill", "mine", "more", "moreover", "most", "mostly", "move", "much", "must",
    "my", "myself", "name", "namely", "neither", "never", "nevertheless", "next", "nine",
    "no", "nobody", "none", "noone", "nor", "not", "nothing", "now", "nowhere", "of", "off",
    "often", "on", "once", "one", "only", "onto", "or", "other", "others", "otherwise", "our",
    "ours", "ourselves", "out", "over", "own", "part", "per", "perhaps", "please", "put",
    "rather", "re", "same", "see", "seem", "seemed", "seeming", "seems", "serious", "several",
    "she", "should", "show", "side", "since", "sincere", "six", "sixty", "so", "some",
    "somehow", "someone", "something", "sometime", "sometimes", "somewhere", "still", "such",
    "system", "take", "ten", "than", "that", "the", "their",
    "them", "themselves", "then",  # not vocab: a stop word
    "thence", "there", "thereafter", "thereby", "therefore", "therein", "thereupon", "these",
    "they", "thick", "thin", "third", "this", "those", "though", "three", "through",
    "throughout", "thru", "thus", "to", "together", "too", "top", "toward", "towards",
    "twelve", "twenty", "two", "un", "under", "until", "up", "upon", "us", "very", "via",
    "was", "we", "well", "were", "what", "whatever", "when", "whence", "whenever", "where",
    "whereafter", "whereas", "whereby", "wherein", "whereupon", "wherever", "whether",
    "which", "while", "whither", "who", "whoever", "whole", "whom", "whose", "why", "will",
    "with", "within", "without", "would", "yet", "you", "your", "yours", "yourself",
    "yourselves",
))


def paper_text(title: str, abstract: str) -> str:
    """What the terms are read from: a paper's title and abstract."""
    return f"{title}\n{abstract}"


def analyse(text: str) -> list[str]:
    """The terms of ``text``: its words (stop words left out), then each pair of
    neighbouring words, in order, as scikit-learn's analyser gives them."""
    text = text.lower()
    if not text.isascii():  # fold accents: é -> e
        text = "".join(c for c in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(c))
    words = [w for w in _WORD.findall(text) if w not in _STOP_WORDS]
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def hashed(texts: Sequence[str]) -> list[bytes]:
    """The packed terms of each of ``texts``, one ``bytes`` a text."""
    buckets: list[int] = []
    counts: list[int] = []
    bounds = [0]
    for text in texts:
        counted = Counter(analyse(text))
        keys = [zlib.crc32(term.encode()) for term in counted]
        found = sorted(zip(keys, counted.values(), strict=True))
        if len(set(keys)) < len(keys):  # two terms of the text in one bucket: add up
            found = _summed(found)
        buckets += [b for b, _ in found]
        counts += [c for _, c in found]
        bounds.append(len(buckets))
    terms = np.empty(len(buckets), dtype=_TERM)
    terms["bucket"], terms["count"] = buckets, np.minimum(counts, _MAX_COUNT)
    packed = terms.tobytes()
    return [packed[a * _TERM.itemsize:b * _TERM.itemsize] for a, b in pairwise(bounds)]


def unpack(packed: Sequence[bytes]
           ) -> tuple[NDArray[np.uint32], NDArray[np.uint8], NDArray[np.int64]]:
    """The buckets and counts of all these texts' packed terms, one text after the
    other (each text's buckets ascending), and the text each term is of."""
    found = np.frombuffer(b"".join(packed), dtype=_TERM)
    sizes = np.fromiter((len(p) // _TERM.itemsize for p in packed), dtype=np.int64,
                        count=len(packed))
    return (found["bucket"].copy(), found["count"].copy(),
            np.repeat(np.arange(len(packed), dtype=np.int64), sizes))


def _summed(found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(bucket, count) pairs with the counts of a bucket added up, in bucket order."""
    summed: Counter[int] = Counter()
    for bucket, times in found:
        summed[bucket] += times
    return sorted(summed.items())
