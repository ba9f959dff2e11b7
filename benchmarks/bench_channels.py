"""Benchmark: team channel messages through the outbox, against a local recording hook.

Setup (timed apart): a SQLite file in a temp folder, the seeds ingested, N channel-only
subscribers (``mail: false``, one generic webhook each, all on one local
``tests/hookserver.py`` server) imported. Then measured: planning their digests (with
one channel message each), and posting every message (claim, build, HMAC-sign, POST,
record) as a pass does, checked against what the hook received (each once). Prints the
figures. Not a test: machines here are shared and noisy.

    .venv/bin/python benchmarks/bench_channels.py [--subscribers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from digest.cli import cli
from digest.deliver.channels import deliver_channels
from digest.deliver.tokens import Tokens
from digest.plan import plan_due
from digest.settings import HttpSettings
from digest.store import Store

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, 7, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    n = parser.parse_args().subscribers
    sys.path.insert(0, str(ROOT))
    from tests.hookserver import HookServer

    with tempfile.TemporaryDirectory() as folder, HookServer() as hooks:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        setup = time.perf_counter()
        _prepare(url, Path(folder), hooks.url, n)
        setup = time.perf_counter() - setup
        store = Store(url)
        start = time.perf_counter()
        _, counts = plan_due(store, NOW)
        planning = time.perf_counter() - start
        start = time.perf_counter()
        sent = asyncio.run(deliver_channels(store, HttpSettings(), Tokens("bench").webhook_key,
                                            lambda: NOW, timedelta(minutes=10)))
        posting = time.perf_counter() - start
        paths = [h.path for h in hooks.hits]
    assert counts["channels"] == n and sent["sent"] == n, (counts, sent)
    assert len(paths) == len(set(paths)) == n, "a message posted twice, or lost"
    print(f"{n} channel-only subscribers, one webhook each (setup {setup:.1f} s)")
    print(f"planning, digests and their channel messages: {planning:.2f} s")
    print(f"posting every message (claim, build, sign, POST, record): {posting:.2f} s, "
          f"{n / posting:.0f} messages/s, each received once")


def _prepare(url: str, folder: Path, hooks: str, n: int) -> None:
    config = folder / "subscriptions.yaml"
    config.write_text("defaults:\n  cadence: daily\n  timezone: Europe/Berlin\n"
                      "  send_at: \"08:00\"\n  max_age_days: 3650\nsubscribers: []\n")
    env = {"DIGEST_DB": url, "DIGEST_CONFIG": str(config)}
    runner = CliRunner()
    ingested = runner.invoke(cli, ["ingest", str(ROOT / "seeds"), "--now",
                                   (NOW - timedelta(hours=2)).isoformat()], env=env)
    assert ingested.exit_code == 0, ingested.output
    people = folder / "labs.json"
    people.write_text(json.dumps({"subscribers": [
        {"email": f"lab{i}@example.org", "keywords": ["diffusion"], "cadence": "daily",
         "send_at": "08:00", "timezone": "Europe/Berlin", "mail": False,
         "channels": [{"kind": "webhook", "url": f"{hooks}/hook/{i}"}]} for i in range(n)]}))
    imported = runner.invoke(cli, ["subscribers", "import", str(people)], env=env)
    assert imported.exit_code == 0, imported.output


if __name__ == "__main__":
    main()
