"""Rising: momentum across ingests, in ``digest papers --rising`` and the digests' Rising
section, on real Hugging Face daily papers.

Real data: the hf-daily files of 10, 14, 15 and 16 April 2026 (tests/data/hf-daily), each
ingested at noon UTC of its day. One gain is real: GameWorld (2604.07429) was on the
daily papers of 10 April with 2 upvotes and again on 16 April with 42. The later counts
are made up IN THIS TEST: copies of the real 15 and 16 April files in which a few papers
have more upvotes, ingested at later moments as an ingest would see them. The expected
gains, moments and rates below are worked out by hand from those numbers (window 48 h,
floor 12 h, at least 2 votes), not by the code under test.
"""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, select

from digest import rising
from digest.cli import cli
from digest.model import Reason, Snapshot
from digest.plan import plan_due
from digest.store import Store
from digest.store import schema as s
from tests.conftest import DATA
from tests.pgserver import PgCluster, wipe

HF = DATA / "hf-daily"
NOW = "2026-04-17T12:00:00Z"  # the window starts at 2026-04-15T12:00Z
LATER = "2026-04-18T12:00:00Z"  # a day on: the window starts at 2026-04-16T12:00Z
SEEDANCE, CLAWGUI, GAMEWORLD = "2604.14148", "2604.11784", "2604.07429"
RATIONAL, KNOWRL, SPPO = "2604.11626", "2604.12627", "2604.08865"
ROSE, TPO = "2604.14147", "2604.06159"
SUBSCRIPTIONS = """\
defaults:
  cadence: daily
  send_at: "12:00"
  max_age_days: 30
  trending: 0
subscribers:
  - email: ada@example.org
  - email: bo@example.org
    trending: 2
    max_papers: 4
  - email: cy@example.org
    rising: 0
  - email: di@example.org
    categories: [cs.CV]
    exclude: [GUI agents]
"""
# What ``papers --rising`` shows at NOW: (arXiv id, gain, since, per hour, upvotes).
AT_NOW = [
    (SEEDANCE, 30, "2026-04-16T12:00:00+00:00", 1.25, 107),  # 77 -> 107, first seen 24 h ago
    (CLAWGUI, 48, "2026-04-15T12:00:00+00:00", 1.0, 160),  # 112 -> 160 over 48 h
    (GAMEWORLD, 43, "2026-04-10T12:00:00+00:00", 0.8958, 45),  # 2 -> 45: 43 / 48 h
    (RATIONAL, 6, "2026-04-16T12:00:00+00:00", 0.25, 70),  # 64 -> 70 over 24 h
    (KNOWRL, 2, "2026-04-15T12:00:00+00:00", 0.0417, 50),  # 48 -> 50: 2 / 48 h
]  # SPPO went 19 -> 20: one vote is not rising


def bumped(tmp_path: Path, day: str, counts: dict[str, int], tag: str) -> Path:
    """A copy of the real hf-daily file of ``day`` in which these papers (by arXiv id)
    have the upvote counts given here: later counts, made up by this test."""
    items = json.loads((HF / f"{day}.json").read_text(encoding="utf-8"))
    for item in items:
        paper = item["paper"]
        if paper["id"] in counts:
            paper["upvotes"] = counts.pop(paper["id"])
    assert not counts, f"not in {day}: {counts}"
    path = tmp_path / tag / f"{day}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def ingest(run: Any, path: Path, at: str) -> None:
    result = run("ingest", str(path), "--now", at)
    assert result.exit_code == 0, result.output


def scenario(run: Any, tmp_path: Path) -> dict[str, str]:
    """Four real days, each at noon, then two made-up later counts; the config's env."""
    ingest_scenario(run, tmp_path)
    return configured(tmp_path)


def ingest_scenario(run: Any, tmp_path: Path) -> None:
    for day in ("10", "14", "15", "16"):
        ingest(run, HF / f"2026-04-{day}.json", f"2026-04-{day}T12:00:00Z")
    ingest(run, bumped(tmp_path, "2026-04-15", {CLAWGUI: 136, KNOWRL: 50, SPPO: 20}, "t4"),
           "2026-04-16T18:00:00Z")
    ingest(run, bumped(tmp_path, "2026-04-16", {SEEDANCE: 107, RATIONAL: 70, GAMEWORLD: 45},
                       "t5"), "2026-04-17T06:00:00Z")
    ingest(run, bumped(tmp_path, "2026-04-15", {CLAWGUI: 160, KNOWRL: 50, SPPO: 20}, "t5"),
           "2026-04-17T06:00:00Z")


