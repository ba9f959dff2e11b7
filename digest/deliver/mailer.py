"""Composing a pass's mails: an outbox row becomes its message, rendered from papers
kept in memory, with the notes on its subscriber's followed names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from digest.deliver.mail import MailSettings
from digest.deliver.message import Composer
from digest.deliver.tokens import Tokens
from digest.model import Digest, Item, OutboxEntry, Paper, Section, Subscriber
from digest.render import Renderer
from digest.store import Store


class NoteSource(Protocol):
    """The notes a digest carries on its subscriber's followed names (planning's
    ``Notes``): delivery asks for them, and knows nothing of how they are found."""

    def load(self, subscribers: Iterable[Subscriber]) -> None:
        """Look up what ``subscribers`` need, in one go."""

    def of(self, sub: Subscriber) -> tuple[str, ...]:
        """``sub``'s notes."""


class _NoNotes:
    """Digests without notes (a mailer no planning handed its notes to)."""

    def load(self, subscribers: Iterable[Subscriber]) -> None:
        return None

    def of(self, sub: Subscriber) -> tuple[str, ...]:
        return ()


class Mailer:
    """Turns outbox rows into messages: papers kept in memory once loaded (or handed over
    by planning), cards and frames rendered once per pass (``Renderer``), headers built
    once (``Composer``)."""

    def __init__(self, store: Store, mail: MailSettings, tokens: Tokens,
                 papers: dict[int, Paper] | None = None, notes: NoteSource | None = None
                 ) -> None:
        self.store = store
        self.mail = mail
        self.tokens = tokens
        self.papers: dict[int, Paper] = papers if papers is not None else {}
        # ambiguous followed names, each looked up once a pass (``digest.passes`` hands
        # over planning's): without them, digests carry no notes
        self.notes: NoteSource = notes if notes is not None else _NoNotes()
        self.renderer = Renderer(mail.envelope.list_name, images=mail.images)
        self.composer = Composer(mail.envelope, mail.signer.sign if mail.signer else None)

    def load(self, entries: Iterable[OutboxEntry]) -> None:
        """Read the papers of these rows that are not in memory yet, and what is known of
        their subscribers' followed names, in one go."""
        entries = list(entries)
        missing = {pid for e in entries for pid in e.paper_ids if pid not in self.papers}
        if missing:
            self.papers.update(self.store.papers_by_id(missing))
        self.notes.load(e.subscriber for e in entries)

    def compose(self, entry: OutboxEntry, now: datetime) -> tuple[bytes, OutboxEntry]:
        """The message of an outbox row, rendered now from its papers, and the row as the
        mail shows it: a digest whose HTML would pass ``defaults.MAX_HTML_BYTES`` shows
        fewer cards, and only the papers shown count as sent (the others are among those
        its web copy lists as not fitting: ``sent_papers`` says which were shown)."""
        self.load([entry])
        sections = tuple(Section(name, tuple(Item(self.papers[pid], reasons)
                                             for pid, reasons in items if pid in self.papers))
                         for name, items in entry.sections)
        # what did not fit is only counted in a mail (its web copy lists it)
        digest = Digest(entry.subscriber, entry.period_start, entry.period_end, sections,
                        self.notes.of(entry.subscriber), more_elsewhere=entry.more_count)
        links = self.mail.links(self.tokens, entry.subscriber, entry.period)
        rendered, shown = self.renderer.render_within(digest, links, entry.kind)
        if shown is not digest:
            entry = _showing(entry, shown)
        return self.composer.build(
            rendered, to_name=entry.subscriber.name, to_email=entry.subscriber.email,
            date=now, unsubscribe_url=links.unsubscribe, kind=entry.kind,
            unsubscribe_mailto=self.mail.unsubscribe_mailto(self.tokens, entry.subscriber),
            message_id=self.mail.envelope.message_id(entry.subscriber.ref, entry.kind,
                                                     entry.period)), entry

    def return_path(self, entry: OutboxEntry) -> str:
        """The envelope sender of ``entry``'s mail (``MailSettings.return_path``)."""
        return self.mail.return_path(self.tokens, entry)


def _showing(entry: OutboxEntry, shown: Digest) -> OutboxEntry:
    """``entry`` holding only the papers ``shown`` holds."""
    kept = {it.paper.id for it in shown.items}
    return replace(entry, sections=tuple(
        (name, tuple((pid, why) for pid, why in items if pid in kept))
        for name, items in entry.sections))

