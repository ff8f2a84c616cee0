# mypy: ignore-errors
# (Numba kernels and LLVM intrinsics: typed by Numba at compile time)
"""Numba kernels of the journal: CRC32C, writing one frame into a segment, scanning/verifying frames,
seeking to an index and gathering payloads. Byte layout in ``docs/journal.md``.

A frame (one journal entry) starts at an 8-byte aligned position of a segment::

    0  u32 frame_len   bytes of header + payload (unpadded); 0 = nothing written yet, 0xFFFFFFFF = end of
                       segment (the writer rolled to the next segment). Written LAST: it commits the frame.
    4  u32 crc         CRC32C (Castagnoli) of bytes 8 .. frame_len
    8  u64 index       the entry's journal index (1, 2, 3, ... without gaps across segments)
    16 i64 ts_ns       ns since the Unix epoch (the caller's clock; not required to be monotonic)
    24 u16 type        entry type code (the registry maps it to a NumPy dtype)
    26 u16 flags       0 (reserved)
    28 u32 count       records in the payload
    32 payload         count * itemsize bytes of records, then the blob (frame_len - 32 - count*itemsize bytes)
    ..  zero padding to the next multiple of 8

CRC32C uses the SSE4.2 ``crc32`` instruction (an LLVM intrinsic) when the CPU has it, else a slicing-by-8
table; both give the same value (``crc32c(b"123456789") == 0xE3069283``). The choice is made once at
import from the CPU flags; Numba's cache is keyed by CPU features, so a cached kernel never crosses over.
"""

from __future__ import annotations

import platform

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

HEADER = 32
ALIGN = 8
EOS = 0xFFFFFFFF  # end-of-segment marker in frame_len
MAX_FRAME = 0xFFFFFFF0  # largest frame_len (u32, below the marker)

# scan status codes
SCAN_END = 0  # frame_len == 0 at the stop position: no more data (yet)
SCAN_EOS = 1  # end-of-segment marker, or the segment is exactly full
SCAN_TORN = 2  # a frame that fails its checks (length out of bounds, wrong index, CRC mismatch)
SCAN_LIMIT = 3  # max_entries reached
SCAN_NAMES = ("end", "end_of_segment", "torn", "limit")

# why a frame is torn (scan detail)
TORN_NONE = 0
TORN_LENGTH = 1
TORN_INDEX = 2
TORN_CRC = 3
TORN_NAMES = ("none", "length", "index", "crc")


def _cpu_has_sse42() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return "sse4_2" in line.split()
    except OSError:
        pass
    return False


HW_CRC = _cpu_has_sse42()


# ------------------------------------------------------------------------------------------ intrinsics
@intrinsic
def _ld64(typingctx, arr, idx):
    """Unaligned little-endian u64 load of ``arr[idx:idx+8]`` (uint8 array, no bounds check)."""
    sig = types.uint64(arr, idx)

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        ary = context.make_array(aty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aty, ary, [args[1]], wraparound=False)
        p64 = builder.bitcast(ptr, ir.IntType(64).as_pointer())
        return builder.load(p64, align=1)

    return sig, codegen


@intrinsic
def _st64(typingctx, arr, idx, val):
    """Unaligned store of the u64 ``val`` at ``arr[idx:idx+8]`` (uint8 array, no bounds check)."""
    sig = types.void(arr, idx, val)

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        ary = context.make_array(aty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aty, ary, [args[1]], wraparound=False)
        p64 = builder.bitcast(ptr, ir.IntType(64).as_pointer())
        v = context.cast(builder, args[2], signature.args[2], types.uint64)
        builder.store(v, p64, align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _hw_crc_u64(typingctx, crc, word):
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, i64]), "llvm.x86.sse42.crc32.64.64"
        )
        return builder.call(fn, [args[0], args[1]])

    return sig, codegen


@intrinsic
def _hw_crc_u8(typingctx, crc, byte):
    sig = types.uint32(types.uint32, types.uint8)

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i32, [i32, ir.IntType(8)]), "llvm.x86.sse42.crc32.32.8"
        )
        return builder.call(fn, [args[0], args[1]])

    return sig, codegen


