"""Momentum: which papers are gaining upvotes fastest lately, from the counts ingests saw.

Pure: takes the upvote snapshots and ``now``; no database or clock.

A paper's gain is its latest count at or before ``now`` minus its baseline: the latest
count at or before ``now - window``, or, for a paper first seen inside the window, the
count it was first seen with. A paper seen once has not risen (its baseline is that one
count, not zero: arriving with 50 votes is trending, not rising). As the store keeps only
counts that changed, the baseline is the count at the window's start as far as ingests
saw it, so the gain is what the paper gained within the window.

Momentum is gain per hour over the part of the window the paper was watched: the whole
window, or since it was first seen, but never less than ``floor`` hours. The floor keeps a
paper first seen an hour ago with 3 votes (3 / 12 h = 0.25 an hour) below one that gained
20 in two days (20 / 48 h = 0.42 an hour); dividing by the real hour would put it first
at 3 an hour. A gain below ``min_gain`` (2: a single vote is noise) is not rising at all,
nor is a gain of zero or a loss.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from digest import defaults
from digest.model import Snapshot

__all__ = ["FLOOR", "WINDOW", "Momentum", "momentum"]

WINDOW = timedelta(hours=defaults.RISING_WINDOW_HOURS)
FLOOR = timedelta(hours=defaults.RISING_FLOOR_HOURS)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Momentum:
    """How one paper rose: ``gain`` votes since ``since`` (the baseline count's moment),
    ``per_hour`` over the window, and its latest count ``upvotes``."""

    paper_id: int
    gain: int
    since: datetime
    per_hour: float
    upvotes: int


def momentum(snapshots: Iterable[Snapshot], now: datetime, *, window: timedelta = WINDOW,
             floor: timedelta = FLOOR, min_gain: int = defaults.RISING_MIN_GAIN
             ) -> list[Momentum]:
    """The papers rising at ``now``, fastest first (then larger gain, more votes, lower
    id). ``snapshots`` may hold any counts; those after ``now`` are ignored."""
    by_paper: dict[int, list[Snapshot]] = defaultdict(list)
    for shot in snapshots:
        if shot.seen_at <= now:
            by_paper[shot.paper_id].append(shot)
    found = [m for shots in by_paper.values()
             if (m := _rise(shots, now, window, floor)).gain >= max(1, min_gain)]
    return sorted(found, key=lambda m: (-m.per_hour, -m.gain, -m.upvotes, m.paper_id))


def _rise(shots: Sequence[Snapshot], now: datetime, window: timedelta, floor: timedelta
          ) -> Momentum:
    """One paper's gain and momentum from its counts (none after ``now``)."""
    ordered = sorted(shots, key=lambda s: s.seen_at)
    start = now - window
    before = [s for s in ordered if s.seen_at <= start]
    base = before[-1] if before else ordered[0]
    latest = ordered[-1]
    watched = max(now - max(base.seen_at, start), floor, _SECOND)  # a zero floor divides
    gain = latest.upvotes - base.upvotes
    return Momentum(latest.paper_id, gain, base.seen_at,
                    gain / (watched.total_seconds() / 3600), latest.upvotes)
