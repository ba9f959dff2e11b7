"""The mail settings and the links a mail carries: who sends, where its links and its
bounces point, and the checks that refuse a set-up no receiver could answer."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from functools import lru_cache
from urllib.parse import quote_plus, urlsplit

from digest import defaults
from digest.deliver.dkim import Signer, signer_from_env
from digest.deliver.message import Envelope
from digest.deliver.tokens import MAIL_TOKEN_CHARS, Tokens
from digest.deliver.transport import Message, SmtpTransport, Transport, wire_bytes
from digest.errors import ConfigError
from digest.model import OutboxEntry, Subscriber
from digest.render import Links
from digest.settings import base_url, number_setting, switch_setting
from digest.store import Store
from digest.vocab import (
    CARD_ACTIONS,
    DIGEST_PATH,
    FEED_PATH,
    FEED_SUFFIX,
    MORE_ANCHOR,
    Action,
    Managed,
)

# Card actions take short paths (``vocab.CARD_ACTIONS``): changing what is followed, and
# more / less like this (``digest.web``: they record a like or a dislike).
ACTION_PATHS: dict[str, str] = {spec.action: spec.path for spec in CARD_ACTIONS if not spec.taste}
TASTE_PATHS: dict[str, str] = {spec.action: spec.path for spec in CARD_ACTIONS if spec.taste}
CARD_PATHS = {**ACTION_PATHS, **TASTE_PATHS}  # every link a card carries
# The period a preview's links name (any will do: its token is blanked).
PREVIEW_PERIOD = datetime(2026, 1, 1, tzinfo=UTC)


# What a preview's or a sample mail's links hold in place of a token (then dashes, to its
# length): the pages answer them by saying so.
PREVIEW_TOKEN = "preview"


@dataclass(frozen=True)
class MailSettings:
    """Sender, links, pictures and patience, from DIGEST_FROM, DIGEST_NAME,
    DIGEST_BASE_URL, DIGEST_IMAGES, DIGEST_LEASE_SECONDS, DIGEST_BOUNCE_LIMIT and
    DIGEST_BOUNCE_ADDRESS."""

    envelope: Envelope
    base_url: str = defaults.BASE_URL
    lease: timedelta = timedelta(minutes=defaults.SENDING_LEASE_MINUTES)
    bounce_limit: int = defaults.BOUNCE_LIMIT  # refusals in a row that mark an address
    images: bool = defaults.IMAGES  # cards show the sources' thumbnails
    # DIGEST_BOUNCE_ADDRESS: each digest's return path is its local part +TOKEN (VERP),
    # and List-Unsubscribe's mailto unsubscribe+TOKEN@ its domain; None: DIGEST_FROM.
    bounce_address: Address | None = None
    signer: Signer | None = None  # DKIM, when DIGEST_DKIM_KEY is set

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MailSettings:
        """The settings of ``env`` (``digest.app`` hands it the environment it read once).

        Raises ConfigError when DIGEST_FROM is not an address or a DKIM setting is
        wrong (``signer_from_env``)."""
        envelope = Envelope.parse(env.get("DIGEST_FROM") or defaults.MAIL_FROM,
                                  env.get("DIGEST_NAME") or defaults.DIGEST_NAME)
        return cls(envelope, base_url(env, "DIGEST_BASE_URL", defaults.BASE_URL),
                   timedelta(seconds=number_setting(env, "DIGEST_LEASE_SECONDS")),
                   max(1, int(number_setting(env, "DIGEST_BOUNCE_LIMIT"))),
                   switch_setting(env, "DIGEST_IMAGES"),
                   bounce_address(env.get("DIGEST_BOUNCE_ADDRESS")),
                   signer_from_env(env, envelope.domain))

    def return_path(self, tokens: Tokens, entry: OutboxEntry) -> str:
        """The envelope sender of ``entry``'s mail: ``bounces+TOKEN@domain``, the token
        naming the subscriber and the digest, so a bounce says whose it is (DIGEST_FROM
        without DIGEST_BOUNCE_ADDRESS, or for a ref no token can carry)."""
        bounce = self.bounce_address
        token = bounce and tokens.make_mail(Action.BOUNCE, entry.subscriber.ref, entry.period)
        if not bounce or not token:
            return self.envelope.sender.addr_spec
        return f"{bounce.username}+{token}@{bounce.domain}"

    def unsubscribe_mailto(self, tokens: Tokens, sub: Subscriber) -> str | None:
        """``unsubscribe+TOKEN@domain`` for List-Unsubscribe, or None (no
        DIGEST_BOUNCE_ADDRESS: the mailto goes to DIGEST_FROM with subject unsubscribe)."""
        token = self.bounce_address and tokens.make_mail(Action.MAILTO, sub.ref)
        return f"{UNSUBSCRIBE_LOCAL}+{token}@{self.bounce_address.domain}" \
            if self.bounce_address and token else None

    def signed(self, message: Message) -> bytes:
        """A mail that is not a digest (a confirmation, a test mail) as its wire bytes,
        DKIM-signed when a key is set."""
        data = wire_bytes(message)
        return self.signer.sign(data) if self.signer else data

    def url(self, action: str, token: str) -> str:
        return f"{self.base_url}/{action}/{token}"

    def digest_url(self, tokens: Tokens, ref: str, period: datetime) -> str:
        """The web copy of the digest of ``period`` to the subscriber ``ref``
        (``/d/TOKEN``): its token names that one digest, and reveals nothing."""
        return f"{self.base_url}/{DIGEST_PATH}/{tokens.make_view(ref, period)}"

    def feed_url(self, tokens: Tokens, ref: str) -> str:
        """The private Atom feed of the subscriber ``ref`` (``/feed/TOKEN.atom``)."""
        return f"{self.base_url}/{FEED_PATH}/{tokens.make_bare(Action.FEED, ref)}{FEED_SUFFIX}"

    def links(self, tokens: Tokens, sub: Subscriber, period: datetime | None = None) -> Links:
        """The signed links of a mail to ``sub`` (of its digest of ``period``: "View in
        browser", the papers that did not fit, and the feed); card actions only for
        subscribers who manage what they follow themselves. The card actions of a mail
        share one "card" token and name their target after it (``/f/TOKEN?t=Ada+Lovelace``):
        a digest carries dozens of them, and the token proves no more than the manage
        link does."""
        manage = self.url(Action.MANAGE, tokens.make_bare(Action.MANAGE, sub.ref))
        unsubscribe = self.url(Action.UNSUBSCRIBE,
                               tokens.make_bare(Action.UNSUBSCRIBE, sub.ref))
        view = "" if period is None else self.digest_url(tokens, sub.ref, period)
        more = f"{view}#{MORE_ANCHOR}" if view else ""
        feed = self.feed_url(tokens, sub.ref) if view else ""
        if sub.managed != Managed.DB:
            return Links(unsubscribe, manage, view=view, more=more, feed=feed)
        card = tokens.make_card(sub.ref)

        def action(kind: str, target: str) -> str:
            return f"{self.base_url}/{CARD_PATHS[kind]}/{card}?t={_target(target)}"

        return Links(unsubscribe, manage, action, card, view, more, feed)

    def placeholders(self, sub: Subscriber, period: datetime = PREVIEW_PERIOD) -> Links:
        """Links that go nowhere real, for previews and samples: the mail's own, with
        each token blanked to ``preview---...`` of its length, so that a preview holds
        the cards its mail will (a long digest's last cards go when the HTML passes
        the limit)."""
        real = self.links(Tokens("preview"), replace(sub, ref=sub.ref or "x" * 12), period)
        action = real.action

        def blank(token: str) -> str:
            return PREVIEW_TOKEN.ljust(len(token), "-")

        def blank_url(url: str) -> str:
            head, _, token = url.rpartition("/")
            token, mark, target = token.partition("?")
            return f"{head}/{blank(token)}{mark}{target}"

        view = blank_url(real.view)
        feed = blank_url(real.feed.removesuffix(FEED_SUFFIX)) + FEED_SUFFIX
        return Links(blank_url(real.unsubscribe), blank_url(real.manage),
                     None if action is None else lambda kind, t: blank_url(action(kind, t)),
                     blank(real.token) if real.token else "", view,
                     f"{view}#{MORE_ANCHOR}", feed)



UNSUBSCRIBE_LOCAL: str = Action.UNSUBSCRIBE  # the local part of List-Unsubscribe's mailto
_LOCAL_OCTETS = 64  # the most a local part may hold (RFC 5321)


def bounce_address(raw: str | None) -> Address | None:
    """DIGEST_BOUNCE_ADDRESS as an address whose local part leaves room for ``+TOKEN``;
    ConfigError naming what to change."""
    if not raw or not raw.strip():
        return None
    local, at, domain = raw.strip().rpartition("@")
    if not (local and at and domain) or not (local + domain).isascii() or \
            any(c in local + domain for c in ' "<>()[],;:\\+') or "@" in local:
        raise ConfigError(f"DIGEST_BOUNCE_ADDRESS {raw!r} is not a plain address; write "
                          "one like bounces@example.org (no name, no +)")
    if len(local) + 1 + MAIL_TOKEN_CHARS > _LOCAL_OCTETS:
        raise ConfigError(f"DIGEST_BOUNCE_ADDRESS {raw!r}: its local part may have at most "
                          f"{_LOCAL_OCTETS - 1 - MAIL_TOKEN_CHARS} characters, to leave room "
                          "for +TOKEN; use a shorter one, like bounces@")
    return Address("", local.lower(), domain.lower())


def refuse_localhost(mail: MailSettings, transport: Transport,
                     env: Mapping[str, str]) -> None:
    """Raises ConfigError when mail would go through an SMTP server from an address at
    localhost, or with links to it: no receiver can answer the one or open the others
    (DIGEST_ALLOW_LOCALHOST=1 allows it, for a relay under test)."""
    if not isinstance(transport, SmtpTransport) or switch_setting(env,
                                                                   "DIGEST_ALLOW_LOCALHOST"):
        return
    local = [f"{name} ({value})" for name, value, host in (
        ("DIGEST_FROM", mail.envelope.sender.addr_spec, mail.envelope.domain),
        ("DIGEST_BASE_URL", mail.base_url, urlsplit(mail.base_url).hostname or ""))
        if _is_local(host)]
    if local:
        raise ConfigError(
            f"{' and '.join(local)} point at this machine, but mail goes out through "
            f"{transport.description}: set DIGEST_FROM to an address at your domain (Paper "
            "Digest <digest@example.org>) and DIGEST_BASE_URL to where digest serve is "
            "reachable (https://digest.example.org), or DIGEST_ALLOW_LOCALHOST=1 to send "
            "anyway")


def _is_local(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1 << 14)
def _target(target: str) -> str:
    return quote_plus(target)


def tokens_for(store: Store, env: Mapping[str, str] | None = None) -> Tokens:
    """Links signed with ``env``'s DIGEST_SECRET, else the database's own secret."""
    return Tokens((env or {}).get("DIGEST_SECRET") or store.secret())

