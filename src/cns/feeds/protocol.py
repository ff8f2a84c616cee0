"""The CNS feed protocol: frames of the binary TCP stream (the JSON messages of the WebSocket transport are in
:mod:`cns.feeds.protocol_json`).

Byte-by-byte layout in ``docs/feeds.md``. Both transports carry the same messages (HELLO, WELCOME, DATA,
HEARTBEAT, REPLAY_REQUEST, REPLAY_END, BYE) with a per-feed sequence number: every news record of a feed
has one, starting at 1 and increasing by 1; a DATA message carries ``count`` records numbered ``seq ..
seq + count - 1``.

Decoding never raises on peer input: :class:`FrameDecoder` (binary stream) and :func:`~cns.feeds.protocol_json.decode_ws_message`
(one WebSocket message) turn bytes into :class:`Frame` objects or :class:`~cns.news.batch.Reject` entries
whose reason code is one of the ``REASON_FRAME_*`` constants. A frame whose size field cannot be trusted
(bad magic, bad header CRC, unknown version, a length above the bound) makes the binary stream unusable:
the decoder reports it as ``fatal`` and the connection must be dropped (the handler reconnects and resumes
from its last sequence number). Every other bad frame is skipped and the stream goes on.

Records inside a DATA message are decoded by :func:`decode_binary_records` (the CNS binary parse kernel over
a NumPy view of the payload) and :func:`~cns.feeds.protocol_json.decode_json_records` (msgspec through :func:`cns.news.read_jsonl`);
records that fail their checks are quarantined with the news reason codes and keep their sequence numbers.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from cns.news.batch import Reject
from cns.news.binary import RECORD_SIZE, WIRE_DTYPE, BinaryLayout, parse_binary_chunk, rejects_from_status
from cns.signals.dictionary import Dictionary
from cns.signals.dtypes import NEWS_DTYPE

__all__ = [
    "BYE",
    "DATA",
    "DEFAULT_MAX_PAYLOAD",
    "FLAG_REPLAY",
    "FLAG_TRUNCATED",
    "HEADER_SIZE",
    "HEARTBEAT",
    "HELLO",
    "MAGIC",
    "REPLAY_END",
    "REPLAY_REQUEST",
    "TYPE_NAMES",
    "VERSION",
    "WELCOME",
    "DecodedRecords",
    "Frame",
    "FrameDecoder",
    "FrameHeader",
    "CodeMaps",
    "code_maps",
    "decode_binary_records",
    "decode_dictionaries",
    "encode_data_frame",
    "encode_dictionaries",
    "encode_frame",
    "parse_header",
]

MAGIC = b"CNSF"
VERSION = 1
HEADER_SIZE = 48
_HDR = struct.Struct("<4sBBHIIQqIIII")  # magic, version, type, flags, feed_id, count, seq, sent_ns,
#                                         payload_len, payload_crc32, reserved, header_crc32
assert _HDR.size == HEADER_SIZE
_HCRC_SPAN = HEADER_SIZE - 4  # the header CRC covers bytes 0..43

# message types (header byte 5; the "type" key of a JSON message)
HELLO = 1
WELCOME = 2
DATA = 3
HEARTBEAT = 4
REPLAY_REQUEST = 5
REPLAY_END = 6
BYE = 7
TYPE_NAMES: dict[int, str] = {
    HELLO: "hello",
    WELCOME: "welcome",
    DATA: "data",
    HEARTBEAT: "heartbeat",
    REPLAY_REQUEST: "replay",
    REPLAY_END: "replay_end",
    BYE: "bye",
}
_TYPE_CODES = {v: k for k, v in TYPE_NAMES.items()}

# flag bits (header bytes 6-7)
FLAG_REPLAY = 1 << 0  # DATA: records re-sent in answer to a replay request
FLAG_TRUNCATED = 1 << 1  # REPLAY_END: part of the requested range is older than the replay buffer

MAX_SEQ = 2**63 - 1
MAX_COUNT = 2**32 - 1
DEFAULT_MAX_PAYLOAD = 16 << 20  # bytes; a frame announcing more is refused before anything is allocated
DEFAULT_MAX_EVENTS = 1 << 16  # events per JSON data message
RAW_KEEP = 96  # bytes of a rejected frame kept (hex) in Reject.raw

# Reject reason codes of whole frames (the part of Reject.reason before the first ':')
REASON_FRAME_MAGIC = "frame_magic"  # fatal: the stream is not at a frame boundary
REASON_FRAME_HEADER_CRC = "frame_header_crc"  # fatal: the length field cannot be trusted
REASON_FRAME_VERSION = "frame_version"  # fatal: a protocol version this decoder does not speak
REASON_FRAME_TOO_LARGE = "frame_too_large"  # fatal: payload length above the bound (never allocated)
REASON_FRAME_TRUNCATED = "frame_truncated"  # the connection closed in the middle of a frame
REASON_FRAME_CRC = "frame_crc"  # payload CRC mismatch: the frame is skipped
REASON_FRAME_TYPE = "frame_type"  # unknown message type: skipped
REASON_FRAME_LAYOUT = "frame_layout"  # header fields contradict each other or the type's rules
REASON_FRAME_UNEXPECTED = (
    "frame_unexpected"  # a valid message that makes no sense here (wrong direction, wrong feed, ...)
)
REASON_FRAME_DICTIONARY = "frame_dictionary"  # a WELCOME whose dictionary section is corrupt
REASON_FRAME_JSON = "frame_json"  # a WebSocket message that is not JSON (or not UTF-8)
REASON_FRAME_SCHEMA = "frame_schema"  # JSON of the wrong shape (missing key, bad type, out of range)
FATAL_REASONS = frozenset(
    {REASON_FRAME_MAGIC, REASON_FRAME_HEADER_CRC, REASON_FRAME_VERSION, REASON_FRAME_TOO_LARGE}
)


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """The 48-byte binary frame header, unvalidated (see :func:`parse_header`)."""

    magic: bytes
    version: int
    type: int
    flags: int
    feed_id: int
    count: int
    seq: int
    sent_ns: int
    payload_len: int
    payload_crc: int
    reserved: int
    header_crc: int


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded, well-formed message of either transport.

    ``type`` is a message type constant; ``seq``/``count`` mean what ``docs/feeds.md`` says for that type;
    ``sent_ns`` is the sender's wall clock (ns since the Unix epoch, 0 = not given). A binary WELCOME keeps
    its dictionary section and a binary DATA its records and headline blob in ``payload``; a JSON DATA keeps
    its events (raw JSON objects, not decoded yet) in ``events``.
    """

    type: int
    feed_id: int
    seq: int
    count: int
    flags: int = 0
    sent_ns: int = 0
    payload: bytes = b""
    events: Sequence[Any] = field(default=())


