"""The journal's single writer: appends batches of records as frames into memory-mapped, preallocated segments.

Contract of :meth:`JournalWriter.append`: one entry = one batch of records of the entry type's dtype (plus an
optional byte blob for types registered with ``blob=True``). The entry gets the next index (1, 2, 3, ...; no
gap, no reuse) and a timestamp (ns since the epoch; the caller's ``ts_ns`` or ``time.time_ns()``). Small
entries (< 8 KiB) are copied into the segment's mapping by one Numba call that also computes the CRC32C and
commits the frame (``frame_len`` written last). Larger ones are checksummed in place by a Numba call (GIL
released) and written with one ``pwritev`` (header with ``frame_len`` 0, records, blob), then committed by
a 4-byte ``pwrite`` of ``frame_len``: the kernel copies the batch straight into the page cache, without the
zero-fill and page faults that stores into freshly mapped pages cost (measured in ``docs/journal.md``). No
per-record Python either way. When the call returns, the entry is visible to readers
in any process; whether it is on disk depends on the :class:`FsyncPolicy`:

* ``FsyncPolicy.every_entry()`` — ``msync(MS_SYNC)`` of the entry's pages before ``append`` returns.
* ``FsyncPolicy.group(interval_us)`` — group commit: a flusher thread syncs what was appended at most
  ``interval_us`` µs ago (``durable_index`` / :meth:`wait_durable` tell what is on disk).
* ``FsyncPolicy.os()`` — the kernel writes back when it likes (a process crash loses nothing, a power loss
  may lose the tail: the torn part is cut on the next open).

Segments roll when the next entry does not fit (``segment_bytes``, default 64 MiB; an entry larger than a
segment gets a segment of its own). Unless ``pretouch_bytes=0``, a helper thread keeps segment management off
the hot path: it prepares the *next* segment ahead of time (a preallocated, mapped spare file
``.spare-*.cnsj.tmp``, so that a roll is a header write and a rename; Chronicle Queue pre-creates its next
file the same way) and unmaps rolled segments. The spare costs one more ``segment_bytes`` file on disk; a
writer killed before its close leaves it behind and the next writer's open deletes it.

Opening a writer takes the directory's lock (a second writer is refused with :class:`JournalLockedError`),
merges the registry with ``schema.json`` and repairs the tail (:func:`cns.journal.segments.repair_tail`,
reported in :attr:`JournalWriter.repair`). Not thread-safe: one thread appends.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cns.journal import frame_kernels as K
from cns.journal.dtypes import TypeRegistry, default_registry
from cns.journal.errors import JournalClosedError, JournalError, JournalLockedError, JournalTypeError
from cns.journal.segments import (
    LOCK_FILE,
    PAGE,
    SCHEMA_FILE,
    SEGMENT_HEADER,
    Segment,
    TailRepair,
    atomic_write,
    load_schema,
    remove_stale_temps,
    repair_tail,
)

__all__ = ["FsyncPolicy", "JournalWriter"]

_libc = ctypes.CDLL(None, use_errno=True)
_libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_MS_SYNC = 4
_EMPTY = np.zeros(0, np.uint8)
_PWRITE_BYTES = 8192  # frames from this size are written with pwritev (smaller: stores into the mapping)
_U32 = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class FsyncPolicy:
    """When appended entries reach the disk: ``mode`` ``"entry"`` (every append), ``"group"`` (every
    ``interval_us`` µs, by a flusher thread) or ``"os"`` (never forced)."""

    mode: str = "os"
    interval_us: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("entry", "group", "os"):
            raise JournalError(f"fsync mode must be entry, group or os, got {self.mode!r}")
        if self.mode == "group" and self.interval_us <= 0:
            raise JournalError("group commit needs interval_us > 0")

    @classmethod
    def every_entry(cls) -> FsyncPolicy:
        """fsync before every append returns: each entry durable on return (slowest)."""
        return cls("entry")

    @classmethod
    def group(cls, interval_us: int = 1000) -> FsyncPolicy:
        """Group commit: a flusher thread fsyncs every ``interval_us`` us; raises JournalError unless > 0."""
        return cls("group", int(interval_us))

    @classmethod
    def os(cls) -> FsyncPolicy:
        """Never fsync: the OS writes back when it chooses (a process crash loses nothing, a power loss may)."""
        return cls("os")

    @classmethod
    def parse(cls, text: str) -> FsyncPolicy:
        """``"entry"``, ``"os"`` or ``"group:<µs>"`` (``"group"`` alone = 1000 µs)."""
        mode, _, arg = text.partition(":")
        if mode == "group":
            return cls.group(int(arg) if arg else 1000)
        return cls(mode)

    def __str__(self) -> str:
        return f"group:{self.interval_us}us" if self.mode == "group" else self.mode


def _specialize(fn: Any, args: tuple[Any, ...]) -> Any:
    """The compiled entry point of Numba dispatcher ``fn`` for exactly the types of ``args`` (skips the
    dispatcher's type resolution on every call); the dispatcher itself if that fails."""
    try:
        return fn.compile(tuple(fn.typeof_pyval(a) for a in args))
    except Exception:  # pragma: no cover - numba internals: keep the dispatcher
        return fn


def _sync_range(seg: Segment, lo: int, hi: int) -> None:
    """``msync(MS_SYNC)`` of ``seg``'s bytes ``lo..hi`` (page-aligned down; GIL released by ctypes)."""
    if hi <= lo:
        return
    a = lo - lo % PAGE
    if _libc.msync(seg.buf.ctypes.data + a, hi - a, _MS_SYNC) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"msync {seg.path}: {os.strerror(err)}")


