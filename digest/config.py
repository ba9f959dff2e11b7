"""Loading ``subscriptions.yaml`` strictly: ``yaml.safe_load`` semantics plus a schema.

Every problem is found in one pass and reported with the file, the line and the
subscriber: unknown keys (with the allowed ones), duplicate subscribers, invalid emails,
unknown time zones, bad times, and YAML's traps (``NO`` and ``on`` read as booleans, an
unquoted ``7:30`` read as the number 450, duplicate keys silently overwritten,
``!!python/...`` tags).
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from apscheduler.triggers.cron import CronTrigger
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from digest.defaults import MAX_LIKES
from digest.errors import ConfigError, InputError
from digest.ingest.runner import profile_owner
from digest.model import Source, Subscriber
from digest.store import Store
from digest.text import arxiv_key, name_key
from digest.yamlcheck import Found, Lines, Path_, Problem, parse_yaml

TOP_KEYS = ("defaults", "subscribers", "sources")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# New-style (2604.01234, v2) and old-style (hep-th/9901001) arXiv ids.
_ARXIV = re.compile(r"^(?:arXiv:)?(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$",
                    re.IGNORECASE)


class _Strict(BaseModel):
    """Unknown keys and loose types refused; a key written without a value (``keywords:``,
    as a file cut off while it is being written ends) is a problem, not "not set"."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _given(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("no value; write one after the colon, or leave the key out")
        return value


