"""Benchmark: a store grown to 800,000 papers (issue 38), measured at 4k/100k/400k/800k.

The stores (built once, cached in /work/archive-stores/ as 4k.db, 100k.db, 400k.db,
800k.db with stores.json saying how and from which commit; ``--rebuild`` builds them again):

- 4k.db holds the real papers alone: every ../shared/data/hf-daily file (3,740 items of
  2026) read by the product's ingest (``ingest_file``), each file at 23:00 UTC of its own
  day, so first_seen is that day.
- The bigger stores add synthetic papers through the product's ``Store.save_papers`` (the
  tables, authors, upvote snapshots and search index filled as an ingest fills them), one
  call per synthetic day, at 23:00 UTC of that day. Synthetic paper k is a copy of real
  item k mod 3,740 (authors, abstract, keywords, upvotes, organization, code links copied)
  with a fresh arXiv-style id 27MM.NNNNN (MM = 01 + k // 100,000, a range no real id
  reaches before 2027), its title followed by " (archive copy k)" (so that copies do not
  merge by title, and a title key loads one row as in a real archive), published and
  featured on its day, and source ``archive-YYYY-MM-DD.json``. Its day is the (k mod 365)-th
  of the 365 days up to the newest real day (2025-08-22..2026-08-21), so every store
  spreads its synthetic papers evenly over the last year, mixed with the real ones: 800k
  holds ~2,190 a day (~15,300 a week, the week's ingest of a big archive), 400k ~1,085,
  100k ~265. The bigger stores are copies of the smaller ones with more papers added to
  every day (each addition written oldest day first, so row ids follow first_seen within
  it but not across additions).

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
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx

from digest.deliver.tokens import Tokens
from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.ingest.manifest import FileSettings
from digest.ingest.runner import Job, ingest_file
from digest.model import Paper
from digest.store import Store

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "hf-daily"
STORES = ROOT.parent / "archive-stores"  # beside the checkout: an 800k store is 4.3 GB
PROGRESS = Path("/work/tasks/archive.progress")
LAYOUTS = ("spread", "behind")  # where the synthetic papers' days are (module docstring)
BEHIND_NEWEST = date(2025, 12, 31)  # "behind": the newest synthetic day, before the real
PER_DAY = 2_200  # "behind": synthetic papers a day, back from BEHIND_NEWEST
SIZES = {"4k": 0, "100k": 100_000, "400k": 400_000, "800k": 800_000}
DAYS = 365  # the synthetic papers' days: the year up to the newest real day
NEWEST = date(2026, 8, 21)  # the newest real day (hf-daily)
SYNTHETIC_PREFIX = "27"
SUBSCRIBERS = 2000
LIKES = 10
REPEAT = 30  # digests timed for the liking subscriber, and for them without likes
IMPORT_AT = datetime(2026, 8, 10, 12, 0, tzinfo=UTC)
FIRST_AT = datetime(2026, 8, 17, 8, 0, tzinfo=UTC)  # a Monday: the steady state's pass
SEND_AT = datetime(2026, 8, 24, 8, 0, tzinfo=UTC)  # the measured pass, a week later
WEEK = 15_000  # a week's new papers, as synthetic papers 900,000 onwards (ids 2710.*)
WEEK_FIRST = 900_000
SECRET = "bench-secret"
CONFIG = "defaults:\n  cadence: weekly\nsubscribers: []\nsources: []\n"


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
    """Synthetic day ``index`` (0 = NEWEST, 1 the day before, ... DAYS - 1): its papers
    among those numbered ``start`` up to ``stop`` (every DAYS-th)."""
    day = NEWEST - timedelta(days=index)
    first = start + (index - start) % DAYS
    return day, [synthetic(real, k, day) for k in range(first, stop, DAYS)]


def build_4k(path: Path) -> float:
    """The real papers alone, read by ``ingest_file`` each at its own day's evening."""
    started = time.perf_counter()
    store = Store(f"sqlite:///{path}")
    for file in sorted(DATA.glob("*.json")):
        day = date.fromisoformat(file.stem)
        report = ingest_file(store, Job(file, FileSettings()), evening(day))
        if report.error:
            sys.exit(f"ingest of {file} failed: {report.error}")
    store.engine.dispose()
    return time.perf_counter() - started


