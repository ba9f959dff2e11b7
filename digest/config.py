"""Loading ``subscriptions.yaml`` strictly: ``yaml.safe_load`` semantics plus a schema.

Every problem is found in one pass and reported with the file, the line and the
subscriber: unknown keys (with the allowed ones), duplicate subscribers, invalid emails,
unknown time zones, bad times, and YAML's traps (``NO`` and ``on`` read as booleans, an
unquoted ``7:30`` read as the number 450, duplicate keys silently overwritten,
``!!python/...`` tags).

What a subscriber may set is ``digest.prefs`` (shared with the store and the web pages);
``sources:`` is ``digest.config_sources``; ``digest.config_problems`` words the problems.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from digest.config_problems import ConfigProblems, dedupe, kind_of, schema_errors
from digest.config_sources import SOURCE_KEYS, read_sources
from digest.errors import ConfigError, InputError, unknown_key
from digest.ingest.runner import profile_owner
from digest.model import Source, Subscriber
from digest.prefs import (
    SETTING_KEYS,
    SUBSCRIBER_KEYS,
    WEEKDAYS,
    SettingsModel,
    SubscriberModel,
    check_timezone,
    resolve,
)
from digest.text import name_key, plural
from digest.vocab import Cadence, SectionName
from digest.yamlcheck import Found, Lines, Path_, Problem, parse_yaml

__all__ = ["SETTING_KEYS", "SOURCE_KEYS", "SUBSCRIBER_KEYS", "WEEKDAYS", "Config",
           "ConfigProblems", "Entry", "check_subscriber", "check_timezone", "decoded",
           "find_subscriber", "load_config", "load_entries", "sync_config"]

TOP_KEYS = ("defaults", "subscribers", "sources")
STORED = "stored:"  # profile: stored:NAME names a profile in the database, not a file


@dataclass(frozen=True)
class Config:
    """A valid subscriptions file.

    ``prefs`` holds each subscriber's own settings (what its entry says, without
    ``defaults:``), in the order of ``subscribers``; ``defaults`` what ``defaults:`` says.
    """

    path: Path
    subscribers: tuple[Subscriber, ...]
    sources: tuple[Source, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    prefs: tuple[Mapping[str, Any], ...] = ()

    def summary(self, subscribers: Sequence[Subscriber] | None = None) -> str:
        """``N subscribers (a daily, b weekly, c instant; x authors and y keywords followed)``."""
        subs = self.subscribers if subscribers is None else subscribers
        counts = ", ".join(f"{sum(s.cadence == c for s in subs)} {c}" for c in Cadence)
        authors = len({a.lower() for s in subs for a in s.authors})
        keywords = len({k.lower() for s in subs for k in s.keywords})
        followed = (plural(authors, "author"), plural(keywords, "keyword"))  # not vocab
        return (f"{plural(len(subs), 'subscriber')} ({counts}; {followed[0]} and "
                f"{followed[1]} followed); {plural(len(self.sources), 'source')}")


@dataclass(frozen=True)
class Entry:
    """One subscriber of an import file: own settings (email and name included), and
    state: active, paused or unsubscribed."""

    prefs: Mapping[str, Any]
    state: str = "active"
    line: int | None = None


STATES = ("active", "paused", "unsubscribed")


def find_subscriber(config: Config, email: str) -> Subscriber | None:
    """The subscriber with ``email`` (case-insensitive) in the file, or None."""
    for sub in config.subscribers:
        if sub.email.casefold() == email.strip().casefold():
            return sub
    return None


def check_subscriber(raw: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Validate one subscriber's settings as ``digest check`` does (for the web pages and
    ``digest subscribers add``): the own settings, or the problems by key."""
    try:
        valid = SubscriberModel.model_validate(dict(raw))
    except ValidationError as e:
        problems: dict[str, str] = {}
        for found in schema_errors(e, (), "", SUBSCRIBER_KEYS, Lines({})):
            key = str(found.path[0]) if found.path else ""
            problems.setdefault(key, found.problem.message)
        return None, problems
    return valid.model_dump(exclude_none=True, by_alias=True), {}


