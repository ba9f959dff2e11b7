"""Issue 11: nothing lost to a bad file. Hostile source files, manifests and import files
through the real CLI: each is a clear error or warning naming the file, never a traceback,
and the other files are still read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, SEEDS, totals
from tests.hostile import GOOD, bad_folder, deep_json, hf_items, write

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
    assert run("subscribers", "export").stdout == "subscribers: []\n"


# ---- one bad file is that file's error, whatever the error ------------------------------

def test_any_error_in_one_file_is_that_files_error(run: Any, tmp_path: Path) -> None:
    folder = bad_folder(tmp_path / "inbox")
    result = run("ingest", str(folder))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: {folder / 'authors.json'}: cannot be read (TypeError: 'int' object is not "
        "iterable); the other files are still read",
        f"Error: {folder / 'surrogate.json'}: cannot be read (UnicodeEncodeError: 'utf-8' "
        "codec can't encode character '\\ud800' in position 5: surrogates not allowed); the "
        "other files are still read"]
    assert totals(result.stdout)[1:] == (GOOD_ITEMS, 0, 2)
    assert len(papers(run)) == GOOD_ITEMS
