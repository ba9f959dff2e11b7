"""What operators and the machines that watch them rely on: settings from the
environment checked at the start, in one place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.settings import NUMBERS
from tests.conftest import ROOT


@pytest.mark.parametrize("name", sorted(NUMBERS))
def test_a_bad_number_in_the_environment_is_a_clear_error(name: str, tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    for value in ("ten", "nan", "-1", "1e999"):
        result = CliRunner().invoke(cli, ["papers"], env={name: value,
                                                          "DIGEST_DB": f"sqlite:///{db}"})
        assert result.exit_code == 1, (value, result.output)
        assert result.output.startswith(f"Error: {name}: {value!r}"), result.output
    assert not db.exists()  # stopped before touching anything


def test_a_bad_setting_stops_the_daemon_at_its_start(tmp_path: Path) -> None:
    env = {**os.environ, "DIGEST_WATCH_SECONDS": "ten",
           "DIGEST_DB": f"sqlite:///{tmp_path / 'd.db'}"}
    result = subprocess.run([sys.executable, "-m", "digest", "run"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == ("Error: DIGEST_WATCH_SECONDS: 'ten' is not a number; unset it or "
                             "give one (default 10)\n")


def test_settings_go_before_or_after_the_command(tmp_path: Path) -> None:
    here, there = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["-q", "ingest", str(ROOT / "seeds"), "--db", here]).exit_code == 0
    before = runner.invoke(cli, ["--db", here, "papers", "--json"])
    after = runner.invoke(cli, ["papers", "--json", "--db", here])
    assert before.exit_code == after.exit_code == 0 and before.stdout == after.stdout
    assert before.stdout.count("\n") == 140
    # After the command's name wins over before it (and over the environment).
    chosen = runner.invoke(cli, ["--db", there, "papers", "--db", here],
                           env={"DIGEST_DB": there})
    assert chosen.exit_code == 0 and "140" not in chosen.stderr
    quiet_after = runner.invoke(cli, ["ingest", str(ROOT / "seeds"), "--db", here, "-q"])
    chatty = runner.invoke(cli, ["ingest", str(ROOT / "seeds"), "--db", here])
    assert "digest: " in chatty.stderr and "digest: " not in quiet_after.stderr
    now = runner.invoke(cli, ["--now", "2026-06-01T08:00:00Z", "status", "--json", "--db", here,
                              "--config", str(ROOT / "subscriptions.yaml")])
    assert now.exit_code == 0 and '"next_run": "2026-06-01T08:00:00+00:00"' in now.stdout


def test_config_is_refused_by_commands_that_do_not_read_it(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    for args in (["--config", "x.yaml", "papers"], ["papers", "--config", "x.yaml"],
                 ["--config", "x.yaml", "db", "current"], ["worker", "--config", "x.yaml"]):
        result = CliRunner().invoke(cli, ["--db", db, *args])
        assert result.exit_code == 2, (args, result.output)
        assert "--config" in result.output


def test_json_output_of_status_subscribers_check_and_ingest(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    runner = CliRunner()
    ingest = runner.invoke(cli, ["--db", db, "ingest", str(ROOT / "seeds"), "--json"])
    got = json.loads(ingest.stdout)
    assert got["papers"] == 140 and len(got["sources"]) == 5
    assert set(got["sources"][0]) == {"source", "format", "read", "new", "merged", "error"}
    config = str(ROOT / "subscriptions.yaml")
    check = json.loads(runner.invoke(cli, ["check", config, "--json"]).stdout)
    assert check == {"ok": True, "file": config, "subscribers": 2, "sources": 1}
    bad = tmp_path / "bad.yaml"
    bad.write_text("subscribers:\n  - email: not-an-address\n")
    refused = runner.invoke(cli, ["check", str(bad), "--json"])
    assert refused.exit_code == 1 and json.loads(refused.stdout)["ok"] is False
    assert runner.invoke(cli, ["--db", db, "--config", config, "send", "--now",
                               "2026-06-01T07:00:00Z"],
                         env={"DIGEST_MAILDIR": str(tmp_path / "mail")}).exit_code == 0
    status = json.loads(runner.invoke(cli, ["--db", db, "--config", config, "status",
                                            "--json"]).stdout)
    assert {j["id"] for j in status["jobs"]} >= {"ingest:seeds"}
    assert set(status["outbox"]) >= {"sent", "retry", "failed"}
    people = json.loads(runner.invoke(cli, ["--db", db, "subscribers", "--json"]).stdout)
    assert {p["email"] for p in people["subscribers"]} == {"ada@example.org",
                                                           "grace@example.org"}
    assert set(people["subscribers"][0]) == {"email", "name", "state", "managed", "cadence",
                                             "last_digest", "digests_sent", "papers_sent",
                                             "suppressed", "suppressed_at"}


def test_exit_codes_tell_cron_what_happened(tmp_path: Path) -> None:
    """0 all sent; 3 done but a digest failed (run --once and send); 1 a job failed."""
    from tests.smtpserver import SmtpServer

    db = f"sqlite:///{tmp_path / 'a.db'}"
    env = {"DIGEST_DB": db, "DIGEST_CONFIG": str(ROOT / "subscriptions.yaml"),
           "DIGEST_SECRET": "s", "DIGEST_NOW": "2026-06-01T07:00:00Z",
           "DIGEST_SMTP_POOL": "1"}  # one connection: the fault meets the first mail
    runner = CliRunner()
    with SmtpServer(password="right") as guarded:  # a wrong login stops the send job
        port = guarded.url.rsplit(":", 1)[1]
        broken = {**env, "DIGEST_SMTP_URL": f"smtp://me:wrong@127.0.0.1:{port}?starttls=off"}
        failed = runner.invoke(cli, ["run", "--once"], env=broken)
    assert failed.exit_code == 1, failed.output
    assert "1 of 2 jobs failed" in failed.output
    with SmtpServer() as smtp:
        smtp.handler.faults.append("rcpt:550 No such user")
        once = runner.invoke(cli, ["run", "--once"], env={
            **env, "DIGEST_NOW": "2026-06-01T07:10:00Z", "DIGEST_SMTP_URL": smtp.url})
        assert once.exit_code == 3, once.output
        assert len(smtp.received) == 1  # the other subscriber's digest went out
        later = {**env, "DIGEST_NOW": "2026-06-02T07:00:00Z", "DIGEST_SMTP_URL": smtp.url}
        assert runner.invoke(cli, ["send"], env=later).exit_code == 0
    missing = runner.invoke(cli, ["run", "--once"],
                            env={**env, "DIGEST_CONFIG": str(tmp_path / "none.yaml")})
    assert missing.exit_code == 1 and missing.output.startswith("Error: ")
    assert runner.invoke(cli, ["send", "--no-such-option"], env=env).exit_code == 2


def test_quiet_keeps_only_what_went_wrong_from_the_bot(tmp_path: Path) -> None:
    env = {"DIGEST_DB": f"sqlite:///{tmp_path / 'a.db'}", "DIGEST_SECRET": "s",
           "DIGEST_CONFIG": str(ROOT / "subscriptions.yaml"),
           "DIGEST_MAILDIR": str(tmp_path / "mail"), "DIGEST_NOW": "2026-06-01T07:00:00Z"}
    chatty = CliRunner().invoke(cli, ["run", "--once"], env=env)
    assert chatty.exit_code == 0 and "send: planned=2 sent=2" in chatty.stderr
    for args in (["-q", "run", "--once"], ["run", "--once", "-q"]):
        quiet = CliRunner().invoke(cli, args, env=env)
        assert quiet.exit_code == 0 and quiet.stderr == "", quiet.stderr
    broken = CliRunner().invoke(cli, ["run", "--once", "-q"],
                                env={**env, "DIGEST_CONFIG": str(tmp_path / "no.yaml")})
    assert broken.exit_code == 1 and broken.stderr.startswith("Error: ")


def _digest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it in ``cwd``, with the default database and no DIGEST_*
    settings but a Maildir beside it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_MAILDIR"] = str(cwd / "outbox")
    return subprocess.run([sys.executable, "-m", "digest", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [["run", "--once"], ["send"]])
def test_a_send_from_another_folder_does_not_start_a_second_database(
        tmp_path: Path, command: list[str]) -> None:
    """Run from the lab's folder, the digests' history is in lab/digest.db; run from
    elsewhere with --config, the default sqlite:///digest.db would be a new, empty one
    there, and every subscriber would be mailed again."""
    lab, elsewhere = tmp_path / "lab", tmp_path / "elsewhere"
    lab.mkdir()
    elsewhere.mkdir()
    (lab / "subscriptions.yaml").write_text(
        "subscribers:\n  - email: ada@example.org\n    authors: [Maojiang Su]\n"
        "    max_age_days: 3650\n")
    _digest(lab, "ingest", str(ROOT / "seeds"))
    first = _digest(lab, *command)
    assert first.returncode == 0, first.stderr
    config = str(lab / "subscriptions.yaml")
    refused = _digest(elsewhere, "--config", config, *command)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert (f"there is no database at {elsewhere / 'digest.db'}, but {lab / 'digest.db'} is "
            f"beside {config}") in refused.stderr
    assert "--new-db" in refused.stderr
    assert not (elsewhere / "digest.db").exists() and not (elsewhere / "outbox").exists()
    meant = _digest(elsewhere, "--config", config, *command, "--new-db")
    assert meant.returncode == 0, meant.stderr
    assert f"no database at {elsewhere / 'digest.db'} yet; creating it" in meant.stderr
