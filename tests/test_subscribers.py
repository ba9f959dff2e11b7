"""Subscribers stay in step with subscriptions.yaml without losing what was sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.model import Paper, Subscriber
from digest.store import Store, SyncResult
from tests.delivering import send_due

T0 = datetime(2026, 5, 1, tzinfo=UTC)
ADA = Subscriber("ada@example.org", "Ada")
BOB = replace(ADA, email="bob@example.org", name="Bob")


def test_added_changed_removed_and_back(db_url: str) -> None:
    store = Store(db_url)
    assert store.sync_subscribers([ADA, BOB], T0) == SyncResult(2, 0, 0, 0)
    assert store.sync_subscribers([ADA, BOB], T0) == SyncResult(0, 0, 0, 2)
    assert store.sync_subscribers([replace(ADA, email="ADA@Example.org")], T0) == SyncResult(
        0, 1, 1, 0)  # the same subscriber, spelled differently; Bob is gone
    assert store.sync_subscribers([replace(ADA, cadence="daily")], T0) == SyncResult(0, 1, 0, 0)
    # Ada's cadence goes back, Bob is back: both are changes to existing rows, none is new.
    assert store.sync_subscribers([ADA, BOB], T0) == SyncResult(0, 2, 0, 0)


def test_history_survives_removal(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    # Upvoted, so that it is trending (a paper with no signal never is).
    store.save_papers([Paper(title="P", sources=("x",), published=T0.date(), upvotes=3)],
                      source="x", fmt="hf-json", now=T0)
    (paper,) = store.papers()
    (digest,) = send_due(store, [ADA], T0 + timedelta(days=1), tmp_path / "mail")
    assert [it.paper.id for it in digest.items] == [paper.id]
    store.sync_subscribers([], T0)  # removed from the file
    store.sync_subscribers([ADA], T0)  # and back
    history = store.histories([paper.id])["ada@example.org"]  # type: ignore[list-item]
    assert history.sent == {paper.id}
    assert history.last_digest_at == T0 + timedelta(days=1)
