"""Issue 11: nothing lost to a bad file. Hostile source files, manifests and import files
through the real CLI: each is a clear error or warning naming the file, never a traceback,
and the other files are still read."""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from digest.store import Store
from tests.conftest import DATA, SEEDS, totals
from tests.hostile import (
    GOOD,
    bad_folder,
    deep_json,
    digest_process,
    hf_items,
    huge_papers,
    parser_bug,
    write,
)

GOOD_ITEMS = len(json.loads(GOOD.read_text()))
DAILY = next(SEEDS.glob("004_*.txt")).read_text()
PROFILE = next(SEEDS.glob("000_*.txt")).read_text()
FEED = (DATA / "arxiv" / "cs.AI-2025-08-20.atom.xml").read_text()
HUGE = "9" * 5000
OUT_OF_RANGE = "outside 0 to 1,000,000,000, stored as unknown"


def papers(run: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run("papers", "--json").stdout.splitlines()]


def test_json_nested_100000_deep_is_that_files_error(run: Any, tmp_path: Path) -> None:
    bad = write(tmp_path / "deep.json", deep_json())
    result = run("ingest", str(GOOD), str(bad))
    assert result.exit_code == 1
    assert result.stderr.endswith(f"Error: {bad}: nested too deep (arrays or objects inside "
                                  "each other); daily_papers JSON is four levels deep\n")
    assert "Traceback" not in result.output
    assert totals(result.stdout) == (GOOD_ITEMS, GOOD_ITEMS, 0, 1)


@pytest.mark.parametrize(
    ("fields", "raw", "warning"),
    [
        ({"upvotes": 2**64}, None, f"upvotes {OUT_OF_RANGE}"),
        ({"upvotes": -3}, None, f"upvotes {OUT_OF_RANGE}"),
        ({"upvotes": 0}, ('"upvotes": 0', f'"upvotes": {HUGE}'), f"upvotes {OUT_OF_RANGE}"),
        ({"githubStars": 0}, ('"githubStars": 0', f'"githubStars": -{HUGE}'),
         f"GitHub stars {OUT_OF_RANGE}"),
    ],
)
def test_numbers_out_of_range_are_stored_as_unknown(
    run: Any, tmp_path: Path, fields: dict[str, Any], raw: tuple[str, str] | None, warning: str
) -> None:
    text = json.dumps(hf_items(**fields))
    if raw is not None:
        text = text.replace(*raw)
    bad = write(tmp_path / "numbers.json", text)
    result = run("ingest", str(bad))
    assert result.exit_code == 0, result.output
    assert f"digest: numbers.json: {warning} in 1 paper (first: " in result.stderr
    assert "Traceback" not in result.output
    stored = {p["title"]: p for p in papers(run)}
    assert len(stored) == 2
    first = stored[json.loads(GOOD.read_text())[0]["paper"]["title"]]
    assert first["upvotes" if "upvotes" in fields else "github_stars"] is None


@pytest.mark.parametrize(
    ("name", "text", "warning", "field"),
    [
        ("page.txt", DAILY.replace("Apr 2, 2025 2\n", f"Apr 2, 2025 {HUGE}\n", 1),
         f"upvotes {OUT_OF_RANGE}", "upvotes"),
        ("page.txt", DAILY.replace("• 10 authors\n", f"• {HUGE} authors\n", 1),
         f"author counts {OUT_OF_RANGE}", "author_count"),
        ("profile.txt", PROFILE.replace("\nCVMar 3\n", f"\n{HUGE}.5CVMar 3\n", 1),
         "scores outside 0 to 1,000,000, stored as unknown", "score"),
    ],
)
def test_huge_numbers_in_pages_are_stored_as_unknown(
    run: Any, tmp_path: Path, name: str, text: str, warning: str, field: str
) -> None:
    bad = write(tmp_path / name, text)
    result = run("ingest", str(bad), "--captured", "2026-05-31")
    assert result.exit_code == 0, result.output
    assert f"digest: {name}: {warning} in 1 paper (first: " in result.stderr
    stored = papers(run)
    assert stored and all(p[field] is None or p[field] < 1000 for p in stored)
    assert json.dumps(stored, allow_nan=False)  # no Infinity either


