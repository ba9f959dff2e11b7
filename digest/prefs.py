"""What a subscriber may set, in one schema: the pydantic models below are the only list
of settings. subscriptions.yaml, ``digest subscribers`` (add, import, export), the web
pages and the store all read it.

Each field carries its bounds (checked here, so the file and the forms agree), its
default (from ``digest.defaults``), and how it is shown and exported (``Shown``: its
place, its label, one entry a line or not). ``resolve`` makes the settings a subscriber
gets of ``defaults:`` and their own; nothing else does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Annotated, Any, cast

from annotated_types import Ge, Le
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from digest import defaults, zones
from digest.model import Channel, Subscriber, split_authors
from digest.text import arxiv_key
from digest.vocab import Cadence, ChannelKind

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_NAME = 200  # characters of a subscriber's name
# Characters of one author, keyword, exclusion or category: far above any real name or
# phrase, and what subscriptions.yaml has always allowed.
MAX_PHRASE = 300
# Entries of one list (authors, keywords, exclusions, categories), as of likes: the
# preferences form of someone following this many authors is still a small page.
MAX_ENTRIES = defaults.MAX_LIKES
PIN_KEYS = ("name", "profile", "with", "org", "papers", "not")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# New-style (2604.01234, v2) and old-style (hep-th/9901001) arXiv ids.
_ARXIV = re.compile(r"^(?:arXiv:)?(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$",
                    re.IGNORECASE)


def arxiv_ids(values: list[str]) -> list[str]:
    """``values`` when each is an arXiv id (stripped, once each); ValueError otherwise."""
    if len(values) > defaults.MAX_LIKES:
        raise ValueError(f"at most {defaults.MAX_LIKES} papers; drop the oldest")
    for value in values:
        if not _ARXIV.match(value.strip()):
            raise ValueError(f"{value[:40]!r} is not an arXiv id; write it as on arXiv, "
                             "e.g. \"2604.01234\"")
    return list(dict.fromkeys(v.strip() for v in values))


# ---- how a field is shown --------------------------------------------------------------

@dataclass(frozen=True)
class Shown:
    """How a setting is shown and exported: ``at``, its place in an export and on the
    pages; ``label`` and ``hint`` on the pages; ``per_line``: a list typed one entry a
    line (else on one line, commas between); ``subscribe`` / ``preferences``: whether
    that page shows it; ``default``: what a subscriber gets when neither they nor
    ``defaults:`` set it; ``max_entries`` (a list's) and ``max_chars`` (of the value, or
    of each entry): the bounds the schema checks, for a form to say beside the field."""

    at: int
    label: str
    hint: str = ""
    per_line: bool = False
    subscribe: bool = False
    preferences: bool = False
    default: Any = None
    max_entries: int | None = None
    max_chars: int | None = None
    switch: bool = False  # a section's size the preferences page switches on and off


@dataclass(frozen=True, kw_only=True)
class FieldSpec(Shown):
    """One setting as the schema has it: how it is shown, its ``key``, and the bounds of
    a number (``low`` .. ``high``)."""

    key: str
    low: int | None = None
    high: int | None = None

    @property
    def many(self) -> bool:
        """Whether it is a list (each list has a bound on its entries)."""
        return self.max_entries is not None


# ---- what a value may be ----------------------------------------------------------------

def plain(value: str, limit: int) -> str:
    """``value`` when it is printable text of at most ``limit`` characters."""
    if len(value) > limit:
        raise ValueError(f"{value[:40]!r}... is longer than {limit} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError(f"{value!r} holds control characters; write plain text")
    return value


def phrases(values: list[str]) -> list[str]:
    """Entries of a list of names or phrases, spaces tidied; none empty or too long."""
    cleaned = [" ".join(v.split()) for v in values]
    if any(not v for v in cleaned):
        raise ValueError("entries must not be empty")
    for value in cleaned:
        plain(value, MAX_PHRASE)
    return cleaned


def _entries(values: list[Any]) -> list[Any]:
    if len(values) > MAX_ENTRIES:
        raise ValueError(f"at most {MAX_ENTRIES} entries")
    return values


def check_timezone(value: str) -> str:
    """``value`` when it is an IANA time zone; ValueError with a suggestion otherwise."""
    if value in zones.names():
        return value
    raise ValueError(f"unknown time zone {value!r}; {zones.suggest(value)}")


def _time(value: str) -> str:
    m = _TIME.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not a time; write it as \"HH:MM\", e.g. \"07:30\"")
    return f"{int(m[1]):02d}:{m[2]}"


def _day(value: str) -> str:
    day = value.strip().lower()
    for weekday in WEEKDAYS:
        if day in (weekday, weekday[:3]):
            return weekday
    raise ValueError(f"{value!r} is not a weekday; use one of {', '.join(WEEKDAYS)}")


def _cadence(value: Any) -> Any:
    """A cadence as written (the stored string), in the words pydantic uses for a choice."""
    if isinstance(value, str) and value in tuple(Cadence):
        return value
    *rest, last = (repr(str(c)) for c in Cadence)
    raise ValueError(f"Input should be {', '.join(rest)} or {last}")


_PhraseList = Annotated[list[str], AfterValidator(phrases)]
Phrases = Annotated[_PhraseList, AfterValidator(_entries)]


class Strict(BaseModel):
    """Unknown keys and loose types refused; a key written without a value (``keywords:``,
    as a file cut off while it is being written ends) is a problem, not "not set"."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _given(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("no value; write one after the colon, or leave the key out")
        return value


