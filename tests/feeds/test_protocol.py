"""The frame codecs: binary frames byte by byte (docs/feeds.md), JSON messages, record decoding, quarantine."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from cns.feeds import FeedSource
from cns.feeds.protocol import (
    BYE,
    DATA,
    FLAG_REPLAY,
    FLAG_TRUNCATED,
    HEADER_SIZE,
    HEARTBEAT,
    HELLO,
    MAGIC,
    REPLAY_END,
    REPLAY_REQUEST,
    WELCOME,
    Frame,
    FrameDecoder,
    code_maps,
    decode_binary_records,
    decode_dictionaries,
    encode_dictionaries,
    encode_frame,
    parse_header,
)
from cns.feeds.protocol_json import decode_json_records, decode_ws_message, encode_ws_message
from cns.news import Reject
from cns.news.batch import new_dictionaries
from cns.news.binary import RECORD_SIZE

from .conftest import assert_same_content


def _targets():
    return new_dictionaries(None, None, None)


def _maps(news):
    strings = (news.sources.strings()[1:], news.tickers.strings()[1:], news.data_sources.strings()[1:])
    return code_maps(strings, _targets())


def test_header_layout_is_the_documented_one():
    f = encode_frame(HEARTBEAT, feed_id=7, seq=0x0102030405060708, sent_ns=99)
    assert len(f) == HEADER_SIZE == 48
    assert f[0:4] == MAGIC == b"CNSF" and f[4] == 1 and f[5] == HEARTBEAT
    assert struct.unpack_from("<H", f, 6)[0] == 0
    assert struct.unpack_from("<I", f, 8)[0] == 7  # feed_id
    assert struct.unpack_from("<I", f, 12)[0] == 0  # count
    assert struct.unpack_from("<Q", f, 16)[0] == 0x0102030405060708  # seq
    assert struct.unpack_from("<q", f, 24)[0] == 99  # sent_ns
    assert struct.unpack_from("<I", f, 32)[0] == 0  # payload_len
    assert struct.unpack_from("<I", f, 36)[0] == zlib.crc32(b"")  # payload_crc32
    assert struct.unpack_from("<I", f, 40)[0] == 0  # reserved
    assert struct.unpack_from("<I", f, 44)[0] == zlib.crc32(f[:44])  # header_crc32
    h = parse_header(f)
    assert (h.type, h.feed_id, h.seq, h.sent_ns) == (HEARTBEAT, 7, 0x0102030405060708, 99)


def test_every_message_type_round_trips_byte_by_byte(news):
    src = FeedSource(news)
    frames = [
        encode_frame(HELLO, feed_id=1),
        encode_frame(WELCOME, feed_id=1, seq=5, payload=src.welcome_payload),
        src.data_frame(0, 10, feed_id=1, sent_ns=123),
        src.data_frame(10, 11, feed_id=1, flags=FLAG_REPLAY),
        encode_frame(HEARTBEAT, feed_id=1, seq=11),
        encode_frame(REPLAY_REQUEST, feed_id=1, seq=3, count=4),
        encode_frame(REPLAY_END, feed_id=1, seq=3, count=4, flags=FLAG_TRUNCATED),
        encode_frame(BYE, feed_id=1, seq=11),
    ]
    stream = b"".join(frames)
    dec = FrameDecoder()
    out = []
    for i in range(len(stream)):  # one byte at a time: framing never depends on read boundaries
        out += dec.feed(stream[i : i + 1])
    assert dec.buffered == 0 and dec.close() is None
    assert [f.type for f in out] == [HELLO, WELCOME, DATA, DATA, HEARTBEAT, REPLAY_REQUEST, REPLAY_END, BYE]
    assert all(isinstance(f, Frame) for f in out)
    assert out[2].seq == 1 and out[2].count == 10 and out[2].sent_ns == 123
    assert out[3].flags == FLAG_REPLAY and out[3].seq == 11
    assert out[6].flags == FLAG_TRUNCATED and (out[6].seq, out[6].count) == (3, 4)
    strings = decode_dictionaries(out[1].payload)
    assert not isinstance(strings, str)
    assert strings[0] == news.sources.strings()[1:] and strings[1] == news.tickers.strings()[1:]


def test_data_records_decode_to_the_source_content(news):
    src = FeedSource(news)
    f = FrameDecoder().feed(src.data_frame(100, 160, feed_id=1))[0]
    d = decode_binary_records(f, _maps(news))
    assert d.rejects == [] and np.array_equal(d.seqs, np.arange(101, 161, dtype=np.uint64))
    from cns.news import NewsBatch

    t = _targets()
    assert_same_content(NewsBatch(d.records, np.array(d.blob), *t), news, np.arange(100, 160))


def test_bad_crc_is_skipped_and_the_stream_goes_on():
    a = bytearray(encode_frame(DATA, feed_id=1, seq=1, count=1, payload=bytes(RECORD_SIZE)))
    a[-1] ^= 1
    b = encode_frame(HEARTBEAT, feed_id=1, seq=1)
    out = FrameDecoder().feed(bytes(a) + b)
    assert isinstance(out[0], Reject) and out[0].code == "frame_crc" and out[0].line == 1
    assert isinstance(out[1], Frame) and out[1].type == HEARTBEAT


@pytest.mark.parametrize("length", [2**31, 2**32 - 1, (16 << 20) + 1])
def test_huge_length_is_refused_before_any_allocation(length):
    h = bytearray(encode_frame(HEARTBEAT, feed_id=1))
    struct.pack_into("<I", h, 32, length)
    struct.pack_into("<I", h, 44, zlib.crc32(bytes(h[:44])))
    dec = FrameDecoder()
    out = dec.feed(bytes(h) + b"x" * 100)
    assert len(out) == 1 and out[0].code == "frame_too_large"
    assert dec.fatal is out[0] and dec.buffered == 0  # nothing kept, nothing allocated for the payload
    assert dec.feed(encode_frame(HEARTBEAT, feed_id=1)) == []  # the stream is dead: drop the connection


def test_fatal_framing_errors():
    ok = encode_frame(HEARTBEAT, feed_id=1)
    bad_magic = b"XXXX" + ok[4:]
    bad_hcrc = bytearray(ok)
    bad_hcrc[8] ^= 1  # feed id changed, header CRC not
    bad_version = bytearray(ok)
    bad_version[4] = 9
    struct.pack_into("<I", bad_version, 44, zlib.crc32(bytes(bad_version[:44])))
    for raw, code in (
        (bad_magic, "frame_magic"),
        (bytes(bad_hcrc), "frame_header_crc"),
        (bytes(bad_version), "frame_version"),
    ):
        dec = FrameDecoder()
        out = dec.feed(raw + ok)
        assert [r.code for r in out] == [code] and dec.fatal is not None


def test_inconsistent_frames_are_skipped():
    frames = [
        encode_frame(99, feed_id=1),  # unknown type
        encode_frame(
            DATA, feed_id=1, seq=1, count=2, payload=bytes(RECORD_SIZE)
        ),  # 2 records in 1 record's bytes
        encode_frame(DATA, feed_id=1, seq=0, count=1, payload=bytes(RECORD_SIZE)),  # seq 0
        encode_frame(HEARTBEAT, feed_id=1, payload=b"x"),  # payload where none belongs
        encode_frame(REPLAY_REQUEST, feed_id=1, seq=0),  # replay from 0
        encode_frame(HEARTBEAT, feed_id=1, seq=3),  # a good one at the end
    ]
    out = FrameDecoder().feed(b"".join(frames))
    assert [o.code if isinstance(o, Reject) else "ok" for o in out] == [
        "frame_type",
        "frame_layout",
        "frame_layout",
        "frame_layout",
        "frame_layout",
        "ok",
    ]


def test_truncated_stream_end_is_reported():
    f = encode_frame(DATA, feed_id=1, seq=4, count=1, payload=bytes(RECORD_SIZE))
    dec = FrameDecoder()
    assert dec.feed(f[:100]) == []
    rj = dec.close()
    assert rj is not None and rj.code == "frame_truncated" and rj.line == 4


def test_bad_records_are_quarantined_with_their_sequence_numbers(news):
    src = FeedSource(news)
    f = FrameDecoder().feed(src.data_frame(0, 5, feed_id=1))[0]
    payload = bytearray(f.payload)
    payload[1 * RECORD_SIZE + 64 : 1 * RECORD_SIZE + 72] = np.array([np.nan]).tobytes()  # confidence NaN
    payload[3 * RECORD_SIZE + 57] = 42  # kind out of range
    bad = Frame(DATA, 1, f.seq, f.count, payload=bytes(payload))
    d = decode_binary_records(bad, _maps(news))
    assert d.seqs.tolist() == [1, 3, 5]
    assert [(r.line, r.code) for r in d.rejects] == [(2, "confidence_range"), (4, "bad_kind")]
    assert "[seq 2]" in d.rejects[0].reason


def test_dictionary_payload_checks():
    from cns.signals.dictionary import Dictionary

    good = encode_dictionaries(Dictionary(["a", "bb"]), Dictionary(["X"]), Dictionary())
    assert decode_dictionaries(good) == (["a", "bb"], ["X"], [])
    assert "trailing" in decode_dictionaries(good + b"\x00")
    assert "cannot fit" in decode_dictionaries(struct.pack("<I", 2**31) + b"xx")
    dup = struct.pack("<I", 2) + b"\x01\x00a\x01\x00a" + struct.pack("<II", 0, 0)
    assert "duplicate" in decode_dictionaries(dup)
    not_utf8 = struct.pack("<I", 1) + b"\x01\x00\xff" + struct.pack("<II", 0, 0)
    assert "UTF-8" in decode_dictionaries(not_utf8)
    assert "runs past" in decode_dictionaries(b"\x01")


def test_ws_messages_round_trip(news):
    src = FeedSource(news)
    msgs = [
        (encode_ws_message(HELLO, feed_id=3), HELLO),
        (encode_ws_message(WELCOME, feed_id=3, seq=9), WELCOME),
        (src.json_frame(0, 4, feed_id=3, flags=FLAG_REPLAY, sent_ns=5), DATA),
        (encode_ws_message(HEARTBEAT, feed_id=3, seq=9, sent_ns=1), HEARTBEAT),
        (encode_ws_message(REPLAY_REQUEST, feed_id=3, seq=2, count=7), REPLAY_REQUEST),
        (encode_ws_message(REPLAY_END, feed_id=3, seq=2, count=7, flags=FLAG_TRUNCATED), REPLAY_END),
        (encode_ws_message(BYE, feed_id=3, seq=9), BYE),
    ]
    for raw, typ in msgs:
        f = decode_ws_message(raw)
        assert isinstance(f, Frame) and f.type == typ and f.feed_id == 3, raw
    d = decode_ws_message(msgs[2][0])
    assert d.count == 4 and d.seq == 1 and d.flags == FLAG_REPLAY and d.sent_ns == 5
    r = decode_json_records(d, _targets())
    assert r.rejects == [] and r.seqs.tolist() == [1, 2, 3, 4]
    assert r.records["id"].tolist() == news.records["id"][:4].tolist()
    rr = decode_ws_message(msgs[5][0])
    assert rr.flags == FLAG_TRUNCATED and (rr.seq, rr.count) == (2, 7)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json", "frame_json"),
        (b'{"type":"data","feed":1,"seq":2,"events":[{"confidence":NaN}]}', "frame_json"),
        (b"\xff\xfe", "frame_json"),
        (b'{"type":"gossip","feed":1}', "frame_type"),
        (b'{"feed":1}', "frame_schema"),
        (b'{"type":"heartbeat"}', "frame_schema"),
        (b'{"type":"heartbeat","feed":1,"seq":-1}', "frame_schema"),
        (b'{"type":"heartbeat","feed":1,"seq":1e400}', "frame_schema"),
        (b'{"type":"data","feed":1,"seq":0,"events":[{}]}', "frame_schema"),
        (b'{"type":"data","feed":1,"seq":1,"events":[]}', "frame_schema"),
        (b'{"type":"data","feed":1,"seq":1,"count":2,"events":[{}]}', "frame_layout"),
        (b"[1,2]", "frame_schema"),
    ],
)
def test_bad_ws_messages_are_quarantined(raw, code):
    r = decode_ws_message(raw)
    assert isinstance(r, Reject) and r.code == code, r


def test_json_events_are_quarantined_one_by_one():
    good = (
        b'{"id":7,"source":"reuters.com","publish_ns":1,"receive_ns":2,"tickers":["AAPL"],"type":"earnings",'
        b'"headline":"Apple beats","confidence":0.5}'
    )
    msg = (
        b'{"type":"data","feed":1,"seq":10,"events":['
        + good
        + b',{"id":8},'
        + good.replace(b"0.5", b"1.5")
        + b","
        + good
        + b"]}"
    )
    f = decode_ws_message(msg)
    assert isinstance(f, Frame)
    r = decode_json_records(f, _targets())
    assert r.seqs.tolist() == [10, 13]
    assert [(x.line, x.code) for x in r.rejects] == [(11, "missing_field"), (12, "confidence_range")]


def test_ws_message_above_the_bound_is_refused():
    r = decode_ws_message(b'{"type":"bye","feed":1,"pad":"' + b"x" * 200 + b'"}', max_bytes=100)
    assert isinstance(r, Reject) and r.code == "frame_too_large"
