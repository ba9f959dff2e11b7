"""Reading the pages' forms into settings: each field checked like ``digest check``, with
its problem shown next to it and what was typed shown again, cleaned of control
characters, and every list bounded in entries and in length."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from digest import defaults
from digest.config import check_subscriber
from digest.model import author_name
from digest.prefs import FIELD, FIELDS, LIST_FIELDS
from digest.render import one_line
from digest.text import name_key
from digest.vocab import SELF_SERVICE_CADENCES, Cadence

MAX_TARGET = defaults.MAX_TARGET  # of a card link's target
TEXTAREAS = tuple(spec.key for spec in FIELDS if spec.per_line)  # one entry a line
# Section sizes the preferences page switches on and off (a checkbox each); switching one
# on gives the size set before, else the schema's default.
SWITCHED = tuple(spec.key for spec in FIELDS if spec.switch)


@dataclass(frozen=True)
class Form:
    """What a form said: the values as typed (to show again), and problems by field."""

    values: dict[str, str]
    problems: dict[str, str]


def lines(text: str) -> list[str]:
    """Entries of a one-per-line field (commas also separate categories)."""
    return [" ".join(part.split()) for part in text.splitlines() if part.strip()]


def read_prefs(form: FormData, base: Mapping[str, Any], fields: tuple[str, ...],
               cadences: tuple[str, ...] = SELF_SERVICE_CADENCES
               ) -> tuple[dict[str, Any] | None, Form]:
    """New own settings from the fields of a form, over ``base``; checked like
    ``digest check``. Returns the settings (None when there are problems) and the form."""
    values = {k: str(form.get(k, "")) for k in fields}
    raw: dict[str, Any] = dict(base)
    problems: dict[str, str] = {}
    for key in fields:
        text = values[key].strip()
        if key in LIST_FIELDS:
            spec = FIELD[key]
            items = lines(text if spec.per_line else text.replace(",", "\n"))
            if too_long(key, items):
                problems[key] = bounds(key)
            pinned = key == "authors"  # not vocab: the setting, whose entries may be pins
            raw[key] = _keeping_pins(items, base.get(key, ())) if pinned else items
        elif key == "max_papers":
            if not (text.isascii() and text.isdigit()) or len(text) > 4:
                problems[key] = f"write a whole number from {FIELD[key].low} to {FIELD[key].high}"
            else:
                raw[key] = int(text)
        elif key in SWITCHED:  # a checkbox: on keeps the size set before, else the default
            on = form.get(key) == "on"
            raw[key] = (raw.get(key) or FIELD[key].default) if on else 0
            values[key] = "on" if on else ""
        elif key == "send_at":
            raw[key] = text.strip("\"'")
        elif key == "timezone" and not text:
            raw.pop("timezone", None)
        elif key == "day" and raw.get("cadence", form.get("cadence")) != Cadence.WEEKLY \
                and not text:
            raw.pop("day", None)
        else:
            raw[key] = text
    if raw.get("cadence") not in (None, *cadences):
        problems["cadence"] = f"choose {' or '.join(cadences)}"
    prefs, found = check_subscriber(raw)
    # Shown next to its field, so without digest check's "key: " in front.
    problems.update({k: v.removeprefix(f"{k}: ").replace('"HH:MM", e.g. "07:30"',
                                                          "HH:MM, e.g. 07:30")
                     for k, v in found.items() if k not in problems})
    return (prefs if not problems else None), Form(shown(values), problems)


def too_long(key: str, items: list[Any]) -> bool:
    """Whether a list has more entries, or longer ones, than the schema allows."""
    spec = FIELD[key]
    return ((spec.max_entries is not None and len(items) > spec.max_entries) or
            (spec.max_chars is not None and any(len(str(i)) > spec.max_chars for i in items)))


def bounds(key: str) -> str:
    """What a list field may hold, as the form says it."""
    spec = FIELD[key]
    each = f" of at most {spec.max_chars} characters each" if spec.max_chars else ""
    return f"at most {spec.max_entries} entries{each}"


def shown(values: Mapping[str, str]) -> dict[str, str]:
    """Values as typed, to show again: without control characters (escapes, NUL, CR),
    one entry a line in the fields that take several."""
    return {k: "\n".join(map(one_line, v.splitlines())) if k in TEXTAREAS else one_line(v)
            for k, v in values.items()}


def printable(text: str) -> bool:
    """Whether ``text`` holds no control, format or line-separator characters."""
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def _keeping_pins(names: list[str], before: Any) -> list[Any]:
    """The authors typed in the form, each name that was pinned keeping its pin."""
    pins = {name_key(author_name(e)): e for e in before or () if not isinstance(e, str)}
    return [pins.get(name_key(n), n) for n in names]
