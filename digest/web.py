"""The subscriber's own pages (Starlette, served by uvicorn): subscribe, confirm, manage,
follow, unfollow, mute, more / less like this, unsubscribe.

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
"""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
import re
import secrets
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any
from urllib.parse import quote_plus

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest import defaults
from digest.config import WEEKDAYS, check_subscriber
from digest.deliver import CARD_PATHS, TASTE_PATHS, MailSettings
from digest.deliver.message import build_notice
from digest.deliver.tokens import ACTIONS, Tokens
from digest.deliver.transport import Transport
from digest.errors import DigestError
from digest.metrics import CONTENT_TYPE as METRICS_TYPE
from digest.metrics import health as health_report
from digest.metrics import metrics as metrics_text
from digest.model import Pin, author_name
from digest.plan import Notes
from digest.render import one_line, templates_env
from digest.store import DatabaseBusy, Record, Store
from digest.text import arxiv_key, name_key
from digest.web_limits import BodyLimit, read_form

log = logging.getLogger("digest.web")

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
CSRF_COOKIE = "digest_csrf"
# A page waits this many seconds for a database lock another process holds (a send pass,
# an import; the command line waits 30 s), so that its 503 comes well before a browser,
# a proxy (nginx: 60 s) or a mail provider's one-click unsubscribe gives up. The 503 says
# to try again after RETRY_AFTER seconds.
LOCK_WAIT = 5.0
RETRY_AFTER = 30
MAX_LINES = 100  # authors, keywords, exclusions, categories: at most this many each
MAX_LINE = 200  # characters per entry
LIST_FIELDS = ("authors", "keywords", "exclude", "categories", "likes", "dislikes")
TEXTAREAS = ("authors", "keywords", "exclude", "likes", "dislikes")  # one entry a line


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


@dataclass(frozen=True)
class Form:
    """What a form said: the values as typed (to show again), and problems by field."""

    values: dict[str, str]
    problems: dict[str, str]


def _reading(request: Request) -> bool:
    """Whether a request only reads: GET, or HEAD (link checkers and mail scanners send
    it), which is answered as GET and never changes anything."""
    return request.method in ("GET", "HEAD")


def lines(text: str) -> list[str]:
    """Entries of a one-per-line field (commas also separate categories)."""
    return [" ".join(part.split()) for part in text.splitlines() if part.strip()]


# Section sizes the preferences page switches on and off, with the size switching on gives.
_SWITCHED = {"trending": defaults.TRENDING, "rising": defaults.RISING}


def read_prefs(form: FormData, base: Mapping[str, Any], fields: tuple[str, ...],
               cadences: tuple[str, ...] = ("daily", "weekly")
               ) -> tuple[dict[str, Any] | None, Form]:
    """New own settings from the fields of a form, over ``base``; checked like
    ``digest check``. Returns the settings (None when there are problems) and the form."""
    values = {k: str(form.get(k, "")) for k in fields}
    raw: dict[str, Any] = dict(base)
    problems: dict[str, str] = {}
    for key in fields:
        text = values[key].strip()
        if key in LIST_FIELDS:
            items = lines(text.replace(",", "\n") if key == "categories" else text)
            if len(items) > MAX_LINES or any(len(i) > MAX_LINE for i in items):
                problems[key] = (f"at most {MAX_LINES} entries of at most {MAX_LINE} "
                                 "characters each")
            raw[key] = _keeping_pins(items, base.get(key, ())) if key == "authors" else items
        elif key == "max_papers":
            if not (text.isascii() and text.isdigit()) or len(text) > 4:
                problems[key] = "write a whole number from 1 to 500"
            else:
                raw[key] = int(text)
        elif key in _SWITCHED:  # a checkbox: on keeps the size set before, else the default
            on = form.get(key) == "on"
            raw[key] = (raw.get(key) or _SWITCHED[key]) if on else 0
            values[key] = "on" if on else ""
        elif key == "send_at":
            raw[key] = text.strip("\"'")
        elif key == "timezone" and not text:
            raw.pop("timezone", None)
        elif key == "day" and raw.get("cadence", form.get("cadence")) != "weekly" and not text:
            raw.pop("day", None)
        else:
            raw[key] = text
    if raw.get("cadence") not in (None, *cadences):
        problems["cadence"] = f"choose {' or '.join(cadences)}"
    prefs, found = check_subscriber(raw)
    # Shown next to its field, so without digest check's "key: " in front.
    problems.update({k: v.removeprefix(f"{k}: ").replace('"HH:MM", e.g. "07:30"',
                                                          "HH:MM, e.g. 07:30")
                     for k, v in found.items() if k not in problems})
    return (prefs if not problems else None), Form(shown(values), problems)


