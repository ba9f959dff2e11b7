"""A real HTTP server on a free loopback port that answers live fetches the way a hostile
or broken source would: a gzip bomb, a body too large, a body trickled a byte at a time,
a redirect elsewhere, pages that never end. Each request's path is recorded.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import struct
import threading
import time
import zlib
from collections.abc import Callable
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.conftest import DATA

GOOD = DATA / "hf-daily" / "2026-01-02.json"  # real items, copied to fill pages


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up mid-body (refused fetches under test) are expected."""


@cache
def gzip_bomb(unpacked: int = 1 << 30) -> bytes:
    """``unpacked`` bytes of zeros, gzipped (1 GiB makes about 1 MB): one MiB packed once
    and repeated (a full flush makes each packed MiB alone), then a gzip trailer."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = bytes(1 << 20)
    packed = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(unpacked >> 20):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, unpacked & 0xFFFFFFFF)
    return header + packed * (unpacked >> 20) + packer.flush() + trailer


def full_page(items: int = 100) -> bytes:
    """A daily_papers page of ``items`` copies of one real item: full, so paging goes on."""
    item = json.loads(GOOD.read_text())[0]
    return json.dumps([item] * items).encode()


class HostileServer:
    """Answers every request with ``answer(handler)``; see the answers below."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.answer = answer
        self.requests: list[str] = []
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                server.answer(self)

        return Handler


def send_body(handler: BaseHTTPRequestHandler, body: bytes, **headers: str) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    with contextlib.suppress(OSError):  # the client stopped reading, as a bounded fetch does
        handler.wfile.write(body)


def bomb(handler: BaseHTTPRequestHandler) -> None:
    send_body(handler, gzip_bomb(), Content_Encoding="gzip")


def huge(mb: int) -> Callable[[BaseHTTPRequestHandler], None]:
    """A valid JSON page of ``mb`` MB, sent plainly (the same page for every p=)."""
    item = json.loads(GOOD.read_text())[0]
    item["paper"]["summary"] = "x" * (1 << 20)
    body = json.dumps([item] * mb).encode()
    return lambda handler: send_body(handler, body)


def trickle(every: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """Headers at once, then a promised 10 kB body one byte every ``every`` seconds."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "10000")
        handler.end_headers()
        try:
            for _ in range(10000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(every)
        except OSError:
            pass

    return answer


def redirect(to: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", to)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def endless_pages(handler: BaseHTTPRequestHandler) -> None:
    send_body(handler, full_page())


def gzipped(body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    packed = gzip.compress(body)
    return lambda handler: send_body(handler, packed, Content_Encoding="gzip")
