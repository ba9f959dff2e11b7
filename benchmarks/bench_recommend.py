"""Benchmark: "Recommended for you" against every paper of 2026 in hf-daily.

Prints the time to build the TF-IDF index of all the papers (once per pass), the time per
subscriber who liked papers (their model trained and the candidates scored, inside
``Ranking.digest``), the same for subscribers who liked nothing (for comparison: they
cost nothing more), and 10,000 liking subscribers end to end. Subscribers like 10 papers
of a topic (an ``ai_keywords`` keyword, drawn with a fixed seed); every paper is young
enough (``max_age_days`` 3650), trending and rising are off. Not a test: machines here are
shared and noisy. The 10,000 take a few minutes.

    .venv/bin/python benchmarks/bench_recommend.py [DATA_DIR] [--subscribers N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from quality_recommend import load  # beside this script

from digest.model import History, Paper, Subscriber
from digest.rank import Ranking
from digest.recommend import build_index

NOW = datetime(2026, 8, 22, tzinfo=UTC)
LIKES = 10


def stored(papers: list[Paper]) -> list[Paper]:
    """The papers as the store gives them back: with ids and a first-seen time."""
    return [replace(p, id=i + 1, first_seen=NOW) for i, p in enumerate(papers)]


def subscribers(papers: list[Paper], count: int, rng: random.Random) -> list[Subscriber]:
    """``count`` subscribers, each liking 10 papers of one of the 50 commonest topics."""
    counts = Counter(k.casefold() for p in papers for k in {x.casefold() for x in p.keywords})
    topics = [k for k, n in counts.most_common(50) if n >= LIKES]
    members = {k: [p.arxiv_id for p in papers if p.arxiv_id
                   and k in {x.casefold() for x in p.keywords}] for k in topics}
    return [Subscriber(f"s{i}@example.org", max_papers=20, trending=0, rising=0,
                       max_age_days=3650, likes=tuple(rng.sample(members[rng.choice(topics)],
                                                                 LIKES)))
            for i in range(count)]


def timed(ranking: Ranking, subs: list[Subscriber]) -> list[float]:
    """Seconds per subscriber's digest."""
    times = []
    for sub in subs:
        start = time.perf_counter()
        digest = ranking.digest(sub, History())
        times.append(time.perf_counter() - start)
        assert not sub.likes or digest.count("recommended") == sub.recommended
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", default="../shared/data/hf-daily", type=Path)
    parser.add_argument("--subscribers", type=int, default=10_000)
    args = parser.parse_args()
    if not any(args.data.glob("*.json")):
        sys.exit(f"{args.data}: no daily_papers files (*.json) here; this benchmark reads "
                 "../shared/data/hf-daily, or give the folder")
    papers = stored(load(args.data))
    start = time.perf_counter()
    index = build_index(papers)
    built = time.perf_counter() - start
    print(f"{len(papers)} papers; TF-IDF index {index.matrix.shape[0]} x "
          f"{index.matrix.shape[1]} terms built in {built:.2f} s")
    ranking = Ranking(papers, NOW, taste=index)
    subs = subscribers(papers, args.subscribers, random.Random(2026))
    none = timed(ranking, [replace(s, likes=()) for s in subs[:200]])
    print(f"a subscriber who liked nothing: {statistics.median(none) * 1000:.2f} ms (median "
          "of 200)")
    start = time.perf_counter()
    times = timed(ranking, subs)
    total = time.perf_counter() - start
    print(f"a subscriber who liked {LIKES} papers: {statistics.median(times) * 1000:.1f} ms "
          f"median, {sorted(times)[int(len(times) * 0.95)] * 1000:.1f} ms 95th percentile")
    print(f"{len(subs):,} liking subscribers: {total:.1f} s "
          f"({len(subs) / total:.0f} a second), index included: {total + built:.1f} s")


if __name__ == "__main__":
    main()