def grow(path: Path, real: list[Paper], have: int, want: int, layout: str) -> float:
    """Add synthetic papers ``have`` up to ``want`` to the store at ``path``, a day's share
    per ``save_papers`` call; returns the seconds it took."""
    if layout == "behind":
        return grow_behind(path, real, have, want)
    started = time.perf_counter()
    store = Store(f"sqlite:///{path}")
    for index in reversed(range(DAYS)):
        day, papers = synthetic_day(real, index, have, want)
        if papers:
            store.save_papers(papers, source=f"archive-{day}.json", fmt="hf-json",
                              now=evening(day))
        if index % 30 == 0:
            say(f"  {path.name}: {day} done, {time.perf_counter() - started:.0f} s")
    store.engine.dispose()
    return time.perf_counter() - started


def grow_behind(path: Path, real: list[Paper], have: int, want: int) -> float:
    """The "behind" layout: synthetic papers ``have`` up to ``want``, PER_DAY a day, paper k
    on the (k // PER_DAY)-th day back from BEHIND_NEWEST (before the real papers)."""
    started = time.perf_counter()
    store = Store(f"sqlite:///{path}")
    for k in range(have, want, PER_DAY):
        day = BEHIND_NEWEST - timedelta(days=k // PER_DAY)
        papers = [synthetic(real, j, day) for j in range(k, min(want, k + PER_DAY))]
        store.save_papers(papers, source=f"archive-{day}.json", fmt="hf-json",
                          now=evening(day))
    store.engine.dispose()
    return time.perf_counter() - started


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "digest"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout.strip()
    return done.stdout.strip() + (" (digest/ modified)" if dirty else "")


def code_commit() -> str:
    """The last commit of the code measured (digest/), '+' when digest/ is modified."""
    done = subprocess.run(["git", "log", "-1", "--format=%h", "--", "digest"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() + ("+" if "modified" in commit() else "")


def store_head(path: Path) -> str:
    store = Store(f"sqlite:///{path}", check=False)
    at = store.revision()[0] or "?"
    store.engine.dispose()
    return at


def stores_of(layout: str) -> Path:
    """Where the cached stores of ``layout`` are."""
    return STORES if layout == "spread" else STORES / layout


def build_stores(sizes: list[str], rebuild: bool, layout: str) -> dict[str, Path]:
    """The cached stores named in ``sizes`` (and the smaller ones they grow from), built
    when missing or with ``rebuild``."""
    where = stores_of(layout)
    where.mkdir(parents=True, exist_ok=True)
    meta_path = where / "stores.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and not rebuild else {}
    wanted = [n for n in SIZES if SIZES[n] <= max(SIZES[s] for s in sizes)]
    real = [p for _, ps in real_papers() for p in ps]
    previous: Path | None = None
    for name in wanted:
        path = where / f"{name}.db"
        if path.exists() and not rebuild and name in meta:
            previous = path
            continue
        tmp = where / f".{name}.building.db"
        for leftover in (tmp, *(Path(f"{tmp}{end}") for end in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)  # (a stale WAL would corrupt the new copy)
        if previous is None:
            seconds = build_4k(tmp)
            how = "every hf-daily file by ingest_file, each at 23:00 UTC of its day"
        else:
            tmp.write_bytes(previous.read_bytes())
            have = meta[previous.stem]["synthetic"]
            want = SIZES[name] - len(real)
            seconds = grow(tmp, real, have, want, layout)
            how = (f"{previous.name} plus synthetic papers {have:,}..{want - 1:,} by "
                   f"Store.save_papers, " + (
                       f"spread over the {DAYS} days up to {NEWEST}" if layout == "spread"
                       else f"{PER_DAY} a day back from {BEHIND_NEWEST}"))
        tmp.rename(path)
        store = Store(f"sqlite:///{path}", check=False)
        count = store.count_papers()
        store.engine.dispose()
        meta[name] = {"file": str(path), "papers": count,
                      "synthetic": max(0, SIZES[name] - len(real)) if previous else 0,
                      "how": how, "seconds": round(seconds, 1), "commit": commit(),
                      "schema": store_head(path), "built": datetime.now(UTC).isoformat(),
                      "bytes": path.stat().st_size}
        meta["about"] = " ".join(__doc__.split("\n\nThe measurements")[0].split())
        meta_path.write_text(json.dumps(meta, indent=1))
        progress(f"{name}.db ready at {path}: {count:,} papers, schema {meta[name]['schema']}, "
                 f"built in {seconds:.0f} s")
        previous = path
    return {n: where / f"{n}.db" for n in sizes}


# ---- subscribers -------------------------------------------------------------------------

def plain(text: str) -> bool:
    """What ``digest check`` accepts as an author or keyword (as bench_fanout)."""
    return 0 < len(text) <= 300 and not any(
        unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def subscribers(variant: str, count: int = SUBSCRIBERS, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` weekly subscribers sharing one send time (Monday 08:00 UTC), each following
    1-3 real author names and 1-3 real ``ai_keywords`` (seeded, as bench_fanout makes them);
    ``likes``: each liked 10 real papers of one of the 50 commonest keywords (as
    bench_recommend), default age limit; ``age400``: ``max_age_days`` 400, no likes."""
    rng = random.Random(seed)
    real = [p for _, ps in real_papers() for p in ps]
    names = sorted({a for p in real for a in p.authors if plain(a)})
    keywords = sorted({k for p in real for k in p.keywords if plain(" ".join(k.split()))})
    counts = Counter(k.casefold() for p in real for k in {x.casefold() for x in p.keywords})
    topics = [k for k, n in counts.most_common(50) if n >= LIKES]
    liked = {k: sorted({p.arxiv_id for p in real if p.arxiv_id
                        and k in {x.casefold() for x in p.keywords}}) for k in topics}
    people = []
    for i in range(count):
        one: dict[str, Any] = {
            "email": f"fan{i}@example.org", "name": f"Reader {i}", "cadence": "weekly",
            "day": "monday", "send_at": "08:00", "timezone": "UTC",
            "authors": rng.sample(names, rng.randint(1, 3)),
            "keywords": rng.sample(keywords, rng.randint(1, 3)),
            "max_papers": 20, "trending": 5}
        if variant == "likes":
            one["likes"] = rng.sample(liked[rng.choice(topics)], LIKES)
        else:
            one["max_age_days"] = 400
        people.append(one)
    return people


# ---- running children ------------------------------------------------------------------

@dataclass
class Run:
    """One measured child: wall seconds, peak RSS (MB), its exit status and output."""

    seconds: float
    rss_mb: float
    code: int
    out: str
    err: str
    status: str  # "ok", "exit N", "killed at N GB", "timeout after N s"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def result(self) -> dict[str, Any]:
        """The JSON object the child printed last (our child scripts print one)."""
        for line in reversed(self.out.splitlines()):
            try:
                found = json.loads(line)
            except ValueError:
                continue
            if isinstance(found, dict):
                return found
        return {}


def capped(gb: float) -> Callable[[], None]:
    """What a child runs before exec: an address-space cap of ``gb`` GB."""
    def limit() -> None:
        cap = int(gb * 1024 ** 3)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return limit


def run(command: list[str], env: dict[str, str], cwd: Path, timeout: float, gb: float,
        check: bool = False) -> Run:
    """Run ``command`` with the memory cap; wall time and peak RSS (wait4's rusage)."""
    out, err = cwd / "child.out", cwd / "child.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=stderr,
                                preexec_fn=capped(gb))
        timed_out = False
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - start > timeout:
                    proc.kill()
                    timed_out = True
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
        except BaseException:  # interrupted: leave no child running
            proc.kill()
            raise
        seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    text, problem = out.read_text(errors="replace"), err.read_text(errors="replace")
    if timed_out:
        state = f"timeout after {timeout:.0f} s"
    elif code != 0 and any(m in problem for m in ("MemoryError", "Cannot allocate memory",
                                                  "std::bad_alloc", "Unable to allocate")):
        state = f"killed at {gb:g} GB"
    elif code < 0:
        state = f"killed by signal {-code}"
    elif code != 0 and check:
        state = f"exit {code}"
    else:
        state = "ok"
    if state != "ok":
        shown = "a child script" if command[1] == "-c" else " ".join(command[1:5])
        say(f"  {shown} ({cwd}): {state}: ...{problem.strip()[-300:]}")
    return Run(seconds, usage.ru_maxrss / 1024, code, text, problem, state)


def digest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "digest", *args]


def child(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


# The pass's planning stage alone: plan_due as `digest send` calls it, recording the plans.
PLAN_CHILD = """
import json, sys, time
from datetime import datetime
from digest.plan import plan_due
from digest.store import Store
store = Store(sys.argv[1])
now = datetime.fromisoformat(sys.argv[2])
start = time.perf_counter()
_, counts = plan_due(store, now, keep=False)
print(json.dumps({"seconds": time.perf_counter() - start, "counts": dict(counts)}))
"""

# As a pass does it: the papers new since the subscriber's digest a week before
# (digest.plan.read_papers from rank.new_since, with the rising ones), the index of
# recommendations fitted on them (digest.plan.taste, with the liked papers' rows), then
# one liking subscriber's digest (Ranking.digest) against the same subscriber without
# likes, REPEAT times each.
LIKES_CHILD = """
import json, statistics, sys, time
from dataclasses import replace
from datetime import datetime
from digest.model import History, Subscriber
from digest.plan import momentum, read_papers, taste, taste_ids
from digest.rank import Ranking, new_since
from digest.store import Store
store = Store(sys.argv[1])
now = datetime.fromisoformat(sys.argv[2])
spec = json.loads(sys.argv[3])
repeat = int(sys.argv[4])
history = History(last_digest_at=datetime.fromisoformat(sys.argv[5]))
sub = Subscriber(spec["email"], cadence="weekly", day="monday", send_at="08:00",
                 max_papers=20, trending=5, authors=tuple(spec["authors"]),
                 keywords=tuple(spec["keywords"]), likes=tuple(spec["likes"]))
start = time.perf_counter()
rising = momentum(store, now)
papers = [p for p in read_papers(store, new_since(sub, history.last_digest_at, now),
                                 {m.paper_id for m in rising})
          if p.first_seen and p.first_seen <= now]
ranking = Ranking(papers, now, rising)
setup_s = time.perf_counter() - start
start = time.perf_counter()
index = taste(store, now, ranking.papers, taste_ids([sub]))
taste_s = time.perf_counter() - start
ranking.use_taste(index)
def times(who):
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        d = ranking.digest(who, history)
        out.append(time.perf_counter() - t)
    return out, d
liking, d = times(sub)
plain, _ = times(replace(sub, likes=()))
def p95(xs):
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * 0.95))]
print(json.dumps({"taste_s": taste_s, "setup_s": setup_s, "papers": len(papers),
                  "liking_median": statistics.median(liking), "liking_p95": p95(liking),
                  "plain_median": statistics.median(plain), "plain_p95": p95(plain),
                  "recommended": d.count("recommended")}))
"""


# ---- one size ----------------------------------------------------------------------------

@dataclass
class Figures:
    """What one size measured: name -> (value, unit, peak RSS MB or None, note)."""

    size: str
    papers: int
    rows: dict[str, tuple[float | None, str, float | None, str]] = field(default_factory=dict)

    def add(self, name: str, value: float | None, unit: str, rss: float | None = None,
            note: str = "") -> None:
        self.rows[name] = (value, unit, rss, note)
        shown = "-" if value is None else f"{value:.3f} {unit}"
        say(f"  [{self.size}] {name}: {shown}" + (f", peak RSS {rss:.0f} MB" if rss else "")
            + (f" ({note})" if note else ""))


class Bench:
    """The measurements of one size, each on a copy of its cached store."""

    def __init__(self, args: argparse.Namespace, size: str, cached: Path, folder: Path) -> None:
        self.args, self.size, self.cached, self.folder = args, size, cached, folder
        store = Store(f"sqlite:///{cached}", check=False)
        self.figures = Figures(size, store.count_papers())
        store.engine.dispose()

    def wanted(self, what: str) -> bool:
        return self.args.only is None or what in self.args.only

    def copy(self, label: str) -> tuple[Path, dict[str, str]]:
        """A copy of the cached store in its own folder, upgraded to the code's schema,
        with the environment of every digest command run on it."""
        folder = self.folder / label
        folder.mkdir()
        db = folder / "digest.db"
        started = time.perf_counter()
        shutil.copyfile(self.cached, db)
        config = folder / "subscriptions.yaml"
        config.write_text(CONFIG)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        env.update(DIGEST_DB=f"sqlite:///{db}", DIGEST_CONFIG=str(config),
                   DIGEST_SECRET=SECRET, DIGEST_BASE_URL="http://127.0.0.1:8000",
                   DIGEST_MAILDIR=str(folder / "maildir"), DIGEST_ALLOW_LOCALHOST="1",
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        upgraded = self.run(digest_cmd("db", "upgrade"), env, folder, check=True)
        if not upgraded.ok:
            sys.exit(f"digest db upgrade failed on {db}: {upgraded.err[-2000:]}")
        say(f"  [{self.size}] copy {label}: {time.perf_counter() - started:.0f} s "
            f"({upgraded.out.strip()[-200:]})")
        return db, env

    def run(self, command: list[str], env: dict[str, str], cwd: Path,
            check: bool = False) -> Run:
        return run(command, env, cwd, self.args.timeout, self.args.memory_gb, check)

    def subscribed(self, variant: str, env: dict[str, str], folder: Path) -> Path:
        """The variant's 2,000 subscribers imported; their file (JSON, a valid YAML
        subscriptions file too)."""
        people = folder / f"{variant}.yaml"
        people.write_text(json.dumps({"subscribers": subscribers(variant)},
                                     ensure_ascii=False))
        done = self.run(digest_cmd("subscribers", "import", str(people), "--now",
                                   IMPORT_AT.isoformat()), env, folder, check=True)
        if not done.ok:
            sys.exit(f"digest subscribers import failed: {done.out[-1000:]}{done.err[-2000:]}")
        return people

    def passes(self, variant: str) -> tuple[Path, dict[str, str], Path]:
        """The variant's steady state (a first pass a week before, recorded), then the
        measured pass; returns the copy, its environment and the subscribers' file."""
        db, env = self.copy(variant)
        people = self.subscribed(variant, env, db.parent)
        url = env["DIGEST_DB"]
        if self.wanted("plan"):
            first = self.run(child(PLAN_CHILD, url, FIRST_AT.isoformat()), env, db.parent,
                             check=True)
            note = "" if first.ok else f"first pass {first.status}: no history"
            second = self.run(child(PLAN_CHILD, url, SEND_AT.isoformat()), env, db.parent,
                              check=True)
            found = second.result()
            counts = found.get("counts", {})
            self.figures.add(f"plan {variant}", found.get("seconds") if second.ok else None,
                             "s", second.rss_mb, ", ".join(filter(None, [
                                 second.status if not second.ok else
                                 f"{sum(v for k, v in counts.items() if k != 'already')} "
                                 f"plans {counts}", note,
                                 f"first pass {first.result().get('seconds', 0):.1f} s "
                                 f"{first.rss_mb:.0f} MB" if first.ok else ""])))
        return db, env, people

    def likes(self, env: dict[str, str], folder: Path) -> None:
        spec = subscribers("likes", 1, seed=11)[0]
        done = self.run(child(LIKES_CHILD, env["DIGEST_DB"], SEND_AT.isoformat(),
                              json.dumps(spec), str(REPEAT), FIRST_AT.isoformat()),
                        env, folder, check=True)
        found = done.result()
        if not done.ok or not found:
            self.figures.add("taste index", None, "s", done.rss_mb, done.status)
            self.figures.add("liking subscriber", None, "ms", None, done.status)
            return
        self.figures.add("taste index", found["taste_s"], "s", done.rss_mb,
                         "digest.plan.taste over the pass's papers, as a pass fits it")
        extra = (found["liking_median"] - found["plain_median"]) * 1000
        self.figures.add("liking subscriber", found["liking_median"] * 1000, "ms", None,
                         f"Ranking.digest median of {REPEAT}, p95 "
                         f"{found['liking_p95'] * 1000:.1f} ms; without likes "
                         f"{found['plain_median'] * 1000:.2f} ms, so recommending costs "
                         f"{extra:.2f} ms; {found['recommended']} recommended, "
                         f"{found['papers']} papers ranked")

    def check(self, env: dict[str, str], folder: Path, people: Path) -> None:
        done = self.run(digest_cmd("check", str(people), "--now", SEND_AT.isoformat()),
                        env, folder)
        self.figures.add("check", done.seconds if done.ok else None, "s", done.rss_mb,
                         f"exit {done.code}" if done.ok else done.status)

    def papers(self, env: dict[str, str], folder: Path) -> None:
        helped = self.run(digest_cmd("papers", "--help"), env, folder).out
        limited = "--limit" in helped
        if limited:
            done = self.run(digest_cmd("papers", "--limit", "100"), env, folder, check=True)
            self.figures.add("papers --limit 100", done.seconds if done.ok else None, "s",
                             done.rss_mb, done.status if not done.ok else "")
        if not limited or self.size == "4k":
            done = self.run(digest_cmd("papers"), env, folder, check=True)
            note = "" if limited else "n/a (no --limit): the whole listing instead; "
            self.figures.add("papers (all)", done.seconds if done.ok else None, "s",
                             done.rss_mb, note + (done.status if not done.ok else
                                                  f"{done.out.count(chr(10)):,} lines"))

    def ingest(self, env: dict[str, str], folder: Path) -> None:
        """A week of 15,000 new papers: seven daily_papers files after the store's newest
        day, each read by ``digest ingest`` at its day's evening."""
        week = folder / "week"
        week.mkdir()
        items = raw_items()
        total, rss, states = 0.0, 0.0, []
        for n in range(7):
            day = SEND_AT.date() - timedelta(days=2) + timedelta(days=n)
            first = WEEK_FIRST + n * WEEK // 7
            last = WEEK_FIRST + (n + 1) * WEEK // 7
            path = week / f"{day}.json"
            path.write_text(json.dumps([fresh_item(items, k, day) for k in range(first, last)]))
            done = self.run(digest_cmd("ingest", str(path), "--now", evening(day).isoformat()),
                            env, folder, check=True)
            total += done.seconds
            rss = max(rss, done.rss_mb)
            if not done.ok:
                states.append(done.status)
        self.figures.add("week ingest", None if states else total, "s", rss,
                         ", ".join(states) or f"{WEEK:,} papers in 7 files, 7 digest ingest runs")

    def pages(self, env: dict[str, str], folder: Path) -> None:
        port = free_port()
        env = {**env, "DIGEST_BASE_URL": f"http://127.0.0.1:{port}"}
        store = Store(env["DIGEST_DB"])
        ref = store.members(only="fan0@example.org")[0].subscriber.ref
        store.engine.dispose()
        server = subprocess.Popen(digest_cmd("serve", "--port", str(port), "--now",
                                             SEND_AT.isoformat()),
                                  env=env, cwd=folder, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, preexec_fn=capped(
                                      self.args.memory_gb))
        try:
            if not answering(port, server):
                self.figures.add("pages", None, "ms", None, "digest serve did not answer")
                return
            month, day = fullest()
            paths = {"/papers": "/papers", "day": f"/papers/{day}",
                     "month": f"/papers/month/{month}",
                     "old month": f"/papers/month/{NEWEST - timedelta(days=300):%Y-%m}",
                     "search": "/papers?q=reinforcement+learning",
                     "manage": f"/manage/{Tokens(SECRET).make('manage', ref)}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                for name, path in paths.items():
                    times, code = page_times(client, path, self.args.requests)
                    self.figures.add(f"page {name}", statistics.median(times) if times
                                     else None, "ms", None,
                                     f"HTTP {code}" if code != 200 else
                                     f"median of {len(times)}, p95 {p95(times):.1f} ms")
        finally:
            server.send_signal(signal.SIGINT)
            try:
                _, status, usage = os.wait4(server.pid, 0)
                server.returncode = os.waitstatus_to_exitcode(status)
                self.figures.add("serve peak RSS", usage.ru_maxrss / 1024, "MB")
            except ChildProcessError:
                pass

    def all(self) -> Figures:
        if any(self.wanted(w) for w in ("plan", "likes", "taste", "check", "papers", "pages")):
            db, env, people = self.passes("likes")
            if self.wanted("likes") or self.wanted("taste"):
                self.likes(env, db.parent)
            if self.wanted("check"):
                self.check(env, db.parent, people)
            if self.wanted("papers"):
                self.papers(env, db.parent)
            if self.wanted("pages"):
                self.pages(env, db.parent)
            shutil.rmtree(db.parent)
        if self.wanted("plan") or self.wanted("ingest"):
            db, env, _ = self.passes("age400")
            if self.wanted("ingest"):
                self.ingest(env, db.parent)
            shutil.rmtree(db.parent)
        return self.figures


# ---- the pages and the week's files -------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answering(port: int, server: subprocess.Popen[bytes], wait: float = 120) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.2)
    return False


def page_times(client: httpx.Client, path: str, count: int) -> tuple[list[float], int]:
    """Milliseconds of ``count`` GETs of ``path`` after 2 unmeasured; [] and the status
    when it does not answer 200."""
    for _ in range(2):
        page = client.get(path)
        if page.status_code != 200:
            return [], page.status_code
    times = []
    for _ in range(count):
        started = time.perf_counter()
        page = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    return times, page.status_code


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def fullest() -> tuple[str, str]:
    """The month and the day with the most real papers (as bench_papers_page)."""
    months: Counter[str] = Counter()
    days: Counter[str] = Counter()
    for path in DATA.glob("*.json"):
        count = len(json.loads(path.read_text()))
        months[path.stem[:7]] += count
        days[path.stem] += count
    return months.most_common(1)[0][0], days.most_common(1)[0][0]


def raw_items() -> list[dict[str, Any]]:
    """Every real daily_papers item, as the files hold it."""
    return [item for path in sorted(DATA.glob("*.json")) for item in json.loads(path.read_text())]


def fresh_item(items: list[dict[str, Any]], k: int, day: date) -> dict[str, Any]:
    """A daily_papers item for synthetic paper ``k`` (as ``synthetic``: a real item's copy
    with a fresh id and title, published and featured on ``day``)."""
    item: dict[str, Any] = json.loads(json.dumps(items[k % len(items)]))
    paper = item.setdefault("paper", {})
    stamp = f"{day}T06:00:00.000Z"
    title = f"{paper.get('title') or item.get('title')} (archive copy {k})"
    paper.update(id=synthetic_id(k), title=title, publishedAt=stamp, submittedOnDailyAt=stamp)
    item.update(title=title, publishedAt=stamp)
    return item


# ---- output ------------------------------------------------------------------------------

def table(f: Figures) -> str:
    lines = [f"== {f.size}: {f.papers:,} papers ==",
             f"{'measure':<22} {'value':>12} {'peak RSS':>10}  note"]
    for name, (value, unit, rss, note) in f.rows.items():
        shown = "-" if value is None else f"{value:.1f} {unit}" if unit != "s" else \
            f"{value:.2f} {unit}"
        lines.append(f"{name:<22} {shown:>12} {f'{rss:.0f} MB' if rss else '':>10}  {note}")
    return "\n".join(lines)


def growth(all_figures: list[Figures]) -> str:
    """Each measure at every size and its growth: each size over the previous, and the
    largest over the smallest."""
    if len(all_figures) < 2:
        return ""
    names = [n for n in all_figures[0].rows if all(n in f.rows for f in all_figures)]
    head = " ".join(f"{f.size:>10}" for f in all_figures)
    lines = [f"== growth ({all_figures[-1].size} / {all_figures[0].size}) ==",
             f"{'measure':<22} {head}  {'ratio':>8}  per step"]
    for name in names:
        values = [f.rows[name][0] for f in all_figures]
        cells = " ".join(f"{'-' if v is None else f'{v:.2f}':>10}" for v in values)
        steps = [f"{b / a:.2f}x" if a and b else "-" for a, b in pairwise(values)]
        first, last = values[0], values[-1]
        ratio = f"{last / first:.2f}x" if first and last else "-"
        lines.append(f"{name:<22} {cells}  {ratio:>8}  {' '.join(steps)}")
    return "\n".join(lines)


def verdicts(all_figures: list[Figures]) -> str:
    """PASS/FAIL against the issue's bars, at the largest size measured."""
    small = next((f for f in all_figures if f.size == "4k"), None)
    big = all_figures[-1]
    lines = [f"== the issue's bars at {big.size} =="]

    def value(f: Figures | None, name: str) -> tuple[float | None, float | None, str]:
        if f is None or name not in f.rows:
            return None, None, "not measured"
        v, _, rss, note = f.rows[name]
        return v, rss, note

    for variant in ("likes", "age400"):
        v, rss, note = value(big, f"plan {variant}")
        base, _, _ = value(small, f"plan {variant}")
        if v is None:
            lines.append(f"FAIL plan {variant}: {note[:120]}")
            continue
        ok = base is not None and v <= 2 * base and rss is not None and rss < 1536
        lines.append(f"{'PASS' if ok else 'FAIL'} plan {variant}: {v:.2f} s "
                     f"(<= 2 x {base if base is not None else float('nan'):.2f} s) and peak "
                     f"{rss or 0:.0f} MB (< 1,536 MB)")
    for name, bar, unit in (("liking subscriber", 50.0, "ms"), ("week ingest", 30.0, "s"),
                            ("check", 10.0, "s")):
        v, _, note = value(big, name)
        if v is None:
            lines.append(f"FAIL {name}: {note[:120]}")
        else:
            lines.append(f"{'PASS' if v < bar else 'FAIL'} {name}: {v:.2f} {unit} "
                         f"(< {bar:g} {unit})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4k,100k,400k,800k",
                        help="stores to measure, smallest first (4k, 100k, 400k, 800k)")
    parser.add_argument("--only", type=lambda s: set(s.split(",")),
                        help="build (the stores only), plan, likes, taste, ingest, check, "
                             "papers, pages (comma-separated; default: all)")
    parser.add_argument("--rebuild", action="store_true", help="build the cached stores again")
    parser.add_argument("--layout", choices=LAYOUTS, default="behind",
                        help="behind: the archive grows behind the same recent weeks (the "
                             "issue's bars); spread: a year of papers at the store's rate, "
                             "so that the measured week holds ~15,000 at 800k (default: "
                             "behind)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    parser.add_argument("--memory-gb", type=float, default=8,
                        help="address-space cap of each measured child (RLIMIT_AS)")
    parser.add_argument("--requests", type=int, default=20, help="GETs per page")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the copies go (an 800k copy is several GB)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the children go too (run)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if unknown := [s for s in sizes if s not in SIZES]:
        sys.exit(f"--sizes: unknown size {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    sizes.sort(key=lambda s: SIZES[s])
    known = {"build", "plan", "likes", "taste", "ingest", "check", "papers", "pages"}
    if args.only and (unknown := sorted(args.only - known)):
        sys.exit(f"--only: unknown {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    stores = build_stores(sizes, args.rebuild, args.layout)
    if args.only == {"build"}:
        return
    print(f"bench_archive ({args.layout} layout) at {commit()} (digest/ at "
          f"{code_commit()}): {SUBSCRIBERS:,} weekly subscribers, pass at "
          f"{SEND_AT.isoformat()} after one at {FIRST_AT.isoformat()}; cap "
          f"{args.memory_gb:g} GB, timeout {args.timeout:.0f} s",
          flush=True)
    measured = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix=f"archive-{size}-", dir=args.tmp) as folder:
            say(f"measuring {size}")
            figures = Bench(args, size, stores[size], Path(folder)).all()
        measured.append(figures)
        print(table(figures), flush=True)
        saved(figures, args.layout)
    measured = earlier(measured, args.layout)
    print(growth(measured))
    print(verdicts(measured))


def saved(figures: Figures, layout: str) -> None:
    """Keep a size's figures in <the layout's stores>/results/<commit of digest/>-<size>.json,
    for growth across runs of the same code."""
    results = stores_of(layout) / "results"
    results.mkdir(parents=True, exist_ok=True)
    name = f"{code_commit()}-{figures.size}.json"
    (results / name).write_text(json.dumps({"size": figures.size, "papers": figures.papers,
                                            "rows": figures.rows}, indent=1))


def earlier(measured: list[Figures], layout: str) -> list[Figures]:
    """``measured`` and, for the sizes this run left out, what an earlier run of the same
    code (digest/ at the same commit, unmodified) saved, smallest size first."""
    have = {f.size for f in measured}
    more = []
    for size in SIZES:
        path = stores_of(layout) / "results" / f"{code_commit()}-{size}.json"
        if size not in have and path.exists() and not code_commit().endswith("+"):
            found = json.loads(path.read_text())
            more.append(Figures(size, found["papers"], {k: tuple(v) for k, v in
                                                        found["rows"].items()}))
            say(f"{size}: figures of an earlier run at this commit ({path})")
    return sorted([*measured, *more], key=lambda f: SIZES[f.size])


if __name__ == "__main__":
    main()
