"""SQL for subscribers: the file's in step with subscriptions.yaml, the others managed in
the database (their own pages, ``digest subscribers add/import``), and what they got.

A subscriber takes digests ("sendable") when active, confirmed, not paused, not
unsubscribed and not bouncing (their address refused for good too often in a row).
Their resolved settings are made from ``defaults:`` and their own prefs; the defaults
last synced are kept in ``meta`` so that the web pages resolve the same way.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from digest.model import Subscriber
from digest.prefs import jsonable, resolve, settings_of
from digest.store import schema as s
from digest.store.engine import chunks
from digest.vocab import Action, Managed, OutboxState

_DEFAULTS_KEY = "defaults"
c = s.subscribers.c


@dataclass(frozen=True)
class SyncResult:
    """How the stored subscribers changed to match the configuration."""

    added: int
    changed: int
    removed: int
    unchanged: int


@dataclass(frozen=True)
class Record:
    """One stored subscriber as their pages show them."""

    subscriber: Subscriber
    prefs: Mapping[str, Any]  # their own settings (email and name included)
    state: str  # pending | active | paused | bouncing | unsubscribed | removed
    unsubscribed_at: datetime | None = None

    def takes_confirmation(self, left: datetime | None) -> bool:
        """Whether a confirmation link made after the unsubscribe at ``left`` (None: made
        for a new address) may still act; see ``confirmable``."""
        return confirmable(self.unsubscribed_at, left)

    @property
    def ref(self) -> str:
        return self.subscriber.ref

    @property
    def managed(self) -> str:
        return self.subscriber.managed


def new_ref() -> str:
    return secrets.token_urlsafe(9)  # 72 random bits; links are signed besides


def _columns(sub: Subscriber, prefs: Mapping[str, Any], managed: Managed
             ) -> dict[str, Any]:
    """The columns a subscriber's settings fill: ``sub`` resolved from their own
    ``prefs``, kept beside them."""
    return {"email": sub.email, "name": sub.name, "settings": settings_of(sub),
            "prefs": jsonable(prefs), "group_key": sub.group_key, "managed": managed,
            "active": True, "removed_at": None}


def subscriber_from_row(settings: dict[str, Any], ref: str = "",
                        managed: str = Managed.FILE) -> Subscriber:
    """The Subscriber stored as a row's ``settings``."""
    return resolve({}, settings, ref=ref, managed=managed)


def _subscriber(row: Any) -> Subscriber:
    return subscriber_from_row(row.settings, row.ref, row.managed)


def sendable() -> Any:
    """The condition of rows that take digests."""
    return (c.active.is_(True) & c.confirmed_at.is_not(None) & c.paused_at.is_(None)
            & c.unsubscribed_at.is_(None) & c.bouncing_since.is_(None))


def state_of(row: Any) -> str:
    if not row.active:
        return "removed"
    if row.unsubscribed_at is not None:
        return "unsubscribed"
    if row.confirmed_at is None:
        return "pending"
    if row.bouncing_since is not None:
        return "bouncing"
    return "paused" if row.paused_at is not None else "active"


# ---- the file's subscribers ---------------------------------------------------------

def sync(conn: Connection, subscribers: Sequence[Subscriber], now: datetime,
         prefs: Sequence[Mapping[str, Any]] | None = None,
         defaults: Mapping[str, Any] | None = None) -> SyncResult:
    """Add, change and deactivate the file's subscribers so they match ``subscribers``
    (with their own ``prefs``, in the same order), and re-resolve the database's
    subscribers when ``defaults`` changed.

    Rows are never deleted: what was sent to someone stays recorded if they come back. A
    database subscriber whom the file now lists is taken over by the file.
    """
    own = list(prefs) if prefs is not None else [settings_of(sub) for sub in subscribers]
    keys = [sub.email.casefold() for sub in subscribers]
    rows = {r.email_key: r for r in conn.execute(select(s.subscribers).where(
        c.managed == Managed.FILE))}
    for chunk in chunks(keys):
        rows.update((r.email_key, r) for r in conn.execute(
            select(s.subscribers).where(c.email_key.in_(chunk))))
    added = changed = unchanged = 0
    for sub, mine in zip(subscribers, own, strict=True):
        values = _columns(sub, mine, Managed.FILE)
        row = rows.pop(sub.email.casefold(), None)
        if row is None:
            conn.execute(insert(s.subscribers).values(
                email_key=sub.email.casefold(), ref=new_ref(), created_at=now,
                confirmed_at=now, active_since=now, updated_at=now, **values))
            added += 1
        elif any(getattr(row, k) != v for k, v in values.items()) or row.confirmed_at is None:
            back = {} if row.active else {"active_since": now}
            conn.execute(update(s.subscribers).where(c.id == row.id).values(
                {**values, "updated_at": now, "confirmed_at": row.confirmed_at or now,
                 **back}))
            changed += 1
        else:
            unchanged += 1
    gone = [row.id for row in rows.values() if row.active and row.managed == Managed.FILE]
    for chunk in chunks(gone):
        conn.execute(update(s.subscribers).where(c.id.in_(chunk))
                     .values(active=False, removed_at=now, updated_at=now))
    if defaults is not None:
        _resolve_again(conn, defaults, now)
    return SyncResult(added, changed, len(gone), unchanged)


