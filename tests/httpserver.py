"""A real HTTP server on a free loopback port that serves the real data files.

It answers like the live sources: ``/api/daily_papers?date=D&limit=L&p=N`` pages through
``hf-daily/D.json`` and ``/atom/CAT`` serves ``arxiv/CAT-*.atom.xml``. The whole-archive
ones answer from ``oai_pages`` and ``details_pages``, which a test fills with recorded
files: ``/oai?verb=ListRecords&...`` serves ``oai_pages[from or resumptionToken]``
(``oai/noRecordsMatch.xml`` for a day it has none of), and
``/details/SERVER/FROM/TO/CURSOR`` serves ``details_pages[(SERVER, CURSOR)]``. Faults can
be queued per path: ``"500"``, ``"503"`` (with ``Retry-After: retry_after``), ``"stall"``
(answer after ``stall_seconds``) or ``"truncate"`` (promise more bytes than are sent,
then hang up).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up early (timeouts under test) are expected, not errors."""


class DataServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.requests: list[str] = []
        self.stall_seconds = 1.0
        self.retry_after = "1"
        self.oai_pages: dict[str, Path] = {}
        self.details_pages: dict[tuple[str, int], Path] = {}
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> DataServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def fail(self, path: str, *faults: str) -> None:
        """Answer the next requests to ``path`` with these faults, in order."""
        self.faults[path].extend(faults)

    def body_for(self, path: str, query: dict[str, list[str]]) -> bytes | None:
        if path == "/api/daily_papers":
            file = self.root / "hf-daily" / f"{query['date'][0]}.json"
            if not file.exists():
                return b"[]"
            limit, page = int(query.get("limit", ["100"])[0]), int(query.get("p", ["0"])[0])
            items = json.loads(file.read_bytes())
            return json.dumps(items[page * limit : (page + 1) * limit]).encode()
        if path.startswith("/atom/"):
            matches = sorted((self.root / "arxiv").glob(f"{path[6:]}-*.atom.xml"))
            return matches[0].read_bytes() if matches else None
        if path == "/oai":
            key = (query.get("resumptionToken") or query.get("from") or [""])[0]
            file = self.oai_pages.get(key, self.root / "oai" / "noRecordsMatch.xml")
            return file.read_bytes()
        if path.startswith("/details/"):
            server, _, _, cursor = path.split("/")[2:6]
            found = self.details_pages.get((server, int(cursor)))
            return found.read_bytes() if found else (
                b'{"messages":[{"status":"no posts found"}],"collection":[]}')
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                server.requests.append(self.path)
                queued = server.faults.get(parts.path)
                fault = queued.popleft() if queued else None
                if fault == "500":
                    self.send_error(500, "Internal Server Error")
                    return
                if fault == "503":
                    self.send_response(503)
                    self.send_header("Retry-After", server.retry_after)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "stall":
                    time.sleep(server.stall_seconds)
                body = server.body_for(parts.path, parse_qs(parts.query))
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        return Handler