def configured(tmp_path: Path) -> dict[str, str]:
    """The environment of commands that read SUBSCRIPTIONS, mail going to a Maildir."""
    config = tmp_path / "subscriptions.yaml"
    config.write_text(SUBSCRIPTIONS, encoding="utf-8")
    return {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox"),
            "DIGEST_SECRET": "s3cret", "DIGEST_BASE_URL": "https://digest.example.org"}


@pytest.fixture(scope="module")
def scenario_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario's SQLite database, ingested once for the module."""
    folder = tmp_path_factory.mktemp("rising")
    db = folder / "digest.db"

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env={"DIGEST_DB": f"sqlite:///{db}",
                                                        **(env or {})}, catch_exceptions=False)
    ingest_scenario(run, folder)
    return db


@pytest.fixture
def env(scenario_db: Path, db_url: str, tmp_path: Path) -> dict[str, str]:
    """A copy of the scenario's database for one test, and the config's environment."""
    with sqlite3.connect(scenario_db) as source, sqlite3.connect(tmp_path / "digest.db") as copy:
        source.backup(copy)
    assert db_url.endswith(str(tmp_path / "digest.db"))
    return configured(tmp_path)


def rising_rows(run: Any, at: str) -> list[tuple[str, int, str, float, int]]:
    result = run("papers", "--rising", "--json", "--now", at)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return [(r["arxiv_id"], r["gain"], r["since"], r["per_hour"], r["upvotes"]) for r in rows]


def sections(run: Any, env: dict[str, str], email: str, at: str) -> dict[str, list[Any]]:
    """``digest preview --format json``: each section as (arXiv id, reasons) pairs."""
    arxiv = {p["id"]: p["arxiv_id"] for p in map(json.loads, run("papers", "--json")
                                                  .stdout.splitlines())}
    result = run("preview", email, "--format", "json", "--now", at, env=env)
    assert result.exit_code == 0, result.output
    return {sec["name"]: [(arxiv[p["id"]], p["reasons"]) for p in sec["papers"]]
            for sec in json.loads(result.stdout)["sections"]}


def test_papers_rising_lists_the_momentum_ranking(run: Any, env: dict[str, str]) -> None:
    assert rising_rows(run, NOW) == AT_NOW
    table = run("papers", "--rising", "--now", "2026-04-17T12:00:00Z").stdout  # --help's
    assert "+30" in table and "1.25" in table and "5 rising papers at 2026-04-17 12:00" in table
    # Before the made-up counts only the real gain shows: 40 votes over 48 h.
    assert rising_rows(run, "2026-04-16T13:00:00Z") == [
        (GAMEWORLD, 40, "2026-04-10T12:00:00+00:00", 0.8333, 42)]
    assert rising_rows(run, "2026-04-16T11:00:00Z") == []  # GameWorld seen once by then


def test_rising_section_follows_trending_and_counts_toward_max_papers(
        run: Any, env: dict[str, str]) -> None:
    ada = sections(run, env, "ada@example.org", NOW)
    assert list(ada) == ["authors", "keywords", "trending", "rising", "recommended",
                         "possibly"]
    assert ada["rising"] == [(SEEDANCE, ["rising: +30 since 2026-04-16"]),
                             (CLAWGUI, ["rising: +48 since 2026-04-15"]),
                             (GAMEWORLD, ["rising: +43 since 2026-04-10"])]
    # Trending (votes / (age + 2) ** 1.5) takes Seedance (107 / 3 ** 1.5 = 20.6) and
    # ClawGUI (160 / 4 ** 1.5 = 20.0); Rising goes on below them, to 4 papers in all.
    bo = sections(run, env, "bo@example.org", NOW)
    assert [a for a, _ in bo["trending"]] == [SEEDANCE, CLAWGUI]
    assert [a for a, _ in bo["rising"]] == [GAMEWORLD, RATIONAL]
    assert sections(run, env, "cy@example.org", NOW)["rising"] == []  # rising: 0


