"""`digest run` as a real process: alerts after ingests, signals, reloads, two at once."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import create_engine, text

from digest.bot import Bot
from digest.settings import Settings
from digest.store import Store
from tests.conftest import DATA, ROOT, SEEDS
from tests.hostile import bad_folder, capped, laughs, parser_bug
from tests.smtpserver import SmtpServer


def seed(name: str) -> Path:
    return next(SEEDS.glob(f"{name}_*.txt"))


def test_instant_alert_after_an_ingest(tmp_path: Path, db_url: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "papers"
    inbox.mkdir()
    (inbox / "sources.yaml").write_text("files:\n  " + "\n  ".join(
        f"{seed(n).name}: {{format: profile, captured: 2026-05-31}}" for n in ("000", "001"))
        + "\n")
    config = tmp_path / "subscriptions.yaml"
    config.write_text(
        "subscribers:\n  - email: ada@example.org\n    cadence: instant\n"
        "    authors: [Jerry Yao-Chieh Hu]\n    max_age_days: 3650\n"
        "  - email: bob@example.org\n    cadence: instant\n    keywords: [flow matching]\n"
        "    max_age_days: 3650\n    alert_keywords: true\n"
        "  - email: eve@example.org\n    cadence: instant\n    keywords: [flow matching]\n"
        "    max_age_days: 3650\n"
        f"sources:\n  - name: inbox\n    path: {inbox}\n    schedule: \"0 * * * *\"\n")
    with SmtpServer() as server:
        monkeypatch.setenv("DIGEST_SMTP_URL", server.url)
        monkeypatch.setenv("DIGEST_SECRET", "s3cret")
        bot = Bot(Settings(db_url=db_url, config_path=config), watch_seconds=None)
        with time_machine.travel(datetime(2026, 6, 1, 9, tzinfo=UTC), tick=False) as clock:
            shutil.copy(seed("000"), inbox)
            asyncio.run(bot.run_job("ingest:inbox", lambda: bot.ingest(bot.config.sources[0])))
            first = {r.recipients[0]: r.message for r in server.received}
            clock.shift(3600)
            asyncio.run(bot.run_job("ingest:inbox", lambda: bot.ingest(bot.config.sources[0])))
            assert len(server.received) == 2  # nothing changed: no ingest, no alert
            clock.shift(3600)
            shutil.copy(seed("001"), inbox)  # more papers by Jerry Yao-Chieh Hu, two known
            asyncio.run(bot.run_job("ingest:inbox", lambda: bot.ingest(bot.config.sources[0])))
    assert set(first) == {"ada@example.org", "bob@example.org"}  # eve did not opt in
    alert = first["ada@example.org"]["Subject"]  # the top paper by a followed author leads
    assert alert.startswith("Jerry Yao-Chieh Hu: ") and alert.endswith(" · 5 for you · Paper alert")
    html = first["ada@example.org"].get_body(("html",)).get_content()
    assert html.count('class="card"') == 5 and "New for ada" in html
    later = list(server.received[2:])
    assert [r.recipients[0] for r in later] == ["ada@example.org"]
    titles = later[0].message.get_body(("plain",)).get_content()
    assert "In-Context Deep Learning" not in titles  # shared with 000: already alerted
    assert "On Structured State-Space Duality" in titles
    rows = Store(db_url).outbox()
    assert {row.kind for row in rows} == {"alert"} and {row.state for row in rows} == {"sent"}


def daemon(env: dict[str, str], *args: str, memory_mb: int | None = None
           ) -> subprocess.Popen[str]:
    """``digest run ARGS`` in a process (its address space capped at ``memory_mb``)."""
    return subprocess.Popen([sys.executable, "-m", "digest", "run", *args], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=capped(memory_mb) if memory_mb else None)


def wait_for(child: subprocess.Popen[str], text: str, lines: list[str],
             seconds: float = 30) -> None:
    """Read the child's stderr into ``lines`` until a line contains ``text``: a thread
    reads the pipe, so a daemon that goes silent fails the test at the deadline instead
    of hanging it."""
    deadline = time.monotonic() + seconds
    reader = _stderr_lines(child)
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = reader.get(timeout=left)
        except queue.Empty:
            break
        if line is None:  # the daemon closed its stderr (it exited)
            break
        lines.append(line)
        if text in line:
            return
    pytest.fail(f"no {text!r} in the daemon's output within {seconds:g} s: "
                f"{''.join(lines)[-3000:]}")


_READERS: dict[int, queue.Queue[str | None]] = {}


def _stderr_lines(child: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The lines of ``child``'s stderr as a thread reads them (None at the end)."""
    if child.pid not in _READERS:
        lines: queue.Queue[str | None] = queue.Queue()
        _READERS[child.pid] = lines
        assert child.stderr is not None
        stream = child.stderr

        def pump() -> None:
            for line in iter(stream.readline, ""):
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
    return _READERS[child.pid]