class _Pin(_Strict):
    """A followed author pinned to one person: ``name`` and at least one of ``profile``
    (a profile listing's path, or ``stored:NAME`` for one in the database), ``with``
    (co-authors) and ``org`` (an organisation)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    name: str
    profile: str | None = None
    with_: list[str] | None = Field(default=None, alias="with")
    org: str | None = None

    @field_validator("name", "profile", "org")
    @classmethod
    def _text(cls, value: str) -> str:
        cleaned = " ".join(value.split())
        if not cleaned:
            raise ValueError("must not be empty")
        return _plain(cleaned, MAX_PHRASE)

    @field_validator("with_")
    @classmethod
    def _with(cls, values: list[str]) -> list[str]:
        return _Settings._phrases(values)

    @model_validator(mode="after")
    def _pinned(self) -> _Pin:
        if not (self.profile or self.with_ or self.org):
            raise ValueError(f"{self.name!r} is pinned to nobody; give profile:, with: or "
                             "org:, or write the name alone")
        return self


def _entry_kind(value: Any) -> str:
    return "plain" if isinstance(value, str) else "pinned"


# One entry of ``authors:``: a name, or a pinned author (a mapping).
_Author = Annotated[Annotated[str, Tag("plain")] | Annotated[_Pin, Tag("pinned")],
                    Discriminator(_entry_kind)]
PIN_KEYS = ("name", "profile", "with", "org")
STORED = "stored:"  # profile: stored:NAME names a profile in the database, not a file


class _Settings(_Strict):
    """What a subscriber may set, and ``defaults:`` may set for everyone."""

    cadence: Literal["daily", "weekly", "instant"] | None = None
    send_at: str | None = None
    day: str | None = None
    timezone: str | None = None
    max_papers: int | None = Field(default=None, ge=1, le=500)
    trending: int | None = Field(default=None, ge=0, le=100)
    rising: int | None = Field(default=None, ge=0, le=100)
    recommended: int | None = Field(default=None, ge=0, le=20)
    max_age_days: int | None = Field(default=None, ge=1, le=3650)
    authors: list[_Author] | None = None
    keywords: list[str] | None = None
    exclude: list[str] | None = None
    categories: list[str] | None = None
    send_empty: bool | None = None
    alert_keywords: bool | None = None
    grace_hours: int | None = Field(default=None, ge=0, le=24 * 30)

    @field_validator("send_at")
    @classmethod
    def _time(cls, value: str) -> str:
        m = _TIME.match(value.strip())
        if not m:
            raise ValueError(f"{value!r} is not a time; write it as \"HH:MM\", e.g. \"07:30\"")
        return f"{int(m[1]):02d}:{m[2]}"

    @field_validator("day")
    @classmethod
    def _day(cls, value: str) -> str:
        day = value.strip().lower()
        for weekday in WEEKDAYS:
            if day in (weekday, weekday[:3]):
                return weekday
        raise ValueError(f"{value!r} is not a weekday; use one of {', '.join(WEEKDAYS)}")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("authors")
    @classmethod
    def _authors(cls, values: list[str | _Pin]) -> list[str | _Pin]:
        return [cls._phrases([v])[0] if isinstance(v, str) else v for v in values]

    @field_validator("keywords", "exclude", "categories")
    @classmethod
    def _phrases(cls, values: list[str]) -> list[str]:
        cleaned = [" ".join(v.split()) for v in values]
        if any(not v for v in cleaned):
            raise ValueError("entries must not be empty")
        for value in cleaned:
            _plain(value, MAX_PHRASE)
        return cleaned


class _Subscriber(_Settings):
    email: str
    name: str = ""
    likes: list[str] | None = None
    dislikes: list[str] | None = None

    @field_validator("likes", "dislikes")
    @classmethod
    def _arxiv_ids(cls, values: list[str]) -> list[str]:
        if len(values) > MAX_LIKES:
            raise ValueError(f"at most {MAX_LIKES} papers; drop the oldest")
        for value in values:
            if not _ARXIV.match(value.strip()):
                raise ValueError(f"{value[:40]!r} is not an arXiv id; write it as on arXiv, "
                                 "e.g. \"2604.01234\"")
        return list(dict.fromkeys(v.strip() for v in values))

    @field_validator("dislikes")
    @classmethod
    def _not_liked(cls, values: list[str], info: ValidationInfo) -> list[str]:
        liked = {arxiv_key(x) for x in info.data.get("likes") or ()}
        both = [x for x in values if arxiv_key(x) in liked]
        if both:
            raise ValueError(f"{', '.join(both[:3])} also in likes; keep each paper in one "
                             "list")
        return values

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _plain(" ".join(value.split()), MAX_NAME)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            return str(validate_email(value, check_deliverability=False).normalized)
        except EmailNotValidError as e:
            raise ValueError(f"invalid email {value!r}: {e}") from e


class _Source(_Strict):
    """One entry of ``sources:``: exactly one of path, hf_daily, arxiv, and a schedule."""

    name: str | None = None
    path: str | None = None
    hf_daily: bool | None = None
    arxiv: str | None = None
    schedule: str
    timezone: str = "UTC"

    @field_validator("schedule")
    @classmethod
    def _crontab(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value)
        except ValueError as e:
            raise ValueError(f"{value!r} is not a crontab line (minute hour day month "
                             f"weekday), e.g. \"0 6 * * 1-5\": {e}") from e
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _one_kind(self) -> _Source:
        kinds = [k for k in ("path", "hf_daily", "arxiv") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of path: (a file or folder), hf_daily: true, "
                             "arxiv: CATEGORY")
        return self


MAX_NAME = 200  # characters of a subscriber's name
MAX_PHRASE = 300  # characters of one author, keyword, exclusion or category


def _plain(value: str, limit: int) -> str:
    """``value`` when it is printable text of at most ``limit`` characters."""
    if len(value) > limit:
        raise ValueError(f"{value[:40]!r}... is longer than {limit} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError(f"{value!r} holds control characters; write plain text")
    return value


def check_timezone(value: str) -> str:
    """``value`` when it is an IANA time zone; ValueError with a suggestion otherwise."""
    if value in _timezones():
        return value
    close = difflib.get_close_matches(value, sorted(_timezones()), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "use an IANA name like Europe/Berlin"
    raise ValueError(f"unknown time zone {value!r}; {hint}")


SETTING_KEYS = tuple(_Settings.model_fields)
SOURCE_KEYS = tuple(_Source.model_fields)
SUBSCRIBER_KEYS = ("email", "name", *SETTING_KEYS, "likes", "dislikes")


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class ConfigProblems(ConfigError):
    """The subscriptions file has problems; ``str()`` lists them all, one per line."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(p.render(path) for p in problems))


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
        counts = ", ".join(f"{sum(s.cadence == c for s in subs)} {c}"
                           for c in ("daily", "weekly", "instant"))
        authors = len({a.lower() for s in subs for a in s.authors})
        keywords = len({k.lower() for s in subs for k in s.keywords})
        noun = "subscriber" if len(subs) == 1 else "subscribers"
        sources = len(self.sources)
        return (f"{len(subs)} {noun} ({counts}; {authors} authors and {keywords} keywords "
                f"followed); {sources} source{'' if sources == 1 else 's'}")


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
        valid = _Subscriber.model_validate(dict(raw))
    except ValidationError as e:
        problems: dict[str, str] = {}
        for found in _errors(e, (), "", SUBSCRIBER_KEYS, Lines({})):
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
    sources = _sources(data, path.parent, lines, problems) if isinstance(data, dict) else []
    if problems:
        raise ConfigProblems(path, _dedupe(problems, data))
    return Config(path, tuple(Subscriber.resolve(base, e.prefs, line=e.line) for e in entries),
                  tuple(sources), base, tuple(e.prefs for e in entries))