class PinModel(Strict):
    """A followed author pinned to one person: ``name`` and at least one of ``profile``
    (a profile listing's path, or ``stored:NAME`` for one in the database), ``with``
    (co-authors), ``org`` (an organisation) and ``papers`` (arXiv ids of papers that are
    theirs); ``not`` lists arXiv ids of papers with the name that are someone else's."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    name: str
    profile: str | None = None
    with_: _PhraseList | None = Field(default=None, alias="with")
    org: str | None = None
    papers: list[str] | None = None
    not_: list[str] | None = Field(default=None, alias="not")

    @field_validator("papers", "not_")
    @classmethod
    def _ids(cls, values: list[str]) -> list[str]:
        return arxiv_ids(values)

    @field_validator("name", "profile", "org")
    @classmethod
    def _text(cls, value: str) -> str:
        cleaned = " ".join(value.split())
        if not cleaned:
            raise ValueError("must not be empty")
        return plain(cleaned, MAX_PHRASE)

    @model_validator(mode="after")
    def _pinned(self) -> PinModel:
        if not (self.profile or self.with_ or self.org or self.papers or self.not_):
            raise ValueError(f"{self.name!r} is pinned to nobody; give profile:, with:, "
                             "org:, papers: or not:, or write the name alone")
        return self


def _entry_kind(value: Any) -> str:
    return "plain" if isinstance(value, str) else "pinned"


def _authors(values: list[str | PinModel]) -> list[str | PinModel]:
    return [phrases([v])[0] if isinstance(v, str) else v for v in values]


# One entry of ``authors:``: a name, or a pinned author (a mapping).
_Author = Annotated[Annotated[str, Tag("plain")] | Annotated[PinModel, Tag("pinned")],
                    Discriminator(_entry_kind)]
_Authors = Annotated[list[_Author], AfterValidator(_authors), AfterValidator(_entries)]
_ONE_A_LINE = "one phrase per line"


# ---- team channels --------------------------------------------------------------------

MAX_CHANNELS = 10  # of one subscriber
MAX_URL = 2000  # characters of a channel's URL
_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")
# What each kind needs besides its URL, and what it may take.
_NEEDS = {ChannelKind.MATRIX: ("token", "room")}
_TAKES = {ChannelKind.MATRIX: ("token", "room"), ChannelKind.NTFY: ("token",),
          ChannelKind.WEBHOOK: ("token",)}


def channel_url(value: str) -> str:
    """``value`` when it is an https URL (http only to this machine, for a hook on
    loopback), without credentials, spaces or a fragment."""
    url = value.strip()
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0]
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if scheme.lower() not in ("https", "http") or not host:
        raise ValueError(f"{url[:60]!r} is not a URL; write it as https://host/path")
    if scheme.lower() == "http" and name.lower() not in _LOOPBACK \
            and not name.startswith("127."):
        raise ValueError("use https:// (plain http only to this machine: localhost, "
                         "127.0.0.1, [::1])")
    if "@" in host or "#" in url or any(ch.isspace() for ch in url):
        raise ValueError("write the URL without user:password@, spaces or a #fragment; "
                         "a token goes in token:")
    return plain(url, MAX_URL)


def _channel_kind(value: Any) -> Any:
    if isinstance(value, str) and value in tuple(ChannelKind):
        return value
    *rest, last = (repr(str(k)) for k in ChannelKind)
    raise ValueError(f"unknown channel kind {value!r}; use {', '.join(rest)} or {last}")


class ChannelModel(Strict):
    """One team channel: ``kind``, ``url``, and ``token`` / ``room`` where it needs them
    (``docs/channels.md``)."""

    kind: Annotated[str, BeforeValidator(_channel_kind)]
    url: Annotated[str, AfterValidator(channel_url)]
    token: str | None = None
    room: str | None = None

    @field_validator("token", "room")
    @classmethod
    def _secret(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return plain(value.strip(), MAX_URL)

    @model_validator(mode="after")
    def _complete(self) -> ChannelModel:
        kind = ChannelKind(self.kind)
        given = [k for k in ("token", "room") if getattr(self, k) is not None]
        missing = [k for k in _NEEDS.get(kind, ()) if k not in given]
        if missing:
            raise ValueError(f"a {kind} channel needs {' and '.join(missing)}:")
        extra = [k for k in given if k not in _TAKES.get(kind, ())]
        if extra:
            raise ValueError(f"a {kind} channel takes no {' or '.join(extra)}: (its URL "
                             "carries the secret)")
        room = self.room or ""
        if kind is ChannelKind.MATRIX and not room.startswith(("!", "#")):
            raise ValueError(f"room {room!r} is not a Matrix room; write its id "
                             "(!abc:example.org) or alias (#papers:example.org)")
        topic = self.url.split("://", 1)[-1].split("?", 1)[0].rstrip("/").partition("/")[2]
        if kind is ChannelKind.NTFY and not topic:
            raise ValueError("an ntfy URL names its topic: https://ntfy.sh/your-topic")
        return self


def _channel_list(values: list[ChannelModel]) -> list[ChannelModel]:
    if len(values) > MAX_CHANNELS:
        raise ValueError(f"at most {MAX_CHANNELS} channels")
    keys = [(c.kind, c.url, c.room) for c in values]
    if len(set(keys)) < len(keys):
        raise ValueError("the same channel twice; list each once")
    return values


# ---- the settings ------------------------------------------------------------------------

class SettingsModel(Strict):
    """What a subscriber may set, and ``defaults:`` may set for everyone. The order of the
    fields is the order ``digest check`` names them in; ``Shown.at`` the order of an
    export and of the pages."""

    cadence: Annotated[Annotated[str, BeforeValidator(_cadence)] | None, Shown(
        3, "How often", subscribe=True, preferences=True, default=defaults.CADENCE)] = None
    send_at: Annotated[Annotated[str, AfterValidator(_time)] | None, Shown(
        5, "Time", "HH:MM", preferences=True, default=defaults.SEND_AT)] = None
    day: Annotated[Annotated[str, AfterValidator(_day)] | None, Shown(
        4, "Day", str(Cadence.WEEKLY), preferences=True, default=defaults.DAY)] = None
    timezone: Annotated[Annotated[str, AfterValidator(check_timezone)] | None, Shown(
        6, "Time zone", subscribe=True, preferences=True, default=defaults.TIMEZONE)] = None
    max_papers: Annotated[int | None, Shown(
        11, "Papers per digest, at most", preferences=True, default=defaults.MAX_PAPERS)
                          ] = Field(default=None, ge=1, le=500)
    trending: Annotated[int | None, Shown(
        12, "Add what is trending", preferences=True, default=defaults.TRENDING,
        switch=True)
                        ] = Field(default=None, ge=0, le=100)
    rising: Annotated[int | None, Shown(
        13, "Add what is rising fastest", preferences=True, default=defaults.RISING,
        switch=True)
                      ] = Field(default=None, ge=0, le=100)
    recommended: Annotated[int | None, Shown(
        14, "Recommended papers", default=defaults.RECOMMENDED)
                           ] = Field(default=None, ge=0, le=20)
    max_age_days: Annotated[int | None, Shown(
        15, "Oldest paper due, in days", default=defaults.MAX_AGE_DAYS)
                            ] = Field(default=None, ge=1, le=3650)
    authors: Annotated[_Authors | None, Shown(
        7, "Authors to follow", "one per line", per_line=True, subscribe=True,
        preferences=True, default=(), max_entries=MAX_ENTRIES, max_chars=MAX_PHRASE)] = None
    keywords: Annotated[Phrases | None, Shown(
        8, "Keywords", _ONE_A_LINE, per_line=True, subscribe=True, preferences=True,
        default=(), max_entries=MAX_ENTRIES, max_chars=MAX_PHRASE)] = None
    exclude: Annotated[Phrases | None, Shown(
        9, "Leave out papers mentioning", _ONE_A_LINE, per_line=True, preferences=True,
        default=(), max_entries=MAX_ENTRIES, max_chars=MAX_PHRASE)] = None
    categories: Annotated[Phrases | None, Shown(
        10, "Only these arXiv categories", "e.g. cs.LG, cs.CV; empty for all",
        preferences=True, default=(), max_entries=MAX_ENTRIES, max_chars=MAX_PHRASE)] = None
    send_empty: Annotated[bool | None, Shown(
        16, "Mail even when nothing is new", default=False)] = None
    alert_keywords: Annotated[bool | None, Shown(
        17, "Instant alerts for keywords too", default=False)] = None
    grace_hours: Annotated[int | None, Shown(
        18, "Hours a late digest may still go", default=defaults.GRACE_HOURS)
                           ] = Field(default=None, ge=0, le=24 * 30)


class SubscriberModel(SettingsModel):
    """One subscriber's entry: who they are, their settings, and their taste."""

    email: Annotated[str, Shown(1, "Email", subscribe=True)]
    name: Annotated[str, Shown(2, "Name", subscribe=True, preferences=True, default="",
                               max_chars=MAX_NAME)] = ""
    # On the preferences page each is a list of titles with a remove button, and a box
    # that adds a paper by its title, arXiv id or link (not a field of the main form).
    likes: Annotated[list[str] | None, Shown(
        19, "Papers you like (more like these)", "three or more bring recommendations",
        per_line=True, default=(), max_entries=defaults.MAX_LIKES)] = None
    dislikes: Annotated[list[str] | None, Shown(
        20, "Papers you do not like (fewer like these)", "the cards' “Less like this” adds "
        "to them", per_line=True, default=(), max_entries=defaults.MAX_LIKES)] = None
    mail: Annotated[bool | None, Shown(
        21, "Mail the digest", "false: channel messages only", default=True)] = None
    channels: Annotated[Annotated[list[ChannelModel], AfterValidator(_channel_list)] | None,
                        Shown(22, "Team channels", default=())] = None

    @field_validator("likes", "dislikes")
    @classmethod
    def _arxiv_ids(cls, values: list[str]) -> list[str]:
        return arxiv_ids(values)

    @field_validator("dislikes")
    @classmethod
    def _not_liked(cls, values: list[str], info: ValidationInfo) -> list[str]:
        liked = {arxiv_key(x) for x in info.data.get("likes") or ()}
        both = [x for x in values if arxiv_key(x) in liked]
        if both:
            raise ValueError(f"{', '.join(both[:3])} also in likes; keep each paper in one "
                             "list")
        return values

    @model_validator(mode="after")
    def _reached(self) -> SubscriberModel:
        if self.mail is False and not self.channels:
            raise ValueError("mail: false and no channels: would get nothing; add "
                             "channels: or leave mail: out")
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return plain(" ".join(value.split()), MAX_NAME)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            return str(validate_email(value, check_deliverability=False).normalized)
        except EmailNotValidError as e:
            raise ValueError(f"invalid email {value!r}: {e}") from e


