"""The subscriber's own pages (Starlette, served by uvicorn): subscribe, confirm, manage,
follow, unfollow, mute, more / less like this, "Yes, that's them" / "Not them", unsubscribe;
and the public Daily Papers page (``papers``: the stored papers by day, week and month,
search, a page per paper, an Atom feed), which changes nothing.

Plain HTML forms that work without JavaScript. Nothing changes on a GET (mail scanners
follow links): every link shows a page with one button, and the POST acts. Every
state-changing form is bound to a signed per-action, per-subscriber token in its URL, or
(the subscribe form) carries a CSRF token that must match an ``HttpOnly``,
``SameSite=Lax`` cookie. The subscribe form always answers the same "check your inbox"
page, known address or not, and mails (a confirmation, or "you are subscribed already"
with the preferences link) are capped per address and day; clients are rate-limited.
Database calls run in a thread pool, off the event loop, and wait at most
``LOCK_WAIT`` seconds for a lock another process holds: then the answer is 503 with
``Retry-After`` and nothing was changed. An answer of 200 means the change is committed.

``app`` puts the pages together over a ``site.Site`` (what they work with);
``subscribe``, ``manage``, ``cards``, ``people``, ``papers`` and ``health`` hold them,
``forms`` reads their forms, ``security`` and ``limits`` bound what a client may do and
see.
"""

from __future__ import annotations

from digest.prefs import LIST_FIELDS
from digest.web.app import create_app
from digest.web.cards import changed, tasted
from digest.web.forms import (
    MAX_TARGET,
    TEXTAREAS,
    Form,
    lines,
    printable,
    read_prefs,
    shown,
)
from digest.web.manage import pinned
from digest.web.security import (
    HEADERS,
    TZ_SCRIPT,
    ClientLimit,
    HiddenTokens,
    SecurityHeaders,
    access_log_config,
)
from digest.web.site import LOCK_WAIT, RETRY_AFTER
from digest.web.subscribe import CSRF_COOKIE

__all__ = [
    "CSRF_COOKIE", "HEADERS", "LIST_FIELDS", "LOCK_WAIT", "MAX_TARGET",
    "RETRY_AFTER", "TEXTAREAS", "TZ_SCRIPT", "ClientLimit", "Form", "HiddenTokens",
    "SecurityHeaders", "access_log_config", "changed", "create_app", "lines", "pinned",
    "printable", "read_prefs", "shown", "tasted",
]
