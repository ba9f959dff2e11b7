"""Planning: who is due at ``now``, and which digest (or alert) each of them gets.

Subscribers come from the database, by send group (``Subscriber.group_key``): for each
group the latest scheduled instant not after now names the period, and only members whose
outbox has no digest of that period yet are loaded and ranked, so a pass where nothing is
due costs the same with 100 subscribers as with 100,000. Several missed periods collapse
into the latest one, which covers everything due since the last digest; periods skipped
over (the bot was down) and a latest period found more than ``grace_hours`` late are
recorded as missed rather than sent late.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from digest.model import Digest, Plan, Subscriber
from digest.rank import plan_digests
from digest.schedule import latest_slot, slots_between
from digest.store import Member, Store


def build_digests(store: Store, subscribers: Sequence[Subscriber], now: datetime) -> list[Digest]:
    """The digest each subscriber would get at ``now``; reads the store, writes nothing."""
    if not subscribers:
        return []
    oldest = now - timedelta(days=max(sub.age_limit_days for sub in subscribers))
    papers = [p for p in store.papers(since=oldest) if p.first_seen and p.first_seen <= now]
    histories = store.histories((p.id for p in papers if p.id is not None),
                                (s.email for s in subscribers))
    return plan_digests(subscribers, papers, histories, now)


def plan_due(store: Store, now: datetime, *, groups: Iterable[str] | None = None,
             only: str | None = None, record: bool = True) -> tuple[list[Plan], Counter[str]]:
    """The digests and alerts due at ``now`` (for everyone, these send groups, or one
    address) that the outbox does not have yet; with ``record``, put them in it. Returns
    the plans and counts by state (and ``already``)."""
    members = store.members(groups=groups, only=only)
    scheduled = [m for m in members if m.subscriber.cadence != "instant"]
    due, already = _not_planned(scheduled, now)
    plans = _digest_plans(store, due, now) + _alert_plans(
        store, [m.subscriber for m in members if m.subscriber.cadence == "instant"], now)
    counts: Counter[str] = Counter(already=already)
    if record:
        counts.update(store.plan_outbox(plans, now))
    else:
        counts.update(p.state for p in plans)
    return plans, counts


def _not_planned(members: Sequence[Member], now: datetime
                 ) -> tuple[list[tuple[Member, datetime]], int]:
    """Members whose latest slot has no digest yet, with that slot; and how many have."""
    slots: dict[str, datetime] = {}
    due = []
    for m in members:
        key = m.subscriber.group_key
        if key not in slots:
            slots[key] = latest_slot(m.subscriber, now)
        if m.last_period is None or m.last_period < slots[key]:
            due.append((m, slots[key]))
    return due, len(members) - len(due)


def _digest_plans(store: Store, due: Sequence[tuple[Member, datetime]], now: datetime
                  ) -> list[Plan]:
    """Scheduled digests, one for the latest slot; earlier slots passed over since the
    last digest, and a latest slot found more than ``grace_hours`` late, recorded as
    missed, for someone who took digests by then."""
    def late(m: Member, slot: datetime) -> bool:
        return now - slot > timedelta(hours=m.subscriber.grace_hours) and m.since <= slot

    def missed(sub: Subscriber, slot: datetime) -> Plan:
        return Plan(Digest(sub, slot, slot, ()), slot, missed=True)

    slot_of = {m.subscriber.email.casefold(): slot for m, slot in due}
    plans = [Plan(d, slot_of[d.subscriber.email.casefold()], d.subscriber.send_empty)
             for d in build_digests(store, [m.subscriber for m, slot in due
                                            if not late(m, slot)], now)]
    for m, slot in due:
        start = max(m.last_period, m.since) if m.last_period else None
        skipped_over = slots_between(m.subscriber, start, slot - timedelta(minutes=1)) \
            if start is not None else []
        plans += [missed(m.subscriber, at) for at in skipped_over]
        if late(m, slot):
            plans.append(missed(m.subscriber, slot))
    return plans


def _alert_plans(store: Store, subscribers: Sequence[Subscriber], now: datetime
                 ) -> list[Plan]:
    """Instant alerts: papers new to the subscriber by followed authors (and keyword
    matches when ``alert_keywords``), one mail each. The period is the newest paper's
    first-seen time, so two bots that ingested the same papers plan one alert."""
    plans = []
    for digest in build_digests(store, [replace(s, trending=0) for s in subscribers], now):
        wanted = ("authors", "keywords") if digest.subscriber.alert_keywords else ("authors",)
        sections = tuple(s for s in digest.sections if s.name in wanted and s.items)
        seen = [it.paper.first_seen for s in sections for it in s.items if it.paper.first_seen]
        if seen:
            plans.append(Plan(replace(digest, sections=sections), max(seen), kind="alert"))
    return plans
