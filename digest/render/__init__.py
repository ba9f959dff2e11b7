"""Rendering: a planned digest becomes a subject, a plain-text part and an HTML part.

Pure: Jinja2 templates from ``templates/`` (autoescaped HTML; only http(s) links), CSS
inlined with css-inline so mail clients that drop ``<style>`` still show the design.
Rendering never talks SMTP.

What a mail is: ``cards`` (what a card shows), ``subject`` (the subject and preheader),
``frame`` (the values around the cards), ``templates`` (the templates, wrapping, CSS),
and ``reference``, which renders a mail straight through them. The fast path that a pass
renders with, ``Renderer``, is in ``fast`` and keeps its cards in ``kept``.
"""

from __future__ import annotations

from digest import defaults
from digest.model import Digest, Rendered
from digest.render.fast import Renderer
from digest.render.frame import Links, period_label, summary_line
from digest.render.subject import one_line, subject
from digest.render.templates import templates_dir, templates_env
from digest.render.templates import tidy as _tidy
from digest.render.templates import wrap as _wrap
from digest.vocab import MessageKind

__all__ = [
    "Links",
    "Rendered",
    "Renderer",
    "_tidy",
    "_wrap",
    "one_line",
    "period_label",
    "render_digest",
    "subject",
    "summary_line",
    "templates_dir",
    "templates_env",
]


def render_digest(
    digest: Digest, links: Links, digest_name: str = defaults.DIGEST_NAME,
    kind: str = MessageKind.DIGEST, images: bool = False,
) -> Rendered:
    """Subject, text and HTML of ``digest``; ``kind`` "alert" uses the short alert mail;
    ``images`` shows the sources' thumbnails."""
    return Renderer(digest_name, images=images).render(digest, links, kind)
