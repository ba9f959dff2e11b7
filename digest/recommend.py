"""Taste: papers like the ones a subscriber liked, as arxiv-sanity-lite finds them.

Pure: takes the papers (or their texts) and the liked rows; no database, clock or global.

The index is a TF-IDF matrix over each paper's title and abstract (words and word pairs,
sublinear term frequency, English stop words left out, a term in fewer than two papers or
in more than half of them left out, rows of unit length), built once per pass
(``build_index``). A subscriber's model is a linear SVM (``LinearSVC``, classes weighted
by their size, ``C`` small: a handful of likes against many others) trained on their liked
papers against their disliked ones and a sample of the other papers, drawn with a fixed
seed; it scores the candidate papers, and the best ``k`` are recommended, each with the
liked paper it is most like (the largest cosine similarity). Everything is learnt from
the stored papers: no model or weights are downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from digest import defaults
from digest.model import Paper
from digest.text import arxiv_key

__all__ = ["Pick", "TasteIndex", "build_index", "recommend"]

# A few likes against a sample of hundreds: arxiv-sanity-lite's small C, balanced classes.
_C = 0.01


@dataclass(frozen=True)
class TasteIndex:
    """The TF-IDF rows of a pass's papers: ``rows[i]`` is the paper with store id
    ``paper_ids[i]`` (None when not stored), arXiv key ``keys[i]`` ("" when none)."""

    matrix: sparse.csr_matrix
    paper_ids: tuple[int | None, ...]
    keys: tuple[str, ...]
    titles: tuple[str, ...]
    by_key: dict[str, int] = field(init=False, repr=False, compare=False)
    by_id: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {k: i for i, k in enumerate(self.keys) if k})
        object.__setattr__(self, "by_id", {p: i for i, p in enumerate(self.paper_ids)
                                           if p is not None})

    def rows(self, arxiv_ids: Sequence[str]) -> list[int]:
        """The rows of these arXiv ids, each once, in order; unknown ids left out."""
        found: dict[int, None] = {}
        for a in arxiv_ids:
            row = self.by_key.get(arxiv_key(a))
            if row is not None:
                found[row] = None
        return list(found)

    def row_of(self, paper_id: int | None) -> int | None:
        return None if paper_id is None else self.by_id.get(paper_id)


@dataclass(frozen=True)
class Pick:
    """A recommended ``row`` with its model ``score``, and the liked row it is most like."""

    row: int
    score: float
    like: int


def paper_text(paper: Paper) -> str:
    """What the index reads of a paper: its title and abstract."""
    return f"{paper.title}\n{paper.abstract}"


def build_index(papers: Sequence[Paper], texts: Sequence[str] | None = None) -> TasteIndex:
    """The index of ``papers``, from their titles and abstracts or from ``texts`` (one a
    paper, for experiments that change the text)."""
    docs = list(texts) if texts is not None else [paper_text(p) for p in papers]
    vectorizer = TfidfVectorizer(
        strip_accents="unicode", lowercase=True, stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
        max_features=20_000, sublinear_tf=True, min_df=2, max_df=0.5)
    try:
        matrix = vectorizer.fit_transform(docs) if docs else sparse.csr_matrix((0, 0))
    except ValueError:  # too few papers to keep any term: nothing is like anything
        matrix = sparse.csr_matrix((len(docs), 0))
    return TasteIndex(sparse.csr_matrix(matrix), tuple(p.id for p in papers),
                      tuple(arxiv_key(p.arxiv_id or "") for p in papers),
                      tuple(p.title for p in papers))


def recommend(index: TasteIndex, liked: Sequence[int], disliked: Sequence[int],
              candidates: Sequence[int], k: int, *, seed: int = 0,
              negatives: int = defaults.TASTE_NEGATIVES) -> list[Pick]:
    """The best ``k`` of the ``candidates`` rows for someone who liked the ``liked`` rows
    and disliked the ``disliked`` ones, best first (ties: lower row). The model trains on
    the likes against the dislikes and ``negatives`` other rows drawn with ``seed``.
    Returns nothing without a like, a candidate or a term to learn from."""
    cands = np.setdiff1d(np.asarray(candidates, dtype=np.int64), np.asarray(liked))
    if not liked or k <= 0 or cands.size == 0 or index.matrix.shape[1] == 0:
        return []
    pos, neg = _training_rows(index.matrix.shape[0], liked, disliked, seed, negatives)
    if neg.size == 0:
        return []
    x = index.matrix[np.concatenate([pos, neg])]
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    model = LinearSVC(class_weight="balanced", C=_C, max_iter=10_000, random_state=seed)
    model.fit(x, y)
    scores = np.asarray(model.decision_function(index.matrix[cands]), dtype=np.float64)
    best = np.lexsort((cands, -scores))[:k]
    similar = (index.matrix[cands[best]] @ index.matrix[pos].T).toarray()
    return [Pick(int(cands[b]), float(scores[b]), int(pos[int(np.argmax(similar[i]))]))
            for i, b in enumerate(best)]


def _training_rows(size: int, liked: Sequence[int], disliked: Sequence[int], seed: int,
                   negatives: int) -> tuple[np.ndarray, np.ndarray]:
    """The positive rows, and the negative ones: the dislikes and a fixed-seed sample of
    the rest (never a liked row)."""
    pos = np.asarray(list(dict.fromkeys(liked)), dtype=np.int64)
    taken = set(pos.tolist())
    bad = [d for d in dict.fromkeys(disliked) if d not in taken]
    rest = np.setdiff1d(np.arange(size), np.asarray([*taken, *bad], dtype=np.int64))
    rng = np.random.default_rng(seed)
    sample = rng.choice(rest, size=min(negatives, rest.size), replace=False) \
        if rest.size else rest
    return pos, np.concatenate([np.asarray(bad, dtype=np.int64), np.sort(sample)])
