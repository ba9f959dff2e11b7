"""Rendering: a planned digest becomes a subject, a plain-text part and an HTML part.

Pure: Jinja2 templates from ``templates/`` (autoescaped HTML; only http(s) links), CSS
inlined with css-inline so mail clients that drop ``<style>`` still show the design.
Rendering never talks SMTP.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import css_inline
import jinja2

from digest import defaults
from digest.errors import ConfigError
from digest.model import Digest
from digest.render.cards import (
    LONG_DIGEST_CARDS,
    SHORT_SNIPPET_CHARS,
    SNIPPET_CHARS,
    Card,
    card,
)
from digest.render.subject import one_line, subject

__all__ = ["Links", "Rendered", "one_line", "render_digest", "subject", "templates_env"]

HEADINGS = {"authors": "From authors you follow", "keywords": "Matching your keywords",
            "trending": "Trending"}
# Class attributes as Jinja writes them; source text cannot forge one (quotes are escaped).
_CLASS = re.compile(r' class="[\w -]*"')
# Minified declarations, and no fetching of anything remote.
_INLINER = css_inline.CSSInliner(minify_css=True, load_remote_stylesheets=False)
_TITLES = {"daily": "Daily Papers", "weekly": "Weekly Papers", "instant": "Paper alert"}


@dataclass(frozen=True)
class Rendered:
    """A digest ready for the mailer."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Links:
    """Where a mail's own links go: unsubscribe, the subscriber's preferences page, and
    the actions on cards (``action("follow", "Ada Lovelace")`` -> URL); no ``action``
    when the subscriber cannot change what they follow (subscriptions.yaml does)."""

    unsubscribe: str
    manage: str
    action: Callable[[str, str], str] | None = None

    @classmethod
    def placeholders(cls, base_url: str, actions: bool = False) -> Links:
        """Links that go nowhere real, for previews and samples."""
        def action(kind: str, target: str) -> str:
            return f"{base_url}/{kind}/preview"
        return cls(f"{base_url}/unsubscribe/preview", f"{base_url}/manage/preview",
                   action if actions else None)


@dataclass(frozen=True)
class _Section:
    heading: str
    cards: tuple[Card, ...]


def templates_dir() -> Path:
    """``DIGEST_TEMPLATES``, else the project's ``templates/``; raises ConfigError if absent."""
    configured = os.environ.get("DIGEST_TEMPLATES")
    folder = Path(configured) if configured else Path(__file__).resolve().parents[2] / "templates"
    if not (folder / "digest.html").is_file():
        raise ConfigError(f"no mail templates in {folder}; set DIGEST_TEMPLATES to the "
                          "project's templates/ folder")
    return folder


@cache
def _environment(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _wrap
    return env


def _wrap(text: str, width: int = 78, indent: str = "", first: str | None = None) -> str:
    """Wrap at ``width`` columns; ``first`` is the first line's indent (default ``indent``)."""
    return textwrap.fill(text, width=width, initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def templates_env() -> jinja2.Environment:
    """The Jinja2 environment over the templates folder (HTML autoescaped)."""
    return _environment(templates_dir())


def render_digest(
    digest: Digest, links: Links, digest_name: str = defaults.DIGEST_NAME,
    kind: str = "digest",
) -> Rendered:
    """Subject, text and HTML of ``digest``; ``kind`` "alert" uses the short alert mail."""
    env = templates_env()
    context = _context(digest, links, digest_name)
    html = env.get_template(f"{kind}.html").render(context)
    text = env.get_template(f"{kind}.txt").render(context)
    return Rendered(subject(digest), _tidy(text), inline_css(html))


def inline_css(html: str) -> str:
    """Move the <style> rules into style attributes, then drop the now idle classes."""
    return _CLASS.sub("", _INLINER.inline(html))


def _context(digest: Digest, links: Links, digest_name: str) -> dict[str, object]:
    sub = digest.subscriber
    long = len(digest.items) > LONG_DIGEST_CARDS
    chars = SHORT_SNIPPET_CHARS if long else SNIPPET_CHARS
    sections = [_Section(HEADINGS[s.name], tuple(card(it, sub, links.action, chars)
                                                 for it in s.items))
                for s in digest.sections if s.items]
    if long:  # a link that acts on the same author or keyword once per mail is enough
        sections = _first_actions_only(sections)
    follows = [*sub.authors, *(f'"{k}"' for k in sub.keywords)]
    return {
        "subject": subject(digest),
        "digest_name": one_line(digest_name),
        "title": _TITLES.get(sub.cadence, "Papers"),
        "who": one_line(sub.name) or sub.email.split("@")[0],
        "email": sub.email,
        "period": period_label(digest),
        "summary": summary_line(digest),
        "sections": sections,
        "follows": one_line(", ".join(follows[:6]) + (" and more" if len(follows) > 6 else "")),
        "unsubscribe_url": links.unsubscribe,
        "manage_url": links.manage,
        "self_managed": sub.managed == "db",
    }


def _first_actions_only(sections: list[_Section]) -> list[_Section]:
    seen: set[str] = set()

    def first(c: Card) -> Card:
        kept = tuple(a for a in c.actions if a.url not in seen)
        seen.update(a.url for a in kept)
        return replace(c, actions=kept)

    return [_Section(s.heading, tuple(first(c) for c in s.cards)) for s in sections]


def period_label(digest: Digest) -> str:
    """``Week of 17 Aug 2026`` (weekly) or ``Friday 21 Aug 2026``, in the subscriber's zone."""
    zone = ZoneInfo(digest.subscriber.timezone)
    if digest.subscriber.cadence == "weekly":
        return f"Week of {_day(digest.start.astimezone(zone))}"
    end = digest.end.astimezone(zone)
    return f"{end:%A} {_day(end)}"


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def summary_line(digest: Digest) -> str:
    """``3 papers from authors you follow, 4 matching your keywords, 5 trending``."""
    parts: list[str] = []
    for name, phrase in (("authors", "from authors you follow"),
                         ("keywords", "matching your keywords"), ("trending", "trending")):
        n = digest.count(name)
        if n:
            noun = "paper" if n == 1 else "papers"
            parts.append(f"{n} {noun} {phrase}" if not parts else f"{n} {phrase}")
    return ", ".join(parts) if parts else "Nothing new this time."


def _tidy(text: str) -> str:
    """No trailing spaces and at most one blank line in a row."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"
