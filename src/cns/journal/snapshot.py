"""Event sourcing helpers: :class:`Snapshot` files of state arrays, :class:`Snapshotter` (every N entries) and
:func:`recover` = the latest valid snapshot + replay of the journal entries after it.

State is a mapping ``name -> NumPy array`` (any dtype without Python objects, any shape). A snapshot records
the state *after* applying every entry up to and including ``index`` (``index`` 0 = the initial state).
Recovery is correct when ``apply`` is deterministic: ``recover`` then returns exactly the state a full replay
from index 1 produces (``tests/journal/test_snapshot.py`` checks it on the worked example in
:mod:`cns.journal.example`).

Snapshot file ``snap-<index, 20 digits>.cnss`` (little-endian)::

    0  8s  magic b"CNSSNAP\\0"     8 u16 version (1)   10 u16 reserved   12 u32 manifest bytes (M)
    16 u64 index                   24 i64 ts_ns        32 u64 data bytes (D)
    40 u32 CRC32C of bytes 64 .. 64+M+D               44 20 reserved
    64 manifest: JSON [{"name", "dtype" (cns.journal.dtypes.dtype_to_json), "shape", "offset", "nbytes"}],
       zero-padded to a multiple of 64
    .. data: each array's bytes at its offset (from the data start, 64-byte aligned)

Written atomically (temp file, fsync, rename, directory fsync): a crash leaves the previous snapshots and
no partial file under a final name. A file that fails its checks is skipped by :meth:`SnapshotStore.latest`
(the one before it is used).
"""

from __future__ import annotations

import contextlib
import json
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cns.journal import frame_kernels as K
from cns.journal.dtypes import TypeRegistry, dtype_from_json, dtype_to_json
from cns.journal.errors import JournalError, SnapshotError
from cns.journal.reader import JournalReader, ReplayChunk
from cns.journal.segments import atomic_write

__all__ = ["Recovered", "Snapshot", "SnapshotStore", "Snapshotter", "recover"]

MAGIC = b"CNSSNAP\x00"
_HDR = struct.Struct("<8sHHIQqQI20s")
assert _HDR.size == 64
State = dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """State arrays (``arrays``) reflecting every journal entry up to ``index``; ``ts_ns`` when taken;
    ``path`` the file (None before it is written)."""

    index: int
    arrays: Mapping[str, np.ndarray]
    ts_ns: int = 0
    path: Path | None = None

    def to_bytes(self) -> bytes:
        """The snapshot file image: header (magic, index, ``ts_ns``, CRC32C of the body), a JSON manifest, then
        each array 64-byte aligned.
        """
        manifest = []
        off = 0
        parts = []
        for name, a in self.arrays.items():
            a = np.ascontiguousarray(a)
            manifest.append(
                {
                    "name": name,
                    "dtype": dtype_to_json(a.dtype),
                    "shape": list(a.shape),
                    "offset": off,
                    "nbytes": int(a.nbytes),
                }
            )
            parts.append((off, a))
            off += -(-a.nbytes // 64) * 64
        m = json.dumps(manifest, sort_keys=True).encode()
        m += b"\x00" * (-len(m) % 64)
        body = bytearray(len(m) + off)
        body[: len(m)] = m
        for o, a in parts:
            body[len(m) + o : len(m) + o + a.nbytes] = (
                a.view(np.uint8).reshape(-1).tobytes() if a.nbytes else b""
            )
        crc = int(K.crc32c(np.frombuffer(body, np.uint8), 0, len(body), 0))
        head = _HDR.pack(MAGIC, 1, 0, len(m), self.index, self.ts_ns, off, crc, b"")
        return head + bytes(body)

    @classmethod
    def from_bytes(cls, raw: bytes, where: str = "<bytes>") -> Snapshot:
        """Decode and verify; :class:`SnapshotError` naming ``where`` on any mismatch."""
        if len(raw) < 64:
            raise SnapshotError(f"{where}: shorter than the snapshot header")
        magic, ver, _r, mlen, index, ts, dlen, crc, _z = _HDR.unpack_from(raw, 0)
        if magic != MAGIC or ver != 1:
            raise SnapshotError(f"{where}: not a version-1 snapshot")
        if len(raw) != 64 + mlen + dlen:
            raise SnapshotError(f"{where}: {len(raw)} bytes, header says {64 + mlen + dlen}")
        body = np.frombuffer(raw, np.uint8, offset=64)
        if int(K.crc32c(body, 0, len(body), 0)) != crc:
            raise SnapshotError(f"{where}: CRC32C mismatch")
        try:
            manifest = json.loads(bytes(body[:mlen]).rstrip(b"\x00"))
            arrays: dict[str, np.ndarray] = {}
            for m in manifest:
                dt = dtype_from_json(m["dtype"])
                start = mlen + int(m["offset"])
                a = body[start : start + int(m["nbytes"])].copy().view(dt).reshape(tuple(m["shape"]))
                arrays[str(m["name"])] = a
        except (ValueError, KeyError, TypeError, JournalError) as e:
            raise SnapshotError(f"{where}: bad manifest ({e})") from None
        return cls(int(index), arrays, int(ts))


class SnapshotStore:
    """The snapshots of one state in ``directory``: :meth:`write` (atomic), :meth:`latest` (newest valid),
    keeping the ``retain`` newest (older ones are deleted after a successful write)."""

    def __init__(self, directory: str | Path, *, retain: int = 3) -> None:
        if retain < 1:
            raise SnapshotError(f"retain must be >= 1, got {retain}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.retain = retain

    def paths(self) -> list[tuple[int, Path]]:
        """``(index, path)`` of every snapshot file, oldest first."""
        out = []
        for p in self.directory.glob("snap-*.cnss"):
            stem = p.name[5:-5]
            if len(stem) == 20 and stem.isdigit():
                out.append((int(stem), p))
        return sorted(out)

    def write(self, arrays: Mapping[str, np.ndarray], index: int, *, ts_ns: int | None = None) -> Snapshot:
        """Write the state reflecting entries up to ``index`` atomically; returns the written snapshot."""
        if index < 0:
            raise SnapshotError(f"snapshot index must be >= 0, got {index}")
        snap = Snapshot(
            index,
            {k: np.array(v, copy=True) for k, v in arrays.items()},
            time.time_ns() if ts_ns is None else ts_ns,
        )
        path = self.directory / f"snap-{index:020d}.cnss"
        try:
            atomic_write(path, snap.to_bytes())
        except OSError as e:
            raise SnapshotError(f"{path}: {e}") from None
        for _i, old in self.paths()[: -self.retain]:
            with contextlib.suppress(OSError):
                old.unlink()
        return Snapshot(snap.index, snap.arrays, snap.ts_ns, path)

    def latest(self, max_index: int | None = None) -> Snapshot | None:
        """The newest snapshot that reads back intact and has ``index <= max_index`` (when given); corrupt
        files are skipped (listed in :attr:`skipped`). None when there is none."""
        self.skipped: list[tuple[Path, str]] = []
        for index, path in reversed(self.paths()):
            if max_index is not None and index > max_index:
                self.skipped.append((path, f"index {index} is past the journal's end {max_index}"))
                continue
            try:
                s = Snapshot.from_bytes(path.read_bytes(), str(path))
            except (OSError, SnapshotError) as e:
                self.skipped.append((path, str(e)))
                continue
            if s.index != index:
                self.skipped.append((path, f"file name says {index}, header {s.index}"))
                continue
            return Snapshot(s.index, s.arrays, s.ts_ns, path)
        return None


class Snapshotter:
    """Writes a snapshot every ``every`` entries: call :meth:`maybe` after applying entries up to ``index``.
    Snapshot only state whose entries are durable (``JournalWriter.durable_index``): recovery skips a
    snapshot that is ahead of the journal."""

    def __init__(self, store: SnapshotStore, every: int) -> None:
        if every < 1:
            raise SnapshotError(f"every must be >= 1, got {every}")
        self.store = store
        self.every = every
        last = store.paths()
        self.last_index = last[-1][0] if last else 0

    def maybe(self, arrays: Mapping[str, np.ndarray], index: int) -> Snapshot | None:
        """Write a snapshot when ``index`` is ``every`` or more past the last one; else None."""
        if index - self.last_index < self.every:
            return None
        s = self.store.write(arrays, index)
        self.last_index = index
        return s


@dataclass(frozen=True, slots=True)
class Recovered:
    """What :func:`recover` rebuilt: ``state``, the journal ``index`` it reflects, the ``snapshot`` it started
    from (None = the initial state), how many entries were replayed after it and the wall time (s)."""

    state: State
    index: int
    snapshot: Snapshot | None
    replayed: int
    seconds: float


def recover(
    journal_dir: str | Path,
    snapshots: SnapshotStore | None,
    initial: Callable[[], State],
    apply: Callable[[State, ReplayChunk], Any],
    *,
    registry: TypeRegistry | None = None,
    verify: bool = True,
    chunk_entries: int = 65536,
) -> Recovered:
    """Rebuild state: start from the newest valid snapshot whose index the journal still holds (else
    ``initial()``), then ``apply(state, chunk)`` for every chunk of entries after it to the journal's end.

    A snapshot newer than the journal's last entry (the journal lost a tail the snapshot had seen) is
    skipped: the state must be reproducible from the journal. Raises :class:`SnapshotError` when the journal
    no longer holds the entries right after the chosen starting point (its first segment starts later)."""
    t0 = time.perf_counter()
    reader = JournalReader(journal_dir, registry, verify=verify)
    try:
        end = reader.scan_end()
        snap = snapshots.latest(max_index=end) if snapshots is not None else None
        if snap is not None:
            state: State = {k: np.array(v, copy=True) for k, v in snap.arrays.items()}
            start = snap.index + 1
        else:
            state = initial()
            start = 1
        if start < reader.first_index and end >= reader.first_index:
            raise SnapshotError(
                f"journal starts at {reader.first_index}; no snapshot covers entries before it"
            )
        if start <= end:
            reader.seek(start)
            last = reader.replay(lambda c: apply(state, c), to_index=end, chunk_entries=chunk_entries)
        else:
            last = start - 1
        return Recovered(state, last, snap, last - start + 1, time.perf_counter() - t0)
    finally:
        reader.close()
