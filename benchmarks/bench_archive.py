"""Benchmark: a store grown to 800,000 papers (issue 38), measured at 4k/100k/400k/800k.

The stores (built once, cached in /work/archive-stores/ as 4k.db, 100k.db, 400k.db,
800k.db with stores.json saying how and from which commit; ``--rebuild`` builds them again):

- 4k.db holds the real papers alone: every ../shared/data/hf-daily file (3,740 items of
  2026) read by the product's ingest (``ingest_file``), each file at 23:00 UTC of its own
  day, so first_seen is that day.
- The bigger stores add synthetic papers through the product's ``Store.save_papers`` (the
  tables, authors, upvote snapshots and search index filled as an ingest fills them), one
  call per synthetic day of 2,200 papers, at 23:00 UTC of that day. Synthetic paper k is a
  copy of real item k mod 3,740 (authors, abstract, keywords, upvotes, organization, code
  links copied) with a fresh arXiv-style id 27MM.NNNNN (MM = 01 + k // 100,000, a range no
  real id reaches before 2027), its title followed by " (archive copy k)" (so that copies
  do not merge by title, and a title key loads one row as in a real archive), published and
  featured on its day, and source ``archive-YYYY-MM-DD.json``. Day 0 is 2025-12-31, the
  day before the real data starts, and the days go back from there: 100k covers
  2025-11-18..2025-12-31, 800k goes back to 2025-01-01 (365 days). The bigger stores are
  copies of the smaller ones with more days added.

The measurements (each on a copy of the cached store, upgraded with ``digest db upgrade``
to the checked-out code's schema, in a child process with a timeout and an address-space
cap, peak RSS from the child's rusage) are described by ``--help`` and printed with what
they measured. Not a test: machines here are shared and noisy.

    .venv/bin/python benchmarks/bench_archive.py [--sizes 4k,100k,400k,800k]
        [--only build,plan,likes,taste,ingest,check,papers,pages] [--rebuild]
        [--timeout S] [--memory-gb G]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.ingest.manifest import FileSettings
from digest.ingest.runner import Job, ingest_file
from digest.model import Paper
from digest.store import Store

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "hf-daily"
STORES = Path("/work/archive-stores")
PROGRESS = Path("/work/tasks/archive.progress")
SIZES = {"4k": 0, "100k": 100_000, "400k": 400_000, "800k": 800_000}
PER_DAY = 2200
DAY_ZERO = date(2025, 12, 31)  # the newest synthetic day; older days go back from it
SYNTHETIC_PREFIX = "27"


# ---- the stores -------------------------------------------------------------------------

def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def progress(text: str) -> None:
    """A milestone, for the other engineers polling /work/tasks/archive.progress."""
    say(text)
    try:
        with PROGRESS.open("a") as out:
            out.write(f"{datetime.now(UTC):%H:%M} {text}\n")
    except OSError:
        pass


def real_papers() -> list[tuple[str, list[Paper]]]:
    """Every hf-daily file's papers, by file name, as the parser reads them."""
    return [(p.name, parse(p.read_bytes(), ParseContext(p.name, date.fromisoformat(p.stem)))[1])
            for p in sorted(DATA.glob("*.json"))]


def evening(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 0, tzinfo=UTC)


def synthetic_id(k: int) -> str:
    """The fresh arXiv-style id of synthetic paper ``k``: 2701.00000 onwards."""
    return f"{SYNTHETIC_PREFIX}{k // 100_000 + 1:02d}.{k % 100_000:05d}"


def synthetic(real: list[Paper], k: int, day: date) -> Paper:
    """Synthetic paper ``k``: a copy of a real item with a fresh id, title and day."""
    model = real[k % len(real)]
    return replace(model, arxiv_id=synthetic_id(k), title=f"{model.title} (archive copy {k})",
                   published=day, featured=day, sources=(f"archive-{day}.json",), doi=None,
                   id=None, first_seen=None)


def synthetic_day(real: list[Paper], index: int, start: int, stop: int) -> tuple[date, list[Paper]]:
    """Synthetic day ``index`` (0 = DAY_ZERO, 1 the day before...): its papers numbered
    ``start`` up to ``stop`` (at most PER_DAY of them)."""
    day = DAY_ZERO - timedelta(days=index)
    return day, [synthetic(real, k, day) for k in range(start, stop)]