def test_categories_and_exclusions_restrict_rising(run: Any, tmp_path: Path,
                                                  env: dict[str, str]) -> None:
    """Hugging Face gives no category; an arXiv feed (written here) gives Seedance cs.CV
    and GameWorld cs.AI. Papers without a category pass a category filter."""
    feed = tmp_path / "cats.atom.xml"
    feed.write_text(ATOM.format(entries=ENTRY.format(id=SEEDANCE, cat="cs.CV", title=(
        "Seedance 2.0: Advancing Video Generation for World Complexity")) + ENTRY.format(
        id=GAMEWORLD, cat="cs.AI", title="GameWorld: Towards Standardized and Verifiable "
        "Evaluation of Multimodal Game Agents")), encoding="utf-8")
    ingest(run, feed, "2026-04-17T07:00:00Z")
    assert rising_rows(run, NOW) == AT_NOW  # a feed without upvotes changes no count
    di = sections(run, env, "di@example.org", NOW)  # cs.CV only; no "GUI agents" (ClawGUI)
    assert [a for a, _ in di["rising"]] == [SEEDANCE, RATIONAL, KNOWRL]


def test_a_paper_sent_is_not_rising_again(run: Any, tmp_path: Path, env: dict[str, str]) -> None:
    sent = run("send", "--now", NOW, env=env)
    assert sent.exit_code == 0, sent.output
    mails = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
             for f in (tmp_path / "outbox" / "new").iterdir()]
    (ada,) = [m for m in mails if m["To"] == "ada@example.org"]
    text = ada.get_body(("plain",))
    assert text is not None and "Rising: +30 upvotes since 16 Apr" in text.get_content()
    ingest(run, bumped(tmp_path, "2026-04-15", {CLAWGUI: 200, KNOWRL: 50, SPPO: 20}, "t6"),
           "2026-04-18T06:00:00Z")
    ingest(run, bumped(tmp_path, "2026-04-16", {SEEDANCE: 107, RATIONAL: 90, GAMEWORLD: 45},
                       "t6"), "2026-04-18T06:00:00Z")
    assert [row[:4] for row in rising_rows(run, LATER)] == [
        (CLAWGUI, 88, "2026-04-15T12:00:00+00:00", 1.8333),  # 112 (15 Apr) -> 200 / 48 h
        (SEEDANCE, 30, "2026-04-16T12:00:00+00:00", 0.625),
        (RATIONAL, 26, "2026-04-16T12:00:00+00:00", 0.5417),  # 64 -> 90
        (GAMEWORLD, 3, "2026-04-16T12:00:00+00:00", 0.0625),  # 42 (16 Apr) -> 45
        (KNOWRL, 2, "2026-04-15T12:00:00+00:00", 0.0417)]
    # Ada got Seedance, ClawGUI and GameWorld yesterday: not again.
    assert sections(run, env, "ada@example.org", LATER)["rising"] == [
        (RATIONAL, ["rising: +26 since 2026-04-16"]), (KNOWRL, ["rising: +2 since 2026-04-15"])]


def test_rising_round_trips_through_the_outbox_and_stays_owed(
        run: Any, env: dict[str, str], db_url: str) -> None:
    assert run("check", env=env).exit_code == 0
    store = Store(db_url)
    assert run("subscribers", "add", "eve@example.org", "--cadence", "daily", "--send-at",
               "12:00", "--now", NOW, env=env).exit_code == 0
    at = datetime(2026, 4, 17, 12, tzinfo=UTC)
    plans, _ = plan_due(store, at, only="eve@example.org")
    ids = {p.arxiv_id: p.id for p in store.papers()}
    (entry,) = store.claim(at, timedelta(minutes=10), 10, only="eve@example.org")
    assert dict(entry.sections)["rising"] == (
        (ids[SEEDANCE], (Reason.rising(30, date(2026, 4, 16)),)),
        (ids[CLAWGUI], (Reason.rising(48, date(2026, 4, 15)),)),
        (ids[GAMEWORLD], (Reason.rising(43, date(2026, 4, 10)),)))
    assert plans[0].digest.count("rising") == 3
    store.release([entry])
    # Not sent by the next day: missed, its papers owed, so Seedance may rise again.
    assert store.expire_late(datetime(2026, 4, 18, 13, tzinfo=UTC), timedelta(minutes=10)) == 1
    later = sections(run, env, "eve@example.org", "2026-04-18T13:00:00Z")
    assert SEEDANCE in [a for a, _ in later["rising"]]


def test_only_changed_counts_are_stored(run: Any, tmp_path: Path, db_url: str) -> None:
    engine = create_engine(db_url)

    def rows() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.upvote_snapshots))
                       .scalar_one())
    for day in ("10", "14", "15", "16"):
        ingest(run, HF / f"2026-04-{day}.json", f"2026-04-{day}T12:00:00Z")
    assert rows() == 35 + 32 + 26 + 22  # every paper once; GameWorld again (2 -> 42)
    ingest(run, HF / "2026-04-16.json", "2026-04-16T13:00:00Z")
    assert rows() == 115
    ingest(run, bumped(tmp_path, "2026-04-16", {SEEDANCE: 80}, "t"), "2026-04-16T14:00:00Z")
    assert rows() == 116
    engine.dispose()


