"""Every shell example in README.md and docs/ still runs.

Each ```sh block's lines are read (``\\`` continuations joined, comments dropped). Every
`digest` command among them is parsed by the real command line with ``--help`` added, so
a renamed command or option fails here; then the examples that need no network, no
server and no set-up beyond the README's run for real, in order, in a copy of the
example project, each through bash with `digest` on the PATH. Those that fetch live
feeds (``--hf-date``, ``--arxiv``) are parsed only: tests/test_fetch.py runs them against
a local server. A path under /etc is written into the copy instead.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from tests.conftest import ROOT, SEEDS

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOW = "2026-12-01T14:00:00Z"
LIVE = ("--hf-date", "--arxiv", "--biorxiv")  # --arxiv covers --arxiv-oai
SETUP = ("python3 -m venv", "scripts/test")  # the README's set-up: tests/test_readme.py


def examples() -> list[tuple[str, str]]:
    """(file name, command line) for each line of every ```sh block."""
    found = []
    for path in DOCS:
        for block in re.findall(r"```sh\n(.+?)\n```", path.read_text(), re.DOTALL):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #", 1)[0].strip() if " #" in line else line.strip()
                if line and not line.startswith("#"):
                    found.append((path.name, line))
    return found


def digest_commands(line: str) -> list[list[str]]:
    """The `digest` commands of a line, each as its words after `digest`."""
    parts = re.split(r"\s*(?:\|\||&&|\||;)\s*", line)
    words = [shlex.split(part) for part in parts if part]
    return [w[1:] for w in words if w and w[0].endswith(("/digest", "digest")) and
            Path(w[0]).name == "digest"]


def test_the_docs_hold_shell_examples() -> None:
    lines = [line for _, line in examples()]
    assert len(lines) >= 10
    assert any(line.startswith("digest preview") for line in lines)


@pytest.mark.parametrize(("where", "line"), examples())
def test_every_digest_command_in_the_docs_parses(where: str, line: str) -> None:
    for args in digest_commands(line):
        done = CliRunner().invoke(cli, [*args, "--help"], prog_name="digest")
        assert done.exit_code == 0, f"{where}: {line}\n{done.output}"


def runnable(line: str) -> bool:
    return not line.startswith(SETUP) and not any(flag in line for flag in LIVE)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(ROOT / "subscriptions.yaml", folder)
    shutil.copytree(SEEDS, folder / "seeds")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "digest"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m digest "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", DIGEST_NOW=NOW)
    subprocess.run(["digest", "run", "--once"], cwd=folder, env=env, check=True,
                   capture_output=True, timeout=300)
    # The database an example moves subscribers from.
    subprocess.run(["digest", "--db", "sqlite:///old.db", "subscribers", "add",
                    "mo@example.org", "--keyword", "flow matching"], cwd=folder, env=env,
                   check=True, capture_output=True, timeout=300)
    return folder, env


def test_the_docs_shell_examples_run(project: tuple[Path, dict[str, str]]) -> None:
    folder, env = project
    ran = 0
    for where, line in examples():
        if not runnable(line):
            continue
        line = re.sub(r"\.venv/bin/digest", "digest", line)
        line = re.sub(r"/etc/\S+/", "./", line)
        done = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{where}: {line}\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"{where}: {line}\n{done.stderr}"
        ran += 1
    assert ran >= 8
