"""The CLI as a user meets it: tables, help, and clean errors for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.errors import ConfigError, UnknownSubscriber
from tests.conftest import DATA, ROOT, SEEDS, totals

GOOD = DATA / "hf-daily" / "2026-01-02.json"
GOOD_ITEMS = len(json.loads(GOOD.read_text()))


def test_ingest_seeds_prints_a_table(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "seeds/")
    assert result.exit_code == 0
    assert totals(result.stdout) == (142, 140, 2, 0)
    assert "001_aebde13873380d76.txt" in result.stdout
    assert "140 distinct papers stored" in result.stdout


def test_one_source_is_counted_in_the_singular(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", str(GOOD))
    assert result.exit_code == 0
    assert "1 source " in result.stdout and "1 sources" not in result.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_ingest_quiet_prints_only_warnings_and_errors(run, where: str) -> None:  # type: ignore[no-untyped-def]
    args = ("-q", "ingest", str(GOOD)) if where == "before" else ("ingest", str(GOOD), "-q")
    result = run(*args)
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    missing = run("ingest", "-q", "no-such-file.json")
    assert missing.exit_code == 1 and missing.stdout == ""
    assert "no-such-file.json: no such file or folder" in missing.stderr


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "file is empty"),
        ("blank.json", b"  \n\n", "file is empty"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("latin1.txt", "Café".encode("latin-1"), "not UTF-8 text"),
        ("page.html", b"<!DOCTYPE html><html><body>x</body></html>", "an HTML page"),
        ("cut.json", GOOD.read_bytes()[:4000], "not valid JSON"),
        ("object.json", b'{"papers": []}', "expected a JSON list of daily_papers items"),
        ("cut.xml", (DATA / "arxiv" / "cs.AI-2025-08-20.atom.xml").read_bytes()[:2500],
         "not well-formed XML"),
        ("notes.txt", b"just some notes\nnothing else\n", "unrecognised format"),
    ],
)
def test_bad_file_is_reported_and_others_still_ingested(
    run, tmp_path: Path, name: str, content: bytes, reason: str  # type: ignore[no-untyped-def]
) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    result = run("ingest", str(GOOD), str(bad))
    assert result.exit_code == 1
    assert f"Error: {bad}: " in result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.output
    assert totals(result.stdout) == (GOOD_ITEMS, GOOD_ITEMS, 0, 1)
    papers = [json.loads(line) for line in run("papers", "--json").stdout.splitlines()]
    assert len(papers) == GOOD_ITEMS
    assert all(p["sources"] == [GOOD.name] for p in papers)


def test_file_not_in_the_format_asked_for(run) -> None:  # type: ignore[no-untyped-def]
    seed = next(SEEDS.glob("000_*.txt"))
    result = run("ingest", str(seed), "--format", "hf-json")
    assert result.exit_code == 1
    assert f"Error: {seed}: not valid JSON" in result.stderr
    assert run("papers", "--json").stdout == ""


def test_missing_path_is_reported(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "no/such/file.txt", str(GOOD))
    assert result.exit_code == 1
    assert "Error: no/such/file.txt: no such file or folder" in result.stderr
    assert totals(result.stdout)[1] == GOOD_ITEMS


def test_captured_and_owner_options(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seed = next(SEEDS.glob("003_*.txt"))
    result = run("ingest", str(seed), "--captured", "2026-05-20", "--owner", "Difan Zou")
    assert result.exit_code == 0
    papers = [json.loads(line) for line in run("papers", "--json").stdout.splitlines()]
    assert all("Difan Zou" in p["authors"] for p in papers)
    roadmap = next(p for p in papers if p["title"].startswith("Toward Native Multimodal"))
    assert roadmap["published"] == "2025-05-25"  # "May 25" had not come yet on 2026-05-20


def test_bad_manifest_names_the_file_and_entry(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.json").write_bytes(GOOD.read_bytes())
    (tmp_path / "sources.yaml").write_text("files:\n  a.json:\n    fromat: hf-json\n")
    result = run("ingest", str(tmp_path))
    assert result.exit_code == 1
    assert "sources.yaml: files: a.json: unknown key 'fromat'; did you mean 'format'?" \
        in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "seeds/", "--now", "yesterday"], "Error: --now/DIGEST_NOW 'yesterday' is not"),
        (["ingest", "seeds/", "--db", "nosuchdb://x"], "Error: cannot use database URL"),
        (["ingest", "seeds/", "--db", "sqlite:////no/such/dir/x.db"],
         "Error: cannot open database"),
        (["ingest"], "name files or folders to read"),
    ],
)
def test_user_mistakes_give_clean_errors(run, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://lab.db", "'sqlite://lab.db': write sqlite:///lab.db (three slashes, then "
                            "the path; four for an absolute path)"),
        ("mysql://digest@db.example.org/digest", "mysql is not supported; use SQLite "
                                                  "(sqlite:///digest.db) or PostgreSQL"),
        ("lab.db", "'lab.db': that is not a URL; for a SQLite file write sqlite:///lab.db"),
    ],
)
def test_a_wrong_database_url_is_told_in_one_line(run, url: str, message: str) -> None:  # type: ignore[no-untyped-def]
    """Not SQLAlchemy's several lines of URL forms, nor 'pip install digest[postgres]'
    for MySQL."""
    result = run("ingest", "seeds/", "--db", url)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot use database URL "), lines
    assert message in lines[0]
    assert "postgres]" not in result.stderr


def test_every_command_has_help_with_an_example(run) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(cli, click.Group)
    for name in cli.commands:
        result = run(name, "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout, f"digest {name} --help lacks an example"


def test_papers_json_has_every_documented_field(run) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(DATA / "hf-daily" / "2026-04-16.json"), "--now", "2026-04-16T09:00:00+02:00")
    paper = json.loads(run("papers", "--json").stdout.splitlines()[0])
    for field in ("id", "arxiv_id", "title", "authors", "author_count", "truncated",
                  "organization", "category", "published", "featured", "upvotes", "score",
                  "has_code", "github_repo", "abstract", "sources", "first_seen"):
        assert field in paper
    assert paper["first_seen"] == "2026-04-16T07:00:00+00:00"
    text = run("papers").stdout
    assert paper["title"][:30] in text



CONFIG = ["--config", str(ROOT / "subscriptions.yaml")]


@pytest.mark.parametrize("args", [["unsubscribe", "nobody@example.org"],
                                  ["resubscribe", "nobody@example.org"],
                                  ["preview", "nobody@example.org", *CONFIG],
                                  ["send", "--only", "nobody@example.org", "--dry-run", *CONFIG]])
def test_an_unknown_subscriber_is_its_own_error(run, db_url: str, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert run("ingest", "seeds/").exit_code == 0
    result = run(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no subscriber nobody@example.org in ")
    assert "Traceback" not in result.output
    raw = CliRunner().invoke(cli, args, env={"DIGEST_DB": db_url}, standalone_mode=False)
    assert isinstance(raw.exception, click.ClickException)
    cause = raw.exception.__cause__
    assert isinstance(cause, UnknownSubscriber) and not isinstance(cause, ConfigError)


def test_check_json_lists_each_problem_of_the_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("subscribers:\n  - email: not-an-address\n    cadence: hourly\n")
    result = run("check", str(bad), "--json")
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is False and verdict["file"] == str(bad)
    plain = run("check", str(bad))
    assert plain.stderr == "Error: " + "\n".join(verdict["problems"]) + "\n"
    assert len(verdict["problems"]) >= 2
    missing = run("check", str(tmp_path / "none.yaml"), "--json")
    said = run("check", str(tmp_path / "none.yaml")).stderr
    assert json.loads(missing.stdout)["problems"] == [said.removeprefix("Error: ").rstrip()]