def stored_defaults(conn: Connection) -> dict[str, Any]:
    """The ``defaults:`` of the latest sync."""
    found = conn.execute(select(s.meta.c.value).where(s.meta.c.key == _DEFAULTS_KEY)
                         ).scalar_one_or_none()
    return dict(json.loads(found)) if found else {}


def _resolve_again(conn: Connection, defaults: Mapping[str, Any], now: datetime) -> None:
    text = json.dumps(jsonable(defaults), sort_keys=True)
    if conn.execute(select(s.meta.c.value).where(s.meta.c.key == _DEFAULTS_KEY)
                    ).scalar_one_or_none() == text:
        return
    conn.execute(delete(s.meta).where(s.meta.c.key == _DEFAULTS_KEY))
    conn.execute(insert(s.meta).values(key=_DEFAULTS_KEY, value=text))
    for row in conn.execute(select(c.id, c.prefs).where(c.managed == Managed.DB)).all():
        sub = resolve(defaults, row.prefs)
        conn.execute(update(s.subscribers).where(c.id == row.id).values(
            settings=settings_of(sub), group_key=sub.group_key, updated_at=now))


# ---- the database's subscribers ------------------------------------------------------

def record(conn: Connection, *, ref: str | None = None, email: str | None = None
           ) -> Record | None:
    """A stored subscriber by reference or by address."""
    where = c.ref == ref if ref is not None else c.email_key == (email or "").casefold()
    row = conn.execute(select(s.subscribers).where(where)).first()
    if row is None:
        return None
    return Record(_subscriber(row), dict(row.prefs), state_of(row), row.unsubscribed_at)


def put(conn: Connection, prefs: Mapping[str, Any], now: datetime, *, confirmed: bool,
        state: str = "active") -> str:
    """Add or change a database subscriber with these own settings; returns what happened
    (added, changed, unchanged). A file subscriber is refused (ValueError)."""
    counts = put_many(conn, [(prefs, state)], now, confirmed=confirmed)
    return next(k for k, n in counts.items() if n)


def put_many(conn: Connection, entries: Sequence[tuple[Mapping[str, Any], str]],
             now: datetime, *, confirmed: bool) -> dict[str, int]:
    """Add or change database subscribers (own settings, state) in batches; counts of
    added, changed, unchanged. A file subscriber is refused (ValueError)."""
    defaults = stored_defaults(conn)
    keys = [str(prefs["email"]).casefold() for prefs, _ in entries]
    rows: dict[str, Any] = {}
    for chunk in chunks(sorted(set(keys))):
        rows.update((r.email_key, r) for r in conn.execute(
            select(s.subscribers).where(c.email_key.in_(chunk))))
    taken = [str(p["email"]) for (p, _), k in zip(entries, keys, strict=True)
             if rows.get(k) is not None and rows[k].managed == Managed.FILE and rows[k].active]
    if taken:
        raise ValueError("managed by subscriptions.yaml, change them there: "
                         + ", ".join(taken))
    counts = {"added": 0, "changed": 0, "unchanged": 0}
    new: list[dict[str, Any]] = []
    for (prefs, state), key in zip(entries, keys, strict=True):
        row = rows.get(key)
        values = _columns(resolve(defaults, prefs), prefs, Managed.DB)
        if confirmed:
            values.update(_state_values(row, state, now))
        if row is None:
            new.append({"email_key": key, "ref": new_ref(), "created_at": now,
                        "updated_at": now, "active_since": now, "confirmed_at": None,
                        "paused_at": None, "unsubscribed_at": None, **values})
            rows[key] = None
            counts["added"] += 1
        elif all(getattr(row, k) == v for k, v in values.items()):
            counts["unchanged"] += 1
        else:
            conn.execute(update(s.subscribers).where(c.id == row.id).values(
                {**values, "updated_at": now}))
            counts["changed"] += 1
    for chunk in chunks(new, 500):
        conn.execute(insert(s.subscribers), chunk)
    return counts


def _state_values(row: Any, state: str, now: datetime) -> dict[str, Any]:
    """Columns for an admin-given state, keeping the times of a state that stays."""
    def kept(column: str) -> datetime | None:
        return getattr(row, column) if row is not None and getattr(row, column) else now

    return {"confirmed_at": kept("confirmed_at"),
            "paused_at": kept("paused_at") if state == "paused" else None,
            "unsubscribed_at": kept("unsubscribed_at") if state == "unsubscribed" else None}


