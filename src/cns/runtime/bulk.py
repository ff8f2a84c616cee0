"""Scoped tuning of CPython's cyclic garbage collector for bulk process creation (:meth:`Node.bulk_spawn`).

Why: the cyclic GC collects generation 0 every 700 *net* new container objects and the whole heap each time
the long-lived part grew by 25 %. Creating N processes that stay alive (each is at least two tracked
objects: its :class:`~cns.runtime.process.Pid` and its actor) therefore rescans the growing heap O(log N)
times: for a million processes those full collections cost about three times the spawns themselves
(measured with ``gc.callbacks``: 12 full collections, 1.16 s of 1.83 s CPU). Inside the scope the GC runs
less often; on exit everything is as before, except what ``freeze`` asks for.

The settings are process-wide, as the GC is: nested scopes (from any node or thread) apply the settings of
the outermost one; other threads see them while it lasts. Nothing in the runtime's semantics depends on
when the cyclic GC runs.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BULK_GEN0_THRESHOLD", "bulk_gc"]

BULK_GEN0_THRESHOLD = 100_000  # generation-0 threshold inside a scope (CPython's default is 700)

_lock = threading.Lock()
_depth = 0
_saved: tuple[tuple[int, ...], bool] = ((700, 10, 10), True)


@contextmanager
def bulk_gc(freeze: bool = False) -> Iterator[None]:
    """Run the body with the cyclic GC tuned for creating many long-lived objects; restore it on exit.

    ``freeze=False``: the generation-0 threshold is raised to :data:`BULK_GEN0_THRESHOLD` (if lower); the
    GC still runs, so cyclic garbage made in the body is still collected, in larger batches.
    ``freeze=True``: the GC is paused in the body and ``gc.freeze()`` runs on exit (of this scope, even when
    nested): every object alive then moves to the permanent generation and no later collection rescans it.
    Frozen objects are not reclaimed by the cyclic GC until ``gc.unfreeze()``.
    Thresholds and the enabled flag are restored when the outermost scope exits (an exception included).
    """
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = (gc.get_threshold(), gc.isenabled())
            if freeze:
                gc.disable()
            else:
                t = _saved[0]
                gc.set_threshold(max(t[0], BULK_GEN0_THRESHOLD), *t[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                thresholds, enabled = _saved
                gc.set_threshold(*thresholds)
                if enabled:
                    gc.enable()
            if freeze:
                gc.freeze()
