"""Taste: papers like the ones a subscriber liked, as arxiv-sanity-lite finds them.

Pure: takes the papers' terms (``digest.terms``, as the store keeps them) and the liked
rows; no database, clock or global.

The index is a TF-IDF matrix over the terms of each paper's title and abstract (words
and word pairs, hashed; sublinear term frequency; rows of unit length), fitted on a
pass's papers (``index_of``): a term in fewer than two of them or in more than half is
left out, and of the rest the ``MAX_TERMS`` commonest are kept (with every term as
common as the last of them: which of equally common terms to drop would be the hash's
whim), each weighed by its inverse document frequency among them (smoothed, as
scikit-learn's). Papers outside the pass (liked ones, found in
the archive) are added as rows read with the same terms and weights
(``TasteIndex.extended``), so adding them changes nothing for anyone else. A
subscriber's model is a linear SVM (``LinearSVC``, classes weighted by their size, ``C``
small: a handful of likes against many others) trained on their liked papers against
their disliked ones and a sample of the pass's other papers, drawn with a fixed seed;
it scores the candidate papers, and the best ``k`` are recommended, each with the liked
paper it is most like (the largest cosine similarity). A subscriber costs the same
however many papers are stored: their likes, a thousand sampled rows and the pass's
candidates. Everything is learnt from the stored papers: no model or weights are
downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse
from sklearn import config_context
from sklearn.svm import LinearSVC

from digest import defaults, terms
from digest.model import Paper, Terms
from digest.terms import hashed, unpack
from digest.text import arxiv_key

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Pick", "TasteIndex", "build_index", "index_of", "paper_text", "recommend"]

# A few likes against a sample of hundreds: arxiv-sanity-lite's small C, balanced classes.
_C = 0.01
# A subscriber's candidates are sorted this many times ``k`` (and their likes) at first.
_WINDOW = 8
# The terms kept: in at least MIN_DF papers of the pass, at most MAX_DF of them, the
# MAX_TERMS commonest (by occurrences) of those, and the ties of the last.
MIN_DF = 2
MAX_DF = 0.5
MAX_TERMS = 20_000


@dataclass(frozen=True)
class Weights:
    """What the index keeps of the terms: the hashed buckets that are its columns
    (ascending: column ``i`` is ``buckets[i]``), and each one's inverse document
    frequency."""

    buckets: NDArray[np.int64] = field(compare=False)
    idf: NDArray[np.float64] = field(compare=False)

    def rows(self, packed: Sequence[bytes]) -> sparse.csr_matrix:
        """The TF-IDF rows of these packed terms (papers the weights were not fitted
        on; ``index_of`` makes the same of the fitted ones)."""
        buckets, counts, row_of = unpack(packed)
        cols = np.searchsorted(self.buckets, buckets)
        kept = self.buckets[np.minimum(cols, self.buckets.size - 1)] == buckets \
            if self.buckets.size else np.zeros(buckets.size, dtype=bool)
        return _tfidf(self.idf, row_of[kept], cols[kept], counts[kept], len(packed))


def _tfidf(idf: NDArray[np.float64], rows: NDArray[np.int64], cols: NDArray[np.int64],
           counts: NDArray[Any], size: int) -> sparse.csr_matrix:
    """``size`` rows of sublinear ``counts`` times the inverse document frequency at
    (``rows``, ``cols``), each of unit length (a paper with no kept term: all zeros)."""
    data = (1.0 + np.log(counts.astype(np.float64))) * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=size))
    data = (data / norms[rows]).astype(np.float32)  # half the memory a pass reads
    return sparse.csr_matrix((data, (rows, cols)), shape=(size, idf.size))


@dataclass(frozen=True)
class TasteIndex:
    """The TF-IDF rows of a pass's papers (and, for a small pass, of papers stored
    before them: the first ``fitted`` rows, whose terms made the ``weights``) and of
    papers added after (liked ones outside them):
    ``rows[i]`` is the paper with store id ``paper_ids[i]`` (None when not stored),
    arXiv key ``keys[i]`` ("" when none)."""

    matrix: sparse.csr_matrix
    paper_ids: tuple[int | None, ...]
    keys: tuple[str, ...]
    titles: tuple[str, ...]
    fitted: int
    weights: Weights
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

    def extended(self, more: Sequence[Terms]) -> TasteIndex:
        """This index with rows for the papers of ``more`` it lacks, read with its terms
        and weights (the fitted rows and their weights stay as they are)."""
        new = [t for t in {t.paper_id: t for t in more}.values()
               if t.paper_id is None or t.paper_id not in self.by_id]
        if not new:
            return self
        matrix = sparse.vstack([self.matrix, self.weights.rows([t.packed for t in new])],
                               format="csr")
        return TasteIndex(matrix, (*self.paper_ids, *(t.paper_id for t in new)),
                          (*self.keys, *(_key(t) for t in new)),
                          (*self.titles, *(t.title for t in new)), self.fitted, self.weights)


@dataclass(frozen=True)
class Pick:
    """A recommended ``row`` with its model ``score``, and the liked row it is most like."""

    row: int
    score: float
    like: int


def index_of(papers: Sequence[Terms]) -> TasteIndex:
    """The index fitted on the terms of ``papers`` (a pass's), in that order."""
    if len(papers) >= 1 << 24:
        raise ValueError("an index holds fewer than 16,777,216 papers")
    buckets, counts, row_of = unpack([t.packed for t in papers])
    # One sort of (bucket, paper, count) finds each term's papers and occurrences.
    terms = np.sort((buckets.astype(np.uint64) << np.uint64(32))
                    | (row_of.astype(np.uint64) << np.uint64(8)) | counts)
    bucket = (terms >> np.uint64(32)).astype(np.int64)
    starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]])) \
        if terms.size else np.zeros(0, dtype=np.int64)
    df = np.diff(np.append(starts, terms.size))
    occurrences = np.add.reduceat((terms & np.uint64(255)).astype(np.int64), starts) \
        if terms.size else df
    kept = _kept(df, occurrences, len(papers))
    weights = Weights(bucket[starts[kept]], np.log((1.0 + len(papers)) / (1.0 + df[kept]))
                      + 1.0)
    column = np.full(starts.size, -1, dtype=np.int64)
    column[kept] = np.arange(kept.size)
    cols = np.repeat(column, df)
    at = cols >= 0
    rows = ((terms[at] >> np.uint64(8)) & np.uint64(0xFFFFFF)).astype(np.int64)
    matrix = _tfidf(weights.idf, rows, cols[at], terms[at] & np.uint64(255), len(papers))
    return TasteIndex(matrix, tuple(t.paper_id for t in papers), tuple(_key(t) for t in papers),
                      tuple(t.title for t in papers), len(papers), weights)


