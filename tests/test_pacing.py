"""Several processes of a pass share one send pace."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from digest.deliver import Pace
from digest.store import Store


def test_two_paces_on_one_database_share_the_rate(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(f"sqlite:///{tmp_path / 'digest.db'}")
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    monkeypatch.setattr("time.time", lambda: 1000.0)
    first, second = Pace(store, 4.0), Pace(store, 4.0)  # two workers, 4 mails/s in all

    async def three() -> None:
        for pace in (first, second, first):
            await pace.wait()

    asyncio.run(three())
    assert waits == [0.25, 0.5]  # the first at once, then one every quarter second
    assert Pace(store, 0).rate == 0