# ------------------------------------------------------------------------------------------ table CRC32C
def _tables() -> np.ndarray:
    poly = np.uint32(0x82F63B78)
    t = np.zeros((8, 256), np.uint32)
    for i in range(256):
        c = np.uint32(i)
        for _ in range(8):
            c = np.uint32((c >> np.uint32(1)) ^ poly) if c & np.uint32(1) else np.uint32(c >> np.uint32(1))
        t[0, i] = c
    for k in range(1, 8):
        for i in range(256):
            t[k, i] = (t[k - 1, i] >> np.uint32(8)) ^ t[0, t[k - 1, i] & np.uint32(0xFF)]
    return t


_T = _tables()


@njit(cache=True, inline="always")
def _sw_crc_u64(crc, word):
    x = (crc & np.uint64(0xFFFFFFFF)) ^ word
    t = _T
    return np.uint64(
        t[7, x & 0xFF]
        ^ t[6, (x >> np.uint64(8)) & 0xFF]
        ^ t[5, (x >> np.uint64(16)) & 0xFF]
        ^ t[4, (x >> np.uint64(24)) & 0xFF]
        ^ t[3, (x >> np.uint64(32)) & 0xFF]
        ^ t[2, (x >> np.uint64(40)) & 0xFF]
        ^ t[1, (x >> np.uint64(48)) & 0xFF]
        ^ t[0, (x >> np.uint64(56)) & 0xFF]
    )


@njit(cache=True, inline="always")
def _sw_crc_u8(crc, byte):
    return np.uint32((crc >> np.uint32(8)) ^ _T[0, (crc ^ np.uint32(byte)) & np.uint32(0xFF)])


@njit(cache=True)
def crc32c_sw(buf, start, end, crc):
    """CRC32C of ``buf[start:end]`` (uint8) continuing from ``crc`` (0 to start), table path."""
    c = np.uint64(~np.uint32(crc) & np.uint32(0xFFFFFFFF))
    i = start
    while i + 8 <= end:
        c = _sw_crc_u64(c, _ld64(buf, i))
        i += 8
    c32 = np.uint32(c)
    while i < end:
        c32 = _sw_crc_u8(c32, buf[i])
        i += 1
    return np.uint32(~c32)


if HW_CRC:
    _crc_u64 = _hw_crc_u64
    _crc_u8 = _hw_crc_u8
else:  # pragma: no cover - non-x86 hosts
    _crc_u64 = _sw_crc_u64
    _crc_u8 = _sw_crc_u8

# Three interleaved CRC chains: the crc32 instruction has a latency of 3 cycles and a throughput of 1, so one
# chain runs at a third of its speed. Blocks of 3 lanes of _LANE bytes are checksummed lane by lane in
# parallel and joined with the CRC's linearity: state(s, A+B) = shift_len(B)(s) ^ state(0, B), where the
# shift (multiplication by x^(8 len) mod P) is 4 lookups in byte-sliced tables made at import.
_LANE = 256


def _shift_tables(nbytes: int) -> np.ndarray:
    """``t[k, b]``: the raw CRC state ``b << 8k`` advanced over ``nbytes`` zero bytes (sliced by byte)."""
    c = np.left_shift(np.uint32(1), np.arange(32, dtype=np.uint32))
    t0 = _T[0]
    for _ in range(nbytes):
        c = (c >> np.uint32(8)) ^ t0[c & np.uint32(0xFF)]
    b = np.arange(256, dtype=np.uint32)
    out = np.zeros((4, 256), np.uint32)
    for k in range(4):
        for j in range(8):
            out[k] ^= np.where((b >> np.uint32(j)) & np.uint32(1) != 0, c[8 * k + j], np.uint32(0))
    return out


_SH1 = _shift_tables(_LANE)
_SH2 = _shift_tables(2 * _LANE)


@njit(cache=True, inline="always")
def _shift(t, c):
    return np.uint64(
        t[0, c & 0xFF]
        ^ t[1, (c >> np.uint64(8)) & 0xFF]
        ^ t[2, (c >> np.uint64(16)) & 0xFF]
        ^ t[3, c >> np.uint64(24)]
    )


