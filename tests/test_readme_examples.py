"""The `digest preview` examples of docs/commands.md, run right after the README's set-up,
show what the docs say they show.

The examples are read from docs/commands.md (the ```sh block of the `digest preview`
section), so editing the docs changes what is tested. They run in a copy of the project's example
files (``subscriptions.yaml``, ``seeds/``) in a temporary folder, after the set-up's
``digest run --once``, each through the real CLI in a subprocess.

The set-up runs with its clock pinned (``DIGEST_NOW``) to 2026-12-01T14:00:00Z, the day
the examples were found to say "nothing new": any moment after the examples' 2026-06-01
would do, and a fixed one keeps the test from changing with the calendar (at the real
clock, once the seeds are older than ``max_age_days`` the set-up would send nothing and
the test would no longer check that later sends are ignored). ``--open`` is stripped:
a test does not launch a browser.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS

SETUP_NOW = "2026-12-01T14:00:00Z"


def preview_section() -> str:
    text = (ROOT / "docs" / "commands.md").read_text()
    return text.split("## `digest preview", 1)[1].split("\n## ", 1)[0]


def examples() -> list[list[str]]:
    """The section's shell commands, each split into words, without ``--open``."""
    (block,) = re.findall(r"```sh\n(.+?)\n```", preview_section(), re.DOTALL)
    return [[w for w in shlex.split(line) if w != "--open"] for line in block.splitlines()]


def digest(folder: Path, *args: str, now: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    if now is not None:
        env["DIGEST_NOW"] = now
    done = subprocess.run([sys.executable, "-m", "digest", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example files after the README's set-up (``digest run --once``)."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copy(ROOT / "subscriptions.yaml", folder)
    shutil.copytree(SEEDS, folder / "seeds")
    digest(folder, "run", "--once", now=SETUP_NOW)
    status = json.loads(digest(folder, "subscribers", "--json").stdout)["subscribers"]
    ada = next(s for s in status if s["email"] == "ada@example.org")
    assert ada["papers_sent"] > 0  # the set-up sent Ada's papers, after the examples' moment
    return folder


def test_the_section_has_the_examples_this_test_knows() -> None:
    commands = examples()
    assert all(words[0] == "digest" for words in commands)
    assert [w[1] for w in commands] == ["ingest", "preview", "preview", "preview"]
    formats = [w[w.index("--format") + 1] for w in commands if w[1] == "preview"]
    assert formats == ["json", "html", "text"]


def test_the_examples_show_what_the_readme_says(project: Path) -> None:
    for words in examples():
        done = digest(project, *words[1:])
        if words[1] == "ingest":
            assert "140 distinct papers" in done.stdout
            continue
        check = {"json": json_example, "html": html_example, "text": text_example}
        check[words[words.index("--format") + 1]](project, words, done.stdout)


def json_example(project: Path, words: list[str], out: str) -> None:
    plan = json.loads(out)
    assert plan["subscriber"] == words[2]
    assert "nothing new" not in plan["subject"].lower()
    assert plan["period"]["start"] <= plan["period"]["end"]
    assert [s["name"] for s in plan["sections"]] == ["authors", "keywords", "trending",
                                                     "rising", "recommended", "possibly"]
    papers = [p for s in plan["sections"] for p in s["papers"]]
    assert papers and all(p["reasons"] for p in papers)
    reasons = {r for p in papers for r in p["reasons"]}
    claimed = [" ".join(c.split())  # a reason the docs wrap across lines
               for c in re.findall(r"`((?:author|keyword): [^`]+)`", preview_section())]
    assert claimed and set(claimed) <= reasons  # the reasons the docs name as examples


def html_example(project: Path, words: list[str], out: str) -> None:
    html = (project / words[words.index("-o") + 1]).read_text()
    assert html.lstrip().lower().startswith(("<!doctype html", "<html"))
    assert "Nothing new" not in html and "From authors you follow" in html


def text_example(project: Path, words: list[str], out: str) -> None:
    view, blank, heading = out.splitlines()[:3]  # the mail's text part, as it will be
    assert view.startswith("View in browser: ") and not blank
    assert heading.startswith("Paper Digest · Daily Papers for Ada")
    assert "Nothing new" not in out and "== From authors you follow ==" in out


def test_the_readmes_inbox_listing_prints_decoded_subjects(project: Path) -> None:
    """The README's one-liner that lists the Maildir's subjects, run as written there: the
    subjects read as text, not as the encoded words their headers hold."""
    (line,) = re.findall(r'`(python3 -c "import mailbox[^`]+)`', (ROOT / "README.md").read_text())
    done = subprocess.run(shlex.split(line), cwd=project, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    subjects = done.stdout.splitlines()
    assert len(subjects) >= 2 and all(s.endswith(("Daily Papers", "Weekly Papers"))
                                      for s in subjects), subjects
    assert not any("=?" in s for s in subjects)
    assert any("·" in s for s in subjects)  # non-ASCII, decoded
