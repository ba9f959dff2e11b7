"""Mail servers the tests run in the foreground (tests/postfix.py, tests/dovecot.py): each
in its own process group, its output in a file, waited for until its ports answer, and
stopped with every process it started, even when its start-up or the test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def sbin(program: str) -> str:
    """The path of a mail server's program: in /usr/sbin, which a CI shell's PATH may
    leave out ("" when it is not installed)."""
    return shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin") or ""


def require_mta(what: str) -> None:
    """Skip the test for ``what`` (why it cannot run), or fail under DIGEST_REQUIRE_MTA=1."""
    if os.environ.get("DIGEST_REQUIRE_MTA") == "1":
        pytest.fail(f"{what} (DIGEST_REQUIRE_MTA=1; scripts/test, run as root, installs "
                    "postfix and dovecot-imapd)")
    pytest.skip(what)


def start(argv: list[str], output: Path) -> subprocess.Popen[bytes]:
    """Run ``argv`` in a new process group, its stdout and stderr going to ``output``."""
    with output.open("wb") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)


def wait_listening(process: subprocess.Popen[bytes], ports: tuple[int, ...],
                   log: Callable[[], str], seconds: float = 15.0) -> None:
    """Return once every loopback port in ``ports`` takes a connection; raise
    AssertionError with ``log()`` when the process exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited:\n{log()}")
        try:
            for port in ports:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{process.args!r} did not listen on {ports}:\n{log()}")


def logs(*paths: Path) -> str:
    """The text of those of ``paths`` that exist (a server's logs, for a failure)."""
    return "\n".join(path.read_text(errors="replace") for path in paths if path.exists())


def stop(process: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM (a master passes it on to its children), SIGKILL after ``grace`` seconds,
    then SIGKILL to whatever of its process group is left."""
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    # A signal is delivered, not done: wait until the group's processes have gone (a
    # zombie waiting for its reaper has), so that nothing outlives the harness.
    deadline = time.monotonic() + 10
    while _alive_in_group(process.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _alive_in_group(group: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            _, rest = stat.read_text().rsplit(")", 1)
        except OSError:  # gone meanwhile
            continue
        state, _, pgrp = rest.split()[:3]
        if int(pgrp) == group and state != "Z":
            return True
    return False
