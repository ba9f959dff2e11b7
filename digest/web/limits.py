"""What one client may cost ``digest serve`` when nothing stands in front of it.

uvicorn bounds a request's headers in size but not in time, and Starlette reads a body of
any size, in any time: a client sending its headers a byte now and then held a connection
for ever, and a 20 MB body of ``&`` cost seconds of CPU (the form parser counts no empty
field). Here a connection must deliver a request's headers within
``SERVE_HEADER_SECONDS`` (``HeaderDeadline``), and a body is refused past
``SERVE_MAX_BODY_BYTES`` (413) or ``SERVE_BODY_SECONDS`` (408) as it arrives
(``BodyLimit``); ``read_form`` counts every field, empty ones too. ``uvicorn_options``
gathers what uvicorn bounds itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from digest import defaults


class HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose next request's headers are
    not all in ``header_seconds`` after it opened or after the last response."""

    header_seconds: float = defaults.SERVE_HEADER_SECONDS

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._await_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._await_headers()

    def _await_headers(self) -> None:
        self.loop.call_later(self.header_seconds, self._headers_due, self.cycle)

    def _headers_due(self, cycle: Any) -> None:
        """No request began since (``cycle`` is still the current one, and done)."""
        waiting = cycle is None or cycle.response_complete
        if self.cycle is cycle and waiting and not self.transport.is_closing():
            self.transport.close()


def with_header_deadline(seconds: float) -> type[HeaderDeadline]:
    """``HeaderDeadline`` with its deadline set to ``seconds``."""
    return type("HeaderDeadline", (HeaderDeadline,), {"header_seconds": seconds})


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` (by its Content-Length, or as it
    arrives) is refused with 413, one still arriving after ``seconds`` with 408; raised
    where the endpoint reads the body, so its error page answers."""

    def __init__(self, app: ASGIApp, max_bytes: int = defaults.SERVE_MAX_BODY_BYTES,
                 seconds: float = defaults.SERVE_BODY_SECONDS) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        declared = int(length) if length.isdigit() else self.max_bytes + 1
        deadline = asyncio.get_running_loop().time() + self.seconds
        got, done = 0, False

        async def capped() -> Message:
            nonlocal got, done
            if done:  # the body is in: what follows (a disconnect) is not timed
                return await receive()
            if declared > self.max_bytes:
                raise HTTPException(413, "request body too large")
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, "request body too slow") from None
            got += len(message.get("body", b""))
            if got > self.max_bytes:
                raise HTTPException(413, "request body too large")
            done = not message.get("more_body", False)
            return message

        await self.app(scope, capped, send)


async def read_form(request: Request, fields: int) -> FormData:
    """The form a POST sent, at most ``fields`` fields: every field counts, empty ones
    too (the parser skips those without counting them, so that a body of ``&`` alone
    would be parsed to its end). Raises HTTPException 400 beyond, 413/408 (BodyLimit)."""
    body = await request.body()
    if request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded") and \
            body.count(b"&") + body.count(b";") >= fields:  # n separators: n + 1 fields
        raise HTTPException(400, f"more than {fields} form fields")
    return await request.form(max_files=0, max_fields=fields,
                              max_part_size=defaults.SERVE_MAX_FIELD_BYTES)


def uvicorn_options(header_seconds: float) -> dict[str, Any]:
    """uvicorn's own bounds for ``digest serve``, with the header deadline above."""
    return {"http": with_header_deadline(header_seconds),
            "timeout_keep_alive": defaults.SERVE_KEEP_ALIVE_SECONDS,
            "h11_max_incomplete_event_size": defaults.SERVE_MAX_HEADER_BYTES,
            "limit_concurrency": defaults.SERVE_MAX_CONNECTIONS}