def test_xml_nested_100000_deep_is_read(run: Any, tmp_path: Path) -> None:
    at = FEED.index("<entry")
    deep = "<x>" * 100_000 + "deep" + "</x>" * 100_000
    bad = write(tmp_path / "feed.xml", FEED[:at] + f"<entry><title>{deep}</title></entry>"
                + FEED[at:])
    result = run("ingest", str(bad))
    assert "Traceback" not in result.output
    assert totals(result.stdout)[1] >= 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("files: " + deep_json(), "1: nested more than 32 levels deep; this file holds flat data"),
        (f"files:\n  a.json:\n    captured: {HUGE}\n",
         "3: a number of 5000 digits; numbers here are small"),
        ("a: &a [lol, lol]\nb: &b [*a, *a]\nfiles:\n  a.json:\n    format: *b\n",
         "2: aliases (*name, and the &name anchors they repeat) are not allowed; write the "
         "values out"),
        ("files:\n  a.json:\n    format: hf-json\n  a.json:\n    owner: Ada\n",
         "4: duplicate key 'a.json' (first at line 2); YAML would keep only the last one"),
        ("", "the manifest is empty; it needs a 'files:' mapping of file name -> settings"),
    ],
)
def test_hostile_manifest_is_a_clear_error(run: Any, tmp_path: Path, text: str,
                                           message: str) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.json").write_bytes(GOOD.read_bytes())
    manifest = write(folder / "sources.yaml", text)
    result = run("ingest", str(folder))
    assert result.exit_code == 1
    where = f"{manifest}:" if message[0].isdigit() else f"{manifest}: "
    assert f"Error: {where}{message}\n" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("deep.json", '{"subscribers": ' + deep_json() + "}",
         "1: nested more than 32 levels deep; this file holds flat data"),
        ("digits.json", '{"subscribers": [{"email": "a@example.org", "max_papers": '
         f"{HUGE}}}]}}", "1: a number of 5000 digits; numbers here are small"),
        ("digits.yaml", f"subscribers:\n  - email: a@example.org\n    max_papers: {HUGE}\n",
         "3: a number of 5000 digits; numbers here are small"),
        ("big.json", '{"subscribers": [{"email": "a@example.org", "max_papers": '
         f"{2**64}}}]}}", "1: subscriber a@example.org: max_papers: Input should be less "
         "than or equal to 500"),
    ],
)
def test_hostile_import_file_is_a_clear_error(run: Any, tmp_path: Path, name: str, text: str,
                                              message: str) -> None:
    bad = write(tmp_path / name, text)
    result = run("subscribers", "import", str(bad),
                 env={"DIGEST_CONFIG": str(tmp_path / "none.yaml")})
    assert (result.exit_code, result.stderr) == (1, f"Error: {bad}:{message}\n")
    exported = run("subscribers", "export")  # nothing imported: not even a database made
    assert exported.exit_code == 1 and "there is no database there" in exported.output


# ---- one bad file is that file's error, whatever the error ------------------------------

