"""The mail templates and what turns their output into a mail: the Jinja2 environment
over ``templates/`` (autoescaped HTML), the ``wrap`` filter of the text part, the CSS
inlined with css-inline (so that mail clients that drop ``<style>`` still show the
design), and the card template, rendered whole or in its reader-dependent parts.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

import css_inline
import jinja2
from markupsafe import Markup

from digest.errors import ConfigError
from digest.render.cards import Author, Card, Link, Segment, Tldr
from digest.settings import templates_setting
from digest.vocab import HTML_PARTS, TEXT_PARTS

# Class attributes as Jinja writes them; source text cannot forge one (quotes are escaped).
_CLASS = re.compile(r' class="([\w -]*)"')
# Minified declarations, and no fetching of anything remote.
INLINER = css_inline.CSSInliner(minify_css=True, load_remote_stylesheets=False)
_TBODY = re.compile(r"</?tbody>")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CSS_CLASS = re.compile(r"\.([A-Za-z_][\w-]*)")
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
_SPECIAL_SPACE = re.compile(r"[\t\n\x0b\x0c\r]")  # what textwrap turns into spaces


def templates_dir() -> Path:
    """``DIGEST_TEMPLATES``, else the templates installed with the package, else the
    project's ``templates/`` (a checkout or an editable install); raises ConfigError if
    there are none."""
    configured = templates_setting()
    package = Path(__file__).resolve().parents[1]
    folder = Path(configured) if configured else next(
        (f for f in (package / "templates", package.parent / "templates")
         if (f / "digest.html").is_file()), package / "templates")
    if not (folder / "digest.html").is_file():
        raise ConfigError(f"no mail templates in {folder}; set DIGEST_TEMPLATES to a "
                          "folder holding them (the project's templates/)")
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
        auto_reload=False,  # read once: no stat of every template for every mail
    )
    env.filters["wrap"] = wrap
    return env


def templates_env() -> jinja2.Environment:
    """The Jinja2 environment over the templates folder (HTML autoescaped)."""
    return _environment(templates_dir())


@lru_cache(maxsize=1 << 15)
def wrap(text: str, width: int = 78, indent: str = "", first: str | None = None) -> str:
    """Wrap at ``width`` columns; ``first`` is the first line's indent (default ``indent``).
    Words apart by single spaces only (most text: titles, reasons, bylines, sentences) are
    laid out here, greedily as textwrap does, without its regular expressions and chunks;
    any other text goes to textwrap."""
    start = indent if first is None else first
    if not text or text != text.strip() or "  " in text or _SPECIAL_SPACE.search(text):
        return _textwrap(text, width, indent, start)
    if len(start) + len(text) <= width:
        return start + text
    lines: list[str] = []
    line, room = start, width - len(start)
    used = -1  # characters on the line, its indent aside (-1: none yet)
    for word in text.split(" "):
        if not word.strip():  # a word of other spaces only: textwrap drops it at line ends
            return _textwrap(text, width, indent, start)
        if used >= 0 and used + 1 + len(word) > room:
            lines.append(line)
            line, room, used = indent, width - len(indent), -1
        line += word if used < 0 else " " + word
        used += len(word) + 1
    lines.append(line)
    return "\n".join(lines)


def _textwrap(text: str, width: int, indent: str, first: str) -> str:
    return textwrap.fill(text, width=width, initial_indent=first, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)


def tidy(text: str) -> str:
    """No trailing spaces and at most one blank line in a row."""
    tidied = "\n".join(map(str.rstrip, text.splitlines()))
    while "\n\n\n" in tidied:
        tidied = tidied.replace("\n\n\n", "\n\n")
    return tidied.strip() + "\n"


def inline_css(html: str, head: str = "") -> str:
    """Move the <style> rules into style attributes, drop the classes that the ``head``
    stylesheet (kept as it is in a <style> block at the end of <head>) does not name, and
    add that block."""
    inlined = unclass(INLINER.inline(html), kept_classes(head))
    at = inlined.find("</head>")
    if not head or at == -1:
        return inlined
    return f"{inlined[:at]}<style>{head}</style>\n{inlined[at:]}"


@lru_cache(maxsize=64)
def kept_classes(css: str) -> frozenset[str]:
    """The classes ``css`` names: they stay on the elements for its rules to match."""
    return frozenset(_CSS_CLASS.findall(_CSS_COMMENT.sub("", css)))


def head_stylesheet(env: jinja2.Environment) -> str:
    """``_head.css`` of the templates without its comments and spare blanks ("" when the
    templates have none): the rules kept in a <style> block, not inlined. A line ends
    before each rule's block, so that no line is long or starts with a dot, and what is
    not ASCII is a CSS escape: the mail's HTML can then go unencoded
    (``deliver.message``; a character reference means nothing inside <style>)."""
    try:
        source = stylesheet(env, "_head.css")
    except jinja2.TemplateNotFound:
        return ""
    text = _CSS_COMMENT.sub("", source)
    text = re.sub(r"\s*([{};,:])\s*", r"\1", re.sub(r"\s+", " ", text)).strip()
    text = _NOT_ASCII.sub(lambda m: f"\\{ord(m[0]):x} ", text)
    return text if "'" in text or '"' in text else text.replace("{", "\n{")  # not in strings


def unclass(html: str, keep: frozenset[str]) -> str:
    """``html`` without the class names not in ``keep`` (and without emptied attributes),
    and without the bare ``<tbody>`` tags the inliner's parser writes into every table
    (every HTML parser implies them: 15 bytes a card)."""
    def kept(match: re.Match[str]) -> str:
        names = [n for n in match.group(1).split() if n in keep]
        return f' class="{" ".join(names)}"' if names else ""
    return _TBODY.sub("", _CLASS.sub(kept, html))


def stylesheet(env: jinja2.Environment, name: str = "_style.css") -> str:
    """The source text of a template (by default the stylesheet)."""
    source, _, _ = env.loader.get_source(env, name) if env.loader else ("", None, None)
    return source


class CardTemplate:
    """A card template (``_card.html`` or ``_card.txt``) whose reader-dependent parts are
    macros of these ``names``: rendered alone as parts, or with slots in their place as the
    rest of the card. An HTML template has the stylesheet inlined into its source, once,
    when that gives the same cards as inlining each rendered card (checked on a probe card
    that uses every part); a template that does not qualify, or has no such macros (one
    written for an older digest), is rendered whole for every card."""

    def __init__(self, template: jinja2.Template, names: tuple[str, ...],
                 inline: Callable[[str], str] | None = None) -> None:
        self.template, self.names, self.inline = template, names, inline
        dummy = dict.fromkeys(names, "")
        module = template.make_module({"card": probe_card(), "parts": dummy, "number": 0})
        self.macros = {n: getattr(module, n) for n in names if hasattr(module, n)}
        self.parted = len(self.macros) == len(names) and inline is None

    @classmethod
    def html(cls, env: jinja2.Environment, css: str, head: str) -> CardTemplate:
        plain = env.get_template("_card.html")
        keep = kept_classes(head)
        reference = cls(plain, HTML_PARTS, lambda html: unclass(
            INLINER.inline_fragment(html, css), keep))
        try:
            inlined = cls(env.from_string(unclass(INLINER.inline_fragment(
                stylesheet(env, "_card.html"), css), keep)), HTML_PARTS)
            probe = probe_card()
            if inlined.macros and INLINER.inline_fragment(inlined.whole(probe), "") == (
                    INLINER.inline_fragment(reference.whole(probe), "")):
                return inlined
        except (jinja2.TemplateError, css_inline.InlineError, ValueError):
            pass
        return reference

    @classmethod
    def text(cls, env: jinja2.Environment) -> CardTemplate:
        return cls(env.get_template("_card.txt"), TEXT_PARTS)

    def part(self, name: str, c: Card) -> str:
        return str(self.macros[name](c))

    def frame(self, c: Card, mark: Callable[[str], str]) -> str:
        return self.template.render(card=c, number=mark("n"),
                                    parts={n: Markup(mark(n)) for n in self.names})

    def whole(self, c: Card, number: object = 0) -> str:
        out = self.template.render(card=c, number=number,
                                   parts={n: Markup(self.part(n, c)) if n in self.macros
                                          else "" for n in self.names})
        return self.inline(out) if self.inline else out


def probe_card() -> Card:
    """A card that shows every part of the card template, with text that needs escaping."""
    link = Link('a "b" & <c>', "https://example.org/?a=1&b='2'")
    return Card(title='A "quoted" <title> & more', url="https://example.org/p?x=1&y=2",
                upvotes="12", authors=(Author("Ada O'Neil", True), Author("B & C", False)),
                more_authors=3, author_count=None, et_al=True, meta=("LG", "1 Jun 2026"),
                badges=("Code", "★ 1.2k"), snippet=(Segment("We <study> ", False),
                                                  Segment("flow matching", True)),
                links=(link, link), reasons=("You follow Ada", "Matches: x"),
                actions=(link, Link("Mute “x”", "https://example.org/m/t")),
                image=Link('Preview of “A "quoted" <title>”', "https://example.org/t.png?a=1&b=2"),
                tldr=Tldr('TL;DR <of> "it"', "It <does> & 'works'"))
