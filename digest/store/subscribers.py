"""SQL for subscribers: keeping them in step with the configuration, and what they got."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from digest.model import Subscriber
from digest.rank import History
from digest.store import schema as s
from digest.store.papers import chunks


@dataclass(frozen=True)
class SyncResult:
    """How the stored subscribers changed to match the configuration."""

    added: int
    changed: int
    removed: int
    unchanged: int


def _settings(sub: Subscriber) -> dict[str, Any]:
    data = asdict(sub)
    data.pop("line")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def subscriber_from_row(settings: dict[str, Any]) -> Subscriber:
    """The Subscriber stored as a row's ``settings``."""
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in settings.items()}
    return Subscriber(**values)


def sync(conn: Connection, subscribers: Sequence[Subscriber], now: datetime) -> SyncResult:
    """Add, change and deactivate subscriber rows so they match ``subscribers``.

    Rows are never deleted: what was sent to someone stays recorded if they come back.
    """
    rows = {r.email_key: r for r in conn.execute(select(s.subscribers))}
    added = changed = unchanged = 0
    for sub in subscribers:
        values = {"email": sub.email, "name": sub.name, "settings": _settings(sub),
                  "active": True, "removed_at": None, "updated_at": now}
        row = rows.pop(sub.email.casefold(), None)
        if row is None:
            conn.execute(insert(s.subscribers).values(
                email_key=sub.email.casefold(), created_at=now, **values))
            added += 1
        elif (row.email, row.name, row.settings, row.active) != (
                sub.email, sub.name, values["settings"], True):
            conn.execute(update(s.subscribers).where(s.subscribers.c.id == row.id).values(values))
            changed += 1
        else:
            unchanged += 1
    gone = [row.id for row in rows.values() if row.active]
    if gone:
        conn.execute(update(s.subscribers).where(s.subscribers.c.id.in_(gone))
                     .values(active=False, removed_at=now, updated_at=now))
    return SyncResult(added, changed, len(gone), unchanged)


def histories(conn: Connection, paper_ids: Iterable[int]) -> dict[str, History]:
    """Every subscriber's history (by folded email): papers sent or on their way (limited
    to ``paper_ids``), and the cut-off of their latest planned digest."""
    sent: dict[int, set[int]] = defaultdict(set, pending_papers(conn))
    for chunk in chunks(sorted(set(paper_ids))):
        query = select(s.sent_papers.c.subscriber_id, s.sent_papers.c.paper_id).where(
            s.sent_papers.c.paper_id.in_(chunk))
        for subscriber_id, paper_id in conn.execute(query):
            sent[subscriber_id].add(paper_id)
    rows = conn.execute(select(s.subscribers.c.id, s.subscribers.c.email_key,
                               s.subscribers.c.last_digest_at)).all()
    return {row.email_key: History(frozenset(sent[row.id]), row.last_digest_at) for row in rows}


def set_unsubscribed(conn: Connection, email: str, at: datetime | None) -> bool:
    """Unsubscribe (``at``; the first time is kept) or resubscribe (None) ``email``.

    False when there is no such subscriber.
    """
    c = s.subscribers.c
    exists = conn.execute(select(c.id).where(c.email_key == email.casefold())).first()
    if exists is None:
        return False
    query = update(s.subscribers).where(c.id == exists.id)
    if at is not None:
        query = query.where(c.unsubscribed_at.is_(None))
    conn.execute(query.values(unsubscribed_at=at))
    return True


@dataclass(frozen=True)
class SubscriberStatus:
    """One line of ``digest subscribers``."""

    email: str
    name: str
    state: str  # active | unsubscribed | removed
    cadence: str
    last_digest: datetime | None
    digests_sent: int
    papers_sent: int


def statuses(conn: Connection) -> list[SubscriberStatus]:
    """Everyone ever subscribed, with state, last digest sent and counts."""
    sent = {sid: (n, last) for sid, n, last in conn.execute(
        select(s.digests.c.subscriber_id, func.count(), func.max(s.digests.c.sent_at))
        .where(s.digests.c.state == "sent").group_by(s.digests.c.subscriber_id))}
    papers: dict[int, int] = {sid: n for sid, n in conn.execute(  # noqa: C416
        select(s.sent_papers.c.subscriber_id, func.count())
        .group_by(s.sent_papers.c.subscriber_id))}
    rows = conn.execute(select(s.subscribers).order_by(s.subscribers.c.email_key)).mappings()
    return [SubscriberStatus(
        r["email"], r["name"],
        "unsubscribed" if r["unsubscribed_at"] else "active" if r["active"] else "removed",
        r["settings"].get("cadence", ""), sent.get(r["id"], (0, None))[1],
        sent.get(r["id"], (0, None))[0], papers.get(r["id"], 0)) for r in rows]


def pending_papers(conn: Connection) -> dict[int, set[int]]:
    """Papers in digests still on their way, by subscriber id."""
    found: dict[int, set[int]] = {}
    query = select(s.digests.c.subscriber_id, s.digests.c.sections).where(
        s.digests.c.state.in_(s.PENDING))
    for subscriber_id, sections in conn.execute(query):
        ids = {it["paper_id"] for sec in sections for it in sec["items"]}
        found.setdefault(subscriber_id, set()).update(ids)
    return found

