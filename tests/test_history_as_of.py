"""A digest built "as of" a moment sees the history as it was then; real sends never resend.

Previews (``build_digests``) and dry runs (``plan_due(record=False)``, ``send --dry-run``)
ignore papers sent, digests planned and cut-offs recorded after their moment. A real send
reads the whole history whatever its ``now``: an earlier ``now`` is a replay, and a paper
sent once is never sent again.
"""

from __future__ import annotations

import json
import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.model import History, Subscriber
from digest.plan import build_digests, plan_due
from digest.rank import period_start
from digest.store import Store
from tests.conftest import SEEDS
from tests.delivering import send_due
from tests.test_rank import ingest

T = datetime(2026, 6, 1, 8, tzinfo=UTC)  # the seeds are ingested at 07:00
ADA = Subscriber("ada@example.org", name="Ada", cadence="daily", send_at="08:00",
                 timezone="UTC", max_age_days=3650, trending=3, authors=("Maojiang Su",))
ALERTS = Subscriber("alan@example.org", name="Alan", cadence="instant", max_age_days=3650,
                    authors=("Maojiang Su",))


@pytest.fixture
def seeded(db_url: str) -> Store:
    store = Store(db_url)
    ingest(store, SEEDS, now=T - timedelta(hours=1))
    return store


def ids(store: Store, sub: Subscriber, at: datetime) -> list[int | None]:
    (digest,) = build_digests(store, [sub], at)
    assert digest.start <= digest.end == at
    return [it.paper.id for it in digest.items]


def sent_rows(store: Store) -> int:
    return sum(s.papers_sent for s in store.statuses())


def test_a_paper_sent_a_day_later_is_still_due_in_the_preview_at_t(
        seeded: Store, tmp_path: Path) -> None:
    before = ids(seeded, ADA, T)
    (sent,) = send_due(seeded, [ADA], T + timedelta(days=1), tmp_path / "mail")
    assert sent.items and before
    assert ids(seeded, ADA, T) == before  # the send at T + 1 day does not count at T
    (digest,) = build_digests(seeded, [ADA], T)
    assert digest.start == T - timedelta(days=1)  # not the later send's cut-off
    assert ids(seeded, ADA, T + timedelta(days=1, minutes=1)) == []  # after it, it counts


def test_a_digest_planned_by_t_and_sent_later_was_on_its_way_at_t(
        seeded: Store, tmp_path: Path) -> None:
    seeded.sync_subscribers([ADA], T)
    plan_due(seeded, T)  # planned at T, delivered an hour later
    send_due(seeded, [ADA], T + timedelta(hours=1), tmp_path / "mail")
    assert sent_rows(seeded) > 0
    assert ids(seeded, ADA, T + timedelta(minutes=30)) == []
    (digest,) = build_digests(seeded, [ADA], T + timedelta(minutes=30))
    assert digest.start == T


def test_a_dry_run_at_t_sees_the_outbox_as_it_was(seeded: Store, tmp_path: Path) -> None:
    send_due(seeded, [ADA], T + timedelta(days=1), tmp_path / "mail")
    plans, counts = plan_due(seeded, T, record=False)
    assert counts["planned"] == 1 and counts["already"] == 0
    assert [it.paper.id for it in plans[0].digest.items] == ids(seeded, ADA, T)
    assert plans[0].digest.start <= plans[0].digest.end


def test_a_real_send_at_an_earlier_moment_resends_nothing(seeded: Store, tmp_path: Path
                                                         ) -> None:
    maildir = tmp_path / "mail"
    send_due(seeded, [ADA, ALERTS], T + timedelta(days=1), maildir)
    mails, rows = len(mailbox.Maildir(maildir)), sent_rows(seeded)
    assert mails == 2 and rows > 0
    for at in (T, T + timedelta(hours=12)):  # replays before the last send
        plans = send_due(seeded, [ADA, ALERTS], at, maildir)
        assert all(p.start <= p.end for p in plans)
        assert not any(p.items for p in plans)
    send_due(seeded, [ADA, ALERTS], T + timedelta(days=2), maildir)  # and after it
    assert len(mailbox.Maildir(maildir)) == mails and sent_rows(seeded) == rows


def test_a_real_send_after_a_preview_at_the_same_moment_sends_the_preview(
        seeded: Store, tmp_path: Path) -> None:
    shown = ids(seeded, ADA, T)
    (sent,) = send_due(seeded, [ADA], T, tmp_path / "mail")
    assert [it.paper.id for it in sent.items] == shown
    assert ids(seeded, ADA, T) == []  # at the same moment, the send counts


def test_period_start_after_a_later_digest_is_the_preview_moment() -> None:
    """Even from a real send's history: a cut-off later than ``now`` is not a start."""
    later = History(last_digest_at=T + timedelta(days=30))
    assert period_start(ADA, later, T) == T


@settings(max_examples=200, deadline=None)
@given(cut=st.none() | st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                                     timezones=st.just(UTC)),
       now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                        timezones=st.just(UTC)),
       cadence=st.sampled_from(["daily", "weekly", "instant"]))
def test_a_period_never_starts_after_it_ends(cut: datetime | None, now: datetime,
                                             cadence: str) -> None:
    sub = Subscriber("a@example.org", cadence=cadence)
    start = period_start(sub, History(last_digest_at=cut), now)
    assert start <= now
    if cut is not None and cut <= now:
        assert start == cut


def test_preview_and_dry_run_at_an_earlier_now_on_the_cli(run: Any, tmp_path: Path) -> None:
    config = tmp_path / "subscriptions.yaml"
    config.write_text("subscribers:\n  - email: ada@example.org\n    cadence: daily\n"
                      "    timezone: UTC\n    max_age_days: 3650\n    authors: [Maojiang Su]\n")
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox")}
    assert run("ingest", str(SEEDS), "--now", "2026-06-01T07:00:00Z").exit_code == 0
    assert run("send", "--now", "2026-06-08T09:00:00Z", env=env).exit_code == 0  # within REACH_DAYS
    preview = run("preview", "ada@example.org", "--now", T.isoformat(), "--format", "json",
                  env=env)
    plan = json.loads(preview.stdout)
    assert plan["period"]["start"] <= plan["period"]["end"] == T.isoformat()
    assert [p["reasons"] for s in plan["sections"] for p in s["papers"]]
    dry = run("send", "--dry-run", "--json", "--now", T.isoformat(), env=env)
    assert json.loads(dry.stdout)["counts"]["planned"] == 1
    again = run("send", "--json", "--now", T.isoformat(), env=env)
    assert json.loads(again.stdout)["counts"]["sent"] == 0
    assert len(mailbox.Maildir(tmp_path / "outbox")) == 1
