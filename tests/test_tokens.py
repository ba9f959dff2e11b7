"""Tokens signed without itsdangerous' signer per token are the same bytes."""

from __future__ import annotations

import random

from digest.deliver.tokens import Tokens
from digest.vocab import Action


def test_tokens_are_the_bytes_itsdangerous_makes() -> None:
    tokens = Tokens("a secret")
    rng = random.Random(1)
    targets = ["Ada Lovelace", "Zoë Ünal", "日本語の名前", "x" * 300, "a" * 60, "flow matching",
               'quote " and \\ backslash']
    for _ in range(300):
        ref = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=12))
        action = rng.choice([Action.FOLLOW, Action.UNFOLLOW, Action.MUTE, Action.UNSUBSCRIBE,
                             Action.MANAGE])
        args = (rng.choice(targets),) if action in (
            Action.FOLLOW, Action.UNFOLLOW, Action.MUTE) else ()
        made = tokens.make(action, ref, *args)
        assert made == tokens._signers[action].dumps([ref, *args])
        assert tokens.read(action, made) == [ref, *args]
