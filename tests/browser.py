"""Headless Chromium (Debian's ``chromium``) for what people look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium_path() -> str:
    """The browser, or a skip (a failure when DIGEST_REQUIRE_BROWSER=1, as in scripts/test)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("DIGEST_REQUIRE_BROWSER") == "1":
        pytest.fail("chromium is not installed; scripts/test installs it with apt-get")
    pytest.skip("chromium is not installed (scripts/test installs it)")


def chromium(url: str, *args: str, width: int, height: int = 1200) -> str:
    """Run headless Chromium on ``url`` with a fresh profile; returns its stdout."""
    with tempfile.TemporaryDirectory(prefix="digest-chromium-") as profile:
        result = subprocess.run(
            [chromium_path(), *FLAGS, f"--user-data-dir={profile}",
             f"--window-size={width},{height}", *args, url],
            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(url: str, out: Path, width: int, height: int = 1600,
               flags: tuple[str, ...] = ()) -> Path:
    """A PNG of ``url`` ``width`` px wide; ``flags`` such as ``--force-dark-mode``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    chromium(url, f"--screenshot={out}", *flags, width=width, height=height)
    assert out.stat().st_size > 1000
    return out


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
