"""How good "Recommended for you" is, offline, on the real papers of 2026.

For each of 20 topics (the most common ``ai_keywords`` of the Hugging Face data, each
keyword a topic, its papers those that list it), a simulated subscriber likes 10 papers of
the topic, drawn with a fixed seed. The keyword itself is taken out of every title and
abstract first (so the model cannot just find the word), the index is built over all
papers, and the model's top 20 among the papers not liked are counted: how many are papers
of the topic. Baselines: 20 papers drawn at random, and the 20 most upvoted. Prints a table
per topic and the means.

    .venv/bin/python benchmarks/quality_recommend.py [../shared/data/hf-daily]

Takes about half a minute (one index per topic).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np

from digest.ingest.common import ParseContext
from digest.ingest.hf_json import parse_hf_json
from digest.model import Paper
from digest.recommend import build_index, paper_text, recommend

TOPICS = 20
LIKES = 10
TOP = 20
SEED = 2026


def load(folder: Path) -> list[Paper]:
    """Every paper of the folder's daily files, each once (by arXiv id)."""
    found: dict[str, Paper] = {}
    for path in sorted(folder.glob("*.json")):
        ctx = ParseContext(path.name, date.fromisoformat(path.stem))
        for p in parse_hf_json(path.read_text(encoding="utf-8"), ctx):
            found.setdefault(p.arxiv_id or p.title, p)
    return list(found.values())


def topics(papers: list[Paper]) -> list[str]:
    """The most common keywords (by papers that list them), each a topic."""
    counts = Counter(k.casefold() for p in papers for k in {x.casefold() for x in p.keywords})
    return [k for k, _ in counts.most_common(TOPICS)]


def without(text: str, keyword: str) -> str:
    """``text`` with every occurrence of ``keyword`` (and its plural) taken out."""
    return re.sub(rf"(?i)\b{re.escape(keyword)}(e?s)?\b", " ", text)


def measure(papers: list[Paper], keyword: str, rng: np.random.Generator
            ) -> tuple[int, float, float, float]:
    """Topic size, and how many of the top 20 are of the topic: model, random, upvoted."""
    members = [i for i, p in enumerate(papers) if keyword in {k.casefold() for k in p.keywords}]
    liked = sorted(rng.choice(members, size=LIKES, replace=False).tolist())
    index = build_index(papers, [without(paper_text(p), keyword) for p in papers])
    rest = [i for i in range(len(papers)) if i not in set(liked)]
    topic = set(members)
    model = [pick.row for pick in recommend(index, liked, [], rest, TOP)]
    drawn = rng.choice(rest, size=TOP, replace=False).tolist()
    upvoted = sorted(rest, key=lambda i: (-(papers[i].upvotes or 0), i))[:TOP]
    hits = [float(sum(i in topic for i in rows)) for rows in (model, drawn, upvoted)]
    return len(members), hits[0], hits[1], hits[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default="../shared/data/hf-daily", type=Path,
                        help="a folder of Hugging Face daily_papers files")
    folder = parser.parse_args().data
    if not any(folder.glob("*.json")):
        sys.exit(f"{folder}: no daily_papers files (*.json) here; this benchmark reads "
                 "../shared/data/hf-daily, or give the folder")
    papers = load(folder)
    rng = np.random.default_rng(SEED)
    print(f"{len(papers)} papers; {LIKES} likes per topic; papers of the topic "
          f"in the top {TOP}")
    print(f"{'topic':<34} {'papers':>6} {'model':>6} {'random':>6} {'upvoted':>7}")
    rows = []
    for keyword in topics(papers):
        size, model, drawn, upvoted = measure(papers, keyword, rng)
        rows.append((model, drawn, upvoted))
        print(f"{keyword[:34]:<34} {size:>6} {model:>6.0f} {drawn:>6.0f} {upvoted:>7.0f}")
    means = np.mean(np.asarray(rows), axis=0)
    print(f"{'mean of ' + str(len(rows)) + ' topics':<34} {'':>6} {means[0]:>6.1f} "
          f"{means[1]:>6.1f} {means[2]:>7.1f}  (of {TOP})")


if __name__ == "__main__":
    main()
