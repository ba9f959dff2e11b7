"""The garbage collector during a pass: collections after batches, spaced out while
they find few cycles."""

from __future__ import annotations


def test_a_pass_collects_each_batch_cycles_and_freezes_what_lives_on() -> None:
    """During a pass the collector runs only after a batch: the cycles the batch left are
    collected, what lives on is frozen; at the end of the last pass all is as before."""
    import gc
    import weakref

    from digest import heap

    class Node:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the cyclic collector frees it

    assert gc.isenabled()
    with heap.pass_heap():
        with heap.pass_heap():  # a second pass at the same time
            assert not gc.isenabled()
        assert not gc.isenabled()  # still one pass running
        garbage = Node()
        gone = weakref.ref(garbage)
        del garbage
        kept = [Node() for _ in range(heap.SETTLE_OBJECTS)]  # a batch's worth of objects
        assert gone() is not None  # no collection by itself
        heap.settle()
        assert gone() is None
        assert gc.get_freeze_count() >= len(kept)
        small = Node()
        small_ref = weakref.ref(small)
        del small
        heap.settle()  # too few new objects to be worth a collection
        assert small_ref() is not None
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.collect()
    assert small_ref() is None


def test_collections_are_spaced_out_while_batches_leave_few_cycles() -> None:
    """A batch whose collection finds hardly any cycles doubles the batches until the next
    collection (those in between are only frozen); one that finds many brings a collection
    after every batch back."""
    import gc
    import weakref

    from digest import heap

    class Node:
        def __init__(self) -> None:
            self.me = self

    def batch(cycles: int = 0) -> weakref.ref[Node]:
        """A batch's worth of objects that live on, and one cycle left (or many)."""
        kept.append([[] for _ in range(heap.SETTLE_OBJECTS)])
        for _ in range(cycles):
            Node()
        left = weakref.ref(Node())
        heap.settle()
        return left

    kept: list[list[list[int]]] = []
    gc.collect()  # no garbage from before
    with heap.pass_heap():
        assert batch()() is None  # collected; it found few cycles: the next is skipped
        assert batch()() is not None  # frozen only
        assert batch()() is None  # collected; now two are skipped
        skipped = [batch(), batch()]
        assert all(ref() is not None for ref in skipped)
        assert batch(cycles=heap.SETTLE_OBJECTS)() is None  # many cycles ...
        assert batch()() is None  # ... so the next batch is collected again
    gc.collect()
    assert all(ref() is None for ref in skipped)  # freed once the pass is over
