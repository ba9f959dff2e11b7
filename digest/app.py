"""The composition root: the one place that reads the settings into the objects every
command, the bot and the workers share (database, subscriptions file, mail settings,
transport, tokens), each built on first use.

A command is handed an ``App`` and never builds these itself, so a setting is read in one
place, checked once at start (``check_settings``), and a command that needs no mail never
loads a DKIM key nor opens a database it does not read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from digest import defaults
from digest.bounces import Addresses
from digest.bounces.imap import parse_url
from digest.config import Config, load_config, sync_config
from digest.deliver import MailSettings, refuse_localhost, tokens_for
from digest.deliver.tokens import Tokens
from digest.deliver.transport import SmtpSettings, Transport, transport_from_env
from digest.errors import ConfigError
from digest.settings import Environment, HttpSettings, Settings, parse_now
from digest.store import Store, sqlite_file


def check_settings(env: Environment) -> None:
    """Check every setting a command may use, whether or not this one does: its numbers,
    switches, URLs and secrets (``Environment.check``), DIGEST_FROM, DIGEST_NAME and
    DIGEST_BOUNCE_ADDRESS, the SMTP URL and DIGEST_HELO, and an IMAP DIGEST_BOUNCES_URL.
    ConfigError names the first bad one and what to write. DKIM keys are read when mail
    is built, not here: a command that sends nothing does not need them."""
    env.check()
    Addresses.from_env(env)
    SmtpSettings.from_env(env)
    bounces = (env.get("DIGEST_BOUNCES_URL") or "").strip()
    if bounces.lower().startswith(("imap://", "imaps://")):
        parse_url(bounces)


@dataclass(frozen=True)
class App:
    """What a run works with. ``db_url``, ``config_path`` and ``now_given`` are as the
    command line (else the environment, else the defaults) gave them; ``--now`` is parsed
    on first use, so that a command that must answer a bad one its own way (``digest
    bounces -``, to an MTA) can. ``create``: a missing database is created; ``check``: one
    at another schema revision is refused."""

    db_url: str
    config_path: Path
    now_given: str | None = None
    env: Environment = field(default_factory=Environment)
    create: bool = True
    check: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, env: Environment | None = None) -> App:
        """The app of ``settings`` (a library caller's, a test's), with the process's
        environment unless ``env`` is given."""
        moment = settings.fixed_now.isoformat() if settings.fixed_now else None
        return cls(settings.db_url, settings.config_path, moment,
                   Environment.read() if env is None else env)

    def __reduce__(self) -> tuple[Any, ...]:
        """Only the settings cross to another process: it opens its own database and
        connections (``digest send --workers``)."""
        return (App, (self.db_url, self.config_path, self.now_given, self.env, self.create,
                      self.check))

    @cached_property
    def settings(self) -> Settings:
        """ConfigError for a bad --now/DIGEST_NOW."""
        moment = parse_now(self.now_given) if self.now_given else None
        return Settings(db_url=self.db_url, config_path=self.config_path, fixed_now=moment)

    @property
    def now(self) -> Callable[[], datetime]:
        """The run's clock."""
        return self.settings.now

    @cached_property
    def store(self) -> Store:
        """The database: the only ``Store`` digest itself opens."""
        return Store(self.db_url, create=self.create, check=self.check)

    def database_to_create(self) -> str | None:
        """The file of a SQLite database that opening the store would create now (it is
        not there, or empty), else None."""
        path = sqlite_file(self.db_url)
        if not self.create or path is None or "store" in self.__dict__:
            return None
        return None if os.path.exists(path) and os.path.getsize(path) > 0 else path

    def refuse_new_database(self, new_db: bool) -> None:
        """ConfigError before a send would create a new database while one sits beside
        the subscriptions file: the default ``sqlite:///digest.db`` is in the current
        folder, and a run from elsewhere would otherwise mail every subscriber again, the
        history of what they were sent being in the other one. ``new_db``: go ahead."""
        path = self.database_to_create()
        if new_db or path is None or self.db_url != defaults.DB_URL:
            return
        beside = self.settings.config_path.resolve().parent / Path(path).name
        if not beside.is_file() or str(beside) == path:
            return
        raise ConfigError(
            f"there is no database at {path}, but {beside} is beside "
            f"{self.settings.config_path}: a new database would mail every subscriber again "
            f"(what they were sent is in that one). Use --db sqlite:///{beside} (or "
            "DIGEST_DB), or --new-db to start a new database here")

    @cached_property
    def config(self) -> Config:
        """The subscriptions file (ConfigError when it is missing or wrong)."""
        return load_config(self.settings.config_path)

    @cached_property
    def mail(self) -> MailSettings:
        return MailSettings.from_env(self.env)

    @cached_property
    def transport(self) -> Transport:
        """SMTP or the Maildir: the only transport digest itself builds."""
        return transport_from_env(self.env)

    @cached_property
    def tokens(self) -> Tokens:
        """Links signed with DIGEST_SECRET, else the database's own secret."""
        return tokens_for(self.store, self.env)

    @cached_property
    def http(self) -> HttpSettings:
        return HttpSettings.from_env(self.env)

    def refuse_localhost(self) -> None:
        """ConfigError when real mail would carry a localhost sender or links."""
        refuse_localhost(self.mail, self.transport, self.env)

    def synced(self) -> Store:
        """The database in step with the subscriptions file (its subscribers and
        defaults)."""
        sync_config(self.store, self.config, self.now())
        return self.store

    def synced_if_any(self) -> Store:
        """The database, in step with the subscriptions file when there is one."""
        return self.synced() if self.settings.config_path.exists() else self.store
