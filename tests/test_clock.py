"""A clock that lies: a real pass at a --now far ahead of the system clock is refused
unless forced, `digest subscribers reset-periods` undoes one that ran, and a date out of
range is an ``Error:`` line wherever the user gives one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.store import Store
from tests.conftest import DATA, SEEDS
from tests.mailing import NOW, send
from tests.smtpserver import SmtpServer

SLIP = "2099-01-01T01:00Z"  # an operator's typo for 2026


@pytest.mark.parametrize("command", [("send",), ("run", "--once"), ("worker", "--once")])
def test_a_real_pass_far_ahead_of_the_clock_is_refused(
        run: Any, mail_env: dict[str, str], db_url: str, command: tuple[str, ...]) -> None:
    for how in ({"args": ("--now", SLIP)}, {"env": {"DIGEST_NOW": SLIP}}):
        result = run(*command, *how.get("args", ()), env={**mail_env, **how.get("env", {})})
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("Error: --now/DIGEST_NOW 2099-01-01T01:00:00+00:00 "
                                        "is ")
        assert "days ahead of this machine's clock" in result.stderr
        assert "add --force-clock if you mean it" in result.stderr
        assert "Traceback" not in result.output
    assert Store(db_url).outbox() == []  # nothing planned, nothing recorded


def test_a_dry_run_ahead_and_a_pass_a_little_ahead_are_fine(
        run: Any, mail_env: dict[str, str], db_url: str) -> None:
    assert run("send", "--dry-run", "--now", SLIP, env=mail_env).exit_code == 0
    assert Store(db_url).outbox() == []
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()  # clocks drift a little
    with SmtpServer() as smtp:
        assert send(run, mail_env, smtp.url, datetime.fromisoformat(soon)).exit_code == 0


def test_reset_periods_undoes_a_pass_run_ahead(
        run: Any, mail_env: dict[str, str], db_url: str) -> None:
    day = NOW + timedelta(days=1)
    with SmtpServer() as smtp:
        assert send(run, mail_env, smtp.url, NOW).exit_code == 0
        slipped = send(run, mail_env, smtp.url, datetime.fromisoformat(SLIP), "--force-clock")
        assert slipped.exit_code == 0, slipped.output
        new_papers = DATA / "hf-daily" / "2026-03-13.json"  # new papers, due on 2 June
        assert run("ingest", str(new_papers), "--now", (day - timedelta(hours=1)).isoformat()
                   ).exit_code == 0
        assert send(run, mail_env, smtp.url, day).exit_code == 0
        assert len(smtp.received) == 2  # the fault: nobody gets a digest until 2099
        assert periods_on(db_url, day) == []
        help_text = run("subscribers", "reset-periods", "--help").stdout
        assert "digest subscribers reset-periods --after" in help_text
        reset = run("subscribers", "reset-periods", "--after", day.isoformat(), env=mail_env)
        assert reset.exit_code == 0, reset.output
        assert reset.stdout.startswith("Periods after 2026-06-02T07:00:00+00:00: moved back "
                                       "for 2 subscribers; ")
        assert int(reset.stdout.split("; ")[1].split()[0]) > 2 * 26_000  # the missed days
        again = send(run, mail_env, smtp.url, day)
        assert again.exit_code == 0, again.output
    assert sorted(r.recipients[0] for r in smtp.received[2:]) == ["ada@example.org",
                                                                  "grace@example.org"]
    assert sorted(periods_on(db_url, day)) == ["ada@example.org", "grace@example.org"]
    assert {r.state for r in Store(db_url).outbox() if r.period.year > 2026} == set()


def periods_on(db_url: str, day: datetime) -> list[str]:
    """Who has a digest planned (not recorded as missed) for a period on ``day``."""
    return [r.email for r in Store(db_url).outbox()
            if r.period.date() == day.date() and r.state != "missed"]


def test_reset_periods_brings_papers_ingested_ahead_back_to_now(
        run: Any, mail_env: dict[str, str]) -> None:
    papers = DATA / "hf-daily" / "2026-03-13.json"
    assert run("ingest", str(papers), "--now", SLIP).exit_code == 0  # ingest is not refused
    reset = run("subscribers", "reset-periods", "--now", NOW.isoformat(), env=mail_env)
    assert reset.exit_code == 0, reset.output
    assert reset.stdout.rstrip().endswith("first seen later now seen now.")
    seen = [datetime.fromisoformat(json.loads(line)["first_seen"])
            for line in run("papers", "--json").stdout.splitlines()]
    assert max(seen) == NOW and seen.count(NOW) == int(reset.stdout.split("; ")[2].split()[0])


def test_reset_periods_of_someone_unknown_is_an_error(run: Any, mail_env: dict[str, str]
                                                     ) -> None:
    result = run("subscribers", "reset-periods", "nobody@example.org", env=mail_env)
    assert result.exit_code == 1
    assert "Error: no subscriber nobody@example.org; digest subscribers lists everyone" \
        in result.stderr


@pytest.mark.parametrize(("args", "env", "message"), [
    (("send", "--now", "0001-01-01"), {}, "--now/DIGEST_NOW '0001-01-01' is out of range"),
    (("send", "--dry-run", "--now", "9999-12-31T23:59-05:00"), {},
     "--now/DIGEST_NOW '9999-12-31T23:59-05:00' is out of range"),
    (("papers",), {"DIGEST_NOW": "0001-01-01T00:00+01:00"}, "is out of range"),
    (("ingest", "--hf-date", "0001-01-01"), {}, "day '0001-01-01' is out of range"),
    (("ingest", "--captured", "0001-01-01", str(SEEDS)), {}, "day '0001-01-01' is out of range"),
    (("subscribers", "reset-periods", "--after", "0001-01-01"), {},
     "--after '0001-01-01' is out of range; give a moment between 1970 and 9000"),
])
def test_out_of_range_dates_are_clean_errors(run: Any, mail_env: dict[str, str],
                                             args: tuple[str, ...], env: dict[str, str],
                                             message: str) -> None:
    result = run(*args, env={**mail_env, **env})
    assert result.exit_code in (1, 2), result.output
    assert "Error: " in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_a_manifest_date_out_of_range_is_a_clean_error(run: Any, tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "sources.yaml").write_text("files:\n  a.json:\n    captured: 0001-01-01\n")
    (folder / "a.json").write_text("[]")
    result = run("ingest", str(folder))
    assert result.exit_code == 1
    assert "captured '0001-01-01' is out of range" in result.stderr
    assert "Traceback" not in result.output
