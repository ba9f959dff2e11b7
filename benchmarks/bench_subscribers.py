"""Benchmark: what subscribers cost when they live in the database.

For each size N it makes a fresh SQLite database holding the seeds, imports N synthetic
subscribers with ``digest subscribers import`` (a JSON list, as an operator loads a big
list), adds a small group of 100 that share one send time, then times, as real commands:
``digest check`` (the file: defaults and sources only), ``digest status``, and one send
pass of the small group's job (what the bot runs at that group's send time), whose cost
must not grow with the N others. It also times ``digest check`` on a file that lists 5,000
subscribers itself (the old way; about 6 s before the YAML was read in one LibYAML pass).
Not a test: prints figures measured in one run.

    .venv/bin/python benchmarks/bench_subscribers.py [--sizes 100,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from digest.deliver import MailSettings
from digest.deliver.tokens import Tokens
from digest.deliver.transport import MaildirTransport
from digest.passes import send_pass
from digest.store import Store

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, 7, 30, tzinfo=UTC)
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Shanghai")
DEFAULTS = """\
defaults:
  cadence: weekly
  max_age_days: 400
subscribers: []
sources: []
"""


def digest(*args: str, env: dict[str, str]) -> float:
    """Seconds one ``digest`` command takes (it must succeed)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "digest", "-q", *args], cwd=ROOT, check=True,
                   env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def entries(count: int, rng: random.Random, prefix: str) -> list[dict[str, object]]:
    names = ["Maojiang Su", "Jiacheng Sun", "Jerry Yao-Chieh Hu", "Weimin Wu", "Han Liu"]
    words = ["flow matching", "diffusion", "language model", "agent", "reasoning"]
    return [{"email": f"{prefix}{i}@example.org", "authors": rng.sample(names, 2),
             "keywords": rng.sample(words, 2), "timezone": rng.choice(ZONES),
             "send_at": f"{rng.randrange(5, 11):02d}:{rng.choice((0, 30)):02d}",
             "day": rng.choice(("monday", "tuesday", "friday"))} for i in range(count)]


def measure(n: int, folder: Path) -> dict[str, float]:
    rng = random.Random(n)
    db = f"sqlite:///{folder / f'n{n}.db'}"
    config = folder / "subscriptions.yaml"
    config.write_text(DEFAULTS)
    env = {"DIGEST_DB": db, "DIGEST_CONFIG": str(config), "DIGEST_NOW": NOW.isoformat(),
           "DIGEST_MAILDIR": str(folder / f"mail{n}")}
    digest("ingest", str(ROOT / "seeds"), env=env)
    big = folder / f"list{n}.json"
    big.write_text(json.dumps({"subscribers": entries(n, rng, "s")}))
    figures = {"import": digest("subscribers", "import", str(big), env=env)}
    small = [{**e, "day": "monday", "send_at": "09:15", "timezone": "Europe/Berlin"}
             for e in entries(100, rng, "group")]
    group = folder / f"group{n}.json"
    group.write_text(json.dumps({"subscribers": small}))
    digest("subscribers", "import", str(group), env=env)
    figures["check"] = digest("check", env=env)
    figures["status"] = digest("status", env=env)
    store = Store(db)
    start = time.perf_counter()
    report = asyncio.run(send_pass(
        store, MaildirTransport(folder / f"mail{n}"), MailSettings.from_env(env),
        Tokens("bench"), lambda: NOW, groups=["weekly|monday|09:15|Europe/Berlin"]))
    figures["group pass"] = time.perf_counter() - start
    assert report.counts["sent"] == 100, report.counts
    return figures


def old_check(folder: Path) -> float:
    rng = random.Random(5)
    lines = ["defaults:", "  cadence: weekly", "subscribers:"]
    for e in entries(5000, rng, "f"):
        lines += [f"  - email: {e['email']}", f"    authors: {json.dumps(e['authors'])}",
                  f"    keywords: {json.dumps(e['keywords'])}",
                  f"    timezone: {e['timezone']}", f"    send_at: \"{e['send_at']}\""]
    path = folder / "five-thousand.yaml"
    path.write_text("\n".join(lines) + "\n")
    return digest("check", str(path), env={"DIGEST_DB": f"sqlite:///{folder / 'x.db'}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,100000",
                        help="database subscribers besides the group, comma-separated")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        folder = Path(tmp)
        results = {n: measure(n, folder) for n in sizes}
        five = old_check(folder)
    print(f"{'database subscribers':>22} " + " ".join(f"{k:>12}" for k in results[sizes[0]]))
    for n, figures in results.items():
        print(f"{n:>22,} " + " ".join(f"{v:>11.2f}s" for v in figures.values()))
    first, last = results[sizes[0]], results[sizes[-1]]
    for key in ("check", "status", "group pass"):
        print(f"{key}: {last[key] / first[key]:.2f}x from {sizes[0]:,} to {sizes[-1]:,}")
    print(f"digest check of a file listing 5,000 subscribers: {five:.2f}s")


if __name__ == "__main__":
    main()
