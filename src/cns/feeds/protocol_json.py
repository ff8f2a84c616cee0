"""The JSON side of the CNS feed protocol: WebSocket messages (:func:`decode_ws_message`,
:func:`encode_ws_message`) and the events of a JSON DATA message (:func:`decode_json_records`).

The messages, sequence rules and reason codes are those of :mod:`cns.feeds.protocol` (the binary frames);
decoding never raises on peer input: a bad message becomes a :class:`~cns.news.batch.Reject` with a
``REASON_FRAME_*`` code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec
import numpy as np

from cns.feeds.protocol import (
    BYE,
    DATA,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_PAYLOAD,
    FLAG_REPLAY,
    FLAG_TRUNCATED,
    HEARTBEAT,
    HELLO,
    MAX_COUNT,
    MAX_SEQ,
    RAW_KEEP,
    REASON_FRAME_JSON,
    REASON_FRAME_LAYOUT,
    REASON_FRAME_SCHEMA,
    REASON_FRAME_TOO_LARGE,
    REASON_FRAME_TYPE,
    REPLAY_END,
    REPLAY_REQUEST,
    WELCOME,
    DecodedRecords,
    Frame,
    make_reject,
)
from cns.news.batch import Reject
from cns.news.jsonl import read_jsonl
from cns.signals.dictionary import Dictionary

__all__ = ["decode_json_records", "decode_ws_message", "encode_ws_message"]


def decode_json_records(
    frame: Frame, targets: tuple[Dictionary, Dictionary, Dictionary], *, receive_ns: int = 0
) -> DecodedRecords:
    """Decode the events of a JSON DATA ``frame`` in bulk with msgspec (:func:`cns.news.read_jsonl`, the
    JSON Lines schema), interning strings into ``targets``. Never raises on frame content."""
    src, tick, dsrc = targets
    batch = read_jsonl([bytes(e) for e in frame.events], src, tick, data_sources=dsrc, sentiment=False)
    n = len(frame.events)
    if batch.rejects:
        bad = np.array([rj.line - 1 for rj in batch.rejects], dtype=np.int64)
        keep = np.ones(n, bool)
        keep[bad] = False
        good = np.flatnonzero(keep).astype(np.uint64)
        rejects = [
            Reject(
                frame.seq + rj.line - 1,
                f"{rj.reason} [seq {frame.seq + rj.line - 1}]",
                rj.raw[: RAW_KEEP * 2],
            )
            for rj in batch.rejects
        ]
    else:
        good = np.arange(n, dtype=np.uint64)
        rejects = []
    records = batch.records
    if receive_ns and len(records):
        records["receive_ns"] = receive_ns
    return DecodedRecords(records, batch.headlines, good + np.uint64(frame.seq), rejects)


# ---------------------------------------------------------------------------------------------- JSON
_Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
_Feed = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
_Ns = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]


class _WsHello(msgspec.Struct, tag="hello", tag_field="type"):
    feed: _Feed = 0


class _WsWelcome(msgspec.Struct, tag="welcome", tag_field="type"):
    feed: _Feed
    seq: _Seq


class _WsData(msgspec.Struct, tag="data", tag_field="type"):
    feed: _Feed
    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
    events: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=DEFAULT_MAX_EVENTS)]
    count: _Count | None = None
    replay: bool = False
    sent_ns: _Ns = 0


class _WsHeartbeat(msgspec.Struct, tag="heartbeat", tag_field="type"):
    feed: _Feed
    seq: _Seq
    sent_ns: _Ns = 0


class _WsReplay(msgspec.Struct, tag="replay", tag_field="type"):
    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
    count: _Count = 0
    feed: _Feed = 0


class _WsReplayEnd(msgspec.Struct, tag="replay_end", tag_field="type"):
    feed: _Feed
    seq: _Seq
    count: _Count
    truncated: bool = False


class _WsBye(msgspec.Struct, tag="bye", tag_field="type"):
    feed: _Feed
    seq: _Seq = 0


_WS_DECODER = msgspec.json.Decoder(
    _WsHello | _WsWelcome | _WsData | _WsHeartbeat | _WsReplay | _WsReplayEnd | _WsBye
)


def decode_ws_message(data: bytes | str, max_bytes: int = DEFAULT_MAX_PAYLOAD) -> Frame | Reject:
    """One WebSocket message (a JSON object, see ``docs/feeds.md``) as a :class:`Frame`, or its Reject.

    Data events stay raw (:attr:`Frame.events`) for :func:`decode_json_records`. Never raises."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        return make_reject(
            0,
            REASON_FRAME_TOO_LARGE,
            f"message of {len(raw)} bytes exceeds the bound {max_bytes}",
            raw[:RAW_KEEP].decode("utf-8", "backslashreplace"),
        )
    try:
        m = _WS_DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        code = REASON_FRAME_TYPE if "`$.type`" in msg and "Invalid value" in msg else REASON_FRAME_SCHEMA
        return make_reject(0, code, msg, raw[: RAW_KEEP * 2].decode("utf-8", "backslashreplace"))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return make_reject(
            0, REASON_FRAME_JSON, str(exc), raw[: RAW_KEEP * 2].decode("utf-8", "backslashreplace")
        )
    cls = m.__class__
    if cls is _WsData:
        count = len(m.events)
        if m.count is not None and m.count != count:
            return make_reject(
                m.seq,
                REASON_FRAME_LAYOUT,
                f"count {m.count} but {count} events",
                raw[: RAW_KEEP * 2].decode("utf-8", "backslashreplace"),
            )
        if m.seq + count - 1 > MAX_SEQ:
            return make_reject(
                m.seq,
                REASON_FRAME_LAYOUT,
                "DATA sequence numbers past 2**63 - 1",
                raw[: RAW_KEEP * 2].decode("utf-8", "backslashreplace"),
            )
        return Frame(DATA, m.feed, m.seq, count, FLAG_REPLAY if m.replay else 0, m.sent_ns, events=m.events)
    if cls is _WsHeartbeat:
        return Frame(HEARTBEAT, m.feed, m.seq, 0, 0, m.sent_ns)
    if cls is _WsWelcome:
        return Frame(WELCOME, m.feed, m.seq, 0)
    if cls is _WsReplayEnd:
        return Frame(REPLAY_END, m.feed, m.seq, m.count, FLAG_TRUNCATED if m.truncated else 0)
    if cls is _WsReplay:
        return Frame(REPLAY_REQUEST, m.feed, m.seq, m.count)
    if cls is _WsHello:
        return Frame(HELLO, m.feed, 0, 0)
    return Frame(BYE, m.feed, m.seq, 0)