def sync_config(store: Store, config: Config, now: datetime) -> None:
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
        raise ConfigProblems(path, _dedupe(problems, data))
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


# ---- schema -----------------------------------------------------------------------------

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
                         f"unknown key {key!r}; allowed: {', '.join(top)}")))
    if "defaults" in top:
        _defaults(data.get("defaults"), lines, found)
    items = data.get("subscribers")
    if not isinstance(items, list):
        what = "missing" if items is None else f"a {_kind(items)}, not a list"
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
                     f"expected a mapping of settings, found a {_kind(raw)}")))
        return {}
    try:
        return _Settings.model_validate(raw).model_dump(exclude_none=True, by_alias=True)
    except ValidationError as e:
        found.extend(_errors(e, ("defaults",), "defaults", SETTING_KEYS, lines))
        return {}


def _subscriber(raw: Any, i: int, lines: Lines, found: list[Found], with_state: bool,
                folder: Path | None = None) -> Entry | None:
    path: Path_ = ("subscribers", i)
    if not isinstance(raw, dict):
        found.append(Found(path, Problem(lines.of(path), f"subscriber #{i + 1}",
                     f"expected a mapping ('email: ...' and settings), found a {_kind(raw)}")))
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
        valid = _Subscriber.model_validate(own)
    except ValidationError as e:
        found.extend(_errors(e, path, who, allowed, lines))
        return None
    prefs = valid.model_dump(exclude_none=True, by_alias=True)
    if folder is not None:
        _pin_profiles(prefs, path, folder, lines, found, who)
    return Entry(prefs, str(state), lines.of(path))


def _errors(
    error: ValidationError, path: Path_, who: str, allowed: tuple[str, ...], lines: Lines
) -> Iterator[Found]:
    for item in error.errors():
        inner = tuple(x for x in item["loc"] if x not in ("plain", "pinned"))
        loc = path + inner
        key = inner[0] if inner else ""
        if key == "authors" and len(inner) > 1:
            yield Found(loc, Problem(lines.of(loc), who, _author_error(item, inner)),
                        value=item["type"] != "extra_forbidden")
            continue
        if item["type"] == "extra_forbidden":
            message = f"unknown key {key!r}; allowed: {', '.join(allowed)}"
        elif item["type"] == "missing":
            message = f"missing required key {key!r}"
        elif item["type"] == "list_type":
            message = (f"{key}: expected a list such as [a, b], found {_kind(item['input'])} "
                       f"{item['input']!r}")
        else:
            reason = item["msg"].removeprefix("Value error, ")
            message = f"{key}: {reason}" if key != "" else reason
        yield Found(loc, Problem(lines.of(loc), who, message), value=item["type"] not in (
            "extra_forbidden", "missing"))