def request(conn: Connection, prefs: Mapping[str, Any], now: datetime, cap: int
            ) -> tuple[Record, str] | None:
    """A subscribe form was sent for ``prefs["email"]``: which mail that address gets
    (``confirm`` or ``known``) and for whom, or None when it had ``cap`` such mails in
    the last day. A new or pending address takes the form's settings (pending until
    confirmed); a subscribed one keeps theirs (the form cannot change anyone's)."""
    key = str(prefs["email"]).casefold()
    mails = conn.execute(select(func.count()).select_from(s.form_mails).where(
        s.form_mails.c.email_key == key, s.form_mails.c.sent_at > now - timedelta(days=1))
                         ).scalar_one()
    if mails >= cap:
        return None
    row = conn.execute(select(s.subscribers).where(c.email_key == key)).first()
    if row is None or row.confirmed_at is None or not row.active:
        # New, never confirmed, or dropped from the file: the form's settings, pending.
        values = {**_columns(resolve(stored_defaults(conn), prefs), prefs, Managed.DB),
                  "confirmed_at": None, "unsubscribed_at": None, "updated_at": now}
        if row is None:
            conn.execute(insert(s.subscribers).values(
                email_key=key, ref=new_ref(), created_at=now, active_since=now, **values))
        else:
            conn.execute(update(s.subscribers).where(c.id == row.id).values(values))
        kind = str(Action.CONFIRM)
    else:
        # Someone's subscription: the form changes nothing of it. Unsubscribed, they may
        # come back (with what they followed) by confirming; otherwise, their link.
        kind = str(Action.CONFIRM) if row.unsubscribed_at is not None else "known"
    conn.execute(insert(s.form_mails).values(email_key=key, kind=kind, sent_at=now))
    found = record(conn, email=key)
    assert found is not None
    return found, kind


def confirmable(unsubscribed_at: datetime | None, left: datetime | None) -> bool:
    """Whether a confirmation link may act on someone who unsubscribed at
    ``unsubscribed_at`` (None: never, or came back since): a link confirms a new address
    once, and after an unsubscribe only a link made after that very unsubscribe (by the
    subscribe form, ``left`` being its time) brings the address back. A link used before,
    opened again after the unsubscribe, is spent."""
    return unsubscribed_at is None or unsubscribed_at == left


def confirm(conn: Connection, ref: str, now: datetime, left: datetime | None = None) -> bool:
    """Confirm, or come back after the unsubscribe at ``left`` (see ``confirmable``);
    False for an unknown reference or a spent link, changing nothing."""
    row = conn.execute(select(s.subscribers).where(c.ref == ref)).first()
    if row is None or not confirmable(row.unsubscribed_at, left):
        return False
    if row.confirmed_at is None or row.unsubscribed_at is not None:
        conn.execute(update(s.subscribers).where(c.id == row.id).values(
            confirmed_at=row.confirmed_at or now, unsubscribed_at=None, active_since=now,
            updated_at=now))
    return True


def set_prefs(conn: Connection, ref: str, prefs: Mapping[str, Any], now: datetime) -> None:
    """New own settings for a database subscriber (resolved with the stored defaults)."""
    sub = resolve(stored_defaults(conn), prefs)
    conn.execute(update(s.subscribers).where(c.ref == ref, c.managed == Managed.DB).values(
        name=sub.name, settings=settings_of(sub), prefs=jsonable(prefs),
        group_key=sub.group_key, updated_at=now))


def set_paused(conn: Connection, ref: str, at: datetime | None, now: datetime) -> None:
    """Pause (``at``) or resume (None)."""
    values: dict[str, Any] = {"paused_at": at, "updated_at": now}
    if at is None:
        values["active_since"] = now
    query = update(s.subscribers).where(c.ref == ref)
    if at is not None:
        query = query.where(c.paused_at.is_(None))
    conn.execute(query.values(values))


def set_unsubscribed(conn: Connection, email: str, at: datetime | None,
                     ref: str | None = None, now: datetime | None = None) -> bool:
    """Unsubscribe (``at``; the first time is kept) or resubscribe (None, as of ``now``) a
    subscriber by address or reference. False when there is no such subscriber."""
    where = c.ref == ref if ref is not None else c.email_key == email.casefold()
    exists = conn.execute(select(c.id).where(where)).first()
    if exists is None:
        return False
    query = update(s.subscribers).where(c.id == exists.id)
    if at is not None:
        query = query.where(c.unsubscribed_at.is_(None))
        values: dict[str, Any] = {"unsubscribed_at": at}
    else:
        values = {"unsubscribed_at": None, "active_since": now or c.active_since}
    conn.execute(query.values(values))
    return True