def make_reject(seq: int, code: str, detail: str, raw: bytes | bytearray | memoryview | str) -> Reject:
    if isinstance(raw, str):
        text = raw[: RAW_KEEP * 2]
    else:
        text = bytes(raw[:RAW_KEEP]).hex()
    return Reject(seq, f"{code}: {detail}", text)


def parse_header(buf: bytes | bytearray | memoryview, offset: int = 0) -> FrameHeader:
    """The header fields at ``buf[offset:offset+48]`` as they are (no check); for tools and tests."""
    return FrameHeader(*_HDR.unpack_from(buf, offset))


def encode_frame(
    type: int,
    *,
    feed_id: int,
    seq: int = 0,
    count: int = 0,
    flags: int = 0,
    sent_ns: int = 0,
    payload: bytes | bytearray | memoryview | Sequence[bytes | memoryview] = b"",
) -> bytes:
    """One binary frame: header (with both CRCs) followed by ``payload`` (bytes, or parts joined in order)."""
    parts = [payload] if isinstance(payload, (bytes, bytearray, memoryview)) else list(payload)
    crc = 0
    plen = 0
    for p in parts:
        crc = zlib.crc32(p, crc)
        plen += memoryview(p).nbytes
    head = bytearray(_HDR.pack(MAGIC, VERSION, type, flags, feed_id, count, seq, sent_ns, plen, crc, 0, 0))
    struct.pack_into("<I", head, _HCRC_SPAN, zlib.crc32(memoryview(head)[:_HCRC_SPAN]))
    return b"".join([bytes(head), *parts])


