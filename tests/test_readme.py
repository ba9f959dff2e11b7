"""The README's two set-up commands are the ones CI and users run."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", setup, re.DOTALL)


def test_readme_has_exactly_two_setup_commands() -> None:
    main, tests = commands()
    assert main.startswith("python3 -m venv .venv")
    assert main.endswith(".venv/bin/digest run --once")
    assert tests == "scripts/test"


def test_ci_runs_the_readme_test_command_and_nothing_else() -> None:
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1] == commands()[1]
    assert all(line.startswith(("set ", "cd ")) for line in lines[:-1])
