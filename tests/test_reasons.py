"""Typed reasons as stored."""

from __future__ import annotations

from digest.model import Reason
from digest.vocab import ReasonKind


def test_typed_reasons_round_trip_and_read_old_rows() -> None:
    for reason in (Reason.author("Ada"), Reason.keyword("flow matching", "abstract"),
                   Reason(ReasonKind.TRENDING)):
        assert Reason.decode(reason.encode()) == reason
        assert Reason.decode(str(reason)) == reason
