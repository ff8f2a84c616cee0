"""Hypothesis fuzz of the decoders: no exception escapes, every input is accepted or quarantined."""

from __future__ import annotations

import struct
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cns.feeds.protocol import (
    DATA,
    HEADER_SIZE,
    Frame,
    FrameDecoder,
    code_maps,
    decode_binary_records,
    decode_dictionaries,
    encode_frame,
)
from cns.feeds.protocol_json import decode_json_records, decode_ws_message
from cns.news import Reject
from cns.news.batch import new_dictionaries
from cns.news.binary import RECORD_SIZE

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_MAPS = code_maps(
    (["reuters.com", "bls.gov"], ["AAPL", "MSFT", "SPY"], ["bls.gov"]), new_dictionaries(None, None, None)
)


def _check_stream(chunks: list[bytes]) -> None:
    dec = FrameDecoder(max_payload=1 << 16)
    seen = 0
    for c in chunks:
        for item in dec.feed(c):
            seen += 1
            assert isinstance(item, (Frame, Reject))
            if isinstance(item, Frame) and item.type == DATA:
                d = decode_binary_records(item, _MAPS)
                assert len(d.records) + len(d.rejects) == item.count  # each record accepted or quarantined
                assert len(d.seqs) == len(d.records)
            elif isinstance(item, Frame) and item.payload:
                decode_dictionaries(item.payload)
    rj = dec.close()
    assert rj is None or rj.code == "frame_truncated"
    assert dec.buffered == 0


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


@_SETTINGS
@given(st.binary(max_size=2048), st.lists(st.integers(0, 4096), max_size=6))
def test_random_bytes_never_escape(data, cuts):
    _check_stream(_split(data, cuts))


def _frame(typ: int, seq: int, count: int, payload: bytes, flags: int) -> bytes:
    return encode_frame(typ, feed_id=1, seq=seq, count=count, flags=flags, payload=payload)


frames = st.builds(
    _frame,
    st.integers(0, 9),
    st.integers(0, 2**64 - 1),
    st.integers(0, 4),
    st.binary(max_size=4 * RECORD_SIZE + 64),
    st.integers(0, 0xFFFF),
)


@_SETTINGS
@given(
    st.lists(frames, min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    st.lists(st.integers(0, 4096), max_size=5),
)
def test_well_framed_and_mutated_streams(fs, flips, cuts):
    """Valid frames with arbitrary contents (records of random bytes), then byte flips: every record of a
    DATA frame is accepted or quarantined by the parse kernel; a flipped byte is caught by a CRC or a check."""
    data = bytearray(b"".join(fs))
    for pos, val in flips:
        data[pos % len(data)] = val
    _check_stream(_split(bytes(data), cuts))


@_SETTINGS
@given(
    st.lists(st.binary(min_size=RECORD_SIZE, max_size=RECORD_SIZE), min_size=1, max_size=6),
    st.binary(max_size=300),
)
def test_random_records_in_a_valid_frame(records, blob):
    raw = b"".join(records) + blob
    f = Frame(DATA, 1, 5, len(records), payload=raw)
    d = decode_binary_records(f, _MAPS)
    assert len(d.records) + len(d.rejects) == len(records)
    assert all(5 <= r.line < 5 + len(records) for r in d.rejects)
    if len(d.records):
        end = d.records["headline_off"] + d.records["headline_len"]
        assert int(end.max()) <= len(blob)
        assert not np.isnan(d.records["confidence"]).any()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@_SETTINGS
@given(st.one_of(st.binary(max_size=512), st.text(max_size=200)))
def test_random_ws_text_never_escapes(raw):
    r = decode_ws_message(raw)
    assert isinstance(r, (Frame, Reject))
    if isinstance(r, Frame) and r.type == DATA:
        d = decode_json_records(r, new_dictionaries(None, None, None))
        assert len(d.records) + len(d.rejects) == r.count


@_SETTINGS
@given(
    st.integers(1, 2**63 - 1),
    st.lists(json_values, min_size=1, max_size=5),
    st.dictionaries(st.sampled_from(["replay", "sent_ns", "count", "extra"]), json_values, max_size=3),
)
def test_data_messages_with_arbitrary_events(seq, events, extra):
    import msgspec

    msg = {"type": "data", "feed": 1, "seq": seq, "events": events, **extra}
    try:
        raw = msgspec.json.encode(msg)
    except (OverflowError, TypeError):
        return
    r = decode_ws_message(raw)
    assert isinstance(r, (Frame, Reject))
    if isinstance(r, Frame):
        d = decode_json_records(r, new_dictionaries(None, None, None))
        assert len(d.records) + len(d.rejects) == len(events)
        assert all(seq <= rj.line < seq + len(events) for rj in d.rejects)


def test_header_crc_guards_the_length_field():
    f = bytearray(encode_frame(DATA, feed_id=1, seq=1, count=1, payload=bytes(RECORD_SIZE)))
    struct.pack_into("<I", f, 32, 10**9)  # length changed, header CRC left: refused as header_crc
    out = FrameDecoder().feed(bytes(f))
    assert [o.code for o in out] == ["frame_header_crc"]
    assert zlib.crc32(bytes(f[:44])) != struct.unpack_from("<I", f, 44)[0]
    assert HEADER_SIZE == 48
