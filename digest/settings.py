"""Run-wide settings: database, configuration file, clock and HTTP behaviour.

Each setting comes from a command-line option, else an environment variable, else the
default in ``digest.defaults``. The clock is a setting too: with ``--now``/``DIGEST_NOW``
every command that records or compares times sees that moment, so a run can be replayed.
The process's environment is read here only, once (``Environment``), and every setting of
a fixed form is checked there, so a typo stops a command before it touches anything.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from digest import defaults
from digest.errors import ConfigError


def parse_now(text: str, what: str = "--now/DIGEST_NOW") -> datetime:
    """Parse an ISO 8601 moment; a time without an offset is taken as UTC.

    Raises ConfigError naming ``what`` and the bad value, also for a moment outside
    ``defaults.EARLIEST_YEAR``..``LATEST_YEAR``.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise ConfigError(
            f"{what} {text!r} is not an ISO 8601 time; "
            "write it like 2026-08-21T08:00:00+02:00 or 2026-08-21"
        ) from e
    check_year(moment.year, what, text)
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)


def parse_day(text: str, what: str) -> date:
    """Parse a day written YYYY-MM-DD; ConfigError naming ``what`` when it is not one or
    lies outside ``defaults.EARLIEST_YEAR``..``LATEST_YEAR``."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as e:
        raise ConfigError(f"{what} {text!r} is not a day; write it like 2026-08-21") from e
    check_year(day.year, what, text)
    return day


def check_year(year: int, what: str, text: str) -> None:
    """ConfigError when a moment the user gave lies outside the years digest handles."""
    if not defaults.EARLIEST_YEAR <= year <= defaults.LATEST_YEAR:
        raise ConfigError(f"{what} {text!r} is out of range; give a moment between "
                          f"{defaults.EARLIEST_YEAR} and {defaults.LATEST_YEAR}")


def refuse_clock_ahead(settings: Settings, force: bool) -> None:
    """ConfigError when a real pass would run at a --now/DIGEST_NOW more than
    ``defaults.CLOCK_AHEAD_MINUTES`` ahead of the system clock (and ``force`` is not
    given): periods it records are never planned again before that moment, so nobody
    would get a digest until then. A past --now replays history and is fine."""
    if settings.fixed_now is None or force:
        return
    ahead = settings.fixed_now - datetime.now(UTC)
    if ahead > timedelta(minutes=defaults.CLOCK_AHEAD_MINUTES):
        raise ConfigError(
            f"--now/DIGEST_NOW {settings.fixed_now.isoformat()} is {_span(ahead)} ahead of "
            "this machine's clock: a pass run then records periods that no pass plans "
            "again before it, so nobody would get a digest until then. Leave out --now "
            "(or unset DIGEST_NOW), use `digest send --dry-run` to look ahead, or add "
            "--force-clock if you mean it (`digest subscribers reset-periods` undoes such "
            "a pass)")


def _span(delta: timedelta) -> str:
    if delta >= timedelta(days=2):
        return f"{delta.days} days"
    if delta >= timedelta(hours=2):
        return f"{delta // timedelta(hours=1)} hours"
    return f"{delta // timedelta(minutes=1)} minutes"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and what time it is."""

    db_url: str = defaults.DB_URL
    config_path: Path = Path(defaults.CONFIG_PATH)
    fixed_now: datetime | None = None

    def now(self) -> datetime:
        """The run's clock: the fixed moment when one was given, else the system clock."""
        return self.fixed_now if self.fixed_now is not None else datetime.now(UTC)