@njit(cache=True, inline="always")
def _crc_range(buf, start, end, c):
    """Continue the raw (un-inverted) CRC state ``c`` (held in a u64) over ``buf[start:end]``."""
    i = start
    if HW_CRC:
        while i + 3 * _LANE <= end:
            c1 = np.uint64(0)
            c2 = np.uint64(0)
            for k in range(i, i + _LANE, 8):
                c = _crc_u64(c, _ld64(buf, k))
                c1 = _crc_u64(c1, _ld64(buf, k + _LANE))
                c2 = _crc_u64(c2, _ld64(buf, k + 2 * _LANE))
            c = _shift(_SH2, c) ^ _shift(_SH1, c1) ^ c2
            i += 3 * _LANE
    while i + 8 <= end:
        c = _crc_u64(c, _ld64(buf, i))
        i += 8
    c32 = np.uint32(c)
    while i < end:
        c32 = _crc_u8(c32, buf[i])
        i += 1
    return np.uint64(c32)


if HW_CRC:

    @njit(cache=True)
    def crc32c_hw(buf, start, end, crc):
        """CRC32C of ``buf[start:end]`` (uint8) continuing from ``crc``, SSE4.2 path (3 chains)."""
        c = np.uint64(~np.uint32(crc) & np.uint32(0xFFFFFFFF))
        return np.uint32(~np.uint32(_crc_range(buf, start, end, c)))
else:  # pragma: no cover - non-x86 hosts
    crc32c_hw = None

crc32c = crc32c_hw if HW_CRC else crc32c_sw


@njit(cache=True, inline="always")
def _copy_crc(dst, p, src, c):
    """Copy ``src`` (uint8) to ``dst[p:]`` and continue the raw CRC state over the copied bytes."""
    n = src.shape[0]
    i = 0
    while i + 8 <= n:
        w = _ld64(src, i)
        _st64(dst, p + i, w)
        c = _crc_u64(c, w)
        i += 8
    c32 = np.uint32(c)
    while i < n:
        b = src[i]
        dst[p + i] = b
        c32 = _crc_u8(c32, b)
        i += 1
    return np.uint64(c32)


@njit(cache=True, inline="always")
def _write_frame(dst, pos, src, blob, index, ts_ns, etype, count):
    """Write one frame at ``dst[pos:]`` (the caller checked it fits): header fields, the records ``src`` and
    the ``blob`` (both uint8), zero padding, then the CRC32C and, last, ``frame_len``. One pass: the payload
    is copied and checksummed together. Returns the padded length (the next frame's offset from ``pos``)."""
    frame_len = HEADER + src.shape[0] + blob.shape[0]
    _st64(dst, pos + 8, np.uint64(index))
    _st64(dst, pos + 16, np.uint64(np.int64(ts_ns)))
    _st64(dst, pos + 24, np.uint64(etype) | (np.uint64(count) << np.uint64(32)))
    c = np.uint64(0xFFFFFFFF)
    c = _crc_range(dst, pos + 8, pos + HEADER, c)
    c = _copy_crc(dst, pos + HEADER, src, c)
    c = _copy_crc(dst, pos + HEADER + src.shape[0], blob, c)
    padded = (frame_len + ALIGN - 1) & ~(ALIGN - 1)
    for k in range(pos + frame_len, pos + padded):
        dst[k] = 0
    crc = np.uint32(~np.uint32(c))
    dst[pos + 4] = crc & 0xFF
    dst[pos + 5] = (crc >> 8) & 0xFF
    dst[pos + 6] = (crc >> 16) & 0xFF
    dst[pos + 7] = (crc >> 24) & 0xFF
    # commit: frame_len last (a reader that sees it non-zero sees the whole frame on x86-64 / TSO)
    fl = np.uint32(frame_len)
    dst[pos + 1] = (fl >> 8) & 0xFF
    dst[pos + 2] = (fl >> 16) & 0xFF
    dst[pos + 3] = (fl >> 24) & 0xFF
    dst[pos] = fl & 0xFF
    return padded


