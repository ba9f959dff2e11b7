"""Reading YAML the strict way: ``yaml.safe_load`` semantics, plus the line of every key
and list item, and the traps YAML sets (``NO``/``on`` read as booleans, an unquoted
``7:30`` read as a base-60 number, duplicate keys silently overwritten, ``!!python/...``
tags) reported as problems instead of surprises.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
_BOOL_WORDS = frozenset({"true", "false"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the file: where, whose, and what to do."""

    line: int | None
    who: str | None
    message: str

    def render(self, path: Path) -> str:
        where = f"{path}:{self.line}" if self.line else str(path)
        return f"{where}: {self.who}: {self.message}" if self.who else f"{where}: {self.message}"


@dataclass
class Lines:
    """Line of every key and list item, by path (("subscribers", 2, "timezone"), ...)."""

    by_path: dict[Path_, int]

    def of(self, path: Path_) -> int | None:
        while path not in self.by_path and path:
            path = path[:-1]
        return self.by_path.get(path)


@dataclass
class Found:
    path: Path_
    problem: Problem
    trap: bool = False  # a YAML trap, found before the schema looked at the value
    stop: bool = False  # an alias or a key that is not text: the file is not read further
    value: bool = False  # a schema complaint about a value (a trap may explain it better)


EMPTY = "the file is empty; it needs a 'subscribers:' list (see the example file)"


def parse_yaml(text: str, empty: str = EMPTY) -> tuple[Any, Lines, list[Found]]:
    """The data of ``text``, the line of every key, and the problems found (``empty`` is
    the one of an empty file). With a problem that stops the reading (bad YAML, nesting
    deeper than MAX_DEPTH, an alias, a huge number), the data is None."""
    lines = Lines({})
    too_deep = _too_deep(text)
    if too_deep is not None:
        return None, lines, [Found((), Problem(too_deep, None, f"nested more than {MAX_DEPTH} "
                                                "levels deep; this file holds flat data"))]
    loader = _TaglessLoader(text)
    try:
        node = loader.get_single_node() if text.strip() else None
        if node is None:
            return None, lines, [Found((), Problem(None, None, empty))]
        found = list(_walk(node, (), lines, set()))
        stops = [f for f in found if f.stop]
        if stops:  # never expanded: a few hundred bytes of aliases can unfold to gigabytes
            return None, lines, stops[:1]
        return loader.construct_document(node), lines, found
    except (ValueError, RecursionError) as e:  # past what the checks above foresee
        reason = str(e).split(":")[0].split(";")[0]
        return None, lines, [Found((), Problem(None, None, f"cannot read a value ({reason}); "
                                                "this file holds small, flat data"))]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return None, lines, [Found((), Problem(line, None, f"not valid YAML: {_yaml_reason(e)}"))]
    finally:
        loader.dispose()


MAX_DEPTH = 32  # brackets or indentation levels; subscriptions need four
MAX_DIGITS = 4300  # of a whole number: Python refuses to read more (and the schema
# refuses every number of more than four)
# Where a quote can open a quoted scalar: at the start of a line or after one of these (a
# quote inside a plain scalar, as in O'Brien, opens nothing).
_QUOTE_AFTER = frozenset(":[{,-?")


def _too_deep(text: str) -> int | None:
    """The line where brackets or indentation nest deeper than MAX_DEPTH, else None
    (checked before parsing: deep nesting overflows the parser's stack)."""
    depth = 0
    quote = ""
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) - len(line.lstrip(" -")) > 2 * MAX_DEPTH:
            return number
        before = ""  # the last character that is not a space
        for ch in line:
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "\"'" and (not before or before in _QUOTE_AFTER):
                quote = ch
            elif ch == "#":
                break
            elif ch in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return number
            elif ch in "]}":
                depth = max(0, depth - 1)
            before = ch if not ch.isspace() else before
    return None


