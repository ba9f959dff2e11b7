"""Live fetches a hostile server cannot flood, hold open or turn inward: a gzip bomb, a
body too large, a body trickled a byte at a time, pages without end and a redirect to
another server on loopback each end as that source's clear error, within the deadline
and in bounded memory, and the run goes on with the other sources."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from digest.ingest.guard import Guard, Refused, inward
from tests.conftest import ROOT
from tests.hostileserver import (
    HostileServer,
    bomb,
    endless_pages,
    full_page,
    gzipped,
    huge,
    redirect,
    send_body,
    trickle,
)
from tests.httpserver import DataServer

DAY = "2026-04-10"
# Peak memory a refused fetch may bring the whole `digest ingest` process to: the
# interpreter and its libraries and one response of at most DIGEST_HTTP_MAX_BYTES (16 MiB):
# 114-130 MB here. Before the bounds, the bomb took 2.2 GB.
MEMORY_MB = 250


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float  # the process's peak resident memory


# The command run as ``python -m digest``, writing its peak resident memory (VmHWM, of its
# own address space) to PEAK_FILE as it exits. The kernel's rusage peak of a child is no
# use here: it carries the peak of the process it was forked from, the test runner, whose
# memory grows to hundreds of MB in a whole run.
_PEAK = """\
import atexit, os, runpy, sys
def peak():
    with open("/proc/self/status") as status, open(os.environ["PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
atexit.register(peak)
sys.argv[0] = "digest"
runpy.run_module("digest", run_name="__main__")
"""


def ingest(tmp_path: Path, *args: str, **env: str) -> Ran:
    """``digest ingest ARGS`` in its own process, with its peak memory measured."""
    out, err, peak = tmp_path / "stdout", tmp_path / "stderr", tmp_path / "peak"
    started = time.monotonic()
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.run(
            [sys.executable, "-c", _PEAK, "ingest", "--json", *args], cwd=ROOT,
            env={**os.environ, "DIGEST_DB": f"sqlite:///{tmp_path / 'd.db'}",
                 "DIGEST_HTTP_BACKOFF": "0", "PEAK_FILE": str(peak), **env},
            stdout=stdout, stderr=stderr, timeout=120, check=False)
    return Ran(child.returncode, out.read_text(), err.read_text(),
               time.monotonic() - started, int(peak.read_text()) / 1024)


def stored(ran: Ran) -> int:
    return int(json.loads(ran.stdout)["papers"])


def hf_url(server: HostileServer, page: int = 0) -> str:
    return f"{server.url}/api/daily_papers?date={DAY}&limit=100&p={page}"


@pytest.mark.parametrize(("answer", "message"), [
    (bomb, "the response is larger than 16777216 bytes unpacked; reading stopped "
           "(raise DIGEST_HTTP_MAX_BYTES if the source is that large)"),
    (huge(50), "the response is larger than 16777216 bytes; reading stopped "
               "(raise DIGEST_HTTP_MAX_BYTES if the source is that large)"),
])
def test_a_response_too_large_is_cut_off_in_bounded_memory(
        tmp_path: Path, answer: Callable[[BaseHTTPRequestHandler], None], message: str,
        server: DataServer) -> None:
    with HostileServer(answer) as hostile:
        ran = ingest(tmp_path, "--hf-date", DAY, "--arxiv", "cs.AI",
                     DIGEST_HF_URL=hostile.url, DIGEST_ARXIV_URL=server.url)
    assert ran.code == 1, ran.stderr
    assert f"Error: {hf_url(hostile)}: {message}" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert hostile.requests == [hf_url(hostile).removeprefix(hostile.url)]  # not retried
    assert stored(ran) == 7  # the arXiv feed, fetched after the refused day
    assert ran.peak_mb < MEMORY_MB, f"peak {ran.peak_mb:.0f} MB"


def test_a_trickled_body_ends_at_the_deadline(tmp_path: Path) -> None:
    with HostileServer(trickle(0.2)) as hostile:
        ran = ingest(tmp_path, "--hf-date", DAY, DIGEST_HF_URL=hostile.url,
                     DIGEST_HTTP_DEADLINE="3", DIGEST_HTTP_TIMEOUT="20")
    assert ran.code == 1, ran.stderr
    assert (f"Error: {hf_url(hostile)}: not done within 3 s (DIGEST_HTTP_DEADLINE), retries "
            "included; raise it if the source is slow but sound") in ran.stderr
    assert ran.seconds < 3 + 10  # the deadline, and the start of a Python process
    assert stored(ran) == 0


def test_pages_without_end_stop_at_the_most_a_day_has(tmp_path: Path) -> None:
    with HostileServer(endless_pages) as hostile:
        ran = ingest(tmp_path, "--hf-date", DAY, DIGEST_HF_URL=hostile.url,
                     DIGEST_HTTP_MAX_PAGES="3")
    assert ran.code == 1, ran.stderr
    assert (f"Error: {hf_url(hostile, 2)}: page 3 is still full, and a day has at most 3 "
            "pages (DIGEST_HTTP_MAX_PAGES); nothing of the day was stored") in ran.stderr
    assert len(hostile.requests) == 3
    assert stored(ran) == 0


def test_a_page_with_more_papers_than_asked_for_is_refused(tmp_path: Path) -> None:
    with HostileServer(lambda h: send_body(h, full_page(101))) as hostile:
        ran = ingest(tmp_path, "--hf-date", DAY, DIGEST_HF_URL=hostile.url)
    assert ran.code == 1, ran.stderr
    assert (f"Error: {hf_url(hostile)}: the page holds 101 papers, more than the 100 asked "
            "for; nothing of the day was stored") in ran.stderr
    assert stored(ran) == 0


def test_a_redirect_to_another_server_on_loopback_is_refused(tmp_path: Path) -> None:
    with HostileServer(lambda h: send_body(h, full_page(3))) as inside, \
            HostileServer(redirect(f"{inside.url}/internal/admin")) as hostile:
        ran = ingest(tmp_path, "--hf-date", DAY, DIGEST_HF_URL=hostile.url)
    assert ran.code == 1, ran.stderr
    assert (f"Error: {hf_url(hostile)}: redirected to {inside.url}/internal/admin, off "
            f"http://127.0.0.1:{hostile.port}; redirects are followed on the configured "
            "scheme, host and port only (set DIGEST_HF_URL, DIGEST_ARXIV_URL, "
            "DIGEST_ARXIV_OAI_URL or DIGEST_BIORXIV_URL to where the source is)") in ran.stderr
    assert inside.requests == []  # never asked
    assert stored(ran) == 0


def test_a_redirect_on_the_configured_host_and_gzip_are_followed(tmp_path: Path) -> None:
    page = gzipped(full_page(3))

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/moved"):
            page(handler)
        else:
            redirect(f"/moved{handler.path}")(handler)

    with HostileServer(answer) as hostile:
        ran = ingest(tmp_path, "--hf-date", DAY, DIGEST_HF_URL=hostile.url)
    assert ran.code == 0, ran.stderr
    assert stored(ran) == 1  # three copies of one paper
    assert len(hostile.requests) == 2


def test_a_proxy_the_environment_names_is_used(tmp_path: Path) -> None:
    """HTTP_PROXY as httpx would read it: the proxy gets the absolute URL and answers."""
    with HostileServer(lambda h: send_body(h, full_page(3))) as proxy:
        ran = ingest(tmp_path, "--hf-date", DAY, DIGEST_HF_URL="http://papers.invalid",
                     HTTP_PROXY=proxy.url, NO_PROXY="")
    assert ran.code == 0, ran.stderr
    assert proxy.requests == [f"http://papers.invalid/api/daily_papers?date={DAY}&limit=100&p=0"]
    assert stored(ran) == 1


@pytest.mark.parametrize(("address", "inside"), [
    ("127.0.0.1", True), ("10.1.2.3", True), ("192.168.0.1", True), ("172.16.0.1", True),
    ("169.254.169.254", True), ("100.64.0.1", True), ("0.0.0.0", True), ("::1", True),
    ("fe80::1%eth0", True), ("fd00::1", True), ("::ffff:127.0.0.1", True),
    ("93.184.216.34", False), ("2606:4700::6810:84e5", False)])
def test_inward_addresses(address: str, inside: bool) -> None:
    assert inward(address) is inside


def test_a_public_source_host_that_turns_inward_is_refused(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """DNS rebinding: the configured host resolved to a public address, then to loopback.
    (Name resolution is replaced here: no test can make a real name change its answer.)"""
    answers = iter([["93.184.216.34"], ["127.0.0.1", "93.184.216.34"]])

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in next(answers)]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    guard = Guard({"mirror.example.org"})
    assert guard.addresses("mirror.example.org", 443) == ["93.184.216.34"]
    with pytest.raises(Refused, match=re.escape("mirror.example.org now resolves to 127.0.0.1")):
        guard.addresses("mirror.example.org", 443)
    unknown = re.escape("evil.example.org is not a configured source host")
    with pytest.raises(Refused, match=unknown):
        guard.addresses("evil.example.org", 443)


def test_a_source_configured_on_loopback_may_use_it() -> None:
    guard = Guard({"127.0.0.1", "localhost"})
    assert guard.addresses("127.0.0.1", 80) == ["127.0.0.1"]
    assert "127.0.0.1" in guard.addresses("localhost", 80)
