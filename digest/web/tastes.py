"""The preferences page's liked and disliked papers: each listed by its title with a
Remove button, and a box that adds one by its title, its arXiv id or a link to it (an
arXiv, PDF or Hugging Face page), where typing bare arXiv ids was all there was."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from digest.config import check_subscriber
from digest.prefs import arxiv_ids
from digest.store import Record
from digest.text import arxiv_key, paper_id, title_key
from digest.vocab import Action
from digest.web.cards import tasted
from digest.web.site import Site, paper_named

# The two lists, and the card action that adds to each.
LISTS = {"likes": Action.LIKE, "dislikes": Action.DISLIKE}
# What the add box takes besides an arXiv id: a link to the paper on arXiv (abs, pdf) or
# on Hugging Face's papers pages.
_LINK = re.compile(r"https?://(?:www\.)?(?:arxiv\.org/(?:abs|pdf)|huggingface\.co/papers)/"
                   r"([^?#\s]+?)(?:\.pdf)?/?(?:[?#].*)?")
_CANDIDATES = 3  # titles named when several papers match what was typed


@dataclass(frozen=True)
class Tasted:
    """A liked or disliked paper as the page lists it: its id, and its title when stored."""

    arxiv_id: str
    title: str | None


async def listed(site: Site, record: Record) -> dict[str, list[Tasted]]:
    """The subscriber's likes and dislikes, each with its title when the paper is stored."""
    sub = record.subscriber
    ids = [*sub.likes, *sub.dislikes]
    stored = {arxiv_key(p.arxiv_id or ""): p for p in
              await site.call(site.store.papers_by_arxiv, [arxiv_key(i) for i in ids])}
    return {name: [Tasted(i, paper_named(stored[arxiv_key(i)], i)
                          if arxiv_key(i) in stored else None) for i in getattr(sub, name)]
            for name in LISTS}


async def changed(site: Site, record: Record, form: FormData
                  ) -> tuple[dict[str, Any] | None, str]:
    """The settings after the form's add or remove, and what to say: the notice when it
    was done (settings given), else the problem (None)."""
    which = str(form.get("list", ""))
    if which not in LISTS:
        return None, "The form did not say which list."
    typed = typed_paper(form, which)
    if form.get("do") == "untaste":
        key = arxiv_key(typed)
        new = {**record.prefs, which: [x for x in record.prefs.get(which, [])
                                       if arxiv_key(x) != key]}
        return _checked(new, "Removed.")
    arxiv_id, said = await _meant(site, typed)
    if arxiv_id is None:
        return None, said
    return _checked({**record.prefs, **tasted(record.prefs, LISTS[which], arxiv_id)},
                    f"Added {said}.")


def _checked(new: Mapping[str, Any], notice: str) -> tuple[dict[str, Any] | None, str]:
    prefs, problems = check_subscriber(dict(new))
    if prefs is None:
        return None, next(iter(problems.values()))
    return prefs, notice


def typed_paper(form: FormData, which: str) -> str:
    """What the add box of list ``which`` says (its field is named after the list), or the
    id a Remove button carries."""
    return str(form.get(f"paper-{which}") or form.get("paper") or "").strip()


async def _meant(site: Site, typed: str) -> tuple[str | None, str]:
    """The arXiv id ``typed`` names (an id or a link, else a stored paper's title) and how
    to name that paper; or None and why none."""
    if not typed:
        return None, "Type a paper's title, its arXiv id or a link to it."
    link = _LINK.fullmatch(typed)
    try:
        (given,) = arxiv_ids([link[1] if link else typed])
    except ValueError:
        return await _by_title(site, typed)
    arxiv_id = paper_id(given)
    found = await site.call(site.store.papers_by_arxiv, [arxiv_key(arxiv_id)])
    return arxiv_id, paper_named(found[0], arxiv_id) if found else f"arXiv {arxiv_id}"


async def _by_title(site: Site, typed: str) -> tuple[str | None, str]:
    """The stored paper with this title (or the one paper whose title holds every word)."""
    found, total = await site.call(site.store.search_papers, typed, _CANDIDATES)
    exact = [p for p in found if title_key(p.title) == title_key(typed)]
    if exact or (total == 1 and found):
        paper = (exact or found)[0]
        if paper.arxiv_id:
            return paper.arxiv_id, paper_named(paper, paper.arxiv_id)
        return None, (f"“{paper.title}” has no arXiv id here yet, and likes are kept by "
                      "arXiv id; paste its id or link once it has one.")
    found = [p for p in found if p.arxiv_id]
    if not found:
        return None, (f"No paper {site.name} knows has that title; paste its arXiv id (e.g. "
                      "2604.14148) or a link to it.")
    named = "; ".join(paper_named(p, p.arxiv_id or "") for p in found)
    return None, f"Several papers match: {named}. Paste the arXiv id of the one you mean."
