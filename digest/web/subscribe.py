"""Joining and leaving: the subscribe form, the confirmation link its mail carries, and
the unsubscribe link every mail carries.

The form carries a CSRF token that must match an ``HttpOnly``, ``SameSite=Lax`` cookie;
it always answers the same "check your inbox" page, known address or not, so that it tells
no one who subscribes. Its mails are capped per address and day, its posts per client."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from email.utils import make_msgid
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest import defaults
from digest.deliver.message import build_notice
from digest.errors import DigestError
from digest.prefs import SUBSCRIBE_FIELDS
from digest.store import DatabaseBusy, Record
from digest.vocab import Action
from digest.web.digests import feed_path
from digest.web.forms import Form, read_prefs
from digest.web.limits import read_form
from digest.web.people import ambiguous_names, with_people
from digest.web.site import Site, reading

log = logging.getLogger("digest.web")
CSRF_COOKIE = "digest_csrf"


def subscribe_page(site: Site, request: Request, form: Form | None = None,
                   status: int = 200) -> HTMLResponse:
    """The form, with its CSRF token; a new cookie when the request has no usable one."""
    nonce = request.cookies.get(CSRF_COOKIE, "")
    fresh = not (16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "")
                 .isalnum())
    if fresh:
        nonce = secrets.token_urlsafe(24)
    response = site.page("subscribe", status, form=form or Form({}, {}),
                         csrf=site.tokens.make(Action.FORM, nonce))
    if fresh:
        response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="lax",
                            secure=site.mail.base_url.startswith("https")
                            or request.url.scheme == "https", path="/")
    return response


async def subscribe_form(site: Site, request: Request) -> Response:
    return subscribe_page(site, request)


async def subscribe(site: Site, request: Request) -> Response:
    if reading(request):
        return subscribe_page(site, request)
    client = request.client.host if request.client else "-"
    if not site.limit.allow(client):
        response = site.message("Too many requests", "Please wait a few minutes and try "
                                "again.", 429)
        response.headers["Retry-After"] = str(defaults.FORM_WINDOW_SECONDS)
        return response
    form = await read_form(request, 20)
    nonce = request.cookies.get(CSRF_COOKIE)
    sent = site.tokens.read(Action.FORM, str(form.get("csrf", "")))
    if not nonce or sent is None or sent[0] != nonce:
        return site.message("Please send the form again", "The form had expired or did not "
                            "come from this site, so nothing was done. Reload the page and "
                            "send it again.", 400)
    prefs, shown = read_prefs(form, {}, SUBSCRIBE_FIELDS)
    if prefs is None:
        return subscribe_page(site, request, shown, 400)
    prefs = await site.call(with_people, site.store, prefs, {})  # one person: pinned
    outcome = await site.call(site.store.request_subscription, prefs, site.clock(),
                              defaults.FORM_MAILS_PER_DAY)
    task = BackgroundTask(send_form_mail, site, *outcome) if outcome else None
    response = site.message("Check your inbox", f"A message with a link goes to "
                            f"{prefs['email']} (at most {defaults.FORM_MAILS_PER_DAY} a "
                            "day, however often the form is sent). Follow its link to "
                            "confirm; until then, nothing is sent.")
    response.background = task
    return response


async def send_form_mail(site: Site, found: Record, kind: str) -> None:
    """The form's mail: a confirmation link, or (``kind`` "known", an address subscribed
    already) the preferences link. Sent after the answer, so its time tells nothing."""
    now = site.clock()
    ref, email, mail, name = found.ref, found.subscriber.email, site.mail, site.name
    if kind == Action.CONFIRM:
        link = mail.url(Action.CONFIRM,
                        site.tokens.make_confirm(ref, now, found.unsubscribed_at))
        subject = f"Confirm your subscription to {name}"
    else:
        link = mail.url(Action.MANAGE, site.tokens.make(Action.MANAGE, ref))
        subject = f"You are subscribed to {name}"
    context = {"kind": kind, "link": link, "email": email, "digest_name": name,
               "hours": defaults.CONFIRM_HOURS, "record": found}
    text = site.env.get_template("form_mail.txt").render(context)
    html = site.env.get_template("form_mail.html").render(context)
    notice = mail.signed(build_notice(
        envelope=mail.envelope, to_email=email, subject=subject, text=text, html=html,
        date=now, message_id=make_msgid("digest-form", domain=mail.envelope.domain)))
    connection = site.transport.connection()
    try:
        await connection.send(notice, mail.envelope.sender.addr_spec, email)
    except DigestError as e:
        log.warning("could not send the %s mail: %s", kind, e)
    finally:
        await connection.close()


async def confirm(site: Site, request: Request) -> Response:
    valid_for = timedelta(hours=defaults.CONFIRM_HOURS)
    read = site.tokens.read_confirm(request.path_params["token"], site.clock(), valid_for)
    ref, left = read if read is not None else (None, None)
    found = await site.call(site.store.record, ref=ref) if ref is not None else None
    if found is None:
        return site.message("This link is not valid", "The confirmation link is incomplete, "
                            f"was changed, or is older than {defaults.CONFIRM_HOURS} hours. "
                            "Subscribe again to get a new one; nothing was changed.", 400)
    if not found.takes_confirmation(left):
        return spent(site)
    if reading(request):
        return site.page(Action.CONFIRM, record=found, action=request.url.path)
    if not await site.call(site.store.confirm, found.ref, site.clock(), left):
        return spent(site)  # unsubscribed since the page was shown
    return site.page("action", record=found, title="You are subscribed", done=True,
                     text=_welcome(found), feed=feed_path(site, found),
                     manage=site.manage_path(found.ref), people=await people_of(site, found))


def _welcome(found: Record) -> str:
    """What a subscription just confirmed brings, and where to find it again."""
    if not found.subscriber.mailed:  # feed-only: no mail will carry the links
        return ("Your digests start now, in your private feed below (add it to a feed "
                "reader) and on your preferences page; no mail is sent. Bookmark both.")
    return ("Your digests start now: the first may come right away when today's send time "
            "has passed. Bookmark your preferences page, or use the link at the bottom of "
            "every digest.")


async def people_of(site: Site, found: Record) -> list[tuple[str, tuple[Any, ...]]]:
    """The people behind the followed names of a subscription just confirmed that are
    several people, for the page to ask which; none when the database is busy (the
    subscription is committed: the preferences page asks later)."""
    try:
        return await site.call(ambiguous_names, site, found)
    except DatabaseBusy:
        return []


def spent(site: Site) -> HTMLResponse:
    """The answer to a confirmation link made before an unsubscribe that came after it."""
    return site.message("This link was used already", "You unsubscribed after this "
                        "confirmation link was sent, so it cannot subscribe you again. To "
                        "come back, use Subscribe again on your preferences page or send "
                        "the subscribe form; nothing was changed.", 400)


async def unsubscribe(site: Site, request: Request) -> Response:
    found = await site.subscriber(request, Action.UNSUBSCRIBE)
    if found is None:
        return site.bad_link()
    record, _ = found
    text = (f"{record.subscriber.email} will get no more digests or alerts from "
            f"{site.name}.")
    if reading(request):
        return site.page("action", record=record, title="Unsubscribe?", button="Unsubscribe",
                         text=text, action=request.url.path)
    await site.call(site.store.set_unsubscribed, "", site.clock(), ref=record.ref)
    return site.page("action", record=record, title="You are unsubscribed", done=True,
                     text=text, manage=site.manage_path(record.ref))


def routes(site: Site) -> list[Route]:
    """The form, the confirmation link and the unsubscribe link."""
    return [site.route("/", subscribe_form, ["GET"]),
            site.route("/subscribe", subscribe, ["GET", "POST"]),
            site.route("/confirm/{token}", confirm, ["GET", "POST"]),
            site.route("/unsubscribe/{token}", unsubscribe, ["GET", "POST"])]
