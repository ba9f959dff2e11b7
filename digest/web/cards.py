"""The links a digest's cards carry: follow or unfollow an author, mute a keyword, more or
fewer papers like this one, and whether a "Possibly by" paper is the followed person's
(``people``). One route for each of ``vocab.CARD_ACTIONS``, on its short path; its page
asks, confirms and says what was done in that action's words.

A GET only shows the question and its button (mail scanners follow links); the POST
changes the settings, and only a subscriber's own (not those the admin's file keeps)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest import defaults
from digest.config import check_subscriber
from digest.model import author_name
from digest.store import Record
from digest.text import arxiv_key, name_key
from digest.vocab import CARD_ACTIONS, TOKEN_ACTIONS, Action, CardAction, Managed
from digest.web.forms import MAX_TARGET, printable
from digest.web.people import asked, person_action, with_people
from digest.web.site import Site, paper_named, reading

# The actions that record a like or a dislike.
TASTES = tuple(spec.action for spec in CARD_ACTIONS if spec.taste)


async def action_target(site: Site, request: Request, kind: str) -> tuple[Record, str] | None:
    """Who a card link is for and what it names: a mail's "card" token with the
    target in ``?t=``, or (mails sent before) a token of this kind holding it."""
    if "t" in request.query_params:
        target: Any = request.query_params["t"]
        found = await site.subscriber(request, Action.CARD)
        args = [] if found is None else found[1]
    elif kind not in TOKEN_ACTIONS:  # more / less like this: card links only
        return None
    else:
        found = await site.subscriber(request, kind)
        args = [] if found is None else found[1]
        target = args.pop() if len(args) == 1 else None
    if found is None or args or not isinstance(target, str) or not target.strip() \
            or len(target) > MAX_TARGET or not printable(target):
        return None
    return found[0], target


async def card_action(site: Site, request: Request, spec: CardAction) -> Response:
    """The page of one card link: the question on a GET, the change on a POST."""
    found = await action_target(site, request, spec.action)
    if found is None:
        return site.bad_link()
    record, target = found
    if spec.person:  # "Yes, that's them", "Not them": what the pin learns
        return await person_action(site, request, spec, record, target)
    manage_path = site.manage_path(record.ref)
    if record.managed != Managed.DB:
        return site.managed_by_admin()
    if reading(request):
        query = f"?t={quote_plus(target)}" if "t" in request.query_params else ""
        named = await _named(site, spec, target)
        return site.page("action", record=record, title=spec.ask.format(named),
                         button=spec.button.format(target),
                         text="This changes what your next digests hold.",
                         action=request.url.path + query, manage=manage_path)
    new = changed(record.prefs, spec.action, target)
    if spec.action == Action.FOLLOW:  # one person behind the name: pinned to them
        new = await site.call(with_people, site.store, new, record.prefs)
    prefs, problems = check_subscriber(new)
    if prefs is None:  # the schema bounds every list, as it does the form's
        reason = next(iter(problems.values()))
        return site.message("Not changed", f"That would make your preferences "
                            f"invalid ({reason}); change them on your preferences page.",
                            400)
    await site.call(site.store.set_prefs, record.ref, prefs, site.clock())
    people = await asked(site, record.ref, target) if spec.action == Action.FOLLOW else []
    return site.page("action", record=record, title=spec.done.format(
                         await _named(site, spec, target)), done=True,
                     text="Your next digests reflect it; your preferences page shows "
                     "everything you follow.", manage=manage_path, people=people)


async def _named(site: Site, spec: CardAction, target: str) -> str:
    """How a page names a link's target: a paper by its title too ("“Title” (arXiv
    2604.07429)"), when it is stored; a name or a phrase as the link wrote it."""
    if not spec.taste:
        return target
    found = await site.call(site.store.papers_by_arxiv, [arxiv_key(target)])
    return paper_named(found[0], target) if found else f"arXiv {target}"


def changed(prefs: Mapping[str, Any], kind: str, target: str) -> dict[str, Any]:
    """Own settings after following or unfollowing an author, or muting a keyword."""
    new = dict(prefs)
    authors = list(new.get("authors", []))
    if kind == Action.FOLLOW \
            and name_key(target) not in {name_key(author_name(a)) for a in authors}:
        new["authors"] = [*authors, target]
    elif kind == Action.UNFOLLOW:
        new["authors"] = [a for a in authors if name_key(author_name(a)) != name_key(target)]
    elif kind == Action.MUTE:
        new["keywords"] = [k for k in new.get("keywords", [])
                           if k.casefold() != target.casefold()]
    elif kind in TASTES:
        new.update(tasted(new, kind, target))
    return new


def tasted(prefs: Mapping[str, Any], kind: str, target: str) -> dict[str, list[str]]:
    """The likes and dislikes after "more like this" (``like``) or "less like this" on
    the paper with arXiv id ``target``: the latest word on a paper wins, and each list
    keeps its newest ``MAX_LIKES``."""
    key = arxiv_key(target)
    lists = {name: [x for x in prefs.get(name, []) if arxiv_key(x) != key]
             for name in ("likes", "dislikes")}
    chosen = lists["likes" if kind == Action.LIKE else "dislikes"]
    chosen.append(target)
    del chosen[:-defaults.MAX_LIKES]
    return lists


def _handler(spec: CardAction) -> Callable[[Site, Request], Awaitable[Response]]:
    """The handler of ``spec``'s link, named after its action."""
    async def handler(site: Site, request: Request) -> Response:
        return await card_action(site, request, spec)

    handler.__name__ = str(spec.action)
    return handler


def routes(site: Site) -> list[Route]:
    """One route for each card link, on its short path."""
    return [site.route(f"/{spec.path}/{{token}}", _handler(spec), ["GET", "POST"])
            for spec in CARD_ACTIONS]
