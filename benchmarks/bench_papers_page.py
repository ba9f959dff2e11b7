"""Benchmark: the Daily Papers page with a year of papers stored.

Setup (timed apart): a fresh SQLite database in a temp folder with every
../shared/data/hf-daily file ingested by ``digest ingest`` (3,740 papers, January to
August 2026), then ``digest serve`` (uvicorn) on a free loopback port, its clock just
after the newest day.

Measured: 50 requests each (after 3 to warm up, over one kept-alive connection) to the
fullest month's page (``/papers/month/2026-05``), the fullest day's, a search matching
hundreds of papers, and a paper's page; prints each one's median and p95 in ms and the
papers it holds. The goal is a month's page under 100 ms (median). With ``--profile
FILE``, the server runs under cProfile and the functions that took longest (cumulative)
are printed after the requests. Not a test: machines here are shared and noisy.

    .venv/bin/python benchmarks/bench_papers_page.py [--requests N] [--profile FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

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
                              str(port), "--now", NOW], env=env, cwd=ROOT,
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


def paths(client: httpx.Client, month: str, day: str) -> dict[str, str]:
    """The pages measured; the paper's is the month page's first card's."""
    first = re.search(r'class="title" href="(/papers/[^"]+)"',
                      client.get(f"/papers/month/{month}").text)
    assert first, "the month's page shows no paper"
    return {"month": f"/papers/month/{month}", "day": f"/papers/{day}",
            "search": "/papers?q=reinforcement+learning", "paper": first.group(1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--profile", help="run the server under cProfile, stats to FILE")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"no data at {DATA}")
    month, day = fullest(DATA)
    with tempfile.TemporaryDirectory(prefix="bench-papers-") as folder:
        env = {**os.environ, "DIGEST_DB": f"sqlite:///{folder}/digest.db",
               "DIGEST_SECRET": "bench", "DIGEST_ALLOW_LOCALHOST": "1"}
        print(f"ingest of {DATA}: {ingest(env):.1f} s")
        port = free_port()
        env["DIGEST_BASE_URL"] = f"http://127.0.0.1:{port}"
        child = serve(env, port, args.profile)
        try:
            with httpx.Client(base_url=env["DIGEST_BASE_URL"], timeout=30) as client:
                print(f"{'page':<8} {'median':>8} {'p95':>8} {'cards':>6}  (ms, "
                      f"{args.requests} requests each)")
                for name, path in paths(client, month, day).items():
                    report(name, path, *timed(client, path, args.requests))
        finally:
            child.send_signal(signal.SIGINT)
            child.wait(timeout=30)
    if args.profile:
        stats = pstats.Stats(args.profile).sort_stats("cumulative")
        stats.print_stats(r"digest|jinja2|sqlalchemy", 25)


if __name__ == "__main__":
    main()
