"""Reading a journal: replay from any index, in bulk (:class:`ReplayChunk`) or entry by entry, and tail-follow.

A reader maps segments read-only and never takes the writer's lock: any number of readers, in any process,
may read while one writer appends. It returns only frames whose length, index sequence and (with
``verify=True``, the default) CRC32C check out; it stops before the first frame that does not — a torn
tail is never replayed. Whether it then waits (``follow``) or ends is the caller's choice.

Failure rules: :class:`JournalRangeError` for a seek outside ``first_index .. end + 1``;
:class:`JournalCorruptError` when damage sits *before* the end (a segment that stops without an end marker
while a later segment exists, a gap in the indexes between segments, a bad header of a non-last segment).

Seeking bisects the segment list by first index (from the file names), then hops frames inside the segment
with a Numba kernel (length and index checks, a few ns per entry).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cns.journal import frame_kernels as K
from cns.journal.dtypes import ENTRY_DTYPE, TypeRegistry
from cns.journal.errors import JournalClosedError, JournalCorruptError, JournalRangeError, JournalSchemaError
from cns.journal.segments import SEGMENT_HEADER, Segment, list_segments, load_schema, populate

__all__ = ["Entry", "JournalReader", "ReplayChunk"]

_AHEAD = 16 << 20  # bytes of a segment faulted in ahead of the read position (MADV_POPULATE_READ)
_CHUNK_BYTES = 4 << 20  # a chunk stops after this many bytes of frames (scratch buffers stay cache-sized)


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry: ``index``, ``ts_ns`` (ns since the epoch), ``type`` code, ``records`` (a read-only view
    into the mapped segment, the type's dtype) and ``blob`` (read-only ``uint8`` view, empty for most
    types). The views keep the mapping alive while held."""

    index: int
    ts_ns: int
    type: int
    records: np.ndarray
    blob: np.ndarray


class ReplayChunk:
    """Consecutive entries of one segment, for bulk replay without per-entry Python.

    ``entries``: ENTRY_DTYPE rows in journal order. :meth:`records` gathers every record of one type into a
    contiguous array (one kernel call); after it, ``entries['rec_start']`` of that type's rows is where each
    entry's records start in it — so a Numba ``apply`` can walk ``entries`` in order and dispatch by type.
    """

    __slots__ = ("entries", "registry", "_buf", "_cache", "_scratch")

    def __init__(
        self,
        entries: np.ndarray,
        registry: TypeRegistry,
        buf: np.ndarray,
        scratch: dict[int, np.ndarray] | None = None,
    ) -> None:
        self.entries = entries
        self.registry = registry
        self._buf = buf
        self._cache: dict[tuple[int, bool], np.ndarray] = {}
        self._scratch = scratch if scratch is not None else {}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def first_index(self) -> int:
        """Journal index of the chunk's first entry."""
        return int(self.entries["index"][0])

    @property
    def last_index(self) -> int:
        """Journal index of the chunk's last entry."""
        return int(self.entries["index"][-1])

    def records(self, code: int, *, scratch: bool = False) -> np.ndarray:
        """All records of entry type ``code`` in this chunk, in journal order, contiguous.

        Default: a new array the caller owns. ``scratch=True``: a view of a buffer the reader reuses for every
        chunk (no fresh pages to fault in: the fast path of replay), valid only until the reader's next
        :meth:`JournalReader.read` — copy what you keep."""
        got = self._cache.get((code, scratch))
        if got is not None:
            return got
        dt = self.registry[code].dtype
        e = self.entries
        mask = e["type"] == code
        counts = e["count"][mask].astype(np.int64)
        total = int(counts.sum())
        if scratch:
            buf = self._scratch.get(code)
            if buf is None or len(buf) < total:
                buf = self._scratch[code] = np.empty(max(total, 1024, 0 if buf is None else 2 * len(buf)), dt)
            out = buf[:total]
        else:
            out = np.empty(total, dt)
        if total:
            starts = np.cumsum(counts) - counts
            e["rec_start"][mask] = starts
            K.gather_payloads(
                self._buf, e["offset"][mask].astype(np.int64), counts * dt.itemsize, out.view(np.uint8)
            )
        self._cache[(code, scratch)] = out
        return out

    def entry(self, k: int) -> Entry:
        """Row ``k`` as an :class:`Entry` (views into the segment)."""
        r = self.entries[k]
        return _entry(
            self._buf,
            self.registry,
            int(r["offset"]),
            int(r["frame_len"]),
            int(r["index"]),
            int(r["ts_ns"]),
            int(r["type"]),
            int(r["count"]),
        )


def _entry(
    buf: np.ndarray, reg: TypeRegistry, off: int, flen: int, idx: int, ts: int, et: int, cnt: int
) -> Entry:
    dt = reg[et].dtype
    a = off + K.HEADER
    b = a + cnt * dt.itemsize
    recs = buf[a:b].view(dt)
    blob = buf[b : off + flen]
    return Entry(idx, ts, et, recs, blob)


