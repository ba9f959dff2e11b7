"""Benchmark: what a hostile source costs `digest ingest --hf-date` in its own process.

For each answer of tests/hostileserver.py (a 1 GiB gzip bomb, a 50 MB JSON page, a body
trickled a byte every 0.2 s against a 3 s DIGEST_HTTP_DEADLINE, the worst 16 MiB page:
empty JSON objects) and for a sound 1 MB page, prints the exit code, the wall time (a
Python start included) and the process's peak resident memory. Not a test: machines here
are shared and noisy; tests/test_fetch_bounds.py holds the bounds.

    .venv/bin/python benchmarks/bench_hostile_fetch.py
"""

from __future__ import annotations

import sys
import tempfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def empty_objects(handler: BaseHTTPRequestHandler) -> None:
    from tests.hostileserver import send_body

    count = (16 * 1024 * 1024 - 2) // 3
    send_body(handler, b"[" + b"{}," * (count - 1) + b"{}]")


def main() -> None:
    sys.path.insert(0, str(ROOT))  # the tests' servers and measuring
    from tests.hostileserver import HostileServer, bomb, huge, trickle
    from tests.test_fetch_bounds import DAY, ingest

    cases = [("sound 1 MB page", huge(1), {}), ("1 GiB gzip bomb", bomb, {}),
             ("50 MB JSON page", huge(50), {}),
             ("trickled body, 3 s deadline", trickle(0.2), {"DIGEST_HTTP_DEADLINE": "3"}),
             ("16 MiB of empty objects", empty_objects, {})]
    for name, answer, env in cases:
        with tempfile.TemporaryDirectory() as folder, HostileServer(answer) as server:
            ran = ingest(Path(folder), "--hf-date", DAY, DIGEST_HF_URL=server.url, **env)
        print(f"{name:30} exit {ran.code}  {ran.seconds:6.2f} s  peak {ran.peak_mb:5.0f} MB")


if __name__ == "__main__":
    main()