@pytest.fixture
def setting(tmp_path: Path, db_url: str) -> dict[str, Any]:
    config = tmp_path / "subscriptions.yaml"
    config.write_text(
        "defaults:\n  cadence: daily\n  max_age_days: 3650\n  trending: 1\nsubscribers:\n"
        + "".join(f"  - email: r{i}@example.org\n    authors: [Maojiang Su]\n" for i in range(12))
        + f"sources:\n  - name: seeds\n    path: {SEEDS}\n    schedule: \"*/5 * * * *\"\n")
    env = {"DIGEST_DB": db_url, "DIGEST_CONFIG": str(config), "DIGEST_SECRET": "s3cret",
           "DIGEST_WATCH_SECONDS": "1"}
    return {"config": config, "env": env}


def ingest_seeds(env: dict[str, str], now: str | None = None) -> None:
    when = ["--now", now] if now else []
    subprocess.run([sys.executable, "-m", "digest", "-q", "ingest", str(SEEDS), *when],
                   cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True)


def test_two_daemons_send_each_digest_once_and_stop_cleanly(setting: dict[str, Any]) -> None:
    ingest_seeds(setting["env"])
    with SmtpServer() as server:
        server.handler.delay = 0.05
        env = {**setting["env"], "DIGEST_SMTP_URL": server.url, "DIGEST_SMTP_POOL": "2"}
        children = [daemon(env) for _ in range(2)]
        logs: list[list[str]] = [[], []]
        for child, lines in zip(children, logs, strict=True):
            wait_for(child, "catch-up:", lines)
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child, lines in zip(children, logs, strict=True):
            wait_for(child, "stop: stopped cleanly", lines)
            assert child.wait(timeout=30) == 0
        received = Counter(r.recipients[0] for r in server.received)
    assert len(received) == 12 and set(received.values()) == {1}, received
    assert all(row.state == "sent" for row in Store(setting["env"]["DIGEST_DB"]).outbox())


def test_sigterm_mid_pass_leaves_nothing_sending(setting: dict[str, Any]) -> None:
    ingest_seeds(setting["env"])
    with SmtpServer() as server:
        server.handler.delay = 0.3  # twelve mails over one connection take seconds
        child = daemon({**setting["env"], "DIGEST_SMTP_URL": server.url,
                        "DIGEST_SMTP_POOL": "1"})
        lines: list[str] = []
        wait_for(child, "start:", lines)
        while len(server.received) < 2:
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        wait_for(child, "stop: stopped cleanly", lines)
        assert child.wait(timeout=30) == 0
        delivered = len(server.received)
    rows = Store(setting["env"]["DIGEST_DB"]).outbox()
    assert 2 <= delivered < 12  # it stopped early, after the mail in flight
    assert sum(row.state == "sent" for row in rows) == delivered
    assert not any(row.state == "sending" for row in rows)


def test_reload_on_change_and_sighup_keeps_a_valid_config(setting: dict[str, Any]) -> None:
    config: Path = setting["config"]
    ingest_seeds(setting["env"])
    child = daemon({**setting["env"], "DIGEST_MAILDIR": str(config.parent / "outbox")},
                   "--log-format", "json")
    lines: list[str] = []
    try:
        wait_for(child, '"job": "start"', lines)
        config.write_text(config.read_text().replace("r0@example.org", "r0@example.org\n"
                                                     "    cadence: weekly"))
        wait_for(child, "configuration reloaded: 12 subscribers (11 daily, 1 weekly", lines)
        config.write_text("subscribers:\n  - email: broken\n")
        child.send_signal(signal.SIGHUP)
        wait_for(child, "configuration not reloaded, keeping the previous one", lines)
        assert "subscriber broken: email: invalid email" in lines[-1]
    finally:
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 0
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert {"time", "job"} <= set(records[0])
    catch_up = next(r for r in records if r["job"] == "catch-up")
    assert catch_up["counts"]["sent"] == 12 and catch_up["error"] is None


