"""A paper's terms: what recommendations read of it, counted once and stored.

The words and word pairs of a paper's title and abstract (accents folded, lower case,
English stop words left out, a word two or more letters, digits or underscores starting
with a letter), each hashed to one of ``BUCKETS`` buckets (scikit-learn's
``HashingVectorizer``, murmurhash3: so many buckets that two terms of a pass's papers
share one only a few hundred times in a million), with how often it occurs. ``hashed``
packs a text's terms in bucket order, each as its bucket (a little-endian 32-bit number)
and its count (a byte, at most 255): five bytes a term, about 1.2 KB a paper. The
store keeps that per paper (``paper_features``), written when the paper is stored or its
title or abstract change, so that a pass's index is built from numbers, not from text.

``BUCKETS`` and the packing are a stored format: changing them means emptying
``paper_features`` (each paper's terms are made again when next needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["BUCKETS", "hashed", "paper_text", "unpack"]

BUCKETS = 2**31 - 1  # hashed term buckets: scipy's largest column index, plus one
_MAX_COUNT = 255
_TERM = np.dtype([("bucket", "<u4"), ("count", "u1")])  # 5 bytes, no padding
# What a term is, as the TF-IDF index read it before terms were stored.
_ANALYSIS: dict[str, Any] = {
    "strip_accents": "unicode", "lowercase": True, "stop_words": "english",
    "token_pattern": r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", "ngram_range": (1, 2)}


def paper_text(title: str, abstract: str) -> str:
    """What the terms are read from: a paper's title and abstract."""
    return f"{title}\n{abstract}"


def hashed(texts: Sequence[str]) -> list[bytes]:
    """The packed terms of each of ``texts``, one ``bytes`` a text."""
    if not texts:
        return []
    counts = _hashing().transform(texts).tocsr()
    counts.sort_indices()
    found = np.empty(counts.nnz, dtype=_TERM)
    found["bucket"] = counts.indices
    found["count"] = np.minimum(counts.data, _MAX_COUNT)
    packed = found.tobytes()
    bounds = (counts.indptr * _TERM.itemsize).tolist()
    return [packed[a:b] for a, b in pairwise(bounds)]


def unpack(packed: Sequence[bytes]
           ) -> tuple[NDArray[np.uint32], NDArray[np.uint8], NDArray[np.int64]]:
    """The buckets and counts of all these texts' packed terms, one text after the
    other (each text's buckets ascending), and the text each term is of."""
    found = np.frombuffer(b"".join(packed), dtype=_TERM)
    sizes = np.fromiter((len(p) // _TERM.itemsize for p in packed), dtype=np.int64,
                        count=len(packed))
    return (found["bucket"].copy(), found["count"].copy(),
            np.repeat(np.arange(len(packed), dtype=np.int64), sizes))


@cache
def _hashing() -> Any:
    """The hashing vectorizer, made once (scikit-learn loads only when terms are read)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=BUCKETS, alternate_sign=False, norm=None,
                             dtype=np.float64, **_ANALYSIS)