def exported(conn: Connection) -> Iterator[tuple[Mapping[str, Any], str]]:
    """The database's confirmed subscribers (own settings, state), by address."""
    query = select(s.subscribers).where(c.managed == Managed.DB, c.confirmed_at.is_not(None),
                                        c.active.is_(True)).order_by(c.email_key)
    for row in conn.execute(query):
        yield dict(row.prefs), state_of(row)


# ---- what planning reads --------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    """A subscriber who takes digests, with what planning needs to know of their past."""

    subscriber: Subscriber
    since: datetime  # periods before it are not theirs (created, confirmed, resumed)
    last_period: datetime | None  # the latest digest period in their outbox
    id: int = 0  # the subscriber's row
    cut: datetime | None = None  # their latest digest's cut-off: papers first seen since are new


def members(conn: Connection, *, groups: Iterable[str] | None = None,
            only: str | None = None) -> list[Member]:
    """Everyone who takes digests, or those of these send groups, or one address."""
    query = select(c.id, c.settings, c.ref, c.managed, c.active_since, c.last_period,
                   c.last_digest_at).where(
        sendable()).order_by(c.id)
    if only is not None:
        query = query.where(c.email_key == only.casefold())
    wanted = None if groups is None else list(groups)
    if wanted is not None:
        query = query.where(c.group_key.in_(wanted))
    return [_member(row) for row in conn.execute(query)]


def member_batch(conn: Connection, after: int, size: int, *,
                 groups: Iterable[str] | None = None, only: str | None = None,
                 shard: tuple[int, int] | None = None) -> list[Member]:
    """The next ``size`` members (as ``members``) with row ids above ``after``; with
    ``shard`` ``(k, n)``, only those whose id is k modulo n."""
    query = select(c.id, c.settings, c.ref, c.managed, c.active_since, c.last_period,
                   c.last_digest_at).where(
        sendable(), c.id > after).order_by(c.id).limit(size)
    if only is not None:
        query = query.where(c.email_key == only.casefold())
    if groups is not None:
        query = query.where(c.group_key.in_(list(groups)))
    if shard is not None:
        query = query.where(c.id % shard[1] == shard[0])
    return [_member(row) for row in conn.execute(query)]


def _member(row: Any) -> Member:
    return Member(_subscriber(row), row.active_since, row.last_period, row.id,
                  row.last_digest_at)


def reset_bounces(conn: Connection, email: str) -> bool:
    """Take a bouncing subscriber back (their address works again); False if unknown."""
    done = conn.execute(update(s.subscribers).where(c.email_key == email.casefold())
                        .values(bounces=0, bouncing_since=None))
    return bool(done.rowcount)


def count_members(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(s.subscribers)
                            .where(sendable())).scalar_one())


def group_keys(conn: Connection) -> list[str]:
    """The send groups of everyone who takes digests."""
    return sorted(conn.execute(select(c.group_key).where(sendable()).distinct()).scalars())


def stamp(conn: Connection) -> str:
    """Changes whenever any subscriber row changes (for the bot's watcher)."""
    n, last = conn.execute(select(func.count(), func.max(c.updated_at))).one()
    return f"{n}:{last}"


@dataclass(frozen=True)
class SubscriberStatus:
    """One line of ``digest subscribers``."""

    email: str
    name: str
    state: str  # pending | active | paused | bouncing | unsubscribed | removed
    managed: str  # file | db
    cadence: str
    last_digest: datetime | None
    digests_sent: int
    papers_sent: int
    # why and since when the address gets nothing (a bounce, a complaint), if it does not
    suppressed: str | None = None
    suppressed_at: datetime | None = None


def statuses(conn: Connection) -> list[SubscriberStatus]:
    """Everyone ever subscribed, with state, last digest sent and counts."""
    sent = {sid: (n, last) for sid, n, last in conn.execute(
        select(s.digests.c.subscriber_id, func.count(), func.max(s.digests.c.sent_at))
        .where(s.digests.c.state == OutboxState.SENT).group_by(s.digests.c.subscriber_id))}
    papers: dict[int, int] = {sid: n for sid, n in conn.execute(  # noqa: C416
        select(s.sent_papers.c.subscriber_id, func.count())
        .group_by(s.sent_papers.c.subscriber_id))}
    rows = conn.execute(select(s.subscribers).order_by(c.email_key))
    return [SubscriberStatus(
        r.email, r.name, state_of(r), r.managed, r.settings.get("cadence", ""),
        sent.get(r.id, (0, None))[1], sent.get(r.id, (0, None))[0], papers.get(r.id, 0),
        f"{r.suppressed_kind}: {r.suppressed_reason}" if r.suppressed_kind else None,
        r.suppressed_at) for r in rows]
