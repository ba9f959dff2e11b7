"""The cyclic garbage collector during a send pass.

A pass keeps what it reads and renders to its end: every paper of the pass, each card as
each reader sees it, a few million objects that never become garbage. Python's full
collections walk all of them again and again as the pass goes on: a fifth of the time of a
10,000-digest pass on a 2-core machine went there. So while a pass runs, the collector does
not run by itself; after each batch (of subscribers planned, of digests sent) ``settle``
collects what that batch left in reference cycles (Jinja's contexts, mostly) and freezes
what lives on, so that no later collection walks it again. When the last pass of the
process ends, everything frozen goes back to the collector, which runs as before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# New objects since the last settle below which a batch is left as it is: small passes
# (a lab's digests) never pay for a collection.
SETTLE_OBJECTS = 50_000

_lock = threading.Lock()
_passes = 0  # passes running in this process (a bot may run several at once)
_was_enabled = True


@contextmanager
def pass_heap() -> Iterator[None]:
    """For the length of a pass: the collector runs only when ``settle`` says so."""
    global _passes, _was_enabled
    with _lock:
        if _passes == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
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
    """After a batch of a pass: collect the cycles it left, then freeze what is left, when
    the batch made enough new objects to be worth it (outside a pass: nothing)."""
    with _lock:
        if _passes and gc.get_count()[0] >= SETTLE_OBJECTS:
            gc.collect()
            gc.freeze()
