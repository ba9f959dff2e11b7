"""A paper's terms: what recommendations read of it, counted once and stored.

The words and word pairs of a paper's title and abstract (accents folded, lower case,
English stop words left out, a word two or more letters, digits or underscores starting
with a letter), each hashed to one of ``BUCKETS`` buckets (scikit-learn's
``HashingVectorizer``, murmurhash3: so many buckets that two terms of a pass's papers
share one only a few hundred times in a million), with how often it occurs. ``hashed``
packs a text's terms in bucket order as their buckets (little-endian 32-bit numbers) and
then their counts (a byte each, at most 255): five bytes a term, about 1 KB a paper. The
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
    buckets = counts.indices.astype("<u4").tobytes()
    times = np.minimum(counts.data, _MAX_COUNT).astype(np.uint8).tobytes()
    bounds = counts.indptr.tolist()
    return [buckets[4 * a:4 * b] + times[a:b] for a, b in pairwise(bounds)]


def unpack(packed: bytes) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The buckets (ascending) and counts of one text's packed terms."""
    size = len(packed) // 5
    return (np.frombuffer(packed, dtype="<u4", count=size).astype(np.int64),
            np.frombuffer(packed, dtype=np.uint8, offset=4 * size).astype(np.int64))


@cache
def _hashing() -> Any:
    """The hashing vectorizer, made once (scikit-learn loads only when terms are read)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=BUCKETS, alternate_sign=False, norm=None,
                             dtype=np.float64, **_ANALYSIS)