def encode_data_frame(
    wire: np.ndarray, blob: np.ndarray | bytes, *, feed_id: int, seq: int, flags: int = 0, sent_ns: int = 0
) -> bytes:
    """A DATA frame of ``wire`` (``cns.news.binary.WIRE_DTYPE`` records whose ``headline_off`` addresses
    ``blob``) numbered ``seq ..``. The caller owns the offsets: they must lie inside ``blob``."""
    if wire.dtype != WIRE_DTYPE:
        raise TypeError(f"encode_data_frame: records must be WIRE_DTYPE, got {wire.dtype}")
    return encode_frame(
        DATA,
        feed_id=feed_id,
        seq=seq,
        count=len(wire),
        flags=flags,
        sent_ns=sent_ns,
        payload=[
            memoryview(np.ascontiguousarray(wire)).cast("B"),  # type: ignore[arg-type]
            memoryview(blob).cast("B"),
        ],
    )  # type: ignore[arg-type]


def encode_dictionaries(sources: Dictionary, tickers: Dictionary, data_sources: Dictionary) -> bytes:
    """The WELCOME payload: three dictionaries, each ``u32 count`` then ``count`` x (``u16 len``, UTF-8)."""
    out = bytearray()
    for d in (sources, tickers, data_sources):
        strings = d.strings()[1:]
        out += struct.pack("<I", len(strings))
        for s in strings:
            b = s.encode("utf-8")
            if len(b) > 0xFFFF:
                raise ValueError(f"dictionary string of {len(b)} bytes exceeds 65535: {s[:40]!r}")
            out += struct.pack("<H", len(b)) + b
    return bytes(out)


def decode_dictionaries(payload: bytes) -> tuple[list[str], list[str], list[str]] | str:
    """The three string lists of a WELCOME payload (index ``i`` = code ``i + 1``), or a problem description.

    Every count and length is checked against the bytes left before it is used; strings must be non-empty,
    UTF-8 and unique within their dictionary, and the payload must end with the third dictionary."""
    out: list[list[str]] = []
    p, n = 0, len(payload)
    for which in ("sources", "tickers", "data sources"):
        if n - p < 4:
            return f"{which}: count runs past the payload"
        (count,) = struct.unpack_from("<I", payload, p)
        p += 4
        if count > (n - p) // 3:  # each string takes at least 3 bytes
            return f"{which}: count {count} cannot fit in the {n - p} bytes left"
        strings: list[str] = []
        for _ in range(count):
            if n - p < 2:
                return f"{which}: string length runs past the payload"
            (ln,) = struct.unpack_from("<H", payload, p)
            p += 2
            if ln == 0 or ln > n - p:
                return f"{which}: string of {ln} bytes is empty or runs past the payload"
            try:
                strings.append(payload[p : p + ln].decode("utf-8"))
            except UnicodeDecodeError as exc:
                return f"{which}: string is not UTF-8 ({exc})"
            p += ln
        if len(set(strings)) != len(strings):
            return f"{which}: duplicate strings"
        out.append(strings)
    if p != n:
        return f"{n - p} trailing bytes after the dictionaries"
    return out[0], out[1], out[2]


