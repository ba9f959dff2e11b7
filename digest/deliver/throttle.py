"""Adaptive sending: how many of the pool's connections a pass uses, and how far apart its
sends go, learnt from the server as the pass runs.

A server says "not so many" in two ways: it turns a connection away (421 when greeting,
or it refuses or resets it), or it answers a mail with a 4xx (a rate limit, often
4.7.x). The first costs the pass a connection: the worker that was turned away parks
until there is room again, and its digest goes on another connection with no attempt
counted. The second spaces the sends: SLOW_FIRST_SECONDS apart, twice as far at each
such reply. Both creep back after RAMP_SUCCESSES mails in a row went through, so a
passing limit costs a little speed for a while, never the pass (additive increase of
connections, multiplicative decrease; the gap doubles and halves). The success path
costs a counter. The last connection turned away waits and tries again, a few times; a
server that takes no connection at all ends the pass.
"""

from __future__ import annotations

import asyncio
import time

from digest import defaults


class Throttle:
    """The connections a pass may use (``limit``, of ``pool``) and the gap between sends
    (``gap`` seconds, 0 = none); ``active`` workers are those not parked."""

    def __init__(self, pool: int) -> None:
        self.pool = self.limit = self.active = pool
        self.gap = 0.0
        self.slowed = 0  # 4xx replies that widened the gap
        self.turned = 0  # connections the server turned away
        self.refusing = 0  # of them in a row at the last connection, since a mail went
        self._next = 0.0  # when the next send may start (monotonic), while slowed
        self._widened = -float("inf")  # when the gap last widened
        self._streak = 0  # mails in a row that went through
        self._room = asyncio.Event()

    def went_through(self) -> None:
        """A mail went through: after enough in a row, a narrower gap and one connection
        more (a parked worker wakes)."""
        self._streak += 1
        self.refusing = 0
        if self._streak >= defaults.RAMP_SUCCESSES:
            self._streak = 0
            self.gap = self.gap / 2 if self.gap / 2 >= defaults.SLOW_FIRST_SECONDS else 0.0
            if self.limit < self.pool:
                self.limit += 1
                self._room.set()

    def slow_down(self) -> None:
        """The server answered a mail with a 4xx: the gap widens, from now; once a gap,
        so that the replies to the mails in flight together count once."""
        self._streak = 0
        self.slowed += 1
        now = time.monotonic()
        if now >= self._widened + self.gap:
            self.gap = min(defaults.SLOW_MAX_SECONDS, max(defaults.SLOW_FIRST_SECONDS,
                                                           self.gap * 2))
            self._widened = now
        self._next = max(self._next, now + self.gap)

    def turned_away(self) -> bool:
        """The server turned one of the pass's connections away: one connection fewer.
        True when the worker it happened to should park (another one is working);
        False for the last one, which carries on (``try_again``)."""
        self._streak = 0
        self.turned += 1
        self.limit = max(1, min(self.limit, self.active) - 1)
        return self.active > self.limit

    def try_again(self) -> bool:
        """The last connection was turned away too: True while it has been fewer than
        BUSY_TRIES times in a row (the next send waits, further each time); then the
        server takes no connection at all (it is down, or full), and the pass stops."""
        self.refusing += 1
        if self.refusing >= defaults.BUSY_TRIES:
            return False
        self.slow_down()
        return True

    async def park(self) -> None:
        """Wait until there is room for one more connection (the limit grew, or another
        worker left)."""
        self.active -= 1
        while self.active >= self.limit:
            self._room.clear()
            await self._room.wait()
        self.active += 1

    def leave(self) -> None:
        """A worker is done: a parked one may take its place."""
        self.active -= 1
        self._room.set()

    async def wait(self) -> None:
        """Wait for this send's turn while the pass is slowed."""
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + self.gap
        if start > now:
            await asyncio.sleep(start - now)
