"""Job leases: one holder at a time, until the lease runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.store import Store

NOW = datetime(2026, 6, 1, 6, tzinfo=UTC)


def test_a_lease_has_one_holder_until_it_runs_out(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'digest.db'}")
    ttl = timedelta(minutes=10)
    assert store.take_lease("job:send", "a", NOW, ttl)
    assert not store.take_lease("job:send", "b", NOW + timedelta(minutes=9), ttl)
    assert store.take_lease("job:send", "a", NOW + timedelta(minutes=9), ttl)  # renewed
    assert not store.take_lease("job:send", "b", NOW + timedelta(minutes=18), ttl)
    assert store.take_lease("job:send", "b", NOW + timedelta(minutes=20), ttl)  # a died
    assert not store.take_lease("job:send", "a", NOW + timedelta(minutes=21), ttl)
    store.drop_lease("job:send", "a")  # not a's any more: nothing happens
    assert not store.take_lease("job:send", "a", NOW + timedelta(minutes=21), ttl)
    store.drop_lease("job:send", "b")
    assert store.take_lease("job:send", "a", NOW + timedelta(minutes=21), ttl)