@njit(cache=True)
def write_frame(dst, pos, src, blob, index, ts_ns, etype, count):
    """Write one frame at ``dst[pos:]`` (see :func:`_write_frame`); keeps the GIL (small frames: cheapest)."""
    return _write_frame(dst, pos, src, blob, index, ts_ns, etype, count)


@njit(cache=True, nogil=True)
def frame_header(hdr, src, blob, index, ts_ns, etype, count):
    """Fill ``hdr[0:32]`` with the header of the frame holding ``src`` then ``blob`` (uint8) — ``frame_len``
    left 0, CRC32C over header bytes 8..32 and the payload, read in place (no copy) — for a writer that
    writes the frame with ``pwritev(header, src, blob)`` and commits it with a second write of
    ``frame_len``. GIL released. Returns ``frame_len``."""
    frame_len = HEADER + src.shape[0] + blob.shape[0]
    _st64(hdr, 8, np.uint64(index))
    _st64(hdr, 16, np.uint64(np.int64(ts_ns)))
    _st64(hdr, 24, np.uint64(etype) | (np.uint64(count) << np.uint64(32)))
    c = np.uint64(0xFFFFFFFF)
    c = _crc_range(hdr, 8, HEADER, c)
    c = _crc_range(src, 0, src.shape[0], c)
    c = _crc_range(blob, 0, blob.shape[0], c)
    crc = np.uint32(~np.uint32(c))
    _st64(hdr, 0, np.uint64(crc) << np.uint64(32))
    return frame_len


@njit(cache=True, inline="always")
def _u32(buf, p):
    return (
        np.uint32(buf[p])
        | (np.uint32(buf[p + 1]) << 8)
        | (np.uint32(buf[p + 2]) << 16)
        | (np.uint32(buf[p + 3]) << 24)
    )


@njit(cache=True)
def write_eos(dst, pos):
    """Mark the end of a segment at ``pos`` (the writer rolled). No-op when fewer than 8 bytes are left."""
    if pos + 8 <= dst.shape[0]:
        for k in range(4, 8):
            dst[pos + k] = 0
        dst[pos] = 0xFF
        dst[pos + 1] = 0xFF
        dst[pos + 2] = 0xFF
        dst[pos + 3] = 0xFF


@njit(cache=True)
def scan_frames(buf, pos, limit, itemsizes, expected_index, verify, max_entries, out):
    """:func:`scan_frames_capped` without a byte cap (see there for the contract)."""
    return _scan(buf, pos, limit, itemsizes, expected_index, verify, max_entries, out, np.int64(-1))


@njit(cache=True)
def scan_frames_capped(buf, pos, limit, itemsizes, expected_index, verify, max_entries, out, max_bytes):
    """:func:`scan_frames` that also stops (``SCAN_LIMIT``) once the frames returned span ``max_bytes`` or
    more (at least one frame is returned): bulk replay keeps its chunks, and the buffers they are gathered
    into, a bounded size whatever the entry size."""
    return _scan(buf, pos, limit, itemsizes, expected_index, verify, max_entries, out, max_bytes)


