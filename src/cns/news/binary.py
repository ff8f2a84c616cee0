"""The CNS binary news format (``.cnsb``): header, dictionaries, fixed 152-byte records, headline blob.

Layout byte by byte in ``docs/news-binary.md``. Reading validates every record in a Numba kernel
(:func:`cns.news.binary_kernels.parse_records`); corrupt records — including times outside the reader's
:class:`~cns.news.batch.TimeWindow` — are quarantined with their 0-based record index as ``Reject.line`` and a
reason naming every bad field. The header itself must be sound: a bad header raises :class:`NewsFormatError`.
Writing is atomic (temp file + fsync + rename): a failed write leaves the previous file.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cns.news.batch import (
    DEFAULT_TIME_WINDOW,
    MAX_FIELD_BYTES,
    REASON_BAD_CODE,
    REASON_BAD_FIELD,
    REASON_BAD_KIND,
    REASON_BAD_LENGTH,
    REASON_CONFIDENCE_RANGE,
    REASON_NOT_UTF8,
    REASON_TIME_RANGE,
    NewsBatch,
    Reject,
    TimeWindow,
)
from cns.news.binary_kernels import (
    MAX_HEADLINE_BYTES,
    ST_BAD_CODE,
    ST_BAD_FIELD,
    ST_BAD_KIND,
    ST_BAD_LENGTH,
    ST_BITS,
    ST_CONFIDENCE,
    ST_NOT_UTF8,
    ST_TIME,
    parse_records,
    records_to_wire,
)
from cns.news.errors import NewsBatchError, NewsFormatError
from cns.news.fileio import atomic_writer
from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import NEWS_DTYPE, NewsHeader, empty_news_header

MAGIC = b"CNSNEWS\x00"
VERSION = 1
HEADER_SIZE = 64
_HEADER = struct.Struct("<8sHHIQQQQQQ")  # magic, version, header_size, record_size, n, dict_off, dict_len,
#                                         records_off, blob_off, blob_len
assert _HEADER.size == HEADER_SIZE

WIRE_DTYPE = np.dtype(
    {
        "names": [
            "id",
            "publish_ns",
            "receive_ns",
            "event_ns",
            "source",
            "data_source",
            "tickers",
            "n_tickers",
            "kind",
            "evidence_type",
            "reserved0",
            "flags",
            "reserved1",
            "confidence",
            "eps_actual",
            "eps_expected",
            "move_pct",
            "rate",
            "sentiment",
            "headline_len",
            "headline_off",
            "evidence_hash",
        ],
        "formats": [
            "<u8",
            "<i8",
            "<i8",
            "<i8",
            "<u4",
            "<u4",
            ("<u4", (4,)),
            "u1",
            "u1",
            "u1",
            "u1",
            "<u2",
            "<u2",
            "<f8",
            "<f8",
            "<f8",
            "<f8",
            "<f8",
            "<f4",
            "<u4",
            "<u8",
            ("u1", (32,)),
        ],
        "offsets": [0, 8, 16, 24, 32, 36, 40, 56, 57, 58, 59, 60, 62, 64, 72, 80, 88, 96, 104, 108, 112, 120],
        "itemsize": 152,
    },
    align=True,
)  # every field sits at its natural alignment, so Numba may load it directly
RECORD_SIZE = WIRE_DTYPE.itemsize

assert MAX_HEADLINE_BYTES == MAX_FIELD_BYTES
_REASONS = {  # status bit -> (reason code, what the bit means when no field detail can be given)
    ST_BAD_KIND: (REASON_BAD_KIND, "kind is not one of the 8 KIND_* codes"),
    ST_BAD_LENGTH: (
        REASON_BAD_LENGTH,
        f"n_tickers > 4, headline bytes past the end of the blob or headline_len > {MAX_HEADLINE_BYTES}",
    ),
    ST_BAD_CODE: (
        REASON_BAD_CODE,
        "a source/ticker/data-source code outside its dictionary, or bad ticker padding",
    ),
    ST_BAD_FIELD: (
        REASON_BAD_FIELD,
        "bad evidence_type, unknown flag bits, non-zero reserved bytes, an infinite "
        "number or sentiment outside -1..1",
    ),
    ST_CONFIDENCE: (REASON_CONFIDENCE_RANGE, "confidence outside 0..1 (or NaN)"),
    ST_NOT_UTF8: (REASON_NOT_UTF8, "headline bytes are not valid UTF-8"),
    ST_TIME: (REASON_TIME_RANGE, "a time outside the accepted window"),
}
assert tuple(_REASONS) == ST_BITS


@dataclass(frozen=True, slots=True)
class BinaryLayout:
    """Where things are in one ``.cnsb`` file (byte offsets from the file start) and its dictionaries."""

    n_records: int
    records_offset: int
    blob_offset: int
    blob_len: int
    sources: Dictionary
    tickers: Dictionary
    data_sources: Dictionary
    time_window: TimeWindow = DEFAULT_TIME_WINDOW  # records with times outside are quarantined (time_range)


def _check_host() -> None:
    if sys.byteorder != "little":
        raise NewsFormatError("the CNS binary reader needs a little-endian host")


def _pad8(n: int) -> int:
    return (n + 7) & ~7


def _encode_dicts(dicts: tuple[Dictionary, ...]) -> bytes:
    out = bytearray()
    for d in dicts:
        strings = d.strings()[1:]
        out += struct.pack("<I", len(strings))
        for s in strings:
            b = s.encode("utf-8")
            if len(b) > 0xFFFF:
                raise NewsFormatError(f"dictionary string of {len(b)} bytes exceeds 65535: {s[:40]!r}...")
            out += struct.pack("<H", len(b)) + b
    return bytes(out)


def _decode_dicts(buf: bytes, where: str) -> tuple[Dictionary, Dictionary, Dictionary]:
    dicts = []
    p = 0
    try:
        for _ in range(3):
            (count,) = struct.unpack_from("<I", buf, p)
            p += 4
            if count > (len(buf) - p) // 3:  # every string takes >= 3 bytes (length + >= 1 byte)
                raise NewsFormatError(
                    f"{where}: dictionary claims {count} strings, more than its section holds"
                )
            strings = []
            for _ in range(count):
                (n,) = struct.unpack_from("<H", buf, p)
                p += 2
                if n == 0:
                    raise NewsFormatError(f"{where}: empty dictionary string")
                if p + n > len(buf):
                    raise NewsFormatError(f"{where}: dictionary string runs past the dictionary section")
                strings.append(buf[p : p + n].decode("utf-8"))
                p += n
            d = Dictionary(strings)
            if len(d) != count + 1:
                raise NewsFormatError(f"{where}: dictionary holds duplicate or empty strings")
            dicts.append(d)
    except (struct.error, UnicodeDecodeError) as exc:
        raise NewsFormatError(f"{where}: corrupt dictionary section ({exc})") from exc
    return dicts[0], dicts[1], dicts[2]


_WRITE_CHUNK = 1 << 16  # records converted per step (10 MB of wire records, reused)


def write_binary(batch: NewsBatch, path: str | Path, *, durable: bool = True) -> int:
    """Write ``batch`` in the CNS binary format; returns the file size in bytes. The blob is written as is.

    Records are converted to the wire layout in chunks of ``_WRITE_CHUNK`` through one reused buffer (no
    file-sized temporary) by :func:`~cns.news.binary_kernels.records_to_wire`; reserved bytes are zero. The file is
    replaced atomically (temp + fsync + rename; ``durable=False``: no fsync, for manifest-checked caches,
    see :func:`~cns.news.fileio.atomic_writer`):
    on any error (a dictionary string over 65535 bytes raises :class:`NewsFormatError` before anything is
    written; ``OSError`` from the disk) ``path`` keeps its previous content."""
    _check_host()
    r = batch.records
    n = len(r)
    w = np.zeros(min(n, _WRITE_CHUNK), WIRE_DTYPE)
    dict_bytes = _encode_dicts((batch.sources, batch.tickers, batch.data_sources))
    records_off = _pad8(HEADER_SIZE + len(dict_bytes))
    blob_off = records_off + n * RECORD_SIZE
    blob = np.ascontiguousarray(batch.headlines)
    header = _HEADER.pack(
        MAGIC,
        VERSION,
        HEADER_SIZE,
        RECORD_SIZE,
        n,
        HEADER_SIZE,
        len(dict_bytes),
        records_off,
        blob_off,
        len(blob),
    )
    with atomic_writer(path, durable=durable) as fh:
        fh.write(header)
        fh.write(dict_bytes)
        fh.write(b"\x00" * (records_off - HEADER_SIZE - len(dict_bytes)))
        for a in range(0, n, _WRITE_CHUNK):
            k = records_to_wire(r, a, w)
            fh.write(memoryview(w[:k]).cast("B"))
        fh.write(memoryview(blob))
    return blob_off + len(blob)


def read_layout(
    raw: np.ndarray, where: str = "<bytes>", *, time_window: TimeWindow | None = None
) -> BinaryLayout:
    """Validate the header of a ``.cnsb`` image ``raw`` (``uint8``) and decode its dictionaries.

    ``time_window`` (default :data:`~cns.news.batch.DEFAULT_TIME_WINDOW`) is kept in the layout: the parse
    of its records quarantines times outside it. Raises :class:`NewsFormatError` for a bad header."""
    _check_host()
    if len(raw) < HEADER_SIZE:
        raise NewsFormatError(f"{where}: {len(raw)} bytes, shorter than the {HEADER_SIZE}-byte header")
    magic, version, hsize, rsize, n, d_off, d_len, r_off, b_off, b_len = _HEADER.unpack(
        raw[:HEADER_SIZE].tobytes()
    )
    if magic != MAGIC:
        raise NewsFormatError(f"{where}: bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION or hsize != HEADER_SIZE or rsize != RECORD_SIZE:
        raise NewsFormatError(f"{where}: unsupported version {version} (header {hsize} B, record {rsize} B)")
    if not (
        d_off == HEADER_SIZE
        and r_off == _pad8(d_off + d_len)
        and b_off == r_off + n * RECORD_SIZE
        and b_off + b_len == len(raw)
    ):
        raise NewsFormatError(
            f"{where}: header offsets disagree with the file size {len(raw)} (n={n}, dict {d_off}+{d_len}, "
            f"records at {r_off}, blob {b_off}+{b_len})"
        )
    src, tick, ds = _decode_dicts(raw[d_off : d_off + d_len].tobytes(), where)
    return BinaryLayout(
        n, r_off, b_off, b_len, src, tick, ds, DEFAULT_TIME_WINDOW if time_window is None else time_window
    )


_NO_STAMPS = np.zeros(0, np.int64)
_NO_HEADER = empty_news_header(0)


def latency_stamp_params(*, refresh: bool = False) -> tuple[float, float]:
    """``(ns_per_cycle, overhead_cycles)`` the parse and sentiment kernels use to turn cycle-counter stamps
    into ns: :func:`cns.signals.clock.stamp_calibration`, the one calibration every stage shares."""
    from cns.signals.clock import stamp_calibration

    cal = stamp_calibration(refresh=refresh)
    return cal.ns_per_cycle, cal.overhead_cycles


def check_stamps(lat_ns: np.ndarray | None, count: int) -> tuple[np.ndarray, float, float]:
    """Validate an optional ``lat_ns`` argument; returns the kernel's ``(lat_ns, ns_per_cycle, overhead)``."""
    if lat_ns is None:
        return _NO_STAMPS, 0.0, 0.0
    if (
        not isinstance(lat_ns, np.ndarray)
        or lat_ns.dtype != np.int64
        or lat_ns.ndim != 1
        or len(lat_ns) < count
    ):
        raise ValueError(
            f"lat_ns must be a 1-D int64 array of length >= {count}, got "
            f"{getattr(lat_ns, 'dtype', type(lat_ns))} of shape {getattr(lat_ns, 'shape', '?')}"
        )
    if count == 0:
        return _NO_STAMPS, 0.0, 0.0
    ns_per_cycle, overhead = latency_stamp_params()
    return lat_ns, ns_per_cycle, overhead


