"""What a spam filter makes of a digest: SpamAssassin (Debian's rules, local tests only)
scores the demo digests and a digest of 50 real papers, signed and unsigned."""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, ROOT, SEEDS

# A score SpamAssassin gives almost any HTML mail that has not crossed a relay yet
# (HTML_MESSAGE, NO_RECEIVED, NO_RELAYS add up to 0.0); the hidden preheader once added 1.7.
LIMIT = 1.0
FIFTY = """\
defaults:
  cadence: weekly
  send_at: "08:00"
  max_age_days: 3650
  max_papers: 50
  trending: 0
  rising: 0
subscribers:
  - email: ada@example.org
    name: Ada Lovelace
    keywords: [model, learning, language, data, vision, agent, reasoning, diffusion, video]
"""


@pytest.fixture(scope="module")
def spamassassin() -> str:
    """The spamassassin command, or a skip (a failure when DIGEST_REQUIRE_SPAMASSASSIN=1,
    as in scripts/test)."""
    found = shutil.which("spamassassin")
    if found:
        return found
    if os.environ.get("DIGEST_REQUIRE_SPAMASSASSIN") == "1":
        pytest.fail("spamassassin is not installed and DIGEST_REQUIRE_SPAMASSASSIN=1")
    pytest.skip("spamassassin is not installed (scripts/test installs it)")


def scores(spamassassin: str, messages: list[bytes], home: Path) -> list[tuple[float, str]]:
    """Each message's score and the rules that fired, from one ``spamassassin -L -t``
    over an mbox (one start-up, 3 s, for all); HOME is a temporary folder so that
    nothing (Bayes, auto-whitelist) is written anywhere else."""
    home.mkdir(exist_ok=True)
    box = mailbox.mbox(home / "mail.mbox")
    for message in messages:
        box.add(message.replace(b"\r\n", b"\n"))
    box.flush()
    result = subprocess.run([spamassassin, "-L", "-t", "--mbox", str(home / "mail.mbox")],
                            capture_output=True, check=True, timeout=300,
                            env={"HOME": str(home), "PATH": os.environ.get("PATH", "")})
    unfolded = re.sub(rb"\r?\n[\t ]+", b" ", result.stdout).decode("utf-8", "replace")
    found = re.findall(r"(?m)^X-Spam-Status: \w+, score=(-?[\d.]+) required=\S+ "
                       r"tests=([\w,\s]*?) autolearn", unfolded)
    assert len(found) == len(messages), result.stderr.decode()
    return [(float(score), re.sub(r"\s", "", tests)) for score, tests in found]


def maildir(folder: Path) -> list[bytes]:
    """The messages of a Maildir as they were written."""
    return [path.read_bytes() for path in sorted((folder / "new").iterdir())]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DIGEST_FROM": "Paper Digest <digest@example.org>", "DIGEST_SECRET": "s",
            "DIGEST_BASE_URL": "https://digest.example.org"}


@pytest.mark.slow
def test_demo_and_fifty_paper_digests_score_low_signed_or_not(
        spamassassin: str, run: Any, env: dict[str, str], tmp_path: Path) -> None:
    now = "2026-04-20T09:00:00Z"  # a Monday: the demo's daily and weekly digests are due
    assert run("ingest", str(SEEDS), "--now", "2026-04-20T06:00:00Z").exit_code == 0
    demo = run("send", "--config", str(ROOT / "subscriptions.yaml"), "--now", now,
               env={**env, "DIGEST_MAILDIR": str(tmp_path / "demo")})
    assert demo.exit_code == 0, demo.output
    demos = maildir(tmp_path / "demo")
    assert len(demos) == 2

    key = tmp_path / "dkim.pem"
    assert run("dkim", "keygen", "--selector", "s", "--domain", "example.org",
               "-o", str(key)).exit_code == 0
    fifty = tmp_path / "fifty.yaml"
    fifty.write_text(FIFTY)
    for name, signing in (("plain", {}), ("signed", {"DIGEST_DKIM_KEY": str(key),
                                                      "DIGEST_DKIM_SELECTOR": "s"})):
        db = f"sqlite:///{tmp_path / name}.db"  # each its own: a paper goes out once
        assert run("ingest", str(DATA / "hf-daily"), "--now", "2026-08-23T06:00:00Z",
                   "--db", db).exit_code == 0
        result = run("send", "--config", str(fifty), "--now", "2026-08-24T09:00:00Z",
                     "--db", db, env={**env, **signing, "DIGEST_MAILDIR": str(tmp_path / name)})
        assert result.exit_code == 0, result.output
    (plain,), (signed,) = maildir(tmp_path / "plain"), maildir(tmp_path / "signed")
    assert signed.startswith(b"DKIM-Signature: ") and b"DKIM-Signature" not in plain
    assert b"50 papers matching your keywords" in plain

    got = scores(spamassassin, [*demos, plain, signed], tmp_path / "home")
    for (score, tests), what in zip(got, ["demo", "demo", "50 papers", "50 papers, signed"],
                                    strict=True):
        assert score <= LIMIT, f"{what}: {score} ({tests})"
    assert got[3][0] <= got[2][0]  # a signature never costs points