# ---- the field list ----------------------------------------------------------------------

def _spec(key: str, info: FieldInfo) -> FieldSpec:
    shown = next(m for m in info.metadata if isinstance(m, Shown))
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    return FieldSpec(**asdict(shown), key=key, low=cast("int | None", low),
                     high=cast("int | None", high))


SETTING_KEYS = tuple(SettingsModel.model_fields)
# As ``digest check`` names them: who (email, name), the settings ``defaults:`` may give,
# the taste (likes, dislikes).
_OWN = tuple(k for k in SubscriberModel.model_fields if k not in SETTING_KEYS)
SUBSCRIBER_KEYS = (*_OWN[:2], *SETTING_KEYS, *_OWN[2:])
# Every field, in the order of an export and of the pages.
FIELDS = tuple(sorted((_spec(k, f) for k, f in SubscriberModel.model_fields.items()),
                      key=lambda spec: spec.at))
FIELD = {spec.key: spec for spec in FIELDS}
SUBSCRIBE_FIELDS = tuple(spec.key for spec in FIELDS if spec.subscribe)
PREFERENCES_FIELDS = tuple(spec.key for spec in FIELDS if spec.preferences)
LIST_FIELDS = tuple(spec.key for spec in FIELDS if spec.many)


# ---- resolving -------------------------------------------------------------------------

def resolve(base: Mapping[str, Any], prefs: Mapping[str, Any], **extra: Any) -> Subscriber:
    """The subscriber whose own settings are ``prefs``: each field is theirs, else what
    ``base`` (``defaults:``) says, else the schema's default. The store's resolved
    settings come back through here too (with an empty ``base``: they are complete)."""
    given = {**base, **prefs}
    values = {spec.key: _frozen(given.get(spec.key, spec.default)) for spec in FIELDS}
    values["authors"], pins = split_authors(values["authors"])
    values["channels"] = tuple(Channel.decode(c) for c in values["channels"])
    return Subscriber(**values, pins=pins, **extra)


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def settings_of(sub: Subscriber) -> dict[str, Any]:
    """``sub``'s resolved settings as the store keeps them (JSON: lists, pins as mappings),
    which ``resolve`` reads back unchanged."""
    data = {f.name: getattr(sub, f.name) for f in fields(Subscriber) if f.name in FIELD}
    data["authors"] = sub.author_entries()
    data["channels"] = [c.encode() for c in sub.channels]
    return jsonable(data)


def jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with its tuples as lists, as JSON keeps them."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

