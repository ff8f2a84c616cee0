"""Kernels of :mod:`cns.signals.ring`: copy records into / out of a power-of-two ring, wrapping once.

Records are copied as raw bytes (``uint8`` views of the record arrays), so one compiled kernel serves every
dtype. Indices are free-running ``int64`` counters (head = next to pop, tail = next to push); the slot of
index ``k`` is ``k & (capacity - 1)``. The kernels only copy; the caller publishes the new index afterwards,
in a separate step, so the copy is complete before the index store (x86-64 keeps stores in order).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["copy_in", "copy_out"]


@njit(cache=True)
def copy_in(ring: np.ndarray, itemsize: int, capacity: int, tail: int, src: np.ndarray, n: int) -> None:
    """Copy ``n`` records (bytes ``src[: n*itemsize]``) into ``ring`` starting at index ``tail``."""
    slot = tail & (capacity - 1)
    first = min(n, capacity - slot)
    nb = first * itemsize
    off = slot * itemsize
    for b in range(nb):
        ring[off + b] = src[b]
    rest = (n - first) * itemsize
    for b in range(rest):
        ring[b] = src[nb + b]


@njit(cache=True)
def copy_out(ring: np.ndarray, itemsize: int, capacity: int, head: int, dst: np.ndarray, n: int) -> None:
    """Copy ``n`` records from ``ring`` starting at index ``head`` into bytes ``dst[: n*itemsize]``."""
    slot = head & (capacity - 1)
    first = min(n, capacity - slot)
    nb = first * itemsize
    off = slot * itemsize
    for b in range(nb):
        dst[b] = ring[off + b]
    rest = (n - first) * itemsize
    for b in range(rest):
        dst[nb + b] = ring[b]
