"""A paper's terms: what recommendations read of it, counted once and stored.

The words and word pairs of a paper's title and abstract (accents folded, lower case,
English stop words left out, a word two or more letters, digits or underscores starting
with a letter), each hashed to one of ``BUCKETS`` buckets (scikit-learn's
``HashingVectorizer``, murmurhash3), with how often it occurs. ``pack`` keeps them as
one little-endian 32-bit number a term (the bucket in the high 20 bits, the count, at
most 4095, in the low 12), in bucket order: the store keeps that per paper
(``paper_features``), written when the paper is stored or its title or abstract
change, so that a pass's index is built from numbers, not from text.

``BUCKETS`` and the packing are a stored format: changing them means emptying
``paper_features`` (each paper's terms are made again when next needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["BUCKETS", "hashed", "paper_text", "unpack"]

BUCKETS = 2**20  # hashed term buckets: the high 20 bits of a packed term
_COUNT_BITS = 12
_MAX_COUNT = (1 << _COUNT_BITS) - 1
# What a term is, as the TF-IDF index read it before terms were stored.
_ANALYSIS: dict[str, Any] = {
    "strip_accents": "unicode", "lowercase": True, "stop_words": "english",
    "token_pattern": r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", "ngram_range": (1, 2)}


def paper_text(title: str, abstract: str) -> str:
    """What the terms are read from: a paper's title and abstract."""
    return f"{title}\n{abstract}"


def hashed(texts: Sequence[str]) -> list[bytes]:
    """The packed terms of each of ``texts`` (``pack``), one ``bytes`` a text."""
    if not texts:
        return []
    counts = _hashing().transform(texts).tocsr()
    counts.sort_indices()
    values = (counts.indices.astype(np.uint32) << _COUNT_BITS) | np.minimum(
        counts.data, _MAX_COUNT).astype(np.uint32)
    packed = values.astype("<u4").tobytes()
    bounds = (counts.indptr * 4).tolist()
    return [packed[bounds[i]:bounds[i + 1]] for i in range(len(texts))]


def unpack(packed: bytes) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The buckets (ascending) and counts of one text's packed terms."""
    values = np.frombuffer(packed, dtype="<u4").astype(np.int64)
    return values >> _COUNT_BITS, values & _MAX_COUNT


@cache
def _hashing() -> Any:
    """The hashing vectorizer, made once (scikit-learn loads only when terms are read)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=BUCKETS, alternate_sign=False, norm=None,
                             dtype=np.float64, **_ANALYSIS)