def parse_binary_chunk(
    raw: np.ndarray,
    layout: BinaryLayout,
    start: int,
    count: int,
    out: np.ndarray,
    status: np.ndarray,
    *,
    lat_ns: np.ndarray | None = None,
    header: NewsHeader | None = None,
) -> int:
    """Parse wire records ``start .. start+count`` of the image ``raw`` into ``out`` (NEWS_DTYPE, len >= count).

    ``status[:count]`` (uint8) gets each record's parse status (0 = good, else the OR of the
    ``cns.news.binary_kernels.ST_*`` bits it fails, see :func:`rejects_from_status`); times are checked against
    ``layout.time_window``. Returns the number of good records written to ``out[:n]``; their
    ``headline_off`` addresses the file's blob ``raw[layout.blob_offset:]``. Sentiment is *not* recomputed.

    ``lat_ns`` (optional, int64, length >= count, indexed by *output* position: entry ``k`` belongs to the
    record written to ``out[k]``): the caller pre-fills -1 (not sampled) or 0 (sample). For a sampled entry
    the kernel reads the cycle counter right before validating that record and right after copying it and
    *adds* the elapsed ns (cycles x ``ns_per_cycle`` minus the measured read overhead, clamped at 0, see
    :func:`latency_stamp_params`) — so parse and :func:`cns.news.sentiment.score_records` can accumulate
    into one array. Entries past ``n`` and entries of value -1 are left untouched. ``None``: no clock reads.

    ``header`` (optional, a :class:`~cns.signals.dtypes.NewsHeader` of length >= count): entries ``[:n]`` get
    the header columns of ``out[:n]`` (:func:`cns.signals.dtypes.news_header`: a 2-byte tag and the source),
    written by the parse kernel with each record — what :meth:`cns.engine.NewsValidator.process` takes as
    ``header=`` so that elision reads 2 bytes per record.
    """
    if start < 0:
        raise NewsBatchError(f"parse_binary_chunk: start must be >= 0, got {start}")
    count = max(0, min(count, layout.n_records - start))
    # the kernel writes out[j] and status[i] unchecked: refuse buffers it could write past
    if not (isinstance(out, np.ndarray) and out.dtype == NEWS_DTYPE and out.ndim == 1 and len(out) >= count):
        raise NewsBatchError(f"parse_binary_chunk: out must be a 1-D NEWS_DTYPE array of length >= {count}")
    if not (
        isinstance(status, np.ndarray)
        and status.dtype == np.uint8
        and status.ndim == 1
        and len(status) >= count
    ):
        raise NewsBatchError(f"parse_binary_chunk: status must be a 1-D uint8 array of length >= {count}")
    if header is not None and not (isinstance(header, NewsHeader) and header.valid_for(count)):
        raise NewsBatchError(
            f"parse_binary_chunk: header must be a NewsHeader (uint16 tag, uint32 source) of length >= {count}"
        )
    hdr = _NO_HEADER if header is None or count == 0 else header  # the kernel writes entries [0, n) only
    lat, ns_per_cycle, overhead = check_stamps(lat_ns, count)
    a = layout.records_offset + start * RECORD_SIZE
    wire = raw[a : a + count * RECORD_SIZE].view(WIRE_DTYPE)
    blob = raw[layout.blob_offset : layout.blob_offset + layout.blob_len]
    win = layout.time_window
    return int(
        parse_records(
            wire,
            blob,
            len(layout.sources),
            len(layout.tickers),
            len(layout.data_sources),
            win.min_ns,
            win.max_ns,
            out,
            status,
            lat,
            ns_per_cycle,
            overhead,
            hdr.tag,
            hdr.source,
        )
    )