def test_run_once_and_status(run: Any, setting: dict[str, Any]) -> None:
    env = {**setting["env"], "DIGEST_MAILDIR": str(setting["config"].parent / "outbox")}
    result = run("run", "--once", "--now", "2026-06-01T09:00:00Z", env=env)
    assert result.exit_code == 0, result.output
    assert "ingest:seeds: merged=2 new=140 read=142" in result.stderr
    assert "send: planned=12 sent=12" in result.stderr
    status = run("status", "--now", "2026-06-01T09:01:00Z", env=env).stdout
    assert "ingest:seeds" in status and "2026-06-01 09:05" in status
    assert "digest:daily:-:08:00:UTC" in status and "2026-06-02 08:00" in status
    assert "Outbox: sent 12, planned 0, sending 0" in status


def test_wake_up_catches_up(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
                            setting: dict[str, Any]) -> None:
    ingest_seeds(setting["env"], "2026-06-01T05:00:00Z")
    monkeypatch.setenv("DIGEST_MAILDIR", str(tmp_path / "outbox"))
    with time_machine.travel(datetime(2026, 6, 1, 7, 59, tzinfo=UTC), tick=False) as clock:
        bot = Bot(Settings(db_url=db_url, config_path=setting["config"]), watch_seconds=10)
        asyncio.run(bot.run_job("watch", bot.watch))
        assert Store(db_url).outbox() == []
        clock.shift(3 * 3600)  # the machine slept through the 08:00 digests
        asyncio.run(bot.run_job("watch", bot.watch))
    rows = Store(db_url).outbox()
    assert len(rows) == 12 and {row.state for row in rows} == {"sent"}
    assert Store(db_url).last_job_runs()["watch"].counts["sent"] == 12


def test_live_sources_through_the_bot(run: Any, tmp_path: Path, server: Any) -> None:
    config = tmp_path / "subscriptions.yaml"
    config.write_text("subscribers: []\nsources:\n  - hf_daily: true\n"
                      "    schedule: \"0 8 * * *\"\n    timezone: Asia/Kolkata\n"
                      "  - arxiv: cs.AI\n    schedule: \"0 2 * * *\"\n")
    result = run("run", "--once", "--now", "2026-04-15T20:00:00Z", env={
        "DIGEST_CONFIG": str(config), "DIGEST_HF_URL": server.url,
        "DIGEST_ARXIV_URL": server.url, "DIGEST_MAILDIR": str(tmp_path / "outbox")})
    assert result.exit_code == 0, result.output
    assert "ingest:hf-daily: new=22 read=22" in result.stderr  # 16 April already in Kolkata
    assert "ingest:arxiv:cs.AI: new=7 read=7" in result.stderr
    assert server.requests[0] == "/api/daily_papers?date=2026-04-16&limit=100&p=0"


def test_whole_archive_sources_through_the_bot(run: Any, tmp_path: Path, server: Any,
                                               db_url: str) -> None:
    oai, bio = DATA / "oai", DATA / "biorxiv"
    server.oai_pages = {"2016-10-20": oai / "arXivRaw-page1.xml",
                        "1403493|1001": oai / "arXivRaw-page2.xml",
                        "2016-10-21": oai / "arXivRaw-page1.xml"}  # the day asked again
    server.details_pages = {("medrxiv", 0): bio / "medrxiv-2019-06-25-0.json",
                            ("medrxiv", 3): bio / "medrxiv-2019-06-25-3.json"}
    config = tmp_path / "subscriptions.yaml"
    config.write_text("subscribers: []\nsources:\n  - arxiv_oai: all\n"
                      "    schedule: \"0 8 * * *\"\n  - biorxiv: medrxiv\n"
                      "    schedule: \"0 9 * * *\"\n    days: 2\n")
    env = {"DIGEST_CONFIG": str(config), "DIGEST_ARXIV_OAI_URL": f"{server.url}/oai",
           "DIGEST_BIORXIV_URL": server.url, "DIGEST_HARVEST_PAUSE": "0",
           "DIGEST_MAILDIR": str(tmp_path / "outbox")}
    first = run("run", "--once", "--now", "2016-10-21T10:00:00Z", env=env)
    assert first.exit_code == 0, first.output
    assert "ingest:arxiv-oai:all: new=10 read=10" in first.stderr
    assert "ingest:biorxiv:medrxiv: new=5 read=5" in first.stderr
    assert server.requests[:3] == [
        "/oai?verb=ListRecords&metadataPrefix=arXivRaw&from=2016-10-20",
        "/oai?verb=ListRecords&resumptionToken=1403493%7C1001",
        "/details/medrxiv/2016-10-19/2016-10-21/0"]
    again = run("run", "--once", "--now", "2016-10-22T10:00:00Z", env=env)
    assert again.exit_code == 0, again.output
    assert "ingest:arxiv-oai:all: merged=10 read=10" in again.stderr  # nothing new
    assert "ingest:biorxiv:medrxiv: merged=5 read=5" in again.stderr
    assert "/details/medrxiv/2016-10-21/2016-10-22/0" in server.requests
    assert Store(db_url).count_papers() == 15


def test_reload_of_a_billion_laughs_keeps_the_previous_config(setting: dict[str, Any]) -> None:
    config: Path = setting["config"]
    child = daemon({**setting["env"], "DIGEST_MAILDIR": str(config.parent / "outbox")},
                   memory_mb=1024)
    lines: list[str] = []
    try:
        wait_for(child, "start:", lines)
        config.write_text(laughs())
        wait_for(child, "configuration not reloaded, keeping the previous one", lines, 60)
        assert lines[-1].endswith(f"{config}:2: aliases (*name, and the &name anchors they "
                                  "repeat) are not allowed; write the values out\n")
        assert child.poll() is None
    finally:
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 0
    assert "Traceback" not in "".join(lines) + (child.stderr.read() if child.stderr else "")


def bad_inbox(tmp_path: Path) -> Path:
    """A subscriptions file whose one source is a folder with two bad files in four."""
    folder = bad_folder(tmp_path / "inbox")
    config = tmp_path / "subscriptions.yaml"
    config.write_text("subscribers:\n  - email: a@example.org\n    cadence: daily\n"
                      "    send_empty: true\n"
                      f"sources:\n  - name: inbox\n    path: {folder}\n"
                      "    schedule: \"0 * * * *\"\n")
    return config


INBOX_FAILED = "1 of 4 sources failed: {folder}/authors.json: cannot be read (TypeError: "\
    "'int' object is not iterable); the other files are still read"


