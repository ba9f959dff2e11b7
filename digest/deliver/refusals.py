"""Refusals of the message or its sender, told apart from the list's problems.

A relay that refuses one digest at MAIL FROM or after the message (too big, its content)
has refused that digest; one that refuses every digest the same way (its size limit
below every digest, a content filter, a suspended account, relaying denied) has a
set-up problem that no subscriber caused. So such refusals are held back while they come
in a row with the same reply (phase, code and status code): a mail that goes through, or
another reply, ends the run and its digests fail, blaming nobody; SETUP_REFUSALS of them
in a row stop the pass, and those digests go back to ``retry`` untried, due at once, so
that the first pass after the operator fixed the relay sends them.
"""

from __future__ import annotations

from dataclasses import replace

from digest import defaults
from digest.deliver.replies import MessageRefused, Reply, SetupError
from digest.model import Unsent
from digest.vocab import OutboxState


class Refusals:
    """The run of refusals held back (``held``), and the reply that stopped the pass."""

    def __init__(self) -> None:
        self.held: list[Unsent] = []
        self.latest: MessageRefused | None = None
        self.stopped_by: Reply | None = None

    def add(self, failure: Unsent, refusal: MessageRefused) -> tuple[list[Unsent],
                                                                    SetupError | None]:
        """The outcomes this refusal settles, and the error that stops the pass when it
        completes a run of SETUP_REFUSALS."""
        if self.stopped_by is not None and refusal.reply == self.stopped_by:
            return [untried(failure)], None  # in flight when the pass stopped
        settled = self.end() if self.latest and self.latest.reply != refusal.reply else []
        self.held.append(failure)
        self.latest = refusal
        if len(self.held) < defaults.SETUP_REFUSALS:
            return settled, None
        self.stopped_by = refusal.reply
        error = stopped(refusal, len(self.held))
        return settled + self.end(stop=True), error

    def end(self, stop: bool = False) -> list[Unsent]:
        """The run held back, settled: failed, or, when it stops the pass, untried."""
        held, self.held, self.latest = self.held, [], None
        return [untried(f) for f in held] if stop else held

    def last(self, sent_nothing: bool) -> tuple[list[Unsent], SetupError | None]:
        """At the end of a pass: one that sent nothing and met only the same refusal, at
        least twice (a list shorter than SETUP_REFUSALS), is stopped by it too."""
        latest = self.latest
        if latest is None or not sent_nothing or len(self.held) < 2:
            return self.end(), None
        error = stopped(latest, len(self.held))
        return self.end(stop=True), error


def untried(failure: Unsent) -> Unsent:
    """A digest refused for what every digest met: due again at once, no attempt
    counted."""
    return replace(failure, state=OutboxState.RETRY, next_attempt=None, counted=False)


def stopped(refusal: MessageRefused, count: int) -> SetupError:
    return SetupError(
        f"{refusal}; the pass stopped after {count} such refusals in a row: the server "
        "refuses the mail or its sender, not the subscribers' addresses (check the "
        "relay's size limit, its policy and account, and DIGEST_FROM). No subscriber was "
        "marked; the digests wait to be sent again")