def shown(values: Mapping[str, str]) -> dict[str, str]:
    """Values as typed, to show again: without control characters (escapes, NUL, CR),
    one entry a line in the fields that take several."""
    return {k: "\n".join(map(one_line, v.splitlines())) if k in TEXTAREAS else one_line(v)
            for k, v in values.items()}


def printable(text: str) -> bool:
    """Whether ``text`` holds no control, format or line-separator characters."""
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def create_app(store: Store, tokens: Tokens, clock: Callable[[], datetime],
               mail: MailSettings, transport: Transport) -> ASGIApp:
    """The ASGI app."""
    env = templates_env()
    store = store.waiting(LOCK_WAIT)
    limit = ClientLimit(defaults.FORM_POSTS_PER_CLIENT,
                        timedelta(seconds=defaults.FORM_WINDOW_SECONDS), clock)
    valid_for = timedelta(hours=defaults.CONFIRM_HOURS)
    name = mail.envelope.list_name

    def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
        given = {"done": False, "manage": "", "notice": "", "text": "", "button": "",
                 "action": "", "people": [], **context}
        html = env.get_template(f"web/{template}.html").render(
            digest_name=name, tz_script=TZ_SCRIPT, weekdays=WEEKDAYS, **given)
        return HTMLResponse(html, status_code=status)

    def message(title: str, text: str, status: int = 200) -> HTMLResponse:
        return page("message", status, title=title, text=text)

    def spent() -> HTMLResponse:
        return message("This link was used already", "You unsubscribed after this "
                       "confirmation link was sent, so it cannot subscribe you again. To "
                       "come back, use Subscribe again on your preferences page or send the "
                       "subscribe form; nothing was changed.", 400)

    def bad_link() -> HTMLResponse:
        return message("This link is not valid", "The link is incomplete, was changed, or "
                       "has expired. Use the link from your latest mail; nothing was "
                       "changed.", 400)

    async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(fn, *args, **kwargs)

    async def subscriber(request: Request, action: str) -> tuple[Record, list[Any]] | None:
        value = tokens.read(action, request.path_params["token"])
        if value is None:
            return None
        found = await call(store.record, ref=value[0])
        return None if found is None else (found, value[1:])

    async def action_target(request: Request, kind: str) -> tuple[Record, str] | None:
        """Who a card link is for and what it names: a mail's "card" token with the
        target in ``?t=``, or (mails sent before) a token of this kind holding it."""
        if "t" in request.query_params:
            target: Any = request.query_params["t"]
            found = await subscriber(request, "card")
            args = [] if found is None else found[1]
        elif kind not in ACTIONS:  # more / less like this: card links only
            return None
        else:
            found = await subscriber(request, kind)
            args = [] if found is None else found[1]
            target = args.pop() if len(args) == 1 else None
        if found is None or args or not isinstance(target, str) or not target.strip() \
                or len(target) > MAX_LINE or not printable(target):
            return None
        return found[0], target

    # ---- subscribe and confirm -----------------------------------------------------

    def subscribe_page(request: Request, form: Form | None = None, status: int = 200
                       ) -> HTMLResponse:
        nonce = request.cookies.get(CSRF_COOKIE, "")
        fresh = not (16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "")
                     .isalnum())
        if fresh:
            nonce = secrets.token_urlsafe(24)
        response = page("subscribe", status, form=form or Form({}, {}),
                        csrf=tokens.make("form", nonce))
        if fresh:
            response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="lax",
                                secure=mail.base_url.startswith("https")
                                or request.url.scheme == "https", path="/")
        return response

    async def subscribe_form(request: Request) -> Response:
        return subscribe_page(request)

    async def subscribe(request: Request) -> Response:
        if _reading(request):
            return subscribe_page(request)
        client = request.client.host if request.client else "-"
        if not limit.allow(client):
            response = message("Too many requests", "Please wait a few minutes and try "
                               "again.", 429)
            response.headers["Retry-After"] = str(defaults.FORM_WINDOW_SECONDS)
            return response
        form = await read_form(request, 20)
        nonce = request.cookies.get(CSRF_COOKIE)
        sent = tokens.read("form", str(form.get("csrf", "")))
        if not nonce or sent is None or sent[0] != nonce:
            return message("Please send the form again", "The form had expired or did not "
                           "come from this site, so nothing was done. Reload the page and "
                           "send it again.", 400)
        prefs, shown = read_prefs(form, {}, ("email", "name", "authors", "keywords",
                                             "cadence", "timezone"))
        if prefs is None:
            return subscribe_page(request, shown, 400)
        outcome = await call(store.request_subscription, prefs, clock(),
                             defaults.FORM_MAILS_PER_DAY)
        task = BackgroundTask(send_form_mail, *outcome) if outcome else None
        response = message("Check your inbox", f"A message with a link goes to "
                           f"{prefs['email']} (at most {defaults.FORM_MAILS_PER_DAY} a day, "
                           "however often the form is sent). Follow its link to confirm; "
                           "until then, nothing is sent.")
        response.background = task
        return response

    async def send_form_mail(found: Record, kind: str) -> None:
        now = clock()
        ref, email = found.ref, found.subscriber.email
        if kind == "confirm":
            link = mail.url("confirm", tokens.make_confirm(ref, now, found.unsubscribed_at))
            subject = f"Confirm your subscription to {name}"
        else:
            link = mail.url("manage", tokens.make("manage", ref))
            subject = f"You are subscribed to {name}"
        context = {"kind": kind, "link": link, "email": email, "digest_name": name,
                   "hours": defaults.CONFIRM_HOURS, "record": found}
        text = env.get_template("form_mail.txt").render(context)
        html = env.get_template("form_mail.html").render(context)
        notice = mail.signed(build_notice(
            envelope=mail.envelope, to_email=email, subject=subject, text=text, html=html,
            date=now, message_id=make_msgid("digest-form", domain=mail.envelope.domain)))
        connection = transport.connection()
        try:
            await connection.send(notice, mail.envelope.sender.addr_spec, email)
        except DigestError as e:
            log.warning("could not send the %s mail: %s", kind, e)
        finally:
            await connection.close()

    async def confirm(request: Request) -> Response:
        read = tokens.read_confirm(request.path_params["token"], clock(), valid_for)
        ref, left = read if read is not None else (None, None)
        found = await call(store.record, ref=ref) if ref is not None else None
        if found is None:
            return message("This link is not valid", "The confirmation link is incomplete, "
                           f"was changed, or is older than {defaults.CONFIRM_HOURS} hours. "
                           "Subscribe again to get a new one; nothing was changed.", 400)
        if not found.takes_confirmation(left):
            return spent()
        if _reading(request):
            return page("confirm", record=found, action=request.url.path)
        if not await call(store.confirm, found.ref, clock(), left):
            return spent()  # unsubscribed since the page was shown
        return page("action", record=found, title="You are subscribed", done=True,
                    text="Your digests start now: the first may come right away when "
                    "today's send time has passed. Bookmark your preferences page, or use "
                    "the link at the bottom of every digest.",
                    manage=_path(mail.url("manage", tokens.make("manage", found.ref))))

    # ---- the preferences page --------------------------------------------------------

    async def manage(request: Request) -> Response:
        found = await subscriber(request, "manage")
        if found is None:
            return bad_link()
        record, _ = found
        if _reading(request):
            return await manage_page(record, request.url.path)
        form = await read_form(request, 30)
        do = str(form.get("do", ""))
        now = clock()
        notice = ""
        if do == "pin":
            return await pin_one(record, form, request.url.path)
        if do == "save":
            if record.managed != "db":
                return message("Managed by the digest's admin", "Your subscription is "
                               "kept in the digest's configuration file; ask whoever runs "
                               "it to change what you follow. Nothing was changed.", 409)
            prefs, shown = read_prefs(form, record.prefs, (
                "name", "authors", "keywords", "exclude", "categories", "likes", "dislikes",
                "cadence", "day", "send_at", "timezone", "max_papers", "trending", "rising"),
                cadences=("daily", "weekly", "instant"))
            if prefs is None:
                return page("manage", 400, record=record, form=shown, action=request.url.path)
            await call(store.set_prefs, record.ref, prefs, now)
            notice = "Saved."
        elif do in ("pause", "resume"):
            await call(store.set_paused, record.ref, now if do == "pause" else None, now)
            notice = "Paused: no mail until you resume." if do == "pause" else "Resumed."
        elif do in ("unsubscribe", "resubscribe"):
            await call(store.set_unsubscribed, "", now if do == "unsubscribe" else None,
                       ref=record.ref, now=now)
            notice = "Unsubscribed." if do == "unsubscribe" else "Subscribed again."
        else:
            return message("Nothing to do", "The form did not say what to do.", 400)
        return await changed_page(record, notice, request.url.path)

    def ambiguous_names(record: Record) -> list[tuple[str, tuple[Any, ...]]]:
        """The subscriber's own followed names that are several people (none when the
        admin's file manages what they follow: they cannot pin here)."""
        return Notes(store).ambiguous(record.subscriber) if record.managed == "db" else []

    async def manage_page(record: Record, action: str) -> Response:
        return page("manage", record=record, form=Form({}, {}), action=action,
                    people=await call(ambiguous_names, record))

    async def pin_one(record: Record, form: FormData, action: str) -> Response:
        """Pin a followed name to the person the page offered (as the page showed it: the
        candidates are worked out again here, never taken from the form)."""
        name, which = str(form.get("name", "")), str(form.get("which", ""))
        offered = dict(await call(ambiguous_names, record)).get(name, ())
        if not which.isdigit() or int(which) >= len(offered):
            return message("Not changed", "That choice is no longer offered; reload your "
                           "preferences page.", 400)
        prefs, _ = check_subscriber(pinned(record.prefs, offered[int(which)].pin(name)))
        if prefs is None:
            return message("Not changed", "That would make your preferences invalid.", 400)
        await call(store.set_prefs, record.ref, prefs, clock())
        return await changed_page(record, f"You now follow the {name} who writes with "
                                  f"{', '.join(offered[int(which)].coauthors)}.", action)

    async def changed_page(record: Record, notice: str, action: str) -> Response:
        """The preferences page after a change that is committed: never a 503."""
        try:
            after = await call(store.record, ref=record.ref)
            people = await call(ambiguous_names, after)
        except DatabaseBusy:
            return message(notice, "Your preferences page could not be read back just now "
                           "(the database is busy); reload it in a minute.")
        return page("manage", record=after, form=Form({}, {}), notice=notice, action=action,
                    people=people)

    # ---- links from the mail ----------------------------------------------------------

    async def unsubscribe(request: Request) -> Response:
        found = await subscriber(request, "unsubscribe")
        if found is None:
            return bad_link()
        record, _ = found
        if _reading(request):
            return page("action", record=record, title="Unsubscribe?", button="Unsubscribe",
                        text=f"{record.subscriber.email} will get no more digests or alerts "
                        f"from {name}.", action=request.url.path)
        await call(store.set_unsubscribed, "", clock(), ref=record.ref)
        return page("action", record=record, title="You are unsubscribed", done=True,
                    text=f"{record.subscriber.email} will get no more digests or alerts "
                    f"from {name}.",
                    manage=_path(mail.url("manage", tokens.make("manage", record.ref))))

    def follow_action(kind: str) -> Callable[[Request], Any]:
        labels = {"follow": ("Follow {}?", "Follow", "You now follow {}."),
                  "unfollow": ("Unfollow {}?", "Unfollow", "You no longer follow {}."),
                  "mute": ("Mute “{}”?", "Mute", "Papers that only match “{}” are muted."),
                  "like": ("More papers like arXiv {}?", "More like this",
                           "Noted: more papers like arXiv {}."),
                  "dislike": ("Fewer papers like arXiv {}?", "Less like this",
                              "Noted: fewer papers like arXiv {}.")}

        async def endpoint(request: Request) -> Response:
            found = await action_target(request, kind)
            if found is None:
                return bad_link()
            record, target = found
            ask, button, done = (x.format(target) for x in labels[kind])
            manage_path = _path(mail.url("manage", tokens.make("manage", record.ref)))
            if record.managed != "db":
                return message("Managed by the digest's admin", "Your subscription is kept "
                               "in the digest's configuration file; ask whoever runs it to "
                               "change what you follow. Nothing was changed.", 409)
            if _reading(request):
                return page("action", record=record, title=ask, button=button,
                            text="This changes what your next digests hold.",
                            action=request.url.path + (f"?t={quote_plus(target)}" if
                                                       "t" in request.query_params else ""),
                            manage=manage_path)
            prefs, problems = check_subscriber(changed(record.prefs, kind, target))
            if prefs is None or any(len(prefs.get(k, [])) > MAX_LINES for k in LIST_FIELDS):
                reason = next(iter(problems.values()), f"at most {MAX_LINES} each")
                return message("Not changed", f"That would make your preferences "
                               f"invalid ({reason}); change them on your preferences page.",
                               400)
            await call(store.set_prefs, record.ref, prefs, clock())
            return page("action", record=record, title=done, done=True,
                        text="Your next digests reflect it; your preferences page shows "
                        "everything you follow.", manage=manage_path)

        return endpoint

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    async def healthz(request: Request) -> Response:
        healthy, report = await call(health_report, store, clock())
        return JSONResponse(report, status_code=200 if healthy else 503)

    async def metrics(request: Request) -> Response:
        return Response(await call(metrics_text, store, clock), media_type=METRICS_TYPE)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        titles = {404: ("Not found", "There is no such page."),
                  405: ("Not allowed", "That is not allowed here."),
                  500: ("Something went wrong", "Nothing was changed; please try again "
                        "later.")}
        title, text = titles.get(status, ("Please send the form again", "The request was "
                                 "too large or malformed, so nothing was done."))
        response = message(title, text, status)
        if isinstance(exc, HTTPException) and exc.headers:
            response.headers.update(exc.headers)
        return response

    async def busy(request: Request, exc: Exception) -> Response:
        response = message("Busy, please try again", "The digest's database is busy just "
                           "now, so nothing was changed. Please try again in a minute.", 503)
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    routes = [
        Route("/", subscribe_form, methods=["GET"]),
        Route("/subscribe", subscribe, methods=["GET", "POST"]),
        Route("/confirm/{token}", confirm, methods=["GET", "POST"]),
        Route("/manage/{token}", manage, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
        *(Route(f"/{short}/{{token}}", follow_action(kind), methods=["GET", "POST"])
          for kind, short in CARD_PATHS.items()),
        Route("/health", health, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(BodyLimit)], exception_handlers={
        HTTPException: not_found, DatabaseBusy: busy, Exception: not_found})
    app.router.redirect_slashes = False  # a redirect would follow the request's Host
    return SecurityHeaders(app)  # outermost: errors, 500 included, carry the headers too


def changed(prefs: Mapping[str, Any], kind: str, target: str) -> dict[str, Any]:
    """Own settings after following or unfollowing an author, or muting a keyword."""
    new = dict(prefs)
    authors = list(new.get("authors", []))
    if kind == "follow" and name_key(target) not in {name_key(author_name(a)) for a in authors}:
        new["authors"] = [*authors, target]
    elif kind == "unfollow":
        new["authors"] = [a for a in authors if name_key(author_name(a)) != name_key(target)]
    elif kind == "mute":
        new["keywords"] = [k for k in new.get("keywords", [])
                           if k.casefold() != target.casefold()]
    elif kind in TASTE_PATHS:
        new.update(tasted(new, kind, target))
    return new


def _keeping_pins(names: list[str], before: Any) -> list[Any]:
    """The authors typed in the form, each name that was pinned keeping its pin."""
    pins = {name_key(author_name(e)): e for e in before or () if not isinstance(e, str)}
    return [pins.get(name_key(n), n) for n in names]


def pinned(prefs: Mapping[str, Any], pin: Pin) -> dict[str, Any]:
    """Own settings with the followed name ``pin.name`` pinned as ``pin`` says."""
    new = dict(prefs)
    new["authors"] = [pin.encode() if name_key(author_name(a)) == name_key(pin.name) else a
                      for a in new.get("authors", [])]
    return new


def tasted(prefs: Mapping[str, Any], kind: str, target: str) -> dict[str, list[str]]:
    """The likes and dislikes after "more like this" (``like``) or "less like this" on
    the paper with arXiv id ``target``: the latest word on a paper wins, and each list
    keeps its newest ``MAX_LIKES``."""
    key = arxiv_key(target)
    lists = {name: [x for x in prefs.get(name, []) if arxiv_key(x) != key]
             for name in ("likes", "dislikes")}
    chosen = lists["likes" if kind == "like" else "dislikes"]
    chosen.append(target)
    del chosen[:-defaults.MAX_LIKES]
    return lists


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


def _path(url: str) -> str:
    """The path of one of our own URLs (pages link within the site they are served on)."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]