def test_run_once_with_bad_files_still_sends_and_records_why(
        run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parser_bug(monkeypatch)
    config = bad_inbox(tmp_path)
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox")}
    result = run("run", "--once", "--now", "2026-01-03T09:00:00Z", env=env)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    why = INBOX_FAILED.format(folder=tmp_path / "inbox")
    assert f"ingest:inbox: errors=1 merged=1 new=4 read=5; error: {why}\n" in result.stderr
    assert "send: planned=1 sent=1" in result.stderr
    assert result.stderr.endswith("Error: 1 of 2 jobs failed; the lines above and digest "
                                  "status say why\n")
    db = run("status", env=env)
    assert "error: 1 of 4 sources" in db.stdout


def test_a_failed_ingest_job_is_recorded_and_the_bot_goes_on(tmp_path: Path, db_url: str,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setenv("DIGEST_MAILDIR", str(tmp_path / "outbox"))
    parser_bug(monkeypatch)
    bot = Bot(Settings(db_url=db_url, config_path=bad_inbox(tmp_path)), watch_seconds=None)
    asyncio.run(bot.run_job("ingest:inbox", lambda: bot.ingest(bot.config.sources[0])))
    ran = Store(db_url).last_job_runs()["ingest:inbox"]
    assert ran.error == INBOX_FAILED.format(folder=tmp_path / "inbox")
    assert ran.counts == {"errors": 1, "merged": 1, "new": 4, "read": 5}

    async def broken() -> Counter[str]:  # nothing real fails this way: a stand-in for a bug
        raise RuntimeError("a bug\nin two lines")

    assert asyncio.run(bot.run_job("send", broken)) == "unexpected RuntimeError: a bug in " \
        "two lines"
    assert Store(db_url).last_job_runs()["send"].error == "unexpected RuntimeError: a bug " \
        "in two lines"


def test_a_half_written_config_keeps_the_previous_one(setting: dict[str, Any]) -> None:
    config: Path = setting["config"]
    full = config.read_text()
    child = daemon({**setting["env"], "DIGEST_MAILDIR": str(config.parent / "outbox")})
    lines: list[str] = []
    try:
        wait_for(child, "start:", lines)
        cut = full.index("authors: [Maojiang Su]\n", full.index("r5@")) + len("authors:")
        config.write_text(full[:cut] + "\n")  # the editor stopped after "authors:"
        wait_for(child, "configuration not reloaded, keeping the previous one", lines)
        assert lines[-1].endswith(f"{config}:17: subscriber r5@example.org: authors: no "
                                  "value; write one after the colon, or leave the key out\n")
        config.write_text(full.replace("r0@example.org", "x0@example.org"))
        wait_for(child, "configuration reloaded: 12 subscribers", lines)
        assert child.poll() is None
    finally:
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 0
    assert "Traceback" not in "".join(lines) + (child.stderr.read() if child.stderr else "")


def test_a_change_is_read_once_the_file_stops_changing(setting: dict[str, Any], db_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_MAILDIR", str(setting["config"].parent / "outbox"))
    config: Path = setting["config"]
    full = config.read_text()
    bot = Bot(Settings(db_url=db_url, config_path=config), watch_seconds=10)

    def tick() -> list[str]:
        asyncio.run(bot.run_job("watch", bot.watch))
        return [s.email for s in bot.config.subscribers]

    everyone = tick()
    config.write_text(full[:full.index("  - email: r6@")])  # half written, and valid YAML
    assert tick() == everyone  # it may still be being written
    config.write_text(full.replace("r0@", "x0@"))  # the editor wrote the rest
    assert tick() == everyone
    assert tick() == ["x0@example.org", *everyone[1:]]  # the same for a whole tick: read


def test_an_idle_bot_logs_nothing_and_status_says_when_none_runs(
        run: Any, setting: dict[str, Any]) -> None:
    """The watcher ticks every second here (every 10 s by default): an idle tick is logged
    only with -v and recorded in one row, the bot's sign of life; once it is old,
    `digest status` says no bot is running instead of only showing the next runs."""
    env = {**setting["env"], "DIGEST_MAILDIR": str(setting["config"].parent / "outbox")}
    ingest_seeds(env)
    for args, chatty in (((), False), (("-v",), True)):
        child = daemon(env, *args)
        lines: list[str] = []
        wait_for(child, "catch-up:", lines)
        time.sleep(3.5)  # three idle ticks or more
        child.send_signal(signal.SIGTERM)
        wait_for(child, "stop: stopped cleanly", lines)
        assert child.wait(timeout=30) == 0
        assert any("watch: nothing to do" in line for line in lines) is chatty, lines
    engine = create_engine(env["DIGEST_DB"])
    with engine.connect() as conn:
        ticks = conn.execute(text("SELECT count(*) FROM job_runs WHERE job_id = 'watch'"))
        assert ticks.scalar_one() == 1
    engine.dispose()
    assert "No bot is running" not in run("status", env=env).stdout  # it just stopped
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    stopped = run("status", "--now", later, env=env).stdout
    assert "No bot is running (its last sign of life was at " in stopped
    report = json.loads(run("status", "--json", "--now", later, env=env).stdout)
    assert report["bot"]["running"] is False and report["bot"]["last_seen"]


def test_run_with_a_fixed_now_says_the_clock_stands_still(setting: dict[str, Any]) -> None:
    env = {**setting["env"], "DIGEST_MAILDIR": str(setting["config"].parent / "outbox")}
    child = daemon(env, "--now", "2025-09-10T07:59:00Z")
    lines: list[str] = []
    try:
        wait_for(child, "Warning: --now/DIGEST_NOW stops the clock at 2025-09-10 07:59", lines)
        assert "digest run --once" in lines[-1]
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)
