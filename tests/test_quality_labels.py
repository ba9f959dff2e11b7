"""The labelled set benchmarks/quality_match.py measures relevance on is well formed:
every subscriber says who they are, every label says relevant or not and why."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_labelled_set_is_well_formed() -> None:
    done = subprocess.run([sys.executable, "benchmarks/quality_match.py", "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