def _author_error(item: Any, loc: tuple[Any, ...]) -> str:
    """The message for a problem inside one ``authors:`` entry (``loc`` from "authors")."""
    where = f"authors: entry {loc[1] + 1}" if isinstance(loc[1], int) else "authors"
    key = loc[2] if len(loc) > 2 else None
    if item["type"] == "model_type":
        return (f"{where}: expected a name or a mapping such as {{name: Ada Lovelace, with: "
                f"[Charles Babbage]}}, found {_kind(item['input'])} {item['input']!r}")
    if item["type"] == "extra_forbidden":
        return f"{where}: unknown key {key!r}; a pinned author takes {', '.join(PIN_KEYS)}"
    if item["type"] == "missing":
        return f"{where}: missing required key {key!r}"
    if item["type"] == "list_type":
        return f"{where}: {key}: expected a list such as [a, b], found {_kind(item['input'])}"
    reason = item["msg"].removeprefix("Value error, ")
    return f"{where}: {key}: {reason}" if key else f"{where}: {reason}"


def _pin_profiles(prefs: dict[str, Any], path: Path_, folder: Path, lines: Lines,
                  found: list[Found], who: str) -> None:
    """Check every ``profile:`` of ``prefs``' pinned authors that names a file (it must be
    a profile listing whose owner is the pinned name) and put the source name it is
    stored under in its place; ``stored:NAME`` becomes NAME (the database is checked by
    ``digest check``)."""
    for j, entry in enumerate(prefs.get("authors", ())):
        if isinstance(entry, str) or "profile" not in entry:
            continue
        at: Path_ = (*path, "authors", j, "profile")
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


def _sources(data: dict[str, Any], folder: Path, lines: Lines, found: list[Found]
             ) -> list[Source]:
    raw = data.get("sources")
    if raw is None:
        return []
    if not isinstance(raw, list):
        found.append(Found(("sources",), Problem(lines.of(("sources",)), None,
                     f"'sources:' is a {_kind(raw)}, not a list of sources")))
        return []
    sources: list[Source] = []
    for i, item in enumerate(raw):
        path: Path_ = ("sources", i)
        who = f"source #{i + 1}"
        if not isinstance(item, dict):
            found.append(Found(path, Problem(lines.of(path), who, "expected a mapping "
                         f"(path/hf_daily/arxiv, schedule), found a {_kind(item)}")))
            continue
        try:
            valid = _Source.model_validate(item)
        except ValidationError as e:
            found.extend(_errors(e, path, who, SOURCE_KEYS, lines))
            continue
        source = _source(valid)
        if source.kind == "path":
            target = (folder / source.target).resolve()
            if not target.exists():
                found.append(Found((*path, "path"), Problem(lines.of((*path, "path")), who,
                             f"path: {target} does not exist")))
                continue
            source = Source(source.name, "path", str(target), source.schedule, source.timezone)
        if any(s.name == source.name for s in sources):
            found.append(Found(path, Problem(lines.of(path), who, f"two sources are named "
                         f"{source.name!r}; give one of them another name:")))
        sources.append(source)
    return sources


def _source(valid: _Source) -> Source:
    if valid.path:
        kind, target = "path", valid.path
    elif valid.arxiv:
        kind, target = "arxiv", valid.arxiv
    else:
        kind, target = "hf-daily", ""
    name = valid.name or (f"{kind}:{target}" if target else kind)
    return Source(name, kind, target, valid.schedule, valid.timezone)


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


def _dedupe(found: list[Found], data: Any) -> list[Problem]:
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


def _kind(value: Any) -> str:
    names: dict[type, str] = {list: "list", dict: "mapping", str: "text"}
    return names.get(type(value), type(value).__name__)