class JournalWriter:
    """Append-only writer of one journal directory (see the module doc for the contract).

    ``registry``: the entry types (default :func:`cns.journal.dtypes.default_registry`); ``fsync``: the
    :class:`FsyncPolicy`; ``segment_bytes``: segment size (rounded up to pages, >= 64 KiB); ``pretouch_bytes``:
    0 turns the helper thread off (segments are then made and unmapped by ``append`` itself); any other
    value turns it on (kept for compatibility: pages are no longer populated ahead, ``pwritev`` needs no
    prefaulting); ``first_index``: index of the first entry of an
    empty journal (>= 1). ``OSError`` from the filesystem propagates (nothing is half-appended: a frame is
    committed by its length, written last)."""

    def __init__(
        self,
        directory: str | Path,
        registry: TypeRegistry | None = None,
        *,
        fsync: FsyncPolicy | None = None,
        segment_bytes: int = 64 << 20,
        pretouch_bytes: int = 8 << 20,
        first_index: int = 1,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        if segment_bytes < 1 << 16:
            raise JournalError(f"segment_bytes must be >= 65536, got {segment_bytes}")
        if first_index < 1:
            raise JournalError(f"first_index must be >= 1, got {first_index}")
        self.segment_bytes = -(-segment_bytes // PAGE) * PAGE
        self.fsync = fsync if fsync is not None else FsyncPolicy.os()
        self._lock_fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise JournalLockedError(f"{self.directory}: another writer holds the journal") from None
        try:
            remove_stale_temps(self.directory)
            self._open(registry, first_index)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._closed = False
        self._mutex = threading.Lock()  # roll vs flusher / helper
        self._stop = threading.Event()
        self._pretouch = max(0, int(pretouch_bytes))
        self._wake = threading.Event()
        self._spare: Segment | None = None  # the next segment, made ahead by the helper
        self._retired: list[Segment] = []  # rolled segments the helper unmaps
        self.prep_error: OSError | None = None
        self._threads: list[threading.Thread] = []
        if self._pretouch > 0:
            self._start(self._prep_loop, "cns-journal-prep")
        if self.fsync.mode == "group":
            self._start(self._flush_loop, "cns-journal-flush")

    # ------------------------------------------------------------------ open
    def _open(self, registry: TypeRegistry | None, first_index: int) -> None:
        reg = registry if registry is not None else default_registry()
        on_disk = load_schema(self.directory)
        merged = reg if on_disk is None else on_disk.merged(reg)
        if on_disk is None or on_disk.to_json() != merged.to_json():
            atomic_write(self.directory / SCHEMA_FILE, merged.to_json().encode())
        self.registry = merged
        self._types: dict[int, tuple[np.dtype, bool]] = {t.code: (t.dtype, t.blob) for t in merged}
        seg, rep = repair_tail(self.directory, merged, first_index)
        self.repair: TailRepair = rep
        self._seg: Segment | None = seg
        self._pos = rep.tail
        self._next = rep.last_index + 1
        self._synced = (self._pos, rep.last_index)  # (position, index) known durable in the current segment
        self.durable_index = rep.last_index
        self._committed = (self._pos, rep.last_index)
        self._entry: Any = None  # compiled write_frame entry point (exact types), made on first append
        self._hdr_entry: Any = None  # the same for frame_header (frames >= _PWRITE_BYTES)
        self._hdr = np.zeros(K.HEADER, np.uint8)

    # ------------------------------------------------------------------ properties
    @property
    def next_index(self) -> int:
        """The index the next :meth:`append` will get (derive order ids from it: :mod:`cns.journal.clordid`)."""
        return self._next

    @property
    def last_index(self) -> int:
        """Index of the last appended entry (``first_index - 1`` for an empty journal)."""
        return self._next - 1

    @property
    def segment(self) -> Path | None:
        """Path of the segment being appended to (None before the first append of an empty journal)."""
        return self._seg.path if self._seg is not None else None

    # ------------------------------------------------------------------ append
    def append(
        self,
        etype: int,
        records: np.ndarray,
        blob: np.ndarray | bytes | None = None,
        ts_ns: int | None = None,
    ) -> int:
        """Append one entry of type ``etype`` holding ``records`` (1-D, the type's dtype; 0 records allowed)
        and ``blob`` (bytes after the records; only for ``blob=True`` types). Returns the entry's index.

        Raises :class:`JournalTypeError` for an unregistered type, a dtype that is not the type's, a blob on
        a type without one; :class:`JournalClosedError` after :meth:`close`."""
        spec = self._types.get(etype)
        if spec is None or (records.dtype is not spec[0] and records.dtype != spec[0]) or records.ndim != 1:
            raise JournalTypeError(self._type_problem(etype, records))
        if self._closed:
            raise JournalClosedError("append on a closed JournalWriter")
        if not records.flags.c_contiguous:
            records = np.ascontiguousarray(records)
        src = records.view(np.uint8)
        if blob is None:
            b = _EMPTY
        elif not spec[1]:
            raise JournalTypeError(f"entry type {etype} carries no blob")
        else:
            b = np.frombuffer(blob, np.uint8) if isinstance(blob, (bytes, bytearray, memoryview)) else blob
            if b.dtype != np.uint8 or b.ndim != 1:
                raise JournalTypeError("blob must be bytes or a 1-D uint8 array")
        frame = K.HEADER + src.shape[0] + b.shape[0]
        if frame > K.MAX_FRAME:
            raise JournalError(f"entry of {frame} bytes exceeds the frame limit {K.MAX_FRAME}")
        padded = (frame + 7) & ~7
        seg = self._seg
        if seg is None or self._pos + padded > seg.limit:
            seg = self._roll(padded)
        idx = self._next
        ts = time.time_ns() if ts_ns is None else ts_ns
        pos = self._pos
        if frame >= _PWRITE_BYTES:
            self._pwrite_frame(seg, pos, src, b, idx, ts, etype, len(records))
        elif self._entry is not None and src.flags.writeable and b.flags.writeable:
            self._entry(seg.buf, pos, src, b, idx, ts, etype, len(records))
        else:
            self._first_write(seg.buf, pos, src, b, idx, ts, etype, len(records))
        end = pos + padded
        self._pos = end
        self._next = idx + 1
        self._committed = (end, idx)
        if self.fsync.mode == "entry":
            _sync_range(seg, pos, end)
            self._synced = (end, idx)
            self.durable_index = idx
        return idx

    def _pwrite_frame(
        self, seg: Segment, pos: int, src: np.ndarray, b: np.ndarray, idx: int, ts: int, et: int, n: int
    ) -> None:
        """A large frame: header + CRC in place, ``pwritev`` of header/records/blob, then ``frame_len``."""
        hdr = self._hdr
        fn = self._hdr_entry
        if fn is not None and src.flags.writeable and b.flags.writeable:
            frame = fn(hdr, src, b, idx, ts, et, n)
        else:
            frame = K.frame_header(hdr, src, b, idx, ts, et, n)
            if fn is None and src.flags.writeable and b.flags.writeable:
                self._hdr_entry = _specialize(K.frame_header, (hdr, src, b, idx, ts, et, n))
        parts: list[Any] = [hdr, src, b] if len(b) else [hdr, src]
        if os.pwritev(seg.fd, parts, pos) != frame:  # pragma: no cover - the range is preallocated
            raise OSError(f"short write to {seg.path} at byte {pos}")
        os.pwrite(seg.fd, _U32.pack(frame), pos)  # commit

    def _first_write(self, *args: Any) -> None:
        K.write_frame(*args)
        if self._entry is None and args[2].flags.writeable and args[3].flags.writeable:
            self._entry = _specialize(K.write_frame, args)

    def _type_problem(self, etype: int, records: Any) -> str:
        spec = self._types.get(etype)
        if spec is None:
            return f"entry type {etype} is not registered"
        if not isinstance(records, np.ndarray) or records.ndim != 1:
            return f"entry type {etype}: records must be a 1-D NumPy array"
        return f"entry type {etype} ({self.registry[etype].name}) takes dtype {spec[0]}, got {records.dtype}"

    def _roll(self, padded: int) -> Segment:
        """Seal the current segment (end marker, synced unless policy os) and start the next one."""
        with self._mutex:
            old = self._seg
            if old is not None:
                K.write_eos(old.buf, self._pos)
                if self.fsync.mode != "os":
                    _sync_range(old, self._synced[0], min(self._pos + 8, old.limit))
            size = max(self.segment_bytes, -(-(SEGMENT_HEADER + padded) // PAGE) * PAGE)
            spare = self._spare
            if spare is not None and spare.limit >= size:
                self._spare = None
                try:
                    spare.activate(self._next)
                except BaseException:
                    spare.discard()
                    raise
                seg = spare
            else:
                seg = Segment.create(self.directory, self._next, size)
            if self.fsync.mode != "os":
                with contextlib.suppress(OSError):
                    dfd = os.open(self.directory, os.O_RDONLY)
                    try:
                        os.fsync(dfd)
                    finally:
                        os.close(dfd)
            self._seg = seg
            self._pos = SEGMENT_HEADER
            self._synced = (SEGMENT_HEADER, self._next - 1)
            if old is not None:
                if self._threads:
                    self._retired.append(old)  # munmap of a big mapping: off the hot path
                else:
                    old.close()
        self._wake.set()
        return seg

    # ------------------------------------------------------------------ durability
    def sync(self) -> int:
        """Force everything appended so far to disk now (any policy). Returns :attr:`durable_index`."""
        if self._closed:
            raise JournalClosedError("sync on a closed JournalWriter")
        with self._mutex:
            self._sync_locked()
        return self.durable_index

    def _sync_locked(self) -> None:
        seg = self._seg
        if seg is None:
            return
        end, idx = self._committed
        lo = self._synced[0]
        if end > lo:
            _sync_range(seg, lo, end)
        self._synced = (end, idx)
        self.durable_index = max(self.durable_index, idx)

    def wait_durable(self, index: int, timeout: float = 5.0) -> bool:
        """Block until entry ``index`` is on disk (or ``timeout`` s pass): True when it is. Under policy
        ``os`` this syncs now."""
        if self.durable_index >= index:
            return True
        if self.fsync.mode != "group":
            self.sync()
            return self.durable_index >= index
        deadline = time.monotonic() + timeout
        while self.durable_index < index:
            if time.monotonic() > deadline or self._closed:
                return False
            time.sleep(self.fsync.interval_us * 1e-6 / 4)
        return True

    # ------------------------------------------------------------------ threads
    def _start(self, fn: Any, name: str) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _flush_loop(self) -> None:
        period = self.fsync.interval_us * 1e-6
        while not self._stop.wait(period):
            if self._committed[0] != self._synced[0] or self._committed[1] != self._synced[1]:
                with self._mutex:
                    with contextlib.suppress(OSError):  # an EIO shows again on the next sync/close
                        self._sync_locked()

    def _prep_loop(self) -> None:
        """Helper thread: unmap rolled segments and keep a spare next segment ready."""
        while not self._stop.is_set():
            self._wake.wait(0.05)
            self._wake.clear()
            while self._retired and not self._stop.is_set():
                self._retired.pop(0).close()
            if self._spare is None and self.prep_error is None and not self._stop.is_set():
                try:
                    self._spare = Segment.create_spare(self.directory, self.segment_bytes)
                except OSError as e:  # ENOSPC...: rolls make their segment themselves (and raise)
                    self.prep_error = e

    # ------------------------------------------------------------------ close
    def close(self) -> None:
        """Stop the threads, sync (any policy), unmap, release the lock. Idempotent."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join()
        try:
            with self._mutex:
                self._sync_locked()
        finally:
            if self._seg is not None:
                self._seg.close()
                self._seg = None
            while self._retired:
                self._retired.pop().close()
            if self._spare is not None:
                self._spare.discard()
                self._spare = None
            os.close(self._lock_fd)

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()