def _check_layout(typ: int, flags: int, count: int, seq: int, plen: int) -> str | None:
    """Why a frame of a known type has inconsistent fields, else None (shared by both transports)."""
    if typ == DATA:
        if count == 0 or seq == 0:
            return "DATA needs count >= 1 and seq >= 1"
        if seq + count - 1 > MAX_SEQ:
            return "DATA sequence numbers past 2**63 - 1"
        if count * RECORD_SIZE > plen:
            return f"DATA of {count} records needs {count * RECORD_SIZE} bytes, payload has {plen}"
        return None
    if typ == WELCOME:
        return None
    if plen > 0:
        return f"{TYPE_NAMES[typ].upper()} carries no payload, got {plen} bytes"
    if typ == REPLAY_REQUEST and seq == 0:
        return "REPLAY_REQUEST needs seq >= 1"
    if typ in (HEARTBEAT, HELLO, BYE) and count != 0:
        return f"{TYPE_NAMES[typ].upper()} needs count 0"
    return None


class FrameDecoder:
    """Incremental decoder of a binary frame stream (one per connection; not thread-safe).

    :meth:`feed` takes the bytes as they arrive and returns the frames they complete, in order, mixed with
    the :class:`Reject` of each bad one. ``max_payload`` bounds the payload length a header may announce:
    a larger one is refused *before* any buffer is allocated. After a fatal reject (``fatal`` is set, its
    code is in ``FATAL_REASONS``) the stream cannot be re-synchronised: :meth:`feed` returns nothing more
    and the caller must drop the connection. :meth:`close` reports bytes left over when the stream ends.
    Never raises on any input.
    """

    __slots__ = ("_buf", "fatal", "max_payload")

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        if max_payload < 0:
            raise ValueError(f"max_payload must be >= 0, got {max_payload}")
        self._buf = bytearray()
        self.max_payload = max_payload
        self.fatal: Reject | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame | Reject]:
        """Append ``data`` and decode every complete frame; see the class docstring."""
        if self.fatal is not None:
            return []
        buf = self._buf
        buf += data
        out: list[Frame | Reject] = []
        p = 0
        n = len(buf)
        unpack = _HDR.unpack_from
        crc32 = zlib.crc32
        with memoryview(buf) as mv:
            while n - p >= HEADER_SIZE:
                magic, ver, typ, flags, feed, count, seq, sent, plen, pcrc, resv, hcrc = unpack(mv, p)
                if magic != MAGIC:
                    self.fatal = make_reject(
                        0,
                        REASON_FRAME_MAGIC,
                        f"bad magic {magic!r} (stream out of sync)",
                        mv[p : p + HEADER_SIZE],
                    )
                elif crc32(mv[p : p + _HCRC_SPAN]) != hcrc:
                    self.fatal = make_reject(
                        0, REASON_FRAME_HEADER_CRC, "header CRC32 mismatch", mv[p : p + HEADER_SIZE]
                    )
                elif ver != VERSION:
                    self.fatal = make_reject(
                        seq,
                        REASON_FRAME_VERSION,
                        f"version {ver}, this decoder speaks {VERSION}",
                        mv[p : p + HEADER_SIZE],
                    )
                elif plen > self.max_payload:
                    self.fatal = make_reject(
                        seq,
                        REASON_FRAME_TOO_LARGE,
                        f"payload of {plen} bytes exceeds the bound {self.max_payload}",
                        mv[p : p + HEADER_SIZE],
                    )
                if self.fatal is not None:
                    out.append(self.fatal)
                    p = n
                    break
                end = p + HEADER_SIZE + plen
                if end > n:
                    break  # wait for the rest of the payload
                body = mv[p + HEADER_SIZE : end]
                if crc32(body) != pcrc:
                    out.append(
                        make_reject(
                            seq,
                            REASON_FRAME_CRC,
                            f"payload CRC32 mismatch ({plen} bytes, type {typ})",
                            mv[p:end],
                        )
                    )
                elif typ not in TYPE_NAMES:
                    out.append(make_reject(seq, REASON_FRAME_TYPE, f"unknown message type {typ}", mv[p:end]))
                elif resv != 0:
                    out.append(
                        make_reject(seq, REASON_FRAME_LAYOUT, "reserved header field is not 0", mv[p:end])
                    )
                else:
                    why = _check_layout(typ, flags, count, seq, plen)
                    if why is not None:
                        out.append(make_reject(seq, REASON_FRAME_LAYOUT, why, mv[p:end]))
                    else:
                        out.append(Frame(typ, feed, seq, count, flags, sent, bytes(body) if plen else b""))
                del body  # release the view before the buffer is resized
                p = end
        del buf[:p]
        return out

    def close(self) -> Reject | None:
        """End of stream: a :class:`Reject` (``frame_truncated``) if a partial frame is left, else None."""
        if self.fatal is not None or not self._buf:
            self._buf.clear()
            return None
        left = bytes(self._buf)
        self._buf.clear()
        seq = parse_header(left).seq if len(left) >= HEADER_SIZE else 0
        return make_reject(
            seq, REASON_FRAME_TRUNCATED, f"stream ended inside a frame ({len(left)} bytes buffered)", left
        )