def _kept(df: NDArray[np.int64], occurrences: NDArray[np.int64], papers: int
          ) -> NDArray[np.int64]:
    """Which of the terms (their document frequencies ``df`` and ``occurrences``, by
    ascending bucket) the index keeps, ascending."""
    kept = np.flatnonzero((df >= MIN_DF) & (df <= MAX_DF * papers))
    if kept.size > MAX_TERMS:  # and the terms as common as the last: no arbitrary cut
        least = -np.partition(-occurrences[kept], MAX_TERMS - 1)[MAX_TERMS - 1]
        kept = kept[occurrences[kept] >= least]
    return kept


def paper_text(paper: Paper) -> str:
    """What the index reads of a paper: its title and abstract."""
    return terms.paper_text(paper.title, paper.abstract)


def build_index(papers: Sequence[Paper], texts: Sequence[str] | None = None) -> TasteIndex:
    """The index of ``papers``, from their titles and abstracts or from ``texts`` (one a
    paper, for experiments that change the text)."""
    docs = list(texts) if texts is not None else [paper_text(p) for p in papers]
    return index_of([Terms(p.id, p.arxiv_id, p.title, packed)
                     for p, packed in zip(papers, hashed(docs), strict=True)])


def recommend(index: TasteIndex, liked: Sequence[int], disliked: Sequence[int],
              candidates: Sequence[int] | NDArray[np.int64], k: int, *, seed: int = 0,
              negatives: int = defaults.TASTE_NEGATIVES,
              wanted: Callable[[int], bool] | None = None) -> list[Pick]:
    """The best ``k`` of the ``candidates`` rows (those ``wanted`` says yes to, when
    given, asked best first) for someone who liked the ``liked`` rows and disliked the
    ``disliked`` ones, best first (ties: lower row); a liked row is never one. The model
    trains on the likes against the dislikes and ``negatives`` other fitted rows drawn
    with ``seed``. Returns nothing without a like, a candidate or a term to learn from."""
    cands = np.asarray(candidates, dtype=np.int64)
    if not liked or k <= 0 or cands.size == 0 or index.matrix.shape[1] == 0:
        return []
    pos, neg = _training_rows(index.fitted, liked, disliked, seed, negatives)
    if neg.size == 0:
        return []
    model = LinearSVC(class_weight="balanced", C=_C, max_iter=10_000, random_state=seed)
    with config_context(assume_finite=True, skip_parameter_validation=True):
        model.fit(index.matrix[np.concatenate([pos, neg])],
                  np.concatenate([np.ones(pos.size), np.zeros(neg.size)]))
    # every row scored at once: no copy of the candidates' rows
    weights = model.coef_.ravel().astype(np.float32)
    scores = (index.matrix @ weights)[cands] + np.float32(model.intercept_[0])
    best = _best(cands, scores, k, set(pos.tolist()), wanted)
    similar = (index.matrix[cands[best]] @ index.matrix[pos].T).toarray()
    return [Pick(int(cands[b]), float(scores[b]), int(pos[int(np.argmax(similar[i]))]))
            for i, b in enumerate(best)]


