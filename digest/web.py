"""The small web app behind the unsubscribe links (Starlette, served by uvicorn).

``GET /unsubscribe/TOKEN`` shows a page with one button and changes nothing (mail
scanners follow links); ``POST /unsubscribe/TOKEN`` unsubscribes, answers 200 with a short
page, sets no cookie and redirects nowhere, and does the same when repeated (RFC 8058
one-click: mail clients POST ``List-Unsubscribe=One-Click`` here). A bad or tampered token
gets 400.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from digest.deliver.tokens import Tokens
from digest.render import templates_env
from digest.store import Store

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'",
}


def create_app(store: Store, tokens: Tokens, clock: Callable[[], datetime],
               digest_name: str) -> Starlette:
    """The ASGI app."""
    template = templates_env().get_template("unsubscribe.html")

    def page(state: str, status: int, email: str = "", action: str = "") -> HTMLResponse:
        html = template.render(state=state, email=email, action=action, digest_name=digest_name)
        return HTMLResponse(html, status_code=status, headers=_HEADERS)

    def subscriber(request: Request) -> str | None:
        subscriber_id = tokens.read(request.path_params["token"])
        return store.subscriber_email(subscriber_id) if subscriber_id is not None else None

    async def confirm(request: Request) -> HTMLResponse:
        email = subscriber(request)
        if email is None:
            return page("bad", 400)
        return page("confirm", 200, email, request.url.path)

    async def unsubscribe(request: Request) -> HTMLResponse:
        email = subscriber(request)
        if email is None:
            return page("bad", 400)
        store.set_unsubscribed(email, clock())
        return page("done", 200, email)

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    return Starlette(routes=[
        Route("/unsubscribe/{token}", confirm, methods=["GET"]),
        Route("/unsubscribe/{token}", unsubscribe, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ])
