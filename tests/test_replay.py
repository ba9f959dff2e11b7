"""Replaying three consecutive days: ingest, build the digest, record it as sent, repeat.

No paper is ever sent twice, and every paper featured in those days that matches the
subscriber reaches them exactly once.
"""

from __future__ import annotations

import mailbox
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from digest.ingest import parse
from digest.ingest.common import ParseContext
from digest.match import Matcher
from digest.model import Subscriber
from digest.plan import build_digests
from digest.store import Store
from tests.conftest import DATA
from tests.delivering import send_due
from tests.test_rank import ingest

DAYS = ["2026-04-14", "2026-04-15", "2026-04-16"]
SUB = Subscriber("ada@example.org", name="Ada", cadence="daily", trending=3, max_papers=500,
                 keywords=("agent", "reinforcement learning", "video generation"),
                 authors=("Ziwei Liu",))


def test_three_days_never_repeat_and_never_drop(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    sent: Counter[int] = Counter()
    for n, day in enumerate(DAYS):
        midnight = datetime.fromisoformat(day).replace(tzinfo=UTC)
        files = [DATA / "hf-daily" / f"{d}.json" for d in DAYS[max(0, n - 1) : n + 1]]
        ingest(store, *files, now=midnight + timedelta(minutes=30))  # yesterday's file again
        (digest,) = send_due(store, [SUB], midnight + timedelta(hours=8), tmp_path / "mail")
        assert digest.items, f"nothing due on {day}"
        ids = [it.paper.id for it in digest.items]
        assert len(ids) == len(set(ids))
        sent.update(i for i in ids if i is not None)
    assert all(count == 1 for count in sent.values())  # never twice
    assert len(list(mailbox.Maildir(tmp_path / "mail"))) == 3

    by_arxiv = {p.arxiv_id: p.id for p in store.papers()}
    matcher = Matcher([SUB])
    expected = set()
    for day in DAYS:
        path = DATA / "hf-daily" / f"{day}.json"
        for paper in parse(path.read_bytes(), ParseContext(path.name, date(2026, 4, 16)))[1]:
            hits = matcher.scan(paper)
            if (hits.authors or hits.keywords) and not hits.excluded:
                expected.add(by_arxiv[paper.arxiv_id])
    assert len(expected) >= 10
    assert expected <= set(sent)  # never dropped: every matching paper went out once


def test_nothing_is_due_twice_at_the_same_moment(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    now = datetime(2026, 4, 16, 8, tzinfo=UTC)
    ingest(store, DATA / "hf-daily" / "2026-04-16.json", now=now - timedelta(hours=7))
    (first,) = send_due(store, [SUB], now, tmp_path / "mail")
    (again,) = build_digests(store, [SUB], now)
    assert first.items
    assert again.items == ()
