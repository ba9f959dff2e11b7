"""What every page works with, handed to its handler rather than closed over: the store
(waiting at most ``LOCK_WAIT`` for a lock), the tokens, the mail settings, the clock, the
transport for the subscribe form's mails, the per-client limit and the page renderer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest import defaults
from digest.deliver import MailSettings
from digest.deliver.mail import PREVIEW_TOKEN
from digest.deliver.tokens import Tokens
from digest.deliver.transport import Transport
from digest.model import Paper
from digest.prefs import FIELD, WEEKDAYS
from digest.render import templates_env
from digest.store import Record, Store
from digest.text import latex_to_text, one_line
from digest.vocab import Action
from digest.web.security import TZ_SCRIPT, ClientLimit

T = TypeVar("T")
# A page waits this many seconds for a database lock another process holds (a send pass,
# an import; the command line waits 30 s), so that its 503 comes well before a browser,
# a proxy (nginx: 60 s) or a mail provider's one-click unsubscribe gives up. The 503 says
# to try again after RETRY_AFTER seconds.
LOCK_WAIT = 5.0
TITLE_CHARS = 120  # of a paper's title, what a page's question shows
RETRY_AFTER = 30
# Every template's context names these; a page gives those it needs.
_BLANK: dict[str, Any] = {"done": False, "manage": "", "notice": "", "text": "", "button": "",
                          "action": "", "people": [], "past": [], "feed": "", "tastes": {}}


@dataclass(frozen=True)
class Site:
    """The app's dependencies, one per app."""

    store: Store
    tokens: Tokens
    clock: Callable[[], datetime]
    mail: MailSettings
    transport: Transport
    env: jinja2.Environment
    limit: ClientLimit  # form posts per client

    @classmethod
    def create(cls, store: Store, tokens: Tokens, clock: Callable[[], datetime],
               mail: MailSettings, transport: Transport) -> Site:
        limit = ClientLimit(defaults.FORM_POSTS_PER_CLIENT,
                            timedelta(seconds=defaults.FORM_WINDOW_SECONDS), clock)
        return cls(store.waiting(LOCK_WAIT), tokens, clock, mail, transport,
                   templates_env(), limit)

    @property
    def name(self) -> str:
        """The digest's name, as the pages and the form's mails say it."""
        return self.mail.envelope.list_name

    def route(self, path: str, handler: Callable[[Site, Request], Awaitable[Response]],
              methods: list[str]) -> Route:
        """A route to ``handler``, which is given this site with each request."""
        async def endpoint(request: Request) -> Response:
            if _sample(request.path_params.get("token")):
                return self.message("A link of a sample mail", "This link comes from a "
                                    "preview or a test mail (digest preview, digest "
                                    "test-mail), which belongs to no subscriber, so it opens "
                                    "nothing. In a real digest it opens its reader's page.")
            return await handler(self, request)

        return Route(path, endpoint, methods=methods, name=handler.__name__)

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """The page ``templates/web/{template}.html``."""
        html = self.env.get_template(f"web/{template}.html").render(
            digest_name=self.name, tz_script=TZ_SCRIPT, weekdays=WEEKDAYS, fields=FIELD,
            **{**_BLANK, **context})
        return HTMLResponse(html, status_code=status)

    def message(self, title: str, text: str, status: int = 200) -> HTMLResponse:
        """A page that only says something."""
        return self.page("message", status, title=title, text=text)

    def bad_link(self, status: int = 400) -> HTMLResponse:
        """The answer to a link whose token does not read (404 for a page that only
        shows something: a digest's web copy, a feed)."""
        return self.message("This link is not valid", "The link is incomplete, was "
                            "changed, or has expired. Use the link from your latest mail; "
                            "nothing was changed.", status)

    def managed_by_admin(self) -> HTMLResponse:
        """The answer to a change asked of a subscriber whom the admin's file manages."""
        return self.message("Managed by the digest's admin", "Your subscription is kept in "
                            "the digest's configuration file; ask whoever runs it to change "
                            "what you follow. Nothing was changed.", 409)

    @staticmethod
    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` run in the thread pool: database calls block, the event loop must not."""
        return await run_in_threadpool(fn, *args, **kwargs)

    async def subscriber(self, request: Request, action: str
                         ) -> tuple[Record, list[Any]] | None:
        """Whose link this is (a token of ``action`` in the path), and what else it holds."""
        value = self.tokens.read(action, request.path_params["token"])
        if value is None:
            return None
        found = await self.call(self.store.record, ref=value[0])
        return None if found is None else (found, value[1:])

    def manage_path(self, ref: str) -> str:
        """The path of the preferences page of the subscriber ``ref``."""
        return path(self.mail.url(Action.MANAGE, self.tokens.make(Action.MANAGE, ref)))


def _sample(token: Any) -> bool:
    """Whether a link's token is a preview's placeholder (``preview---``), not a token."""
    return isinstance(token, str) and token.startswith(PREVIEW_TOKEN) \
        and not token[len(PREVIEW_TOKEN):].strip("-")


def paper_named(paper: Paper, arxiv_id: str) -> str:
    """A paper as a page's question names it: “Title” (arXiv ID), a long title cut."""
    title = one_line(latex_to_text(paper.title))
    if len(title) > TITLE_CHARS:
        title = title[:TITLE_CHARS - 1].rstrip() + "…"
    return f"“{title}” (arXiv {arxiv_id})"


def reading(request: Request) -> bool:
    """Whether a request only reads: GET, or HEAD (link checkers and mail scanners send
    it), which is answered as GET and never changes anything."""
    return request.method in ("GET", "HEAD")


def path(url: str) -> str:
    """The path of one of our own URLs (pages link within the site they are served on)."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]
