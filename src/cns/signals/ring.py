"""Single-producer/single-consumer record rings: in one process, and across two over shared memory.

Both rings hold fixed-dtype records in a power-of-two slot array plus a header of two free-running ``int64``
indices on separate cache lines (``head`` written only by the consumer, ``tail`` only by the producer).
``push(batch)`` copies as many records as fit and returns how many it took; ``pop(out)`` copies up to
``len(out)`` records out and returns how many. Copies are done by Numba kernels; nothing is pickled.

:class:`SharedRing` lays the header, a dtype check word and the slots out in one
``multiprocessing.shared_memory`` block: ``SharedRing.create(dtype, capacity)`` in one process and
``SharedRing.attach(name, dtype)`` in the other (the dtype must match: item size and a descriptor hash are
checked). The creator unlinks the block on :meth:`SharedRing.close`. Ordering relies on x86-64 store order
(the index is published after the copy kernel returned).
"""

from __future__ import annotations

import hashlib
from multiprocessing import shared_memory

import numpy as np

from cns.signals.errors import RingError
from cns.signals.ring_kernels import copy_in, copy_out

__all__ = ["SpscRing", "SharedRing"]

_HEADER = 192  # bytes: [0] head, [8] tail (at byte 64), [16..] magic/itemsize/capacity/dtype hash (byte 128)
_HEAD, _TAIL, _MAGIC, _ITEMSIZE, _CAPACITY, _DTYPE_HASH = 0, 8, 16, 17, 18, 19
_MAGIC_VALUE = 0x434E5352494E4731  # "CNSRING1"


def _dtype_hash(dtype: np.dtype) -> int:
    return int.from_bytes(hashlib.sha256(str(dtype.descr).encode()).digest()[:7], "little")


def _check_capacity(capacity: int) -> None:
    if capacity < 2 or capacity & (capacity - 1):
        raise RingError(f"ring capacity must be a power of two >= 2, got {capacity}")


class _RingBase:
    """Shared push/pop logic over a header ``int64`` view and a ``uint8`` slot view."""

    _hdr: np.ndarray
    _slots: np.ndarray
    dtype: np.dtype
    capacity: int

    def _as_bytes(self, batch: np.ndarray, where: str) -> np.ndarray:
        if batch.dtype != self.dtype:
            raise RingError(f"{where}: batch dtype {batch.dtype} does not match the ring's {self.dtype}")
        if not batch.flags.c_contiguous:
            raise RingError(f"{where}: batch must be C-contiguous")
        return batch.view(np.uint8).reshape(-1)

    def __len__(self) -> int:
        return int(self._hdr[_TAIL] - self._hdr[_HEAD])

    def free(self) -> int:
        """Slots free for the producer right now."""
        return self.capacity - len(self)

    def push(self, batch: np.ndarray) -> int:
        """Copy the longest prefix of ``batch`` that fits; returns how many records it took (producer)."""
        src = self._as_bytes(batch, "push")
        tail = int(self._hdr[_TAIL])
        n = min(len(batch), self.capacity - (tail - int(self._hdr[_HEAD])))
        if n > 0:
            copy_in(self._slots, self.dtype.itemsize, self.capacity, tail, src, n)
            self._hdr[_TAIL] = tail + n  # publish after the copy
        return n

    def pop(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` records into ``out``; returns how many (consumer only)."""
        dst = self._as_bytes(out, "pop")
        head = int(self._hdr[_HEAD])
        n = min(len(out), int(self._hdr[_TAIL]) - head)
        if n > 0:
            copy_out(self._slots, self.dtype.itemsize, self.capacity, head, dst, n)
            self._hdr[_HEAD] = head + n  # release the slots after the copy
        return n


class SpscRing(_RingBase):
    """An in-process SPSC ring of ``capacity`` (power of two) records of ``dtype``."""

    def __init__(self, dtype: np.dtype, capacity: int) -> None:
        _check_capacity(capacity)
        self.dtype = np.dtype(dtype)
        self.capacity = capacity
        self._hdr = np.zeros(_HEADER // 8, dtype=np.int64)
        self._slots = np.zeros(capacity * self.dtype.itemsize, dtype=np.uint8)


class SharedRing(_RingBase):
    """An SPSC ring in a ``multiprocessing.shared_memory`` block (one producer and one consumer process)."""

    def __init__(self, shm: shared_memory.SharedMemory, dtype: np.dtype, owner: bool) -> None:
        self._shm = shm
        self._owner = owner
        self.dtype = np.dtype(dtype)
        self._hdr = np.ndarray((_HEADER // 8,), dtype=np.int64, buffer=shm.buf, offset=0)
        if self._hdr[_MAGIC] != _MAGIC_VALUE:
            raise RingError(f"shared block {shm.name!r} is not a CNS ring (bad magic)")
        if self._hdr[_ITEMSIZE] != self.dtype.itemsize or self._hdr[_DTYPE_HASH] != _dtype_hash(self.dtype):
            raise RingError(
                f"shared ring {shm.name!r}: dtype mismatch (ring item size {int(self._hdr[_ITEMSIZE])}, "
                f"given {self.dtype.itemsize})"
            )
        self.capacity = int(self._hdr[_CAPACITY])
        self._slots = np.ndarray(
            (self.capacity * self.dtype.itemsize,), dtype=np.uint8, buffer=shm.buf, offset=_HEADER
        )

    @property
    def name(self) -> str:
        """The shared-memory block name to pass to :meth:`attach` in the other process."""
        return self._shm.name

    @classmethod
    def create(cls, dtype: np.dtype, capacity: int, name: str | None = None) -> SharedRing:
        """Allocate and initialise a new shared ring (this process owns and later unlinks the block)."""
        _check_capacity(capacity)
        dt = np.dtype(dtype)
        shm = shared_memory.SharedMemory(name=name, create=True, size=_HEADER + capacity * dt.itemsize)
        hdr = np.ndarray((_HEADER // 8,), dtype=np.int64, buffer=shm.buf)
        hdr[:] = 0
        hdr[_ITEMSIZE], hdr[_CAPACITY], hdr[_DTYPE_HASH] = dt.itemsize, capacity, _dtype_hash(dt)
        hdr[_MAGIC] = _MAGIC_VALUE
        del hdr
        return cls(shm, dt, owner=True)

    @classmethod
    def attach(cls, name: str, dtype: np.dtype) -> SharedRing:
        """Open the ring ``name`` created by another process; raises :class:`RingError` on a mismatch."""
        try:
            shm = shared_memory.SharedMemory(name=name, create=False)
        except FileNotFoundError:
            raise RingError(f"no shared ring named {name!r}") from None
        try:  # the creator owns the block: keep this process's resource tracker from unlinking it at exit
            from multiprocessing import resource_tracker

            resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
        except Exception:  # pragma: no cover - tracker internals differ across versions
            pass
        try:
            return cls(shm, dtype, owner=False)
        except RingError:
            shm.close()
            raise

    def close(self) -> None:
        """Drop the views and close the block; the creating process also unlinks it."""
        self._hdr = np.zeros(_HEADER // 8, dtype=np.int64)
        self._slots = np.zeros(0, dtype=np.uint8)
        self._shm.close()
        if self._owner:
            self._shm.unlink()
            self._owner = False