@dataclass(frozen=True)
class HttpSettings:
    """Where live sources are fetched from and how patiently."""

    hf_base: str = defaults.HF_BASE_URL
    arxiv_base: str = defaults.ARXIV_BASE_URL
    timeout: float = defaults.HTTP_TIMEOUT
    attempts: int = defaults.HTTP_ATTEMPTS
    backoff: float = defaults.HTTP_BACKOFF
    max_bytes: int = defaults.HTTP_MAX_BYTES
    deadline: float = defaults.HTTP_DEADLINE
    max_pages: int = defaults.HTTP_MAX_PAGES
    oai_base: str = defaults.ARXIV_OAI_URL
    biorxiv_base: str = defaults.BIORXIV_URL
    pause: float = defaults.HARVEST_PAUSE
    retry_after_max: float = defaults.HARVEST_RETRY_AFTER_MAX

    @property
    def bases(self) -> tuple[str, ...]:
        """Every source's base URL: the hosts a fetch may reach."""
        return (self.hf_base, self.arxiv_base, self.oai_base, self.biorxiv_base)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HttpSettings:
        """Read DIGEST_HF_URL, DIGEST_ARXIV_URL, DIGEST_ARXIV_OAI_URL, DIGEST_BIORXIV_URL,
        DIGEST_HTTP_{TIMEOUT,ATTEMPTS,BACKOFF,MAX_BYTES,DEADLINE,MAX_PAGES} and
        DIGEST_HARVEST_{PAUSE,RETRY_AFTER_MAX}.

        Raises ConfigError when a number or a URL is malformed.
        """
        return cls(
            hf_base=base_url(env, "DIGEST_HF_URL", defaults.HF_BASE_URL),
            arxiv_base=base_url(env, "DIGEST_ARXIV_URL", defaults.ARXIV_BASE_URL),
            timeout=number_setting(env, "DIGEST_HTTP_TIMEOUT"),
            attempts=max(1, int(number_setting(env, "DIGEST_HTTP_ATTEMPTS"))),
            backoff=number_setting(env, "DIGEST_HTTP_BACKOFF"),
            max_bytes=max(1, int(number_setting(env, "DIGEST_HTTP_MAX_BYTES"))),
            deadline=number_setting(env, "DIGEST_HTTP_DEADLINE"),
            max_pages=max(1, int(number_setting(env, "DIGEST_HTTP_MAX_PAGES"))),
            oai_base=base_url(env, "DIGEST_ARXIV_OAI_URL", defaults.ARXIV_OAI_URL),
            biorxiv_base=base_url(env, "DIGEST_BIORXIV_URL", defaults.BIORXIV_URL),
            pause=number_setting(env, "DIGEST_HARVEST_PAUSE"),
            retry_after_max=number_setting(env, "DIGEST_HARVEST_RETRY_AFTER_MAX"),
        )


# Every number the environment may set, with its default: parsed by ``number_setting``
# only, and all checked when a command starts (``check_environment``).
NUMBERS: dict[str, float] = {
    "DIGEST_SMTP_TIMEOUT": defaults.SMTP_TIMEOUT,
    "DIGEST_SMTP_DATA_TIMEOUT": defaults.SMTP_DATA_TIMEOUT,
    "DIGEST_SMTP_POOL": defaults.SMTP_POOL,
    "DIGEST_SMTP_RATE": 0.0,
    "DIGEST_LEASE_SECONDS": defaults.SENDING_LEASE_MINUTES * 60,
    "DIGEST_BOUNCE_LIMIT": defaults.BOUNCE_LIMIT,
    "DIGEST_SOFT_BOUNCE_LIMIT": defaults.SOFT_BOUNCE_LIMIT,
    "DIGEST_WATCH_SECONDS": defaults.WATCH_SECONDS,
    "DIGEST_HTTP_TIMEOUT": defaults.HTTP_TIMEOUT,
    "DIGEST_HTTP_ATTEMPTS": defaults.HTTP_ATTEMPTS,
    "DIGEST_HTTP_BACKOFF": defaults.HTTP_BACKOFF,
    "DIGEST_HTTP_MAX_BYTES": defaults.HTTP_MAX_BYTES,
    "DIGEST_HTTP_DEADLINE": defaults.HTTP_DEADLINE,
    "DIGEST_HTTP_MAX_PAGES": defaults.HTTP_MAX_PAGES,
    "DIGEST_HARVEST_PAUSE": defaults.HARVEST_PAUSE,
    "DIGEST_HARVEST_RETRY_AFTER_MAX": defaults.HARVEST_RETRY_AFTER_MAX,
    "DIGEST_SERVE_HEADER_SECONDS": defaults.SERVE_HEADER_SECONDS,
}


def number_setting(env: Mapping[str, str], name: str, default: float | None = None) -> float:
    """A finite, non-negative number from the environment (its default from ``NUMBERS``
    when not given); ConfigError ``DIGEST_X: ...`` naming the setting."""
    fallback = NUMBERS[name] if default is None else default
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return float(fallback)
    try:
        value = float(raw)
    except ValueError as e:
        raise ConfigError(f"{name}: {raw!r} is not a number; unset it or give one "
                          f"(default {fallback:.15g})") from e
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name}: {raw!r} must be a finite number, 0 or more "
                          f"(default {fallback:.15g})")
    return value