def encode_ws_message(
    type: int,
    *,
    feed_id: int,
    seq: int = 0,
    count: int = 0,
    flags: int = 0,
    sent_ns: int = 0,
    events: Sequence[bytes] = (),
) -> bytes:
    """The JSON text of one WebSocket message. DATA: ``events`` are already-encoded JSON objects (the JSON
    Lines schema) spliced in as they are, so a server encodes each record once, not once per message."""
    if type == DATA:
        head = b'{"type":"data","feed":%d,"seq":%d,"count":%d,"replay":%s,"sent_ns":%d,"events":[' % (
            feed_id,
            seq,
            len(events),
            b"true" if flags & FLAG_REPLAY else b"false",
            sent_ns,
        )
        return head + b",".join(events) + b"]}"
    if type == HEARTBEAT:
        return b'{"type":"heartbeat","feed":%d,"seq":%d,"sent_ns":%d}' % (feed_id, seq, sent_ns)
    if type == WELCOME:
        return b'{"type":"welcome","feed":%d,"seq":%d}' % (feed_id, seq)
    if type == REPLAY_END:
        return b'{"type":"replay_end","feed":%d,"seq":%d,"count":%d,"truncated":%s}' % (
            feed_id,
            seq,
            count,
            b"true" if flags & FLAG_TRUNCATED else b"false",
        )
    if type == REPLAY_REQUEST:
        return b'{"type":"replay","feed":%d,"seq":%d,"count":%d}' % (feed_id, seq, count)
    if type == HELLO:
        return b'{"type":"hello","feed":%d}' % feed_id
    if type == BYE:
        return b'{"type":"bye","feed":%d,"seq":%d}' % (feed_id, seq)
    raise ValueError(f"encode_ws_message: unknown message type {type}")
