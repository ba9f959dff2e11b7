"""The shipped systemd units are ones systemd accepts, and run what exists."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS = sorted((ROOT / "contrib" / "systemd").glob("*.service"))


def test_there_are_units_for_the_bot_the_worker_and_the_pages() -> None:
    assert [u.name for u in UNITS] == ["digest-bot.service", "digest-serve.service",
                                       "digest-worker.service"]
    for unit in UNITS:
        text = unit.read_text()
        assert "/srv/digest/.venv/bin/digest " in text and "Restart=on-failure" in text


def test_the_worker_unit_restarts_a_worker_that_lost_its_database() -> None:
    """A worker that exits 1 (its PostgreSQL away too long) is brought back by its unit."""
    service = _section(ROOT / "contrib" / "systemd" / "digest-worker.service", "Service")
    assert service["ExecStart"] == "/srv/digest/.venv/bin/digest worker"
    assert service["Restart"] == "on-failure" and float(service["RestartSec"]) > 0
    assert service["KillSignal"] == "SIGTERM"  # it finishes the mail in flight, exits 0


def _section(unit: Path, name: str) -> dict[str, str]:
    """The last value of each key in section ``name`` of a unit file."""
    found: dict[str, str] = {}
    current = ""
    for line in unit.read_text().splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == name and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed here, so the units go unchecked")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    digest = Path(sys.executable).with_name("digest")  # where this install's digest is
    assert digest.exists()
    copies = []
    for unit in UNITS:
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/srv/digest/.venv/bin/digest", str(digest)))
        copies.append(str(copy))
    result = subprocess.run(["systemd-analyze", "verify", *copies], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [line for line in result.stderr.splitlines() if ".service" in line], \
        result.stderr
