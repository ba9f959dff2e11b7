"""What every answer carries and what the server keeps to itself: the security headers
(the policy allows no script but the time-zone filler, by its hash), the limit on form
posts per client, and an access log without the links' tokens, which act as their
subscriber. ``limits`` bounds what one request may cost."""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
import re
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Fills in the browser's time zone when the field is empty; the page works without it.
TZ_SCRIPT = ("var z=document.getElementById('timezone');if(z&&!z.value){try{z.value="
             "Intl.DateTimeFormat().resolvedOptions().timeZone||''}catch(e){}}")
_TZ_HASH = base64.b64encode(hashlib.sha256(TZ_SCRIPT.encode()).digest()).decode()
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               f"script-src 'sha256-{_TZ_HASH}'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


class SecurityHeaders:
    """Adds the security headers to every response, errors (404, 405) included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k.lower().encode(), v.encode()) for k, v in HEADERS.items()
                    if k.lower().encode() not in names]
            await send(message)

        await self.app(scope, receive, with_headers)


class ClientLimit:
    """At most ``count`` requests per client address in ``window`` (per process). Remembers
    the ``clients`` most recently seen (least recently seen are forgotten first), so that
    memory and the cost of a request stay flat whatever the number of addresses."""

    def __init__(self, count: int, window: timedelta, clock: Callable[[], datetime],
                 clients: int = 100_000) -> None:
        self.count, self.window, self.clock, self.clients = count, window, clock, clients
        self.seen: OrderedDict[str, deque[datetime]] = OrderedDict()

    def allow(self, client: str) -> bool:
        now = self.clock()
        times = self.seen.pop(client, None) or deque()
        self.seen[client] = times  # now the most recent
        while times and now - times[0] >= self.window:
            times.popleft()
        while len(self.seen) > self.clients:
            self.seen.popitem(last=False)
        if len(times) >= self.count:
            return False
        times.append(now)
        return True


class HiddenTokens(logging.Filter):
    """Access log lines (uvicorn's) with the links' tokens blanked: a token acts as its
    subscriber, so a log that holds them would be a key to everyone's preferences."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            path, mark, query = str(args[2]).partition("?")
            args[2] = _TOKEN.sub("…", path) + mark + query
            record.args = tuple(args)
        return True


def access_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, with ``HiddenTokens`` on its access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["hidden_tokens"] = {"()": HiddenTokens}
    config["handlers"]["access"]["filters"] = ["hidden_tokens"]
    return config


# Anything in a path as long as a token is one (ours are 29 characters at least), on
# whatever path: a mistyped one ("//manage/TOKEN") is logged too.
_TOKEN = re.compile(r"[A-Za-z0-9_.~%-]{20,}")
