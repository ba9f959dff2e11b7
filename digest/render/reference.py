"""What a mail is, rendered the plain way: every card and the frame straight through the
templates, nothing kept between mails. Slow; the fast path (``digest.render.fast``) must
give the same bytes, and the tests compare the two.

The HTML frame is inlined with its cards out, which then go in as the card template
rendered them: the shipped card template has its stylesheet inlined into its source
(``CardTemplate.html``), so a card is never re-serialised by the inliner.
"""

from __future__ import annotations

from markupsafe import Markup

from digest import defaults
from digest.model import Digest, Item, Rendered, Subscriber
from digest.render import cards
from digest.render.frame import HEADINGS, Links, Section, frame_values, same_action
from digest.render.templates import (
    CardTemplate,
    head_stylesheet,
    inline_css,
    stylesheet,
    templates_env,
    tidy,
)
from digest.text import name_key
from digest.vocab import MessageKind, SectionName


def render_reference(digest: Digest, links: Links, digest_name: str = defaults.DIGEST_NAME,
                     kind: str = MessageKind.DIGEST, thumbnails: int = 0) -> Rendered:
    """The mail of ``digest``; the first ``thumbnails`` cards show the source's thumbnail."""
    env = templates_env()
    head = head_stylesheet(env)
    html_card, text_card = CardTemplate.html(env, stylesheet(env), head), CardTemplate.text(env)
    html: list[Section] = []
    text: list[Section] = []
    for name, section in _cards(digest, links, thumbnails):
        heading = HEADINGS[name]
        html.append(Section(heading, tuple(html_card.whole(c) for c in section)))
        text.append(Section(heading, tuple(text_card.whole(c, n)
                                           for n, c in enumerate(section, 1))))
    values = frame_values(digest, links, digest_name)
    text_part = tidy(env.get_template(f"{kind}.txt").render({**values, "sections": text}))
    slots = [Section(s.heading, tuple(Markup(_slot(i, j)) for j in range(len(s.cards))))
             for i, s in enumerate(html)]
    html_part = inline_css(env.get_template(f"{kind}.html").render(
        {**values, "sections": slots}), head)
    for i, s in enumerate(html):
        for j, card_html in enumerate(s.cards):
            html_part = html_part.replace(_slot(i, j), card_html)
    return Rendered(str(values["subject"]), text_part, html_part)


def _slot(section: int, number: int) -> str:
    """Where a card goes in the frame, in characters of private use."""
    return f"\ue000{section}.{number}\ue001"


def _cards(digest: Digest, links: Links, thumbnails: int
           ) -> list[tuple[str, list[cards.Card]]]:
    """The cards of each non-empty section. A long digest shows shorter snippets and
    links each action once (an author in any spelling), on the first card that has it."""
    sub = digest.subscriber
    long = len(digest.items) > cards.LONG_DIGEST_CARDS
    chars = cards.SHORT_SNIPPET_CHARS if long else cards.SNIPPET_CHARS
    followed = {name_key(a) for a in sub.authors}
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, list[cards.Card]]] = []
    for section in (s for s in digest.sections if s.items):
        out.append((section.name, []))
        for item in section.items:
            c, pairs = _card(item, sub, links, chars, followed, thumbnails > 0,
                             section.name == SectionName.POSSIBLY)
            thumbnails -= 1
            if long:
                same = [same_action(p) for p in pairs]
                c = c._replace(actions=tuple(a for a, key in zip(c.actions, same, strict=True)
                                             if key not in seen))
                seen.update(same)
            out[-1][1].append(c)
    return out


def _card(item: Item, sub: Subscriber, links: Links, chars: int, followed: set[str],
          image: bool, possibly: bool) -> tuple[cards.Card, list[tuple[str, str]]]:
    """The card of ``item`` (in the "Possibly by" section: ``possibly``), and the (kind,
    target) of each of its actions."""
    pairs: list[tuple[str, str]] = []
    real = links.action
    if real is None:
        return cards.card(item, sub, None, chars, followed, image, possibly), pairs

    def action(kind: str, target: str) -> str:
        pairs.append((kind, target))
        return real(kind, target)

    return cards.card(item, sub, action, chars, followed, image, possibly), pairs
