"""What operators and the machines that watch them rely on: settings from the
environment checked at the start, in one place."""

from __future__ import annotations

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