def load_config(path: Path) -> Config:
    """Read and validate a subscriptions file; raises ConfigProblems listing every problem."""
    data, lines, problems = parse_yaml(_read(path))
    entries = _validate(data, lines, problems, TOP_KEYS, folder=path.parent) \
        if data is not None else []
    base = _defaults(data.get("defaults"), lines, []) if isinstance(data, dict) else {}
    _pin_profiles(base, ("defaults",), path.parent, lines, problems, "defaults")
    sources = read_sources(data, path.parent, lines, problems) if isinstance(data, dict) else []
    if problems:
        raise ConfigProblems(path, dedupe(problems, data))
    return Config(path, tuple(resolve(base, e.prefs, line=e.line) for e in entries),
                  tuple(sources), base, tuple(e.prefs for e in entries))


class SubscriberStore(Protocol):
    """What ``sync_config`` asks of the store, by shape: the file is read above the store
    and must not import it."""

    def sync_subscribers(self, subscribers: Sequence[Subscriber], now: datetime,
                         prefs: Sequence[Mapping[str, Any]] | None = None,
                         defaults: Mapping[str, Any] | None = None) -> object: ...


def sync_config(store: SubscriberStore, config: Config, now: datetime) -> None:
    """Bring the database in step with the file: its subscribers, and ``defaults:`` for
    everyone else."""
    store.sync_subscribers(config.subscribers, now, config.prefs, config.defaults)


def load_entries(path: Path, text: str | None = None) -> list[Entry]:
    """Read a file of ``digest subscribers import`` (what ``export`` writes: a
    ``subscribers:`` list, each entry with an optional ``state``), checked like
    ``digest check``; raises ConfigProblems listing every problem. ``text``: the file's
    text, read already (from standard input: ``path`` is then what problems name)."""
    if text is None:
        text = _read(path, "give the file that digest subscribers export wrote")
    fast = _json(text)  # a big JSON list: no line numbers needed unless there are problems
    if fast is not None:
        found: list[Found] = []
        entries = _validate(fast, Lines({}), found, ("subscribers",), with_state=True)
        if not found:
            return entries
    data, lines, problems = parse_yaml(text)
    entries = _validate(data, lines, problems, ("subscribers",), with_state=True) \
        if data is not None else []
    if problems:
        raise ConfigProblems(path, dedupe(problems, data))
    return entries


def _json(text: str) -> Any:
    """``text`` read as JSON, or None when it is not plain JSON (or repeats a key)."""
    if not text.lstrip().startswith("{"):
        return None

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=unique)
    except (ValueError, RecursionError):
        return None


def _read(path: Path, hint: str = "create it (see the example subscriptions.yaml) or "
          "pass --config / DIGEST_CONFIG") -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such file; {hint}") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    return decoded(path, data)