def _bit_details(bit: int, w: np.void, layout: BinaryLayout) -> list[str]:
    """What exactly is wrong with wire record ``w`` for status ``bit`` (reject path only, Python)."""
    nt = int(w["n_tickers"])
    if bit == ST_BAD_KIND:
        return [f"kind {int(w['kind'])} is not one of the 8 KIND_* codes"]
    if bit == ST_BAD_LENGTH:
        off, ln, out = int(w["headline_off"]), int(w["headline_len"]), []
        if nt > 4:
            out.append(f"n_tickers {nt} > 4")
        if off + ln > layout.blob_len:
            out.append(f"headline_off {off} + headline_len {ln} past the {layout.blob_len}-byte blob")
        if ln > MAX_HEADLINE_BYTES:
            out.append(f"headline_len {ln} > {MAX_HEADLINE_BYTES}")
        return out
    if bit == ST_BAD_CODE:
        out = []
        for name, d in (("source", layout.sources), ("data_source", layout.data_sources)):
            if int(w[name]) >= len(d):
                out.append(f"{name} {int(w[name])} outside the {name} dictionary ({len(d)} codes)")
        for k in range(4):
            t = int(w["tickers"][k])
            if t >= len(layout.tickers):
                out.append(f"tickers[{k}] {t} outside the ticker dictionary ({len(layout.tickers)} codes)")
            elif k < nt and t == 0:
                out.append(f"tickers[{k}] is 0 within n_tickers {nt}")
            elif k >= nt and t != 0:
                out.append(f"tickers[{k}] is {t} past n_tickers {nt} (must be 0)")
        return out
    if bit == ST_BAD_FIELD:
        out = []
        if int(w["evidence_type"]) >= 5:
            out.append(f"evidence_type {int(w['evidence_type'])} is not one of the 5 EVIDENCE_* codes")
        if int(w["flags"]) & ~0xF:
            out.append(f"flags 0x{int(w['flags']):04x} has unknown bits")
        for name in ("reserved0", "reserved1"):
            if int(w[name]):
                out.append(f"{name} is {int(w[name])} (must be 0)")
        for name in ("eps_actual", "eps_expected", "move_pct", "rate"):
            if np.isinf(w[name]):
                out.append(f"{name} is {float(w[name])} (finite or NaN = absent)")
        if not -1.0 <= float(w["sentiment"]) <= 1.0:
            out.append(f"sentiment {float(w['sentiment'])} outside -1..1")
        return out
    if bit == ST_CONFIDENCE:
        return [f"confidence {float(w['confidence'])} outside 0..1"]
    if bit == ST_TIME:
        win = layout.time_window
        return [
            f"{name} {int(w[name])} ns outside the accepted window {win.describe()}"
            for name in ("publish_ns", "receive_ns", "event_ns")
            if not (name == "event_ns" and int(w[name]) == 0) and not win.contains(int(w[name]))
        ]
    return []