def _best(cands: NDArray[np.int64], scores: NDArray[np.float32], k: int, liked: set[int],
          wanted: Callable[[int], bool] | None) -> list[int]:
    """The places in ``cands`` of the best ``k`` by score (ties: lower row) that are not
    liked and are ``wanted``; only as many are asked as it takes."""
    best: list[int] = []
    for i in _best_first(cands, scores, _WINDOW * k + len(liked)):
        row = int(cands[i])
        if row not in liked and (wanted is None or wanted(row)):
            best.append(i)
            if len(best) == k:
                break
    return best


def _best_first(cands: NDArray[np.int64], scores: NDArray[np.float32], window: int
                ) -> Iterator[int]:
    """The places in ``cands`` best score first (ties: lower row): the first ``window``
    (and every tie of the last) sorted, the rest only if they are reached."""
    if cands.size <= window:
        yield from np.lexsort((cands, -scores)).tolist()
        return
    last = np.partition(scores, cands.size - window)[cands.size - window]
    for part in (np.flatnonzero(scores >= last), np.flatnonzero(scores < last)):
        yield from part[np.lexsort((cands[part], -scores[part]))].tolist()


def _training_rows(fitted: int, liked: Sequence[int], disliked: Sequence[int], seed: int,
                   negatives: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The positive rows, and the negative ones: the dislikes and a fixed-seed sample of
    the other fitted rows (never a liked or disliked row), found by drawing as many more
    as there are such rows and leaving them out, not by listing every row."""
    pos = np.asarray(list(dict.fromkeys(liked)), dtype=np.int64)
    taken = set(pos.tolist())
    bad = [d for d in dict.fromkeys(disliked) if d not in taken]
    left_out = taken | set(bad)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(fitted, size=min(fitted, negatives + len(left_out)), replace=False) \
        if fitted else np.zeros(0, dtype=np.int64)
    sample = [r for r in drawn.tolist() if r not in left_out][:negatives]
    return pos, np.concatenate([np.asarray(bad, dtype=np.int64),
                                np.sort(np.asarray(sample, dtype=np.int64))])


def _key(terms: Terms) -> str:
    return arxiv_key(terms.arxiv_id or "")
