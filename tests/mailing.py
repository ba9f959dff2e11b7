"""What the delivery tests share: a prepared database and configuration, and helpers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from digest.store import Store
from tests.conftest import SEEDS
from tests.smtpserver import SmtpServer

NOW = datetime(2026, 6, 1, 7, tzinfo=UTC)  # 09:00 in Berlin: the 08:00 digest is due
SUBSCRIPTIONS = """\
defaults:
  cadence: daily
  timezone: Europe/Berlin
  send_at: "08:00"
  max_age_days: 3650
  trending: 2
subscribers:
  - email: ada@example.org
    name: Ada Lovelace
    authors: [Maojiang Su]
  - email: grace@example.org
    name: "Grace \\"Amazing\\" Hopper"
    keywords: [diffusion]
"""


@pytest.fixture
def mail_env(tmp_path: Path, run: Any, db_url: str) -> dict[str, str]:
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS)
    assert run("ingest", str(SEEDS), "--now", (NOW - timedelta(hours=2)).isoformat()
               ).exit_code == 0
    return {"DIGEST_CONFIG": str(config), "DIGEST_FROM": "Paper Digest <digest@example.org>",
            "DIGEST_BASE_URL": "https://digest.example.org", "DIGEST_SECRET": "s3cret",
            "DIGEST_SMTP_TIMEOUT": "1", "DIGEST_MAILDIR": str(tmp_path / "outbox")}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def send(run: Any, env: dict[str, str], url: str, now: datetime = NOW, *args: str) -> Result:
    return run("send", "--now", now.isoformat(), *args, env={**env, "DIGEST_SMTP_URL": url})


def outbox(db_url: str) -> dict[str, Any]:
    return {row.email: row for row in Store(db_url).outbox()}


def many_subscribers(tmp_path: Path, count: int, follows: str = "keywords: [diffusion]") -> Path:
    """A subscriptions file like SUBSCRIPTIONS with ``count`` readers of the same kind."""
    path = tmp_path / "many.yaml"
    path.write_text(SUBSCRIPTIONS.split("subscribers:")[0] + "subscribers:\n" + "".join(
        f"  - email: reader{i}@example.org\n    {follows}\n" for i in range(count)))
    return path
