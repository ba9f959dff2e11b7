"""docs/reference.md is every command's --help as the commands print it today."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_commands_reference_is_the_help_of_today() -> None:
    done = subprocess.run([sys.executable, "scripts/reference.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_reference_holds_every_command() -> None:
    from digest.cli import cli
    text = (ROOT / "docs" / "reference.md").read_text()
    for name in cli.commands:
        assert f"## `digest {name}`" in text
    assert "Usage: digest send [OPTIONS]" in text