def build_4k(path: Path) -> float:
    """The real papers alone, read by ``ingest_file`` each at its own day's evening."""
    started = time.perf_counter()
    store = Store(f"sqlite:///{path}")
    for file in sorted(DATA.glob("*.json")):
        report = ingest_file(store, Job(file, FileSettings()), evening(date.fromisoformat(file.stem)))
        if report.error:
            sys.exit(f"ingest of {file} failed: {report.error}")
    store.engine.dispose()
    return time.perf_counter() - started


def grow(path: Path, real: list[Paper], have: int, want: int) -> float:
    """Add synthetic papers ``have`` up to ``want`` to the store at ``path``, a day's worth
    per ``save_papers`` call; returns the seconds it took."""
    started = time.perf_counter()
    store = Store(f"sqlite:///{path}")
    k = have
    while k < want:
        index = k // PER_DAY
        stop = min(want, (index + 1) * PER_DAY)
        day, papers = synthetic_day(real, index, k, stop)
        store.save_papers(papers, source=f"archive-{day}.json", fmt="hf-json", now=evening(day))
        k = stop
        if index % 10 == 0:
            say(f"  {path.name}: {k:,} synthetic papers ({day}), "
                f"{time.perf_counter() - started:.0f} s")
    store.engine.dispose()
    return time.perf_counter() - started


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "digest"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout.strip()
    return done.stdout.strip() + (" (digest/ modified)" if dirty else "")


def store_head(path: Path) -> str:
    store = Store(f"sqlite:///{path}", check=False)
    at = store.revision()[0] or "?"
    store.engine.dispose()
    return at


def build_stores(sizes: list[str], rebuild: bool) -> dict[str, Path]:
    """The cached stores named in ``sizes`` (and the smaller ones they grow from), built
    when missing or with ``rebuild``."""
    STORES.mkdir(parents=True, exist_ok=True)
    meta_path = STORES / "stores.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and not rebuild else {}
    wanted = [n for n in SIZES if SIZES[n] <= max(SIZES[s] for s in sizes)]
    real = [p for _, ps in real_papers() for p in ps]
    previous: Path | None = None
    for name in wanted:
        path = STORES / f"{name}.db"
        if path.exists() and not rebuild and name in meta:
            previous = path
            continue
        tmp = STORES / f".{name}.building.db"
        tmp.unlink(missing_ok=True)
        if previous is None:
            seconds = build_4k(tmp)
            how = "every hf-daily file by ingest_file, each at 23:00 UTC of its day"
        else:
            tmp.write_bytes(previous.read_bytes())
            have = meta[previous.stem]["synthetic"]
            want = SIZES[name] - len(real)
            seconds = grow(tmp, real, have, want)
            how = (f"{previous.name} plus synthetic papers {have:,}..{want - 1:,} by "
                   f"Store.save_papers, {PER_DAY} a day back from {DAY_ZERO}")
        tmp.rename(path)
        store = Store(f"sqlite:///{path}", check=False)
        count = store.count_papers()
        store.engine.dispose()
        meta[name] = {"file": str(path), "papers": count,
                      "synthetic": max(0, SIZES[name] - len(real)) if previous else 0,
                      "how": how, "seconds": round(seconds, 1), "commit": commit(),
                      "schema": store_head(path), "built": datetime.now(UTC).isoformat(),
                      "bytes": path.stat().st_size}
        meta["about"] = __doc__.split("\n\n")[1]
        meta_path.write_text(json.dumps(meta, indent=1))
        progress(f"{name}.db ready at {path}: {count:,} papers, schema {meta[name]['schema']}, "
                 f"built in {seconds:.0f} s")
        previous = path
    return {n: STORES / f"{n}.db" for n in sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4k,100k,400k,800k")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if unknown := [s for s in sizes if s not in SIZES]:
        sys.exit(f"--sizes: unknown size {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    build_stores(sizes, args.rebuild)


if __name__ == "__main__":
    main()
