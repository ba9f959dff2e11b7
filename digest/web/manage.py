"""The preferences page: what a subscriber follows and how often they hear, pausing,
leaving and coming back, and pinning a followed name that is several people to one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.config import check_subscriber
from digest.model import Pin, author_name
from digest.prefs import PREFERENCES_FIELDS
from digest.store import DatabaseBusy, Record
from digest.text import name_key
from digest.vocab import Action, Cadence, Managed
from digest.web import tastes
from digest.web.digests import feed_path, past_digests
from digest.web.forms import Form, read_prefs
from digest.web.limits import read_form
from digest.web.people import ambiguous_names, with_people
from digest.web.site import Site, reading


async def manage(site: Site, request: Request) -> Response:
    found = await site.subscriber(request, Action.MANAGE)
    if found is None:
        return site.bad_link()
    record, _ = found
    if reading(request):
        return await manage_page(site, record, request.url.path)
    form = await read_form(request, 30)
    do = str(form.get("do", ""))
    now = site.clock()
    if do == "pin":
        return await pin_one(site, record, form, request.url.path)
    if do == "save":
        return await save(site, record, form, request.url.path)
    if do in ("taste", "untaste"):
        return await taste(site, record, form, request.url.path)
    if do in ("pause", "resume"):
        pause = do == "pause"
        await site.call(site.store.set_paused, record.ref, now if pause else None, now)
        notice = "Paused: no mail until you resume." if pause else "Resumed."
    elif do in (Action.UNSUBSCRIBE, "resubscribe"):
        leave = do == Action.UNSUBSCRIBE
        await site.call(site.store.set_unsubscribed, "", now if leave else None,
                        ref=record.ref, now=now)
        notice = "Unsubscribed." if leave else "Subscribed again."
    else:
        return site.message("Nothing to do", "The form did not say what to do.", 400)
    return await changed_page(site, record, notice, request.url.path)


async def save(site: Site, record: Record, form: FormData, action: str) -> Response:
    """The settings the page's form says, when the subscriber keeps their own."""
    if record.managed != Managed.DB:
        return site.managed_by_admin()
    prefs, shown = read_prefs(form, record.prefs, PREFERENCES_FIELDS, cadences=tuple(Cadence))
    if prefs is None:
        return site.page(Action.MANAGE, 400, record=record, form=shown, action=action,
                         **await _around(site, record))
    prefs = await site.call(with_people, site.store, prefs, record.prefs)  # one person: pinned
    await site.call(site.store.set_prefs, record.ref, prefs, site.clock())
    return await changed_page(site, record, "Saved.", action)


async def taste(site: Site, record: Record, form: FormData, action: str) -> Response:
    """Add a paper to the likes or dislikes (by title, arXiv id or link), or remove one."""
    if record.managed != Managed.DB:
        return site.managed_by_admin()
    prefs, said = await tastes.changed(site, record, form)
    if prefs is None:
        which = str(form.get("list", ""))
        box = f"paper-{which}"
        return site.page(Action.MANAGE, 400, record=record, action=action,
                         form=Form({box: tastes.typed_paper(form, which)}, {box: said}),
                         **await _around(site, record))
    await site.call(site.store.set_prefs, record.ref, prefs, site.clock())
    return await changed_page(site, record, said, action)


async def _around(site: Site, record: Record) -> dict[str, Any]:
    """What the page shows beside the form: the names to pin, the liked papers, the
    past digests and the private feed."""
    return {"people": await site.call(ambiguous_names, site, record),
            "tastes": await tastes.listed(site, record),
            "past": await site.call(past_digests, site, record),
            "feed": feed_path(site, record)}


async def manage_page(site: Site, record: Record, action: str) -> Response:
    return site.page(Action.MANAGE, record=record, form=Form({}, {}), action=action,
                     **await _around(site, record))


async def pin_one(site: Site, record: Record, form: FormData, action: str) -> Response:
    """Pin a followed name to the person the page offered (as the page showed it: the
    candidates are worked out again here, never taken from the form)."""
    name, which = str(form.get("name", "")), str(form.get("which", ""))
    offered = dict(await site.call(ambiguous_names, site, record)).get(name, ())
    # by the person's key, not their place in the list: papers ingested since the page
    # was shown may have reordered the people, or made them others
    chosen = next((c for c in offered if c.key == which), None)
    if chosen is None:
        return site.message("Not changed", f"The people publishing as {name} have changed "
                            "since that page was shown; reload your preferences page and "
                            "choose again.", 400)
    prefs, _ = check_subscriber(pinned(record.prefs, chosen.pin(name)))
    if prefs is None:
        return site.message("Not changed", "That would make your preferences invalid.", 400)
    await site.call(site.store.set_prefs, record.ref, prefs, site.clock())
    return await changed_page(site, record, f"You now follow the {name} who writes with "
                              f"{', '.join(chosen.coauthors)}.", action)


async def changed_page(site: Site, record: Record, notice: str, action: str) -> Response:
    """The preferences page after a change that is committed: never a 503."""
    try:
        after = await site.call(site.store.record, ref=record.ref) or record
        around = await _around(site, after)
    except DatabaseBusy:
        return site.message(notice, "Your preferences page could not be read back just now "
                            "(the database is busy); reload it in a minute.")
    return site.page(Action.MANAGE, record=after, form=Form({}, {}), notice=notice,
                     action=action, **around)


def pinned(prefs: Mapping[str, Any], pin: Pin) -> dict[str, Any]:
    """Own settings with the followed name ``pin.name`` pinned as ``pin`` says (keeping
    the papers the reader already said are someone else's)."""
    new = dict(prefs)
    new["authors"] = [_repinned(a, pin) if name_key(author_name(a)) == name_key(pin.name)
                      else a for a in new.get("authors", [])]
    return new


def _repinned(entry: str | Mapping[str, Any], pin: Pin) -> dict[str, Any]:
    said = [] if isinstance(entry, str) else list(entry.get("not") or [])
    return Pin(pin.name, pin.profile, pin.with_, pin.org, pin.papers,
               tuple(dict.fromkeys([*said, *pin.not_]))).encode()


def routes(site: Site) -> list[Route]:
    """The preferences page."""
    return [site.route("/manage/{token}", manage, ["GET", "POST"])]
