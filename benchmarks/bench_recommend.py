"""Benchmark: "Recommended for you" against every paper of 2026 in hf-daily, or a pass
over a stored archive.

Prints the time to build the TF-IDF index of all the papers (once per pass), the time per
subscriber who liked papers (their model trained and the candidates scored, inside
``Ranking.digest``), the same for subscribers who liked nothing (for comparison: they
cost nothing more), and 10,000 liking subscribers end to end. Subscribers like 10 papers
of a topic (an ``ai_keywords`` keyword, drawn with a fixed seed); every paper is young
enough (``max_age_days`` 3650), trending and rising are off. Not a test: machines here are
shared and noisy. The 10,000 take a few minutes.

    .venv/bin/python benchmarks/bench_recommend.py [DATA_DIR] [--subscribers N]

With ``--store DB`` (a store such as bench_archive.py builds: /work/archive-stores/800k.db),
a copy of it is upgraded and a pass at ``--now`` is measured as ``digest.plan`` runs it:
the papers that appeared in the ``--days`` before (a week: what a weekly pass reads), the
index fitted on their stored terms plus the rows of what the subscribers liked anywhere
in the last ``TASTE_DAYS`` (built twice: the first time makes the terms of papers stored
before they were kept), and each liking subscriber's digest; then the peak RSS.

    .venv/bin/python benchmarks/bench_recommend.py --store /work/archive-stores/800k.db \
        --now 2026-01-01 --days 7 --subscribers 500
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from quality_recommend import load  # beside this script

from digest import defaults
from digest.model import History, Paper, Subscriber
from digest.plan import taste, taste_ids
from digest.rank import Ranking
from digest.recommend import build_index
from digest.store import Store

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


def archive_likers(db: Path, now: datetime, count: int, rng: random.Random
                   ) -> list[Subscriber]:
    """``count`` subscribers each liking 10 papers of one of the 50 commonest topics
    among 20,000 papers drawn from the store's last ``TASTE_DAYS`` (read with sqlite3:
    the benchmark's own choice, not the product's reading)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        since = (now - timedelta(days=defaults.TASTE_DAYS)).strftime("%Y-%m-%d %H:%M:%S")
        until = now.strftime("%Y-%m-%d %H:%M:%S")
        rows = conn.execute("SELECT arxiv_id, keywords FROM papers WHERE arxiv_id IS NOT NULL "
                            "AND first_seen > ? AND first_seen <= ? ORDER BY random() "
                            "LIMIT 20000", (since, until)).fetchall()
    papers = [Paper(title="", arxiv_id=a, keywords=tuple(json.loads(k or "[]")))
              for a, k in rows]
    return subscribers(papers, count, rng)


def from_store(db: Path, now: datetime, days: int, count: int) -> None:
    """The pass's index and its liking subscribers, on a copy of the store ``db``."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "store.db"
        shutil.copyfile(db, copy)
        Store(f"sqlite:///{copy}", check=False).upgrade()
        store = Store(f"sqlite:///{copy}")
        subs = archive_likers(copy, now, count, random.Random(2026))
        start = time.perf_counter()
        papers = [p for p in store.papers(since=now - timedelta(days=days))
                  if p.first_seen and p.first_seen <= now]
        print(f"{store.count_papers():,} papers stored; the pass reads {len(papers):,} "
              f"(appeared in the {days} days to {now:%Y-%m-%d %H:%M}) in "
              f"{time.perf_counter() - start:.2f} s")
        liked = taste_ids(subs)
        for attempt in ("terms made for papers stored without them", "terms stored"):
            start = time.perf_counter()
            index = taste(store, now, papers, liked)
            print(f"index, {attempt}: {time.perf_counter() - start:.2f} s, "
                  f"{index.fitted:,} rows fitted (the pass's, and papers stored before a "
                  f"small one's) + {index.matrix.shape[0] - index.fitted:,} liked elsewhere "
                  f"x {index.matrix.shape[1]:,} terms")
        measure(Ranking(papers, now, taste=index), subs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:,.0f} MB")


def measure(ranking: Ranking, subs: list[Subscriber]) -> float:
    """Print the time of subscribers who liked nothing and of the liking ones; returns
    the liking ones' total seconds."""
    none = timed(ranking, [replace(s, likes=()) for s in subs[:200]])
    print(f"a subscriber who liked nothing: {statistics.median(none) * 1000:.2f} ms (median "
          f"of {len(none)})")
    start = time.perf_counter()
    times = timed(ranking, subs)
    total = time.perf_counter() - start
    print(f"a subscriber who liked {LIKES} papers: {statistics.median(times) * 1000:.1f} ms "
          f"median, {sorted(times)[int(len(times) * 0.95)] * 1000:.1f} ms 95th percentile")
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", default="../shared/data/hf-daily", type=Path)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--store", type=Path, help="a store to measure a pass on (copied)")
    parser.add_argument("--now", type=date.fromisoformat, default=date(2026, 1, 1))
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    if args.store is not None:
        if not args.store.is_file():
            sys.exit(f"{args.store}: no such store; bench_archive.py builds them")
        now = datetime.combine(args.now, datetime.min.time(), UTC)
        from_store(args.store, now, args.days, args.subscribers)
        return
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
    total = measure(ranking, subs)
    print(f"{len(subs):,} liking subscribers: {total:.1f} s "
          f"({len(subs) / total:.0f} a second), index included: {total + built:.1f} s")


if __name__ == "__main__":
    main()