def decoded(path: Path, data: bytes) -> str:
    """``data`` read from ``path`` as UTF-8 text, else a ConfigError naming the line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:  # a file cut in the middle of a character ends so
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start}); "
                          "save it as UTF-8, or wait until it is written whole") from e


# ---- the file's entries -------------------------------------------------------------

def _validate(data: Any, lines: Lines, found: list[Found], top: tuple[str, ...],
              with_state: bool = False, folder: Path | None = None) -> list[Entry]:
    """The valid subscribers of ``data``; with ``folder`` (subscriptions.yaml's), pinned
    profiles may be files there."""
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"
        found.append(Found((), Problem(1, None, "expected a mapping with 'defaults:' and "
                                        f"'subscribers:', found {kind}")))
        return []
    for key in data:
        if key not in top:
            found.append(Found((key,), Problem(lines.of((str(key),)), None,
                         unknown_key(key, top))))
    if "defaults" in top:
        _defaults(data.get("defaults"), lines, found)
    items = data.get("subscribers")
    if not isinstance(items, list):
        what = "missing" if items is None else f"a {kind_of(items)}, not a list"
        found.append(Found(("subscribers",), Problem(lines.of(("subscribers",)), None,
                     f"'subscribers:' is {what}; give a list of '- email: ...' entries")))
        return []
    _duplicates(items, lines, found)
    return [e for i, item in enumerate(items)
            if (e := _subscriber(item, i, lines, found, with_state, folder))]


def _defaults(raw: Any, lines: Lines, found: list[Found]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        found.append(Found(("defaults",), Problem(lines.of(("defaults",)), "defaults",
                     f"expected a mapping of settings, found a {kind_of(raw)}")))
        return {}
    try:
        return SettingsModel.model_validate(raw).model_dump(exclude_none=True, by_alias=True)
    except ValidationError as e:
        found.extend(schema_errors(e, ("defaults",), "defaults", SETTING_KEYS, lines))
        return {}


def _subscriber(raw: Any, i: int, lines: Lines, found: list[Found], with_state: bool,
                folder: Path | None = None) -> Entry | None:
    path: Path_ = ("subscribers", i)
    if not isinstance(raw, dict):
        found.append(Found(path, Problem(lines.of(path), f"subscriber #{i + 1}",
                     f"expected a mapping ('email: ...' and settings), found a {kind_of(raw)}")))
        return None
    email = raw.get("email")
    who = f"subscriber {email}" if isinstance(email, str) else f"subscriber #{i + 1}"
    state = raw.get("state", "active") if with_state else "active"
    if state not in STATES:
        found.append(Found((*path, "state"), Problem(lines.of((*path, "state")), who,
                     f"state: {state!r} is not one of {', '.join(STATES)}")))
    own = {k: v for k, v in raw.items() if not (with_state and k == "state")}
    allowed = (*SUBSCRIBER_KEYS, "state") if with_state else SUBSCRIBER_KEYS
    try:
        valid = SubscriberModel.model_validate(own)
    except ValidationError as e:
        found.extend(schema_errors(e, path, who, allowed, lines))
        return None
    prefs = valid.model_dump(exclude_none=True, by_alias=True)
    if folder is not None:
        _pin_profiles(prefs, path, folder, lines, found, who)
    return Entry(prefs, str(state), lines.of(path))


def _pin_profiles(prefs: dict[str, Any], path: Path_, folder: Path, lines: Lines,
                  found: list[Found], who: str) -> None:
    """Check every ``profile:`` of ``prefs``' pinned authors that names a file (it must be
    a profile listing whose owner is the pinned name) and put the source name it is
    stored under in its place; ``stored:NAME`` becomes NAME (the database is checked by
    ``digest check``)."""
    for j, entry in enumerate(prefs.get("authors", ())):
        if isinstance(entry, str) or "profile" not in entry:
            continue
        at: Path_ = (*path, SectionName.AUTHORS, j, "profile")
        given = str(entry["profile"])
        if given.startswith(STORED):
            entry["profile"] = given.removeprefix(STORED).strip()
            continue
        try:
            entry["profile"] = _profile_source(folder / given, str(entry["name"]))
        except (ConfigError, InputError) as e:
            found.append(Found(at, Problem(lines.of(at), who, f"authors: entry {j + 1}: "
                               f"profile: {e}")))


def _profile_source(file: Path, name: str) -> str:
    """The source name of the profile listing ``file``, whose owner must be ``name``."""
    if not file.is_file():
        raise ConfigError(f"{file} is not a file; give the path of a profile listing "
                          f"(relative to this file), or {STORED}NAME for one already in "
                          "the database")
    source, owner = profile_owner(file)
    if owner is None:
        raise ConfigError(f"{file} names no owner; add 'owner: {name}' for it in "
                          f"{file.parent / 'sources.yaml'} beside it")
    if name_key(owner) != name_key(name):
        raise ConfigError(f"{file} is the profile of {owner}, not of {name}; pin the right "
                          "profile, or follow that name")
    return source


def _duplicates(items: list[Any], lines: Lines, found: list[Found]) -> None:
    first: dict[str, int | None] = {}
    for i, item in enumerate(items):
        email = item.get("email") if isinstance(item, dict) else None
        if not isinstance(email, str):
            continue
        line = lines.of(("subscribers", i))
        if email.casefold() in first:
            found.append(Found((), Problem(line, f"subscriber {email}", "duplicate subscriber "
                         f"(emails compare case-insensitively; first at line "
                         f"{first[email.casefold()]})")))
        first.setdefault(email.casefold(), line)