class JournalReader:
    """Reader of a journal directory (see the module doc). ``registry``: checked against ``schema.json``
    (default: the schema alone); ``verify``: check each frame's CRC32C; ``start``: the first index to read
    (default: the journal's first). Not thread-safe; cheap to make one per consumer."""

    def __init__(
        self,
        directory: str | Path,
        registry: TypeRegistry | None = None,
        *,
        verify: bool = True,
        start: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        on_disk = load_schema(self.directory)
        if on_disk is None and registry is None:
            raise JournalSchemaError(f"{self.directory}: no schema.json (not a journal directory?)")
        reg = registry if on_disk is None else (on_disk if registry is None else on_disk.merged(registry))
        assert reg is not None
        self.registry: TypeRegistry = reg
        self.verify = verify
        self._segs: list[tuple[int, Path]] = []
        self._k = -1  # index in _segs of the mapped segment
        self._seg: Segment | None = None
        self._pos = SEGMENT_HEADER
        self._next = 0
        self._populated = 0
        self._scratch: dict[int, np.ndarray] = {}
        self._rows = np.empty(0, ENTRY_DTYPE)  # entry rows reused by read(scratch=True)
        self._closed = False
        self._from_start = start is None  # an empty journal's first segment may start past 1
        self.refresh()
        self.seek(self.first_index if start is None else start)

    # ------------------------------------------------------------------ segments
    def refresh(self) -> None:
        """Re-list the segment files (a writer may have rolled). A directory listing that runs while the writer
        renames a new segment into place may miss it; :meth:`read` re-lists before it calls anything a gap."""
        self._segs = list_segments(self.directory)
        if self._seg is not None:
            firsts = [f for f, _ in self._segs]
            try:
                self._k = firsts.index(self._seg.first_index)
            except ValueError:  # the mapped segment is missing from this listing: keep the old position
                self._segs.insert(
                    self._k if 0 <= self._k <= len(self._segs) else len(self._segs),
                    (self._seg.first_index, self._seg.path),
                )
                self._segs.sort()
                self._k = [f for f, _ in self._segs].index(self._seg.first_index)

    @property
    def first_index(self) -> int:
        """Index of the first entry the directory holds (1 for an empty journal)."""
        return self._segs[0][0] if self._segs else 1

    @property
    def next_index(self) -> int:
        """The index the next read returns."""
        return self._next

    @property
    def segments(self) -> list[tuple[int, Path]]:
        """``(first index, path)`` of each segment file, oldest first, as of open (a copy)."""
        return list(self._segs)

    def _map(self, k: int) -> Segment:
        if self._seg is not None and self._k == k:
            return self._seg
        if self._seg is not None:
            self._seg.close()
            self._seg = None
        first, path = self._segs[k]
        seg = Segment.open(path)
        if seg.first_index != first:
            seg.close()
            raise JournalCorruptError(f"{path}: header says first index {seg.first_index}")
        self._seg, self._k = seg, k
        self._populated = 0
        return seg

    def seek(self, index: int) -> None:
        """Make ``index`` the next entry read. Raises :class:`JournalRangeError` when ``index`` is before the
        first entry held or beyond the end + 1 (the next index to be written is allowed: a follower waits)."""
        if self._closed:
            raise JournalClosedError("seek on a closed JournalReader")
        if not self._segs:
            self.refresh()
        if not self._segs:
            if index != 1:
                raise JournalRangeError(f"{self.directory}: empty journal, cannot seek to {index}")
            self._k, self._next, self._pos = -1, 1, SEGMENT_HEADER
            return
        for attempt in range(2):
            firsts = [f for f, _ in self._segs]
            if index < firsts[0]:
                raise JournalRangeError(f"index {index} is before the first entry held ({firsts[0]})")
            k = int(np.searchsorted(np.asarray(firsts, np.int64), index, side="right")) - 1
            seg = self._map(k)
            pos, reached = K.seek_frame(seg.buf, SEGMENT_HEADER, seg.limit, seg.first_index, index)
            if reached == index:
                break
            if attempt:  # the data ends first (only the next index to be written is allowed)
                raise JournalRangeError(f"index {index} is past the end of the journal ({reached - 1})")
            self.refresh()  # a listing may miss a segment renamed into place meanwhile
        self._pos, self._next = int(pos), index

    # ------------------------------------------------------------------ reading
    def read(self, max_entries: int = 65536, *, scratch: bool = False) -> ReplayChunk | None:
        """The next up to ``max_entries`` valid entries (all from one segment, about 4 MiB of frames at most
        unless a single entry is larger), or None when there is none yet. Moves to the next segment at an end marker. Raises :class:`JournalCorruptError` for damage
        before the end (see the module doc).

        ``scratch=True``: the chunk's ``entries`` rows live in a buffer the reader reuses (no fresh pages to
        fault in per chunk), valid only until the next ``read`` — what :meth:`replay` does."""
        if self._closed:
            raise JournalClosedError("read on a closed JournalReader")
        for _ in range(3):
            if self._k < 0:
                self.refresh()
                if not self._segs:
                    return None
                if self._from_start and self._next < self._segs[0][0]:
                    self._next = self._segs[0][0]
                self.seek(self._next)
                if self._k < 0:
                    return None
            seg = self._map(self._k)
            if self._pos + _AHEAD // 2 > self._populated:  # fault pages in ahead, in bulk
                lo = max(self._pos, self._populated)
                populate(seg, lo, lo + _AHEAD)
                self._populated = lo + _AHEAD
            want = max(1, max_entries)
            if not scratch:
                out = np.empty(want, ENTRY_DTYPE)
            else:
                if len(self._rows) < want:
                    self._rows = np.empty(want, ENTRY_DTYPE)
                out = self._rows[:want]
            n, stop, status, detail = K.scan_frames_capped(
                seg.buf,
                self._pos,
                seg.limit,
                self.registry.itemsizes,
                self._next,
                self.verify,
                max_entries,
                out,
                _CHUNK_BYTES,
            )
            if n:
                out = out[:n]
                out["segment"] = self._k
                self._pos, self._next = int(stop), self._next + n
                return ReplayChunk(out, self.registry, seg.buf, self._scratch)
            if status == K.SCAN_EOS:
                if not self._advance():
                    return None
                continue
            if self._k + 1 >= len(self._segs):
                self.refresh()
            if self._k + 1 < len(self._segs):
                # a later segment exists: the writer sealed this one; re-read once (its end marker is written
                # before the next segment is renamed into place), then the data is damaged
                n2, _s, st2, _d2 = K.scan_frames(
                    seg.buf, self._pos, seg.limit, self.registry.itemsizes, self._next, self.verify, 1, out
                )
                if n2 == 0 and st2 != K.SCAN_EOS:
                    why = K.TORN_NAMES[detail] if status == K.SCAN_TORN else "no end marker"
                    raise JournalCorruptError(
                        f"{seg.path}: entry {self._next} at byte {self._pos} is unreadable "
                        f"({why}) but a later segment exists"
                    )
                continue
            return None
        return None

    def _advance(self) -> bool:
        """Move to the segment after an end marker; False when it does not exist yet."""
        for attempt in range(5):
            if self._k + 1 < len(self._segs) and self._segs[self._k + 1][0] == self._next:
                break
            if attempt == 4:
                if self._k + 1 >= len(self._segs):
                    return False
                first, path = self._segs[self._k + 1]
                raise JournalCorruptError(f"{path}: starts at index {first}, expected {self._next} (gap)")
            time.sleep(0.001 * attempt)
            self.refresh()
        self._map(self._k + 1)
        self._pos = SEGMENT_HEADER
        return True

    def __iter__(self) -> Iterator[Entry]:
        """Every entry from the current position to the end as it is now (per-entry Python: tools, tests)."""
        while (chunk := self.read(4096)) is not None:
            for k in range(len(chunk)):
                yield chunk.entry(k)

    def follow(
        self, *, poll_s: float = 0.001, timeout: float | None = None, stop: Callable[[], bool] | None = None
    ) -> Iterator[Entry]:
        """Yield entries as they are appended (tail-follow), polling every ``poll_s`` s when caught up. Ends
        after ``timeout`` s without a new entry or when ``stop()`` returns True."""
        idle_since = time.monotonic()
        while stop is None or not stop():
            chunk = self.read(4096)
            if chunk is None:
                if timeout is not None and time.monotonic() - idle_since > timeout:
                    return
                time.sleep(poll_s)
                continue
            idle_since = time.monotonic()
            for k in range(len(chunk)):
                yield chunk.entry(k)

    def replay(
        self, apply: Callable[[ReplayChunk], Any], *, to_index: int | None = None, chunk_entries: int = 65536
    ) -> int:
        """Call ``apply(chunk)`` for every chunk from the current position up to ``to_index`` (inclusive; the
        end as it is now by default). Returns the last index applied (``next_index - 1``). A chunk is valid
        during its ``apply`` call only (its rows are a reused buffer: copy ``chunk.entries`` to keep them)."""
        while to_index is None or self._next <= to_index:
            want = chunk_entries if to_index is None else min(chunk_entries, to_index - self._next + 1)
            chunk = self.read(want, scratch=True)
            if chunk is None:
                break
            apply(chunk)
        return self._next - 1

    def scan_end(self) -> int:
        """Index of the last valid entry, reading to the end without moving this reader's position."""
        r = JournalReader(self.directory, self.registry, verify=self.verify, start=self._next)
        try:
            while r.read(1 << 16, scratch=True) is not None:
                pass
            return r.next_index - 1
        finally:
            r.close()

    def close(self) -> None:
        """Unmap the current segment. Entries and chunks already returned stay valid while held."""
        self._closed = True
        if self._seg is not None:
            self._seg.close()
            self._seg = None

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
