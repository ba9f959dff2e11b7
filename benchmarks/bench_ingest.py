"""Benchmark: ingest all of ../shared/data/hf-daily (3,740 items) into a fresh SQLite file.

Prints wall time and items per second for a first ingest, a re-ingest of the same files
(all merges, no writes) and parsing alone, measured in the same run, with their ratios.
Not a test: machines here are shared and noisy.

    .venv/bin/python benchmarks/bench_ingest.py [DATA_DIR]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.ingest.manifest import FileSettings
from digest.ingest.runner import Job, ingest_file
from digest.store import Store

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "hf-daily"


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    files = sorted(data.glob("*.json"))
    if not files:
        sys.exit(f"no JSON files in {data}: pass the hf-daily folder as the argument")
    now = datetime.now(UTC)
    jobs = [Job(path, FileSettings()) for path in files]
    start = time.perf_counter()
    items = sum(len(parse(p.read_bytes(), ParseContext(p.name, now.date()))[1]) for p in files)
    parse_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        first_s = _timed(lambda: [ingest_file(store, job, now) for job in jobs])
        again_s = _timed(lambda: [ingest_file(store, job, now) for job in jobs])
        papers = store.count_papers()
    print(f"{len(files)} files, {items} items, {papers} distinct papers")
    for label, seconds in (("parse only", parse_s), ("first ingest", first_s),
                           ("re-ingest", again_s)):
        print(f"{label:>13}: {seconds:6.2f} s  {items / seconds:8.0f} items/s")
    print(f"first ingest / parse only: {first_s / parse_s:.1f}x; "
          f"re-ingest / first ingest: {again_s / first_s:.2f}x")


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
