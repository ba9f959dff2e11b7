"""`digest serve` bounded on its own, with no proxy in front: a body of ``&`` far past
the body limit, or just under it, is refused in well under a second, and clients that
send their headers slowly, or nothing at all, are dropped after the header timeout while
the pages still answer."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from digest import defaults
from tests.serving import free_base, serving

HEADER_SECONDS = 1.0


@pytest.fixture
def site(mail_env: dict[str, str], db_url: str) -> Iterator[tuple[str, int]]:
    port, base = free_base()
    env = {**mail_env, "DIGEST_DB": db_url,
           "DIGEST_SERVE_HEADER_SECONDS": str(HEADER_SECONDS)}
    with serving(env, port):
        yield base, port


def post_head(length: int) -> bytes:
    return (f"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
            f"application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n").encode()


def answer(port: int, request: bytes, body: bytes) -> tuple[bytes, float]:
    """Send ``request`` and, from another thread, ``body``; the status line of the
    answer and the seconds it took."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        started = time.monotonic()
        conn.sendall(request)

        def feed() -> None:
            with contextlib.suppress(OSError):  # the server may hang up once it answered
                conn.sendall(body)

        threading.Thread(target=feed, daemon=True).start()
        status = conn.makefile("rb").readline()
        return status, time.monotonic() - started


def test_a_huge_body_of_ampersands_is_refused_at_once(site: tuple[str, int]) -> None:
    _, port = site
    body = b"&" * (20 * 1024 * 1024)
    status, seconds = answer(port, post_head(len(body)), body)
    assert status.startswith(b"HTTP/1.1 413"), status
    assert seconds < 1.0


def test_a_body_of_ampersands_under_the_limit_is_not_parsed(site: tuple[str, int]) -> None:
    base, _ = site
    body = b"&" * (defaults.SERVE_MAX_BODY_BYTES - 1)
    started = time.monotonic()
    refused = httpx.post(f"{base}/subscribe", content=body, timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert time.monotonic() - started < 1.0
    assert refused.status_code == 400
    assert "too large or malformed, so nothing was done" in refused.text  # not the CSRF page


def test_slow_and_silent_header_clients_are_dropped(site: tuple[str, int]) -> None:
    base, port = site
    silent = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    started = time.monotonic()
    slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        while time.monotonic() - started < 10:
            slow.sendall(b"X-Slow: 1\r\n")  # a header line every 0.2 s, never the end
            time.sleep(0.2)
    except OSError:
        pass  # the server hung up
    dropped = time.monotonic() - started
    assert HEADER_SECONDS * 0.9 < dropped < HEADER_SECONDS + 3, dropped
    assert all(closed(conn) for conn in silent)  # the silent ones went at the same time
    assert httpx.get(f"{base}/health", timeout=5).status_code == 200  # pages still answer
    for conn in [*silent, slow]:
        conn.close()


def closed(conn: socket.socket) -> bool:
    """Whether the server closed ``conn`` (it reads as the end of the stream)."""
    conn.settimeout(0.2)
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_request_on_time_is_served_on_a_kept_alive_connection(site: tuple[str, int]) -> None:
    base, _ = site
    with httpx.Client(base_url=base, timeout=5) as client:
        for _ in range(3):
            assert client.get("/health").status_code == 200
            time.sleep(HEADER_SECONDS * 0.6)  # the deadline counts from the last answer


def test_serve_help_says_its_bounds(run: Any) -> None:
    text = run("serve", "--help").stdout
    for bound in ("DIGEST_SERVE_HEADER_SECONDS (default 10)", "256 kB (413 beyond)",
                  "empty ones counted", "closes after 5 s", "500 connections"):
        assert bound in " ".join(text.split()), bound
