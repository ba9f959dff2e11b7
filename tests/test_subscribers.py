"""Subscribers stay in step with subscriptions.yaml without losing what was sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from digest.errors import StoreError
from digest.model import Paper, Subscriber
from digest.store import Store, SyncResult

T0 = datetime(2026, 5, 1, tzinfo=UTC)
ADA = Subscriber("ada@example.org", "Ada")
BOB = replace(ADA, email="bob@example.org", name="Bob")


def test_added_changed_removed_and_back(db_url: str) -> None:
    store = Store(db_url)
    assert store.sync_subscribers([ADA, BOB], T0) == SyncResult(2, 0, 0, 0)
    assert store.sync_subscribers([ADA, BOB], T0) == SyncResult(0, 0, 0, 2)
    store.record_sent("ADA@example.org", [], T0)  # recorded under the folded address
    assert store.sync_subscribers([replace(ADA, cadence="daily")], T0) == SyncResult(0, 1, 1, 0)
    history = store.histories([])
    assert history["ada@example.org"].last_digest_at == T0
    # Ada's cadence goes back, Bob is back: both are changes to existing rows, none is new.
    assert store.sync_subscribers([ADA, BOB], T0) == SyncResult(0, 2, 0, 0)


def test_history_survives_removal(db_url: str) -> None:
    store = Store(db_url)
    store.save_papers([Paper(title="P", sources=("x",))], source="x", fmt="hf-json", now=T0)
    (paper,) = store.papers()
    store.sync_subscribers([ADA], T0)
    store.record_sent(ADA.email, [paper.id], T0)  # type: ignore[list-item]
    store.sync_subscribers([], T0)  # removed from the file
    store.sync_subscribers([ADA], T0)  # and back
    assert store.histories([paper.id])["ada@example.org"].sent == {paper.id}  # type: ignore[list-item]


def test_recording_for_an_unknown_subscriber_is_an_error(db_url: str) -> None:
    with pytest.raises(StoreError, match=r"no subscriber carol@example\.org"):
        Store(db_url).record_sent("carol@example.org", [], T0)