def test_floor_keeps_a_few_early_votes_from_topping(run: Any, tmp_path: Path,
                                                    db_url: str) -> None:
    """ROSE is first seen at 11:00 with 0 votes and has 3 at noon; ClawGUI gained 20 in
    48 h. Per real hour ROSE would lead (3 / 1 h); with the 12 h floor it has 0.25 an
    hour, under ClawGUI's 20 / 48 = 0.4167. Target Policy Optimization's single vote
    (2 -> 3) is not rising at all."""
    ingest(run, HF / "2026-04-15.json", "2026-04-15T12:00:00Z")
    ingest(run, HF / "2026-04-16.json", "2026-04-17T11:00:00Z")
    ingest(run, bumped(tmp_path, "2026-04-15", {CLAWGUI: 132}, "t"), NOW)
    ingest(run, bumped(tmp_path, "2026-04-16", {ROSE: 3, TPO: 3}, "t"), NOW)
    assert rising_rows(run, NOW) == [
        (CLAWGUI, 20, "2026-04-15T12:00:00+00:00", 0.4167, 132),
        (ROSE, 3, "2026-04-17T11:00:00+00:00", 0.25, 3)]
    at = datetime(2026, 4, 17, 12, tzinfo=UTC)
    shots = Store(db_url).upvote_snapshots(at - rising.WINDOW, at)
    unfloored = rising.momentum(shots, at, floor=timedelta(0))
    ids = {p.arxiv_id: p.id for p in Store(db_url).papers()}
    assert [(m.paper_id, m.per_hour) for m in unfloored] == [(ids[ROSE], 3.0),
                                                            (ids[CLAWGUI], 20 / 48)]


def test_momentum_of_made_up_counts() -> None:
    """The pure computation alone: seen once, a loss, counts after now."""
    t = datetime(2026, 4, 17, 12, tzinfo=UTC)
    h = timedelta(hours=1)
    shots = [Snapshot(1, t - 100 * h, 50),  # seen once, long ago, with 50: not rising
             Snapshot(2, t - 60 * h, 10), Snapshot(2, t - 50 * h, 30), Snapshot(2, t, 54),
             Snapshot(3, t - 10 * h, 9), Snapshot(3, t - 5 * h, 5),  # lost votes
             Snapshot(4, t - 30 * h, 0), Snapshot(4, t + h, 99)]  # after now: unseen
    (only,) = rising.momentum(shots, t)
    assert (only.paper_id, only.gain, only.since, only.per_hour) == (2, 24, t - 50 * h, 0.5)


def test_papers_rising_bad_input_is_a_clean_error(run: Any) -> None:
    result = CliRunner().invoke(cli, ["papers", "--rising", "--now", "yesterday"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--now/DIGEST_NOW 'yesterday' is not an ISO 8601 time" in result.output
    missing = run("papers", "--rising")
    assert missing.exit_code == 1 and "there is no database there" in missing.output


ATOM = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>http://rss.arxiv.org/atom/cs.CV</id>
  <title>cs.CV updates on arXiv.org</title>
  <updated>2026-04-16T04:00:00+00:00</updated>
{entries}</feed>
"""
ENTRY = """  <entry>
    <id>oai:arXiv.org:{id}v1</id>
    <title>{title}</title>
    <link href="https://arxiv.org/abs/{id}" rel="alternate" type="text/html"/>
    <summary>arXiv:{id}v1 Announce Type: new
Abstract: (abstract)</summary>
    <category term="{cat}"/>
    <published>2026-04-16T00:00:00-04:00</published>
    <arxiv:announce_type>new</arxiv:announce_type>
  </entry>
"""


# ---- PostgreSQL ----------------------------------------------------------------------

def test_rising_on_postgresql(cluster: PgCluster, tmp_path: Path) -> None:
    wipe(cluster.url)

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env={"DIGEST_DB": cluster.url,
                                                        **(env or {})}, catch_exceptions=False)
    env = scenario(run, tmp_path)
    assert rising_rows(run, NOW) == AT_NOW
    assert [a for a, _ in sections(run, env, "ada@example.org", NOW)["rising"]] == [
        SEEDANCE, CLAWGUI, GAMEWORLD]
    wipe(cluster.url)
