"""``digest serve`` in a subprocess on a free loopback port, for tests over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.smtpserver import free_port


def free_base() -> tuple[int, str]:
    port = free_port()
    return port, f"http://127.0.0.1:{port}"


@contextmanager
def serving(env: dict[str, str], port: int | None = None, log: Path | None = None
            ) -> Iterator[str]:
    """Run ``digest serve`` with ``env`` until the block ends; yields its base URL. Its
    output (uvicorn's log on stderr, its access log on stdout) goes to the file ``log``
    when given, else nowhere."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") if log else nullcontext(subprocess.DEVNULL) as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "digest", "serve", "--port", str(port)], cwd=ROOT,
            env={**os.environ, **env}, stdout=stderr, stderr=stderr)
        try:
            deadline = time.monotonic() + 60  # a loaded machine starts Python slowly
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
                if child.poll() is not None:
                    pytest.fail(f"digest serve exited with {child.returncode}")
                if time.monotonic() > deadline:
                    pytest.fail("digest serve did not answer /health within 60 s")
            yield base
        finally:
            child.terminate()
            child.wait(timeout=10)