def test_any_error_in_one_file_is_that_files_error(run: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    parser_bug(monkeypatch)
    folder = bad_folder(tmp_path / "inbox")
    result = run("ingest", str(folder))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: {folder / 'authors.json'}: cannot be read (TypeError: 'int' object is not "
        "iterable); the other files are still read"]
    assert "digest: surrogate.json: titles holding an unpaired surrogate: replaced by U+FFFD " \
        "in 1 paper (first: 'Lone \\ud800 surrogate')" in result.stderr
    assert totals(result.stdout)[1:] == (GOOD_ITEMS + 1, 1, 1)
    titles = {p["title"] for p in papers(run)}
    assert len(titles) == GOOD_ITEMS + 1 and "Lone \ufffd surrogate" in titles



# ---- every text field bounded, every mail small -----------------------------------------

def test_every_text_field_is_cut_at_ingest_with_a_warning(run: Any, tmp_path: Path,
                                                          db_url: str) -> None:
    bad = write(tmp_path / "huge.json", huge_papers("plain"))
    assert bad.stat().st_size > 7_000_000
    result = run("ingest", str(bad))
    assert result.exit_code == 0, result.output
    for what in ("titles longer than 300 characters cut in 25 papers",
                 "abstracts longer than 5,000 characters cut in 25 papers",
                 "AI summaries longer than 5,000 characters cut in 25 papers",
                 "author names longer than 100 characters cut in 25 papers",
                 "author lists longer than 1,000 cut to their first 1,000 in 1 paper",
                 "organisations longer than 100 characters cut in 25 papers",
                 "GitHub URLs longer than 300 characters or not text dropped in 25 papers",
                 "keyword lists longer than 100 cut to their first 100 in 1 paper",
                 "keywords longer than 100 characters cut in 25 papers"):
        assert f"digest: huge.json: {what} (first: " in result.stderr, what
    stored = papers(run)
    assert len(stored) == 25
    assert max(len(p["title"]) for p in stored) == 300 and stored[0]["title"].endswith("…")
    assert max(len(a) for p in stored for a in p["authors"]) <= 100
    first = next(p for p in stored if p["title"].startswith("0 "))
    assert len(first["authors"]) == 1000 and first["truncated"]
    assert first["author_count"] == 2000
    assert all(p["github_repo"] is None for p in stored)
    assert all(p["project_page"] == "https://example.org/" + "a&b" * 90 for p in stored)
    assert Path(db_url.removeprefix("sqlite:///")).stat().st_size < 2_000_000


def hostile_digest(run: Any, tmp_path: Path, kind: str, cards: int | None = 20) -> str:
    """The HTML of the digest a database subscriber following a keyword of every paper and
    an author of one gets, after an ingest of ``huge_papers(kind)``."""
    bad = write(tmp_path / "huge.json", huge_papers(kind))
    assert run("-q", "ingest", str(bad), "--now", "2026-01-02T12:00:00Z").exit_code == 0
    config = write(tmp_path / "subscriptions.yaml", "subscribers: []\n")
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox"),
           "DIGEST_BASE_URL": "https://digest.example.org", "DIGEST_SECRET": "s3cret"}
    follow = next(p for p in papers(run) if p["title"].startswith("3 "))["authors"][0]
    added = run("subscribers", "add", "a@example.org", "--keyword", "lorem", "--author",
                follow, "--cadence", "daily", env=env)
    assert added.exit_code == 0, added.output
    sent = run("send", "--now", "2026-01-03T09:00:00Z", env=env)
    assert sent.exit_code == 0, sent.output
    (key,) = mailbox.Maildir(tmp_path / "outbox", create=False).keys()
    raw = mailbox.Maildir(tmp_path / "outbox", create=False).get_bytes(key)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html: str = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    if cards is not None:
        assert html.count('class="card"') == cards  # max_papers: 20 by default
    assert "/f/" in html and "/u/" in html  # follow links, with the names in them
    return html


def test_a_digest_of_huge_papers_stays_under_100_kb(run: Any, tmp_path: Path) -> None:
    size = len(hostile_digest(run, tmp_path, "plain").encode("utf-8"))
    assert size < 100_000, f"{size} bytes"


@pytest.mark.parametrize("kind", ["escapes", "cjk", "emoji"])
def test_a_digest_of_huge_papers_in_any_characters_stays_under_100_kb(
        run: Any, tmp_path: Path, db_url: str, kind: str) -> None:
    """Bounds at ingest are not enough (escapes, 3- and 4-byte characters, a search link
    repeating the title): the mail shows fewer cards, and only those count as sent."""
    html = hostile_digest(run, tmp_path, kind, cards=None)
    size = len(html.encode("utf-8"))
    assert size < 100_000, f"{size} bytes"
    shown = html.count('class="card"')
    assert 10 <= shown < 20  # the cards that fit, not none
    assert Store(db_url).statuses()[0].papers_sent == shown


def test_a_profile_line_of_megabytes_is_read_in_seconds(tmp_path: Path) -> None:
    lines = next(SEEDS.glob("001_*.txt")).read_text().splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith("CV"))  # an entry line
    lines[at + 1] = "Ab" * 500_000 + lines[at + 1]  # compact: the title runs into the authors
    page = write(tmp_path / "page.txt", "\n".join(lines) + "\n")
    done = digest_process("-q", "ingest", str(page), "--captured", "2026-05-31",
                          env={"DIGEST_DB": f"sqlite:///{tmp_path / 'd.db'}"}, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "titles longer than 300 characters cut in 1 paper" in done.stderr
