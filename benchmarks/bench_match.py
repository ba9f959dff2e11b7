"""Benchmark: 10,000 synthetic subscribers matched against every paper in hf-daily.

Subscribers' authors and keywords are sampled from the real data (author names and
ai_keywords of ../shared/data/hf-daily). Prints the indexed matcher's time, a naive
subscriber x paper loop's time on a sample extrapolated to all subscribers, and the ratio,
measured in the same run; it also checks that both find the same matches on the sample.
Not a test: machines here are shared and noisy.

    .venv/bin/python benchmarks/bench_match.py [DATA_DIR] [--subscribers N] [--sample N]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.match import (
    STRONG,
    Matcher,
    evidence,
    lead_words,
    loose,
    named_words,
    plural_forms,
    words,
)
from digest.model import Paper, Subscriber
from digest.rank import plan_digests
from digest.text import name_key

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "hf-daily"


def load(data: Path) -> list[Paper]:
    papers: dict[str, Paper] = {}
    seen = datetime(2026, 8, 21, tzinfo=UTC)
    for path in sorted(data.glob("*.json")):
        for p in parse(path.read_bytes(), ParseContext(path.name, seen.date()))[1]:
            papers.setdefault(p.arxiv_id or p.title, p)
    return [Paper(**{**p.__dict__, "id": i, "first_seen": seen}) for i, p in
            enumerate(papers.values(), 1)]


def synthetic(papers: list[Paper], count: int, rng: random.Random) -> list[Subscriber]:
    names = sorted({a for p in papers for a in p.authors})
    keywords = sorted({k for p in papers for k in p.keywords})
    return [Subscriber(
        f"s{i}@example.org", cadence=rng.choice(["daily", "weekly"]), max_age_days=365,
        authors=tuple(rng.sample(names, rng.randint(0, 5))),
        keywords=tuple(rng.sample(keywords, rng.randint(1, 5))),
        exclude=tuple(rng.sample(keywords, rng.randint(0, 1)))) for i in range(count)]


def naive_hits(sub: Subscriber, paper: Paper) -> bool:
    """The loop the index replaces: does ``sub`` follow anything in ``paper``? A keyword
    counts when its places (word for word, or with one extra word inside) add up to
    ``STRONG`` evidence, by the same points as the matcher."""
    keys = {name_key(a) for a in paper.all_authors}
    if any(name_key(a) in keys for a in sub.authors):
        return True
    texts = [words(paper.title), words(paper.abstract), *(words(k) for k in paper.keywords)]
    lead, named = lead_words(paper.abstract), named_words(paper.abstract)
    for keyword in sub.keywords:
        tokens = words(keyword)
        if not tokens:
            continue
        forms = {(*tokens[:-1], f) for f in plural_forms(tokens[-1])}
        places = []
        for rank, text in enumerate(texts):
            for i in range(len(text)):
                if tuple(text[i : i + len(tokens)]) in forms:
                    places.append((rank, i, False))
                elif any(w in forms for w in loose(tuple(text[i : i + len(tokens) + 1]))):
                    places.append((rank, i, True))
        if evidence(places, lead, named) >= STRONG:
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=25)
    args = parser.parse_args()
    papers = load(args.data)
    if not papers:
        raise SystemExit(f"no papers in {args.data}: pass the hf-daily folder")
    subs = synthetic(papers, args.subscribers, random.Random(7))

    start = time.perf_counter()
    matcher = Matcher(subs)
    pairs: set[tuple[int, int | None]] = set()
    for paper in papers:
        hits = matcher.scan(paper)
        pairs.update((i, paper.id) for i in hits.authors.keys() | hits.keywords.keys())
    indexed = time.perf_counter() - start

    sample = range(args.sample)
    start = time.perf_counter()
    naive_pairs = {(i, p.id) for i in sample for p in papers if naive_hits(subs[i], p)}
    naive_sample = time.perf_counter() - start
    naive_all = naive_sample * len(subs) / len(sample)
    assert naive_pairs == {(i, pid) for i, pid in pairs if i in sample}, "results differ"

    now = datetime(2026, 8, 21, 12, tzinfo=UTC) + timedelta(hours=1)
    start = time.perf_counter()
    digests = plan_digests(subs, papers, {}, now)
    planned = time.perf_counter() - start

    print(f"{len(subs)} subscribers, {len(papers)} papers, {len(pairs)} matches "
          f"({sum(len(d.items) for d in digests)} papers planned into digests)")
    print(f"indexed match, all subscribers: {indexed:8.2f} s")
    print(f"naive loop, {len(sample)} subscribers:  {naive_sample:8.2f} s "
          f"(extrapolated to {len(subs)}: {naive_all:.0f} s)")
    print(f"speed-up: {naive_all / indexed:.0f}x (same matches on the sample: yes)")
    print(f"plan all digests (match + due + rank + trending): {planned:.2f} s")


if __name__ == "__main__":
    main()
