"""Planning: load from the store what ranking needs, and plan every subscriber's digest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from digest.model import Subscriber
from digest.rank import Digest, plan_digests
from digest.store import Store


def build_digests(store: Store, subscribers: Sequence[Subscriber], now: datetime) -> list[Digest]:
    """The digest each subscriber would get at ``now``; reads the store, writes nothing."""
    if not subscribers:
        return []
    oldest = now - timedelta(days=max(sub.age_limit_days for sub in subscribers))
    papers = [p for p in store.papers(since=oldest) if p.first_seen and p.first_seen <= now]
    histories = store.histories(p.id for p in papers if p.id is not None)
    return plan_digests(subscribers, papers, histories, now)
