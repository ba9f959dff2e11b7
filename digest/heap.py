"""The cyclic garbage collector during a send pass.

A pass keeps what it reads and renders to its end: every paper of the pass, each card as
each reader sees it, a few million objects that never become garbage. Python's full
collections walk all of them again and again as the pass goes on: a fifth of the time of a
10,000-digest pass on a 2-core machine went there. So while a pass runs, the collector does
not run by itself; after each batch (of subscribers planned, of digests sent) ``settle``
collects what that batch left in reference cycles (Jinja's contexts, mostly) and freezes
what lives on, so that no later collection walks it again. Once batches leave hardly any
cycles (Jinja's contexts come from cards rendered for the first time: fewer and fewer as a
pass goes on), collections are spaced out: most batches are only frozen, and one now and
then is collected to see whether that still holds. When the last pass of the process
ends, everything frozen goes back to the collector, which runs as before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# New objects since the last settle below which a batch is left as it is: small passes
# (a lab's digests) never pay for a collection.
SETTLE_OBJECTS = 50_000
# A collection that finds less than this share of what it walked to be garbage doubles
# the batches until the next one, up to SPACED_BATCHES; one that finds more goes back to
# every batch. The cycles of the batches in between stay, frozen, until the pass ends:
# about this share of what the pass keeps anyway.
FEW_CYCLES = 0.01
SPACED_BATCHES = 16

_lock = threading.Lock()
_passes = 0  # passes running in this process (a bot may run several at once)
_was_enabled = True
_spacing = 0  # batches between collections now
_skip = 0  # batches to freeze without collecting before the next collection


@contextmanager
def pass_heap() -> Iterator[None]:
    """For the length of a pass: the collector runs only when ``settle`` says so."""
    global _passes, _was_enabled, _spacing, _skip
    with _lock:
        if _passes == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
            _spacing = _skip = 0
        _passes += 1
    try:
        yield
    finally:
        with _lock:
            _passes -= 1
            if _passes == 0:
                gc.unfreeze()
                if _was_enabled:
                    gc.enable()


def settle() -> None:
    """After a batch of a pass: collect the cycles it left (unless collections are spaced
    out now), then freeze what is left, when the batch made enough new objects to be worth
    it (outside a pass: nothing)."""
    global _spacing, _skip
    with _lock:
        made = gc.get_count()[0]
        if not _passes or made < SETTLE_OBJECTS:
            return
        if _skip:
            _skip -= 1
        else:
            found = gc.collect()
            _spacing = min(max(1, 2 * _spacing), SPACED_BATCHES) if (
                found < FEW_CYCLES * made) else 0
            _skip = _spacing
        gc.freeze()
