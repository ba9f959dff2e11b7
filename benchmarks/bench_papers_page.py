"""Benchmark: the Daily Papers pages and the preferences page with a year of papers
stored, or with a given store.

Setup (timed apart): a fresh SQLite database in a temp folder with every
../shared/data/hf-daily file ingested by ``digest ingest`` (3,740 papers, January to
August 2026); or, with ``--db PATH``, a copy of that SQLite store (the file itself is
never written), upgraded to the code's schema (``digest db upgrade``, timed). Then a
subscriber in the database who follows the five names on most of the newest 2,000
papers (for ``/manage/TOKEN``), and ``digest serve`` (uvicorn) on a free loopback port,
its clock just after the newest day.

Measured: 50 requests each (after 3 to warm up, over one kept-alive connection) to
``/papers`` (the newest day), the newest (or, ingested, the fullest) day's, week's and
month's pages, a search matching hundreds of papers, a paper's page and the subscriber's
preferences page; prints each one's median and p95 in ms and the papers it holds. The
goal is a month's page under 100 ms (median), and medians that stay flat as the store
grows. With ``--profile FILE``, the server runs under cProfile and the functions that
took longest (cumulative) are printed after the requests. Not a test: machines here are
shared and noisy.

    .venv/bin/python benchmarks/bench_papers_page.py [--requests N] [--profile FILE]
    .venv/bin/python benchmarks/bench_papers_page.py --db /work/archive-stores/800k.db
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "hf-daily"
NOW = "2026-08-22T12:00:00+00:00"


def fullest(data: Path) -> tuple[str, str]:
    """The month and the day with the most papers in ``data``."""
    months: Counter[str] = Counter()
    days: Counter[str] = Counter()
    for path in data.glob("*.json"):
        count = len(json.loads(path.read_text()))
        months[path.stem[:7]] += count
        days[path.stem] += count
    return months.most_common(1)[0][0], days.most_common(1)[0][0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ingest(env: dict[str, str]) -> float:
    """Every hf-daily file into the database; returns the seconds it took."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "digest", "ingest", str(DATA), "--now", NOW],
                   env=env, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def serve(env: dict[str, str], port: int, profile: str | None) -> subprocess.Popen[bytes]:
    """``digest serve`` on ``port`` (under cProfile with ``profile``), once it answers."""
    prefix = ["-m", "cProfile", "-o", profile] if profile else []
    child = subprocess.Popen([sys.executable, *prefix, "-m", "digest", "serve", "--port",
                              str(port)], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return child
        except httpx.TransportError:
            time.sleep(0.1)
    child.kill()
    raise SystemExit("digest serve did not answer within 60 s")


def timed(client: httpx.Client, path: str, count: int) -> tuple[list[float], int]:
    """Milliseconds of ``count`` GETs of ``path`` (after 3 unmeasured), and the cards the
    page holds."""
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        page = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert page.status_code == 200
    return times, page.text.count('class="card"')


def report(name: str, path: str, times: list[float], cards: int) -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(f"{name:<8} {statistics.median(times):8.1f} {p95:8.1f} {cards:6d}  {path}")


def paths(client: httpx.Client, day: str, manage: str) -> dict[str, str]:
    """The pages measured; the paper's is the month page's first card's."""
    year, week, _ = date.fromisoformat(day).isocalendar()
    first = re.search(r'class="title" href="(/papers/[^"]+)"',
                      client.get(f"/papers/month/{day[:7]}").text)
    assert first, "the month's page shows no paper"
    return {"papers": "/papers", "day": f"/papers/{day}",
            "week": f"/papers/week/{year}-W{week:02d}", "month": f"/papers/month/{day[:7]}",
            "search": "/papers?q=reinforcement+learning", "paper": first.group(1),
            "manage": f"/manage/{manage}"}


def digest(env: dict[str, str], *args: str) -> str:
    """Run ``digest *args``; its standard output."""
    return subprocess.run([sys.executable, "-m", "digest", *args], env=env, check=True,
                          capture_output=True, text=True, cwd=ROOT).stdout


def copied(path: Path, folder: str, env: dict[str, str]) -> tuple[float, str]:
    """``path`` copied into ``folder`` and upgraded to the code's schema: the seconds the
    upgrade took, and the newest day with papers."""
    shutil.copyfile(path, f"{folder}/digest.db")
    started = time.perf_counter()
    digest(env, "db", "upgrade")
    took = time.perf_counter() - started
    store = project_store(env)
    (newest,) = store.days_before(date(9999, 1, 1))
    store.engine.dispose()
    return took, newest.isoformat()


def project_store(env: dict[str, str]) -> Any:
    """The benchmarked database, opened with the project's own code."""
    sys.path.insert(0, str(ROOT))
    from digest.store import Store

    return Store(env["DIGEST_DB"])


def reader(env: dict[str, str]) -> str:
    """A subscriber in the database following the five names on most of the last 2,000
    papers stored; their preferences page's token."""
    from digest.deliver.tokens import Tokens

    store = project_store(env)
    count = store.count_papers()
    last = store.papers_by_id(range(count - 2000, count + 1)).values()
    names = Counter(a for p in last for a in p.authors).most_common(5)
    digest(env, "subscribers", "add", "bench@example.org",
           *(arg for name, _ in names for arg in ("--author", name)))
    record = store.record(email="bench@example.org")
    assert record is not None
    store.engine.dispose()
    return str(Tokens(env["DIGEST_SECRET"]).make_bare("manage", record.ref))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--profile", help="run the server under cProfile, stats to FILE")
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help="measure a copy of this SQLite store instead of ingesting")
    args = parser.parse_args()
    if args.db is None and not DATA.is_dir():
        raise SystemExit(f"no data at {DATA}")
    if args.db is not None and not args.db.is_file():
        raise SystemExit(f"no store at {args.db}")
    with tempfile.TemporaryDirectory(prefix="bench-papers-") as folder:
        env = {**os.environ, "DIGEST_DB": f"sqlite:///{folder}/digest.db",
               "DIGEST_SECRET": "bench", "DIGEST_ALLOW_LOCALHOST": "1"}
        if args.db is None:
            print(f"ingest of {DATA}: {ingest(env):.1f} s")
            day, now = fullest(DATA)[1], NOW
        else:
            took, day = copied(args.db, folder, env)
            now = f"{day}T23:00:00+00:00"
            print(f"copy of {args.db} upgraded in {took:.1f} s; newest day {day}")
        env["DIGEST_NOW"] = now
        manage = reader(env)
        port = free_port()
        env["DIGEST_BASE_URL"] = f"http://127.0.0.1:{port}"
        child = serve(env, port, args.profile)
        try:
            with httpx.Client(base_url=env["DIGEST_BASE_URL"], timeout=60) as client:
                print(f"{'page':<8} {'median':>8} {'p95':>8} {'cards':>6}  (ms, "
                      f"{args.requests} requests each)")
                for name, path in paths(client, day, manage).items():
                    report(name, path, *timed(client, path, args.requests))
        finally:
            child.send_signal(signal.SIGINT)
            child.wait(timeout=30)
    if args.profile:
        stats = pstats.Stats(args.profile).sort_stats("cumulative")
        stats.print_stats(r"digest|jinja2|sqlalchemy", 25)


if __name__ == "__main__":
    main()
