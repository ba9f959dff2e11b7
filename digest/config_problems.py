"""The words of a subscriptions-file problem: what pydantic found, said as ``digest
check`` says it (the key, what is wrong, what to write instead), with whose entry it is,
sorted by line. Shared by subscriptions.yaml, its ``sources:`` and the import files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from digest.errors import ConfigError, unknown_key
from digest.prefs import PIN_KEYS
from digest.vocab import SectionName
from digest.yamlcheck import Found, Lines, Path_, Problem


class ConfigProblems(ConfigError):
    """The subscriptions file has problems; ``str()`` lists them all, one per line."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(p.render(path) for p in problems))


def schema_errors(
    error: ValidationError, path: Path_, who: str, allowed: tuple[str, ...], lines: Lines
) -> Iterator[Found]:
    """``error``'s problems, at ``path`` in the file, for ``who``; ``allowed`` are the keys
    an unknown one is told of."""
    for item in error.errors():
        inner = tuple(x for x in item["loc"] if x not in ("plain", "pinned"))
        loc = path + inner
        key = inner[0] if inner else ""
        if key == SectionName.AUTHORS and len(inner) > 1:
            yield Found(loc, Problem(lines.of(loc), who, _author_error(item, inner)),
                        value=item["type"] != "extra_forbidden")
            continue
        if item["type"] == "extra_forbidden":
            message = unknown_key(key, allowed)
        elif item["type"] == "missing":
            message = f"missing required key {key!r}"
        elif item["type"] == "list_type":
            message = (f"{key}: expected a list such as [a, b], found {kind_of(item['input'])} "
                       f"{item['input']!r}")
        else:
            reason = item["msg"].removeprefix("Value error, ")
            message = f"{key}: {reason}" if key != "" else reason
        yield Found(loc, Problem(lines.of(loc), who, message), value=item["type"] not in (
            "extra_forbidden", "missing"))


def _author_error(item: Any, loc: tuple[Any, ...]) -> str:
    """The message for a problem inside one ``authors:`` entry (``loc`` from "authors")."""
    where = (f"{SectionName.AUTHORS}: entry {loc[1] + 1}" if isinstance(loc[1], int)
             else str(SectionName.AUTHORS))
    key = loc[2] if len(loc) > 2 else None
    if item["type"] == "model_type":
        return (f"{where}: expected a name or a mapping such as {{name: Ada Lovelace, with: "
                f"[Charles Babbage]}}, found {kind_of(item['input'])} {item['input']!r}")
    if item["type"] == "extra_forbidden":
        message = unknown_key(key, PIN_KEYS)
        if "did you mean" not in message:  # no close key: say what a pin takes
            message = f"unknown key {key!r}; a pinned author takes {', '.join(PIN_KEYS)}"
        return f"{where}: {message}"
    if item["type"] == "missing":
        return f"{where}: missing required key {key!r}"
    if item["type"] == "list_type":
        return f"{where}: {key}: expected a list such as [a, b], found {kind_of(item['input'])}"
    reason = item["msg"].removeprefix("Value error, ")
    return f"{where}: {key}: {reason}" if key else f"{where}: {reason}"


def dedupe(found: list[Found], data: Any) -> list[Problem]:
    """Drop schema errors a YAML trap already explained, name the subscriber of each trap,
    and sort by line."""
    trapped = {f.path for f in found if f.trap}
    kept = [f for f in found
            if not f.value or not any(f.path[: len(t)] == t for t in trapped if t)]
    return sorted((_owned(f, data) for f in kept), key=lambda p: p.line or 0)


def _owned(found: Found, data: Any) -> Problem:
    path, problem = found.path, found.problem
    if problem.who or not path:
        return problem
    if path[0] == "defaults":
        return Problem(problem.line, "defaults", problem.message)
    if len(path) < 2 or path[0] != "subscribers" or not isinstance(data, dict):
        return problem
    items, index = data.get("subscribers"), path[1]
    if not isinstance(items, list) or not isinstance(index, int) or index >= len(items):
        return problem
    email = items[index].get("email") if isinstance(items[index], dict) else None
    who = f"subscriber {email}" if isinstance(email, str) else f"subscriber #{index + 1}"
    return Problem(problem.line, who, problem.message)


def kind_of(value: Any) -> str:
    """What a value is, in the file's words (list, mapping, text, int...)."""
    names: dict[type, str] = {list: "list", dict: "mapping", str: "text"}
    return names.get(type(value), type(value).__name__)
