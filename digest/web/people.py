"""Which person a followed name is, on the pages: the answers to a "Possibly by" card
("Yes, that's them", "Not them"), which teach the name's pin the paper, and the silent
pin of a name just followed that the stored papers show to be one person.

A card's link shows the question on a GET and changes nothing; the POST adds the paper's
arXiv id to the pin's ``papers`` (or ``not``), making the pin when the name had none and
keeping what else it holds, through the settings schema. A subscriber whom the admin's
file manages is told what to ask the admin, as the other card links tell them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

from starlette.requests import Request
from starlette.responses import Response

from digest import defaults
from digest.config import check_subscriber
from digest.model import author_name
from digest.pins import GROUP_PAPERS
from digest.plan import Notes, resolve_stored
from digest.render.cards import read_person_target
from digest.store import DatabaseBusy, Record, Store
from digest.text import arxiv_key, name_key, spelled_alike
from digest.vocab import Action, CardAction, Managed
from digest.web.site import Site, paper_named, reading

# The keys of a pin that list the papers the reader said are (are not) the person's.
_LISTS = {Action.THEM: "papers", Action.NOT_THEM: "not"}


async def person_action(site: Site, request: Request, spec: CardAction, record: Record,
                        target: str) -> Response:
    """The page of a "Possibly by" card's link: the question on a GET, the answer
    taught to the followed name's pin on a POST."""
    read = read_person_target(target)
    if read is None:
        return site.bad_link()
    arxiv_id, name = read
    if record.managed != Managed.DB:
        return site.message("Managed by the digest's admin", "Your subscription is kept in "
                            "the digest's configuration file; to say this, ask whoever runs "
                            f"it to add {arxiv_id} to {_LISTS[spec.action]}: of {name} in "
                            "your authors. Nothing was changed.", 409)
    if not any(name_key(author_name(a)) == name_key(name)
               for a in record.prefs.get("authors", [])):
        return site.message("Not changed", f"You do not follow {name} (any more), so "
                            "there is nothing to teach; nothing was changed.", 400)
    found = await site.call(site.store.papers_by_arxiv, [arxiv_key(arxiv_id)])
    if not any(spelled_alike(name, a) is not None for p in found for a in p.all_authors):
        return site.message("Not changed", f"arXiv {arxiv_id} is not a paper {site.name} "
                            f"knows with {name} among its authors; nothing was changed.", 400)
    paper = paper_named(found[0], arxiv_id)
    manage = site.manage_path(record.ref)
    if reading(request):
        return site.page("action", record=record, title=spec.ask.format(name, paper),
                         button=spec.button, manage=manage,
                         text=f"Your answer is kept with {name} in your settings, and "
                         f"tells {site.name} which {name} you mean.",
                         action=f"{request.url.path}?t={quote_plus(target)}")
    prefs, problems = check_subscriber(taught(record.prefs, spec.action, name, arxiv_id))
    if prefs is None:
        reason = next(iter(problems.values()))
        return site.message("Not changed", f"That would make your preferences invalid "
                            f"({reason}); change them on your preferences page.", 400)
    await site.call(site.store.set_prefs, record.ref, prefs, site.clock())
    return site.page("action", record=record, title=spec.done.format(name, paper),
                     done=True, manage=manage, text="Your next digests reflect it.")


def taught(prefs: Mapping[str, Any], kind: str, name: str, arxiv_id: str) -> dict[str, Any]:
    """Own settings after saying the paper ``arxiv_id`` is (``them``) or is not by the
    followed ``name``: its pin (made when the name is unpinned) lists the id in
    ``papers`` or ``not`` and no longer in the other (the latest word wins), each list
    keeping its newest ``MAX_LIKES``; what else the pin holds stays."""
    new = dict(prefs)
    new["authors"] = [_answered(entry, kind, arxiv_id)
                      if name_key(author_name(entry)) == name_key(name) else entry
                      for entry in new.get("authors", [])]
    return new


def _answered(entry: str | Mapping[str, Any], kind: str, arxiv_id: str) -> dict[str, Any]:
    """An ``authors:`` entry as a pin, with ``arxiv_id`` in the list ``kind`` says."""
    pin: dict[str, Any] = {"name": entry} if isinstance(entry, str) else dict(entry)
    key = arxiv_key(arxiv_id)
    for which, listed in _LISTS.items():
        kept = [x for x in pin.get(listed) or [] if arxiv_key(x) != key]
        if which == kind:
            kept = [*kept, arxiv_id][-defaults.MAX_LIKES:]
        if kept:
            pin[listed] = kept
        else:
            pin.pop(listed, None)
    return pin


def ambiguous_names(site: Site, record: Record) -> list[tuple[str, tuple[Any, ...]]]:
    """The subscriber's own followed names that are several people (none when the
    admin's file manages what they follow: they cannot pin here)."""
    if record.managed != Managed.DB:
        return []
    return Notes(site.store).ambiguous(record.subscriber)


async def asked(site: Site, ref: str, name: str) -> list[tuple[str, tuple[Any, ...]]]:
    """The people behind ``name`` just followed, when it is several (for the page to ask
    which, as the preferences page does); none when the database is busy (the follow is
    committed: the preferences page asks later)."""
    try:
        after = await site.call(site.store.record, ref=ref)
        found = [] if after is None else await site.call(ambiguous_names, site, after)
    except DatabaseBusy:
        return []
    return [(n, people) for n, people in found if name_key(n) == name_key(name)]


def with_people(store: Store, prefs: dict[str, Any], before: Mapping[str, Any]
                ) -> dict[str, Any]:
    """``prefs`` with each name it follows that ``before`` did not pinned to the one
    person the stored papers show behind it (``pins.resolve``, pinned as
    ``Candidate.pin`` does), silently. A name of several people stays as written (the
    preferences page and the subscribe confirmation ask which), and so does one on a
    single paper, or one whose pin the schema would refuse."""
    old = {name_key(author_name(a)) for a in before.get("authors", [])}
    new = [a for a in prefs.get("authors", [])
           if isinstance(a, str) and name_key(a) not in old]
    if not new:
        return prefs
    pins: dict[str, dict[str, Any]] = {}
    for name, found in resolve_stored(store, new).items():
        person = found.person(name)
        if person is not None and person.papers >= GROUP_PAPERS:  # one paper says little
            pins[name_key(name)] = person.pin(name).encode()
    if not pins:
        return prefs
    pinned = {**prefs, "authors": [pins.get(name_key(a), a) if isinstance(a, str) else a
                                   for a in prefs["authors"]]}
    checked, _ = check_subscriber(pinned)
    return checked if checked is not None else prefs