# Every on/off setting the environment may set, with its default: ``switch_setting``.
SWITCHES: dict[str, bool] = {
    "DIGEST_IMAGES": defaults.IMAGES,
    "DIGEST_ALLOW_LOCALHOST": defaults.ALLOW_LOCALHOST,
}
_ON, _OFF = ("on", "true", "yes", "1"), ("off", "false", "no", "0")


def switch_setting(env: Mapping[str, str], name: str) -> bool:
    """An on/off setting from the environment (``on``/``off``, also true/false, yes/no,
    1/0; its default from ``SWITCHES`` when not given); ConfigError naming it."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return SWITCHES[name]
    value = raw.strip().lower()
    if value not in _ON + _OFF:
        raise ConfigError(f"{name}: {raw!r} is neither on nor off; set it to on or off "
                          f"(default {'on' if SWITCHES[name] else 'off'})")
    return value in _ON


# Every URL the environment may set, with an example of one to write.
URLS: dict[str, str] = {
    "DIGEST_BASE_URL": "https://digest.example.org",
    "DIGEST_HF_URL": defaults.HF_BASE_URL,
    "DIGEST_ARXIV_URL": defaults.ARXIV_BASE_URL,
    "DIGEST_ARXIV_OAI_URL": defaults.ARXIV_OAI_URL,
    "DIGEST_BIORXIV_URL": defaults.BIORXIV_URL,
}


def url_setting(env: Mapping[str, str], name: str) -> str | None:
    """An http(s) URL from the environment, or None when not given; ConfigError naming
    the setting and what to write, so that links and fetches never start from a typo."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    url = raw.strip()
    if not _http_url(url):
        raise ConfigError(f"{name}: {raw!r} is not an http(s) URL; write it like "
                          f"{URLS[name]}")
    return url



def base_url(env: Mapping[str, str], name: str, default: str) -> str:
    """The base URL setting ``name`` (``url_setting``), else ``default``, without a
    trailing slash."""
    return (url_setting(env, name) or default).rstrip("/")

def _http_url(url: str) -> bool:
    """Whether ``url`` is an http(s) URL with a host (and a port in range, if it names
    one), in printable characters and no spaces."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return False
    try:  # an unbalanced '[' or a port out of range: not a URL
        parts = urlsplit(url)
        parts.port  # noqa: B018 (checked on access)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# The secrets the environment may hold: never printed, only checked that a server or a
# signature can take them.
SECRETS = ("DIGEST_SECRET", "DIGEST_SMTP_PASSWORD", "DIGEST_IMAP_PASSWORD")


def secret_setting(env: Mapping[str, str], name: str) -> str | None:
    """A secret from the environment, or None when not given; ConfigError naming it (not
    its value) when it holds a line break or another control character, which no login
    carries and a signing key only by mistake (a file read with its newline)."""
    raw = env.get(name)
    if not raw:
        return None
    if not raw.isprintable():
        raise ConfigError(f"{name} holds a line break or another control character; "
                          "set it to the secret alone, on one line")
    return raw


def templates_setting() -> str | None:
    """DIGEST_TEMPLATES, the folder of the mail and page templates: read where the
    templates are first loaded (once a process), which may be before any command starts
    (a library caller rendering a digest)."""
    return os.environ.get("DIGEST_TEMPLATES") or None


@dataclass(frozen=True)
class Environment(Mapping[str, str]):
    """The DIGEST_* variables, read once when a command starts (``read``) and handed
    to whatever builds on them, so that no module reads the process's environment on
    its own and every setting is checked in one place (``check``)."""

    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, env: Mapping[str, str] = os.environ) -> Environment:
        """A copy of ``env``'s DIGEST_* variables (checked by ``check``, not here)."""
        return cls({k: v for k, v in env.items() if k.startswith("DIGEST_")})

    def __getitem__(self, name: str) -> str:
        return self.variables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)

    def number(self, name: str) -> float:
        """A number of ``NUMBERS`` (``number_setting``)."""
        return number_setting(self, name)

    def switch(self, name: str) -> bool:
        """An on/off setting of ``SWITCHES`` (``switch_setting``)."""
        return switch_setting(self, name)

    def check(self) -> None:
        """Parse every setting that has a fixed form, so that a bad one stops a command at
        its start with ``Error: DIGEST_X: ...`` instead of midway."""
        for name in NUMBERS:
            number_setting(self, name)
        for name in SWITCHES:
            switch_setting(self, name)
        for name in URLS:
            url_setting(self, name)
        for name in SECRETS:
            secret_setting(self, name)
        if self.get("DIGEST_NOW"):
            parse_now(self["DIGEST_NOW"])