@njit(cache=True, inline="always")
def _scan(buf, pos, limit, itemsizes, expected_index, verify, max_entries, out, max_bytes):
    """Walk frames of a segment from ``pos`` while they are valid, filling ``out`` (ENTRY_DTYPE rows: index,
    ts_ns, type, count, offset, frame_len; ``segment`` and ``rec_start`` are left to the caller).

    ``limit``: bytes of the segment that may hold frames (the mapped length). ``itemsizes[type]`` (int64,
    -1 = unregistered) checks ``count * itemsize <= payload``. ``expected_index``: the index the first frame
    must carry (each next one +1). ``verify``: check CRC32C. Stops at ``max_entries`` (or ``len(out)``).

    Returns ``(n, stop_pos, status, detail)``: ``n`` rows written, ``stop_pos`` the position of the first
    frame not returned, ``status`` a ``SCAN_*`` code and, for ``SCAN_TORN``, ``detail`` a ``TORN_*`` code.
    """
    n = 0
    cap = min(max_entries, out.shape[0])
    ntypes = itemsizes.shape[0]
    start = pos
    while True:
        if n >= cap or (max_bytes >= 0 and n > 0 and pos - start >= max_bytes):
            return n, pos, SCAN_LIMIT, TORN_NONE
        if pos + 8 > limit:
            return n, pos, SCAN_EOS, TORN_NONE
        fl = _u32(buf, pos)
        if fl == 0:
            return n, pos, SCAN_END, TORN_NONE
        if fl == EOS:
            return n, pos, SCAN_EOS, TORN_NONE
        if fl < HEADER or pos + fl > limit:
            return n, pos, SCAN_TORN, TORN_LENGTH
        idx = _ld64(buf, pos + 8)
        if idx != np.uint64(expected_index) + np.uint64(n):
            return n, pos, SCAN_TORN, TORN_INDEX
        tw = _ld64(buf, pos + 24)
        et = np.int64(tw & np.uint64(0xFFFF))
        cnt = np.int64(tw >> np.uint64(32))
        flags = (tw >> np.uint64(16)) & np.uint64(0xFFFF)
        if flags != 0 or et >= ntypes or itemsizes[et] < 0 or cnt * itemsizes[et] > fl - HEADER:
            return n, pos, SCAN_TORN, TORN_LENGTH
        if verify:
            c = _crc_range(buf, pos + 8, pos + fl, np.uint64(0xFFFFFFFF))
            if np.uint32(~np.uint32(c)) != _u32(buf, pos + 4):
                return n, pos, SCAN_TORN, TORN_CRC
        r = out[n]
        r.index = idx
        r.ts_ns = np.int64(_ld64(buf, pos + 16))
        r.type = et
        r.count = cnt
        r.offset = pos
        r.frame_len = fl
        n += 1
        pos += (fl + ALIGN - 1) & ~(ALIGN - 1)


@njit(cache=True)
def seek_frame(buf, pos, limit, first_index, target):
    """Hop frames (length and index checks, no CRC) from ``pos`` (holding ``first_index``) to the frame of
    index ``target``. Returns ``(pos, reached)``: ``reached == target`` when found (or when the valid data
    ends exactly there: the next frame to be written); else the index at which the data ended."""
    idx = first_index
    while idx < target:
        if pos + 8 > limit:
            return pos, idx
        fl = _u32(buf, pos)
        if fl == 0 or fl == EOS or fl < HEADER or pos + fl > limit or _ld64(buf, pos + 8) != np.uint64(idx):
            return pos, idx
        pos += (fl + ALIGN - 1) & ~(ALIGN - 1)
        idx += 1
    return pos, idx


@njit(cache=True)
def gather_payloads(buf, offsets, nbytes, dst):
    """Copy ``nbytes[k]`` record bytes of the frame at ``offsets[k]`` (payload start = offset + 32) for every
    ``k`` into ``dst`` back to back (uint8). Returns the bytes written."""
    p = 0
    for k in range(offsets.shape[0]):
        src = offsets[k] + HEADER
        n = nbytes[k]
        i = 0
        while i + 8 <= n:
            _st64(dst, p + i, _ld64(buf, src + i))
            i += 8
        while i < n:
            dst[p + i] = buf[src + i]
            i += 1
        p += n
    return p


@njit(cache=True)
def last_nonzero(buf, start, end):
    """Position just past the last non-zero byte of ``buf[start:end]`` (``start`` when all zero)."""
    e = end
    while e - 8 >= start:
        if _ld64(buf, e - 8) != 0:
            break
        e -= 8
    while e > start and buf[e - 1] == 0:
        e -= 1
    return e


@njit(cache=True)
def zero_range(buf, start, end):
    """``buf[start:end] = 0`` (8 bytes at a time)."""
    i = start
    while i + 8 <= end:
        _st64(buf, i, np.uint64(0))
        i += 8
    while i < end:
        buf[i] = 0
        i += 1