def rejects_from_status(
    raw: np.ndarray, layout: BinaryLayout, start: int, status: np.ndarray
) -> list[Reject]:
    """Quarantine entries for the non-zero ``status`` of records ``start ..``: index, reason, record bytes (hex).

    The reason holds one ``"<code>: record <i>: <details>"`` per failed status bit, joined by ``"; "``, in bit
    order (the first decides :attr:`Reject.code`); the details name each bad field and its value."""
    out = []
    for k in np.flatnonzero(status):
        idx = start + int(k)
        a = layout.records_offset + idx * RECORD_SIZE
        rec = raw[a : a + RECORD_SIZE]
        w = rec.view(WIRE_DTYPE)[0]
        st = int(status[k])
        parts = []
        for bit in ST_BITS:
            if st & bit:
                code, text = _REASONS[bit]
                parts.append(f"{code}: record {idx}: {', '.join(_bit_details(bit, w, layout)) or text}")
        out.append(Reject(idx, "; ".join(parts), rec.tobytes().hex()))
    return out


def read_binary(
    path: str | Path,
    sources: Dictionary | None = None,
    tickers: Dictionary | None = None,
    *,
    data_sources: Dictionary | None = None,
    sentiment: bool = False,
    rejects_path: str | Path | None = None,
    time_window: TimeWindow | None = None,
) -> NewsBatch:
    """Read a ``.cnsb`` file into a :class:`NewsBatch` (corrupt records quarantined, never raised).

    By default the batch uses the file's own dictionaries; pass ``sources``/``tickers``/``data_sources`` to
    re-code into yours (unseen strings are interned). ``sentiment=True`` recomputes the headline polarity;
    otherwise the stored ``sentiment`` field is kept. ``time_window``: the times accepted (default 1970..2100).
    Raises :class:`NewsFormatError` for a bad header, ``OSError`` for an unreadable file.
    """
    raw = np.memmap(path, dtype=np.uint8, mode="r") if Path(path).stat().st_size else np.zeros(0, np.uint8)
    layout = read_layout(raw, str(path), time_window=time_window)
    out = np.empty(layout.n_records, NEWS_DTYPE)
    hdr_out = empty_news_header(layout.n_records)
    status = np.zeros(layout.n_records, np.uint8)
    n = parse_binary_chunk(raw, layout, 0, layout.n_records, out, status, header=hdr_out)
    records = out[:n] if n < len(out) else out
    header = hdr_out[:n] if n < len(hdr_out) else hdr_out
    rejects = rejects_from_status(raw, layout, 0, status) if n < layout.n_records else []
    blob = np.array(raw[layout.blob_offset : layout.blob_offset + layout.blob_len])
    del raw
    src, tick, ds = layout.sources, layout.tickers, layout.data_sources
    if sources is not None:
        records["source"] = _recode(src, sources)[records["source"]]
        header.source[:] = records["source"]
        src = sources
    if tickers is not None:
        records["tickers"] = _recode(tick, tickers)[records["tickers"]]
        tick = tickers
    if data_sources is not None:
        records["data_source"] = _recode(ds, data_sources)[records["data_source"]]
        ds = data_sources
    if sentiment and n:
        from cns.news.sentiment import score_records

        score_records(records, blob)
    batch = NewsBatch(records, blob, src, tick, ds, rejects, header)
    if rejects_path is not None:
        from cns.news.jsonl import write_rejects

        write_rejects(rejects, rejects_path)
    return batch


def _recode(file_dict: Dictionary, target: Dictionary) -> np.ndarray:
    """``map[file_code] = target_code`` (code 0 stays 0)."""
    return np.array([target.intern(s) for s in file_dict.strings()], dtype=np.uint32)


def is_binary(path: str | Path) -> bool:
    """True when the file starts with the CNS binary magic."""
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC
