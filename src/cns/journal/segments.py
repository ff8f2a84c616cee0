"""Segment files of a journal directory: naming, the 64-byte header, mapping, schema and lock files, and the
tail repair a writer runs on open.

A journal directory holds ``<first index, 20 digits>.cnsj`` segment files (fixed size, preallocated with
``posix_fallocate`` so a full disk fails at roll time, never as a SIGBUS in the middle of a copy), the
``schema.json`` of its entry types and a ``.lock`` file the single writer holds (``flock``). A new segment is
built under a temporary name and renamed into place once its header is written, so a reader never sees a
half-made segment. Segments the tail repair gives up on are renamed ``*.cnsj.discarded`` (kept for forensics,
never read).

Segment header (little-endian)::

    0  8s  magic  b"CNSJRNL\\0"
    8  u16 version (1)          10 u16 header size (64)       12 u32 reserved (0)
    16 u64 first_index          24 i64 created_ns            32 u64 segment size (bytes, at creation)
    40 20 reserved (0)          60 u32 CRC32C of bytes 0..60

Frames (``cns.journal.frame_kernels``) follow from byte 64.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import secrets
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cns.journal import frame_kernels as K
from cns.journal.dtypes import ENTRY_DTYPE, TypeRegistry
from cns.journal.errors import JournalCorruptError, JournalSchemaError

__all__ = [
    "SEGMENT_HEADER",
    "SUFFIX",
    "Segment",
    "SegmentHeader",
    "TailRepair",
    "atomic_write",
    "list_segments",
    "load_schema",
    "remove_stale_temps",
    "repair_tail",
    "segment_name",
]

MAGIC = b"CNSJRNL\x00"
VERSION = 1
SEGMENT_HEADER = 64
SUFFIX = ".cnsj"
DISCARDED = ".discarded"
SCHEMA_FILE = "schema.json"
LOCK_FILE = ".lock"
_HDR = struct.Struct("<8sHHIQqQ20s")
assert _HDR.size == 60
PAGE = mmap.PAGESIZE
_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_madvise = _libc.madvise


def segment_name(first_index: int) -> str:
    """File name of the segment whose first entry has ``first_index``."""
    return f"{first_index:020d}{SUFFIX}"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """``(first_index, path)`` of every segment file in ``directory``, in index order (names that are not
    20 digits + ``.cnsj`` are ignored)."""
    out = []
    with contextlib.suppress(FileNotFoundError):
        for p in directory.iterdir():
            name = p.name
            if name.endswith(SUFFIX) and len(name) == 20 + len(SUFFIX) and name[:20].isdigit():
                out.append((int(name[:20]), p))
    out.sort()
    return out


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: temp file in the same directory, fsync, rename, directory
    fsync. A crash leaves the old file or the new one. ``OSError`` propagates (the temp file is removed)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def load_schema(directory: Path) -> TypeRegistry | None:
    """The directory's ``schema.json`` as a registry, None when absent. Raises :class:`JournalSchemaError`
    when it is unreadable."""
    p = directory / SCHEMA_FILE
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise JournalSchemaError(f"{p}: {e}") from None
    return TypeRegistry.from_json(text)


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """A decoded segment header: the index of its first entry, when it was made (ns since the epoch) and
    its size in bytes."""

    first_index: int
    created_ns: int
    size: int


def encode_header(h: SegmentHeader) -> bytes:
    body = _HDR.pack(MAGIC, VERSION, SEGMENT_HEADER, 0, h.first_index, h.created_ns, h.size, b"")
    crc = int(K.crc32c(np.frombuffer(body, np.uint8), 0, len(body), 0))
    return body + struct.pack("<I", crc)


def decode_header(raw: bytes, where: str) -> SegmentHeader:
    """Parse a segment header; :class:`JournalCorruptError` naming ``where`` when it is not one."""
    if len(raw) < SEGMENT_HEADER:
        raise JournalCorruptError(f"{where}: {len(raw)} bytes, shorter than the segment header")
    magic, ver, hsize, _r, first, created, size, _z = _HDR.unpack_from(raw, 0)
    (crc,) = struct.unpack_from("<I", raw, 60)
    if magic != MAGIC:
        raise JournalCorruptError(f"{where}: not a journal segment (magic {magic!r})")
    if int(K.crc32c(np.frombuffer(raw[:60], np.uint8), 0, 60, 0)) != crc:
        raise JournalCorruptError(f"{where}: segment header CRC mismatch")
    if ver != VERSION or hsize != SEGMENT_HEADER:
        raise JournalCorruptError(f"{where}: unsupported segment version {ver} (header {hsize} B)")
    return SegmentHeader(first, created, size)


class Segment:
    """One mapped segment file. ``buf`` is a ``uint8`` view of the whole mapping (read-only unless opened
    for writing); ``limit`` the bytes frames may occupy (the mapped length). Close it when done; views of
    ``buf`` handed out keep the mapping alive until they are dropped."""

    __slots__ = ("path", "header", "mm", "buf", "limit", "writable", "fd")

    def __init__(self, path: Path, header: SegmentHeader, mm: mmap.mmap, fd: int, writable: bool) -> None:
        self.path = path
        self.header = header
        self.mm = mm
        self.fd = fd
        self.writable = writable
        self.buf = np.frombuffer(mm, np.uint8)
        self.limit = len(mm)

    @property
    def first_index(self) -> int:
        """Journal index of the segment's first entry (from its header)."""
        return self.header.first_index

    @classmethod
    def create(cls, directory: Path, first_index: int, size: int) -> Segment:
        """Make segment ``first_index`` of ``size`` bytes (a multiple of the page size), preallocated, header
        written, under a temp name renamed into place. ``OSError`` (ENOSPC, ...) propagates."""
        seg = cls.create_spare(directory, size)
        try:
            seg.activate(first_index)
        except BaseException:
            seg.discard()
            raise
        return seg

    @classmethod
    def create_spare(cls, directory: Path, size: int) -> Segment:
        """A mapped, preallocated segment of ``size`` bytes under a hidden temp name (``.spare-*.cnsj.tmp``,
        never listed as a segment) that :meth:`activate` turns into a real one. Writers make the next segment
        ahead of time this way so that a roll costs a header write and a rename. ``OSError`` propagates."""
        tmp = directory / f".spare-{secrets.token_hex(6)}{SUFFIX}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as e:  # filesystems without fallocate (tmpfs has it; some FUSE do not)
                if e.errno not in (95, 22):  # EOPNOTSUPP, EINVAL
                    raise
                os.ftruncate(fd, size)
            mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return cls(tmp, SegmentHeader(0, 0, size), mm, fd, True)

    def activate(self, first_index: int) -> None:
        """Write the header of a spare (:meth:`create_spare`) for ``first_index`` and rename it into place
        (``<first_index>.cnsj``): from then on readers see it. ``OSError`` propagates (the spare stays a
        temp file)."""
        h = SegmentHeader(first_index, time.time_ns(), self.limit)
        os.pwrite(self.fd, encode_header(h), 0)
        path = self.path.with_name(segment_name(first_index))
        os.replace(self.path, path)
        self.path, self.header = path, h

    def discard(self) -> None:
        """Close a spare that was never activated and delete its temp file."""
        self.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    @classmethod
    def open(cls, path: Path, *, writable: bool = False) -> Segment:
        """Map an existing segment. Raises :class:`JournalCorruptError` for a bad header, ``OSError`` for an
        unreadable file. A file shorter than its header's size is mapped as it is (``limit`` = file size)."""
        fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        try:
            st = os.fstat(fd)
            raw = os.pread(fd, SEGMENT_HEADER, 0)
            h = decode_header(raw, str(path))
            length = st.st_size
            if writable and length < h.size:  # physically truncated: give it back its preallocated size
                os.posix_fallocate(fd, 0, h.size)
                length = h.size
            if writable:
                mm = mmap.mmap(fd, length, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            else:
                mm = mmap.mmap(fd, length, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, h, mm, fd, writable)

    def close(self) -> None:
        """Unmap and close. Safe to call twice. If callers still hold views of ``buf``, the mapping lives on
        until they drop them (the file descriptor is closed now)."""
        if self.fd < 0:
            return
        self.buf = np.zeros(0, np.uint8)
        try:
            self.mm.close()
        except BufferError:  # exported views still alive: the mapping is freed with the last of them
            pass
        os.close(self.fd)
        self.fd = -1


@dataclass(slots=True)
class TailRepair:
    """What a writer's open found at the end of the journal and did about it.

    ``segment``: the last segment (None for an empty journal); ``tail``: byte offset where the next frame
    goes; ``last_index``: index of the last valid entry (``first_index - 1`` when none); ``torn``: why the
    frame at ``tail`` was refused (``"length"``, ``"index"``, ``"crc"``) or ``""`` when the data simply
    ended; ``zeroed``: bytes past the tail that held garbage and were zeroed; ``discarded``: segment files
    renamed ``*.discarded`` (a last segment whose header was torn)."""

    segment: Path | None
    tail: int
    last_index: int
    torn: str = ""
    zeroed: int = 0
    discarded: list[Path] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        """True when the open changed anything: a torn frame cut, garbage zeroed, or a segment discarded."""
        return bool(self.torn or self.zeroed or self.discarded)


def scan_segment(
    seg: Segment,
    itemsizes: np.ndarray,
    *,
    verify: bool = True,
    start: int = SEGMENT_HEADER,
    first: int | None = None,
    chunk: int = 1 << 16,
) -> tuple[int, int, int, int]:
    """Scan every valid frame of ``seg`` from ``start`` (holding index ``first``, default the segment's
    first). Returns ``(entries, stop_pos, status, detail)`` with the ``SCAN_*``/``TORN_*`` codes of
    :func:`cns.journal.frame_kernels.scan_frames` (never ``SCAN_LIMIT``)."""
    out = np.empty(chunk, ENTRY_DTYPE)
    pos = start
    idx = seg.first_index if first is None else first
    total = 0
    while True:
        n, pos, status, detail = K.scan_frames(seg.buf, pos, seg.limit, itemsizes, idx, verify, chunk, out)
        total += n
        idx += n
        if status != K.SCAN_LIMIT:
            return total, int(pos), int(status), int(detail)


def repair_tail(
    directory: Path, registry: TypeRegistry, first_index: int
) -> tuple[Segment | None, TailRepair]:
    """Find the end of the journal in ``directory`` for a writer: map the last segment writable, scan it with
    CRC checks, truncate a torn tail (zero from the first bad frame to the last non-zero byte) and return the
    segment with the repair report. A last segment whose header is bad is renamed ``*.discarded`` and the one
    before it is used. ``(None, report)`` when there is no segment (``last_index = first_index - 1``).

    Only the last segment is scanned (earlier ones were sealed by a roll); readers check the rest."""
    discarded: list[Path] = []
    segs = list_segments(directory)
    while segs:
        first, path = segs[-1]
        try:
            seg = Segment.open(path, writable=True)
            if seg.first_index != first:
                seg.close()
                raise JournalCorruptError(f"{path}: header says first index {seg.first_index}")
        except JournalCorruptError:
            if path.stat().st_size > SEGMENT_HEADER and _has_data(path):
                raise  # data behind a bad header is damage, not a torn roll: refuse rather than lose it
            dst = path.with_name(path.name + DISCARDED)
            os.replace(path, dst)
            discarded.append(dst)
            segs.pop()
            continue
        populate(seg, SEGMENT_HEADER, _data_end(seg.fd, SEGMENT_HEADER, seg.limit))
        n, stop, status, detail = scan_segment(seg, registry.itemsizes)
        torn = K.TORN_NAMES[detail] if status == K.SCAN_TORN else ""
        zeroed = 0
        if status != K.SCAN_EOS or torn:
            end = int(K.last_nonzero(seg.buf, stop, _data_end(seg.fd, stop, seg.limit)))
            if end > stop:
                K.zero_range(seg.buf, stop, end)
                seg.mm.flush()
                zeroed = end - stop
        rep = TailRepair(seg.path, stop, seg.first_index + n - 1, torn, zeroed, discarded)
        if discarded:
            _fsync_dir(directory)
        return seg, rep
    return None, TailRepair(None, SEGMENT_HEADER, first_index - 1, "", 0, discarded)


def remove_stale_temps(directory: Path) -> int:
    """Delete the hidden temp files of segments a killed writer left behind (``.*.cnsj*.tmp``: spares and
    half-made segments, never renamed into place, so never data). Call only with the writer lock held.
    Returns how many were removed."""
    n = 0
    with contextlib.suppress(FileNotFoundError):
        for p in directory.iterdir():
            if p.name.startswith(".") and p.name.endswith(".tmp") and SUFFIX + "." in p.name:
                with contextlib.suppress(OSError):
                    p.unlink()
                    n += 1
    return n


def _data_end(fd: int, start: int, limit: int) -> int:
    """End of the last region at or after ``start`` that may hold non-zero bytes (``SEEK_DATA``/``SEEK_HOLE``:
    preallocated, never-written extents are holes, so the zero scan skips them); ``limit`` when the
    filesystem cannot tell."""
    end = start
    p = start
    try:
        while p < limit:
            try:
                d = os.lseek(fd, p, os.SEEK_DATA)
            except OSError as e:
                if e.errno == 6:  # ENXIO: no data past p
                    break
                raise
            if d >= limit:
                break
            p = os.lseek(fd, d, os.SEEK_HOLE)
            end = max(end, min(p, limit))
    except (OSError, AttributeError):
        return limit
    return end


def populate(seg: Segment, start: int, end: int, *, write: bool = False) -> bool:
    """Fault in the pages of ``seg`` from ``start`` to ``end`` in one call (``MADV_POPULATE_READ``/``_WRITE``,
    Linux >= 5.14, GIL released): far cheaper than one page fault per page. False when unsupported."""
    start -= start % PAGE
    end = min(end, seg.limit)
    if end <= start or seg.fd < 0:
        return True
    return bool(_madvise(seg.buf.ctypes.data + start, end - start, 23 if write else 22) == 0)


def _has_data(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(SEGMENT_HEADER)
        while chunk := f.read(1 << 20):
            if chunk.strip(b"\x00"):
                return True
    return False