# ---------------------------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class DecodedRecords:
    """The good records of one DATA message: ``records`` (NEWS_DTYPE, codes in the receiver's dictionaries)
    whose headlines are in ``blob``, their sequence numbers ``seqs`` (uint64, increasing), and the quarantine
    (``Reject.line`` = the record's sequence number)."""

    records: np.ndarray
    blob: np.ndarray
    seqs: np.ndarray
    rejects: list[Reject]


class CodeMaps(NamedTuple):
    """How to read a sender's codes: its dictionaries (from its WELCOME; their sizes bound the codes a
    record may carry) and the maps sender code -> receiver code (uint32, index = sender code)."""

    sender: tuple[Dictionary, Dictionary, Dictionary]
    sources: np.ndarray
    tickers: np.ndarray
    data_sources: np.ndarray


def code_maps(
    strings: tuple[list[str], list[str], list[str]], targets: tuple[Dictionary, Dictionary, Dictionary]
) -> CodeMaps:
    """Maps from a WELCOME's dictionaries to ``targets`` (unseen strings are interned into the targets)."""
    maps = [
        np.array([0] + [t.intern(s) for s in ss], dtype=np.uint32)
        for ss, t in zip(strings, targets, strict=True)
    ]
    sender = (Dictionary(strings[0]), Dictionary(strings[1]), Dictionary(strings[2]))
    return CodeMaps(sender, maps[0], maps[1], maps[2])


def decode_binary_records(frame: Frame, maps: CodeMaps, *, receive_ns: int = 0) -> DecodedRecords:
    """Validate and convert the records of a binary DATA ``frame`` with the parse kernel (no per-record
    Python); codes are re-mapped through ``maps`` (NumPy take). ``receive_ns`` > 0 overwrites every good
    record's ``receive_ns`` (ns since the epoch). Never raises on frame content."""
    count = frame.count
    raw = np.frombuffer(frame.payload, np.uint8)
    if raw.ctypes.data % 8:  # the kernel loads fields in place: records must be 8-byte aligned
        raw = raw.copy()
    nrec = count * RECORD_SIZE
    src, tick, dsrc = maps.sender
    layout = BinaryLayout(
        n_records=count,
        records_offset=0,
        blob_offset=nrec,
        blob_len=len(raw) - nrec,
        sources=src,
        tickers=tick,
        data_sources=dsrc,
    )
    out = np.empty(count, NEWS_DTYPE)
    status = np.zeros(count, np.uint8)
    n = parse_binary_chunk(raw, layout, 0, count, out, status)
    rejects: list[Reject] = []
    if n < count:
        for rj in rejects_from_status(raw, layout, 0, status):
            seq = frame.seq + rj.line
            rejects.append(Reject(seq, f"{rj.reason} [seq {seq}]", rj.raw))
        good = np.flatnonzero(status == 0).astype(np.uint64)
    else:
        good = np.arange(count, dtype=np.uint64)
    records = out[:n]
    if n:
        records["source"] = maps.sources[records["source"]]
        records["data_source"] = maps.data_sources[records["data_source"]]
        records["tickers"] = maps.tickers[records["tickers"]]
        if receive_ns:
            records["receive_ns"] = receive_ns
    return DecodedRecords(records, raw[nrec:], good + np.uint64(frame.seq), rejects)
