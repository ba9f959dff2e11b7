"""A real HTTP server on a free loopback port that stands in for chat hooks (Slack,
Discord, Matrix, ntfy, our webhook): it records every request (method, path, headers,
body) and answers 200 with a small JSON body, or what was queued for a path
to paths starting so (``answer("/slack", (500, {}), (429, {"Retry-After": "3600"}))``),
after ``delay`` seconds."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up early are expected, not errors."""


class HookServer:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.answers: dict[str, deque[tuple[int, dict[str, str]]]] = defaultdict(deque)
        self.delay = 0.0
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> HookServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, path: str, *answers: tuple[int, dict[str, str]]) -> None:
        """Answer the next requests to paths starting with ``path`` so, in order (then
        200 again)."""
        self.answers[path].extend(answers)

    def to(self, prefix: str) -> list[Hit]:
        """The requests whose path starts with ``prefix``."""
        return [h for h in self.hits if h.path.startswith(prefix)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body go out without a 40 ms wait

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                time.sleep(server.delay)
                with server._lock:
                    server.hits.append(Hit(self.command, self.path, dict(self.headers), body))
                    queued = next((q for prefix, q in server.answers.items()
                                   if self.path.startswith(prefix) and q), None)
                    status, headers = queued.popleft() if queued else (200, {})
                reply = b'{"ok": true, "event_id": "$e", "id": "x"}'
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_PUT = _any

        return Handler
