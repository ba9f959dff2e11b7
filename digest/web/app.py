"""The app: the routes of every page, each handler given the ``Site`` it works with, the
error pages, and the middleware (the body limit inside, the security headers outermost,
so that every answer, errors included, carries them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from digest.deliver import MailSettings
from digest.deliver.tokens import Tokens
from digest.deliver.transport import Transport
from digest.store import DatabaseBusy, Store
from digest.web import cards, digests, health, manage, papers, subscribe
from digest.web.limits import BodyLimit
from digest.web.security import SecurityHeaders
from digest.web.site import RETRY_AFTER, Site

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]
# The error pages by status; any other (400, 408, 413) is a request that could not be read.
_ERRORS = {404: ("Not found", "There is no such page."),
           405: ("Not allowed", "That is not allowed here."),
           500: ("Something went wrong", "Nothing was changed; please try again later.")}
_UNREAD = ("Please send the form again", "The request was too large or malformed, so "
           "nothing was done.")


def create_app(store: Store, tokens: Tokens, clock: Callable[[], datetime],
               mail: MailSettings, transport: Transport) -> ASGIApp:
    """The ASGI app."""
    site = Site.create(store, tokens, clock, mail, transport)
    # the web copies before the card links: one of those shares their path
    routes = [*subscribe.routes(site), *manage.routes(site), *digests.routes(site),
              *cards.routes(site), *papers.routes(site), *health.routes(site)]
    app = Starlette(routes=routes, middleware=[Middleware(BodyLimit)],
                    exception_handlers=_error_handlers(site))
    app.router.redirect_slashes = False  # a redirect would follow the request's Host
    return SecurityHeaders(app)  # outermost: errors, 500 included, carry the headers too


def _error_handlers(site: Site) -> dict[Any, ErrorHandler]:
    """Starlette's exception handlers, answering with ``site``'s pages."""
    async def error(request: Request, exc: Exception) -> Response:
        return error_page(site, exc)

    async def busy(request: Request, exc: Exception) -> Response:
        return busy_page(site)

    return {HTTPException: error, DatabaseBusy: busy, Exception: error}


def error_page(site: Site, exc: Exception) -> Response:
    """The page of an HTTP error (with its headers: Allow, Retry-After) or of a fault."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    title, text = _ERRORS.get(status, _UNREAD)
    response = site.message(title, text, status)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


def busy_page(site: Site) -> Response:
    """The page of a database lock held past ``LOCK_WAIT``: nothing was changed."""
    response = site.message("Busy, please try again", "The digest's database is busy just "
                            "now, so nothing was changed. Please try again in a minute.", 503)
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response