# One pass: LibYAML composes the nodes (with their lines) when PyYAML was built with it;
# the same nodes are then constructed, instead of parsing the text a second time.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TaglessLoader(_Base):  # type: ignore[valid-type,misc]
    """safe_load that reads a value under a python or custom tag as null (each such tag is
    reported as a problem), so that the rest of the file is still checked."""


_TaglessLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
_TaglessLoader.add_multi_constructor("!", lambda *_: None)


def _yaml_reason(e: yaml.YAMLError) -> str:
    problem = getattr(e, "problem", None)
    return str(problem) if problem else str(e).splitlines()[0]


def _walk(node: yaml.Node, path: Path_, lines: Lines, seen_nodes: set[int]
          ) -> Iterator[Found]:
    line = node.start_mark.line + 1
    if id(node) in seen_nodes:
        yield _alias(path, lines.of(path))
        return
    seen_nodes.add(id(node))
    lines.by_path.setdefault(path, line)
    if node.tag.startswith(("tag:yaml.org,2002:python/", "!")):
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        yield Found(path, Problem(line, None, f"tag {tag} is not allowed; this file holds "
                                   "plain data only"), trap=True)
    elif isinstance(node, yaml.MappingNode):
        yield from _mapping(node, path, lines, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, (*path, i), lines, seen_nodes)
    elif isinstance(node, yaml.ScalarNode) and not node.style:  # plain: None, or "" (LibYAML)
        yield from _scalar_traps(node, path, line)


def _mapping(node: yaml.MappingNode, path: Path_, lines: Lines, seen_nodes: set[int]
             ) -> Iterator[Found]:
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):  # never made text: it may be huge
            yield _alias(path, key_line) if id(key_node) in seen_nodes else Found(
                path, Problem(key_line, None, "a key must be plain text, not a list or a "
                              "mapping"), trap=True, stop=True)
            return
        key = str(key_node.value)
        if key in seen:
            yield Found((*path, key), Problem(key_line, None, f"duplicate key {key!r} "
                         f"(first at line {seen[key]}); YAML would keep only the last one"),
                         trap=True)
        seen.setdefault(key, key_line)
        lines.by_path[(*path, key)] = key_line
        yield from _walk(value_node, (*path, key), lines, seen_nodes)


def _alias(path: Path_, line: int | None) -> Found:
    return Found(path, Problem(line, None, "aliases (*name, and the &name anchors they "
                               "repeat) are not allowed; write the values out"),
                 trap=True, stop=True)


# The lists of arXiv ids: likes and dislikes, and a pinned author's papers and not.
_ARXIV_LISTS = ("likes", "dislikes", "papers", "not")


def _scalar_traps(node: yaml.ScalarNode, path: Path_, line: int) -> Iterator[Found]:
    value = node.value
    if node.tag.endswith(":int") and (digits := sum(c.isdigit() for c in value)) > MAX_DIGITS:
        yield Found(path, Problem(line, None, f"a number of {digits} digits; numbers here are "
                                   "small"), trap=True, stop=True)
    elif node.tag.endswith(":bool") and value.lower() not in _BOOL_WORDS:
        as_bool = "true" if value.lower() in ("yes", "on", "y") else "false"
        yield Found(path, Problem(line, None, f"{value} is read by YAML as {as_bool}; "
                                   f"write \"{value}\" in quotes if you mean the text"), trap=True)
    elif node.tag.endswith((":int", ":float")) and ":" in value:
        yield Found(path, Problem(line, None, f"{value} is read by YAML as a number "
                                   f"(base 60); write \"{value}\" in quotes"), trap=True)
    elif node.tag.endswith(":float") and len(path) > 1 and path[-2] in _ARXIV_LISTS:
        yield Found(path, Problem(line, None, f"{value} is read by YAML as a number (and "
                                   f"2604.01230 as 2604.0123); write arXiv ids in quotes: "
                                   f"\"{value}\""), trap=True)
