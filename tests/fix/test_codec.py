"""FIX codec: framing, validation (Reject reasons), hostile input, the template encoder and its bench."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cns.fix import spec as S
from cns.fix.codec import (
    FixCodec,
    FixFrameReader,
    Garbled,
    format_decimal,
    parse_utc_timestamp,
    redact,
    utc_timestamp,
)
from cns.fix.errors import FixConfigError, FixEncodeError, FixError
from cns.fix.order_kernels import ERROR_NAMES
from cns.fix.orders import ExecReportDecoder, OrderEncoder, SymbolTable
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_FILL,
    ORDER_CANCEL,
    ORDER_DTYPE,
    ORDER_IOC,
    ORDER_LIMIT,
    ORDER_MARKET,
)

CODEC = FixCodec("CNS", "VENUE")
PEER = FixCodec("VENUE", "CNS")
SYMS = SymbolTable(["", "AAPL", "MSFT", "BRK.B"])


def frames(data: bytes, reader: FixFrameReader | None = None) -> list[bytes | Garbled]:
    r = reader or FixFrameReader()
    r.feed(data)
    return r.frames()


def raw(body: bytes) -> bytes:
    """A correctly framed message around ``body`` (``35=..|...|``), checksum computed."""
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    m = head + body
    return m + b"10=%03d\x01" % (sum(m) & 0xFF)


def hdr(mt: str, seq: int = 1, sender: bytes = b"VENUE", target: bytes = b"CNS") -> bytes:
    return b"35=%s\x0149=%s\x0156=%s\x0134=%d\x0152=%s\x01" % (
        mt.encode(),
        sender,
        target,
        seq,
        utc_timestamp(time.time_ns()),
    )


def order(**kw: object) -> np.ndarray:
    o = np.zeros(1, ORDER_DTYPE)
    o["order_id"] = 42
    o["instrument"] = 1
    o["side"] = 1
    o["type"] = ORDER_LIMIT
    o["qty"] = 100
    o["price"] = 101.25
    o["ts_ns"] = 1_700_000_000_123_000_000
    for k, v in kw.items():
        o[k] = v
    return o


# ------------------------------------------------------------------------------------------ framing
def test_roundtrip_generic_encode() -> None:
    m = CODEC.encode(S.TEST_REQUEST, 7, [(S.TEST_REQ_ID, "abc")], sending_ns=1_700_000_000_000_000_000)
    (f,) = frames(m)
    assert f == m
    p = PEER.parse(f)
    assert p.problem is None and p.msg_type == "1" and p.seq == 7 and p.get(S.TEST_REQ_ID) == b"abc"
    assert p.get(S.SENDING_TIME) == b"20231114-22:13:20.000"


def test_split_across_reads_and_back_to_back() -> None:
    a = CODEC.encode(S.HEARTBEAT, 1)
    b = CODEC.encode(S.HEARTBEAT, 2)
    r = FixFrameReader()
    data = a + b
    got: list[bytes | Garbled] = []
    for i in range(0, len(data), 7):
        r.feed(data[i : i + 7])
        got += r.frames()
    assert got == [a, b]


@pytest.mark.parametrize(
    "mutate,why",
    [
        (lambda m: m.replace(b"10=", b"10=9", 1)[:-2] + b"\x01", "CheckSum"),
        (lambda m: m[:-4] + b"%03d\x01" % ((int(m[-4:-1]) + 1) % 256), "CheckSum mismatch"),
        (lambda m: m.replace(b"\x0134=", b"34=", 1), "CheckSum not where"),  # a missing SOH in the body
        (lambda m: m.replace(b"\x0135=", b"35=", 1), "BodyLength"),  # the SOH after BodyLength missing
    ],
)
def test_garbled_frames_are_ignored_and_the_stream_resyncs(mutate, why) -> None:  # type: ignore[no-untyped-def]
    good = CODEC.encode(S.HEARTBEAT, 3)
    bad = mutate(CODEC.encode(S.HEARTBEAT, 2))
    out = frames(bad + good)
    assert isinstance(out[0], Garbled) and why.split()[0] in out[0].why
    assert out[-1] == good


def test_huge_body_length_is_refused_without_buffering() -> None:
    r = FixFrameReader(max_message_bytes=4096)
    out = frames(b"8=FIX.4.4\x019=99999999\x0135=0\x01", r)
    assert isinstance(out[0], Garbled) and "BodyLength" in out[0].why
    out = frames(b"8=FIX.4.4\x019=5000\x0135=0\x01", r)
    assert isinstance(out[0], Garbled) and "outside" in out[0].why
    hb = CODEC.encode(S.HEARTBEAT, 1)
    out = frames(b"8=FIX.4.4\x019=12a\x0135=0\x01" + hb, r)
    assert isinstance(out[0], Garbled) and out[-1] == hb
    assert len(r.buf) == 0


def test_junk_between_frames_and_partial_prefix() -> None:
    m = CODEC.encode(S.HEARTBEAT, 1)
    out = frames(b"\x00\xffGARBAGE" + m + b"8=FI")
    assert isinstance(out[0], Garbled) and out[1] == m


def test_reader_bounds_config() -> None:
    with pytest.raises(FixConfigError):
        FixFrameReader(max_message_bytes=10)


# ------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "body,reason,tag",
    [
        (
            hdr("D") + b"11=1\x0155=AAPL\x0154=1\x0160=20240101-00:00:00\x0138=10\x0140=2\x0144=NaN\x01",
            S.R_BAD_FORMAT,
            S.PRICE,
        ),
        (
            hdr("D") + b"11=1\x0155=AAPL\x0154=1\x0160=20240101-00:00:00\x0138=10\x0140=2\x0144=inf\x01",
            S.R_BAD_FORMAT,
            S.PRICE,
        ),
        (
            hdr("D") + b"11=1\x0155=AAPL\x0154=1\x0160=20240101-00:00:00\x0138=10\x0140=2\x0144=1e5\x01",
            S.R_BAD_FORMAT,
            S.PRICE,
        ),
        (
            hdr("D") + b"11=1\x0155=AAPL\x0160=20240101-00:00:00\x0138=10\x0140=2\x0144=1\x01",
            S.R_REQUIRED_MISSING,
            S.SIDE,
        ),
        (
            hdr("D") + b"11=1\x0155=AAPL\x0154=1\x0160=20240101-00:00:00\x0138=10\x0140=2\x01",
            S.R_REQUIRED_MISSING,
            S.PRICE,
        ),
        (
            hdr("D") + b"11=1\x0155=AAPL\x0154=1\x0160=yesterday\x0138=10\x0140=1\x01",
            S.R_BAD_FORMAT,
            S.TRANSACT_TIME,
        ),
        (
            hdr("D") + b"11=1\x0155=AAPL\x0154=1\x0160=20240101-00:00:00\x0138=-5\x0140=1\x01",
            S.R_VALUE_INCORRECT,
            S.ORDER_QTY,
        ),
        (hdr("D") + b"ab=1\x0155=AAPL\x01", S.R_INVALID_TAG, 0),
        (hdr("D") + b"011=1\x01", S.R_INVALID_TAG, 0),
        (hdr("D") + b"11=\x01", S.R_NO_VALUE, 11),
        (hdr("0") + b"112=a\x01112=b\x01", S.R_REPEATED_TAG, 112),
        (hdr("Z"), S.R_INVALID_MSG_TYPE, S.MSG_TYPE),
        (hdr("1"), S.R_REQUIRED_MISSING, S.TEST_REQ_ID),
        (hdr("A") + b"98=0\x01108=99999\x01", S.R_VALUE_INCORRECT, S.HEART_BT_INT),
        (hdr("0") + b"43=Y\x01", S.R_REQUIRED_MISSING, S.ORIG_SENDING_TIME),
        (b"35=0\x0149=VENUE\x0156=CNS\x0134=1\x01", S.R_REQUIRED_MISSING, S.SENDING_TIME),
    ],
)
def test_problems_name_reason_and_tag(body: bytes, reason: int, tag: int) -> None:
    (f,) = frames(raw(body))
    m = CODEC.parse(f)  # type: ignore[arg-type]
    assert m.problem is not None and not m.problem.fatal
    assert (m.problem.reason, m.problem.ref_tag) == (reason, tag)
    assert m.seq == 1  # the Reject can reference it


def test_missing_seq_and_wrong_begin_string_are_fatal() -> None:
    (f,) = frames(raw(b"35=0\x0149=VENUE\x0156=CNS\x0152=20240101-00:00:00\x01"))
    m = CODEC.parse(f)  # type: ignore[arg-type]
    assert m.problem is not None and m.problem.fatal and m.seq == 0
    other = raw(hdr("0")).replace(b"FIX.4.4", b"FIX.4.2")
    other = other[:-7] + b"10=%03d\x01" % (sum(other[:-7]) & 0xFF)
    (f,) = frames(other)
    m = CODEC.parse(f)  # type: ignore[arg-type]
    assert m.problem is not None and m.problem.fatal


def test_valid_messages_of_every_supported_type_pass() -> None:
    ts = b"20240101-00:00:00.000"
    bodies = {
        "A": b"98=0\x01108=30\x01141=Y\x01",
        "0": b"",
        "1": b"112=x\x01",
        "2": b"7=1\x0116=0\x01",
        "3": b"45=3\x01373=1\x01",
        "4": b"123=Y\x0136=9\x01",
        "5": b"58=bye\x01",
        "D": b"11=1\x0155=AAPL\x0154=1\x0160=" + ts + b"\x0138=10\x0140=2\x0144=.5\x0159=0\x01",
        "F": b"41=1\x0111=2\x0155=AAPL\x0154=1\x0160=" + ts + b"\x01",
        "G": b"41=1\x0111=2\x0155=AAPL\x0154=1\x0160=" + ts + b"\x0138=10\x0140=1\x01",
        "8": b"37=1\x0117=e\x01150=F\x0139=2\x0155=AAPL\x0154=1\x01151=0\x0114=10\x016=10.25\x01",
        "9": b"37=1\x0111=2\x0141=1\x0139=8\x01434=1\x01",
        "q": b"11=k\x01530=7\x0160=" + ts + b"\x01",
        "r": b"37=1\x01530=7\x01531=7\x01533=4\x01",
        "j": b"372=D\x01380=3\x01",
    }
    for mt, b in bodies.items():
        (f,) = frames(raw(hdr(mt) + b))
        m = CODEC.parse(f)  # type: ignore[arg-type]
        assert m.problem is None, (mt, m.problem)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 3))
def test_hostile_bytes_never_raise(junk: bytes, where: int) -> None:
    good = CODEC.encode(S.HEARTBEAT, 5)
    parts = (
        [junk, good]
        if where == 0
        else [good, junk, good]
        if where == 1
        else [junk]
        if where == 2
        else [good[:20] + junk + good[20:]]
    )
    r = FixFrameReader(max_message_bytes=1024)
    for p in parts:
        r.feed(p)
        for f in r.frames():
            if isinstance(f, bytes):
                CODEC.parse(f)  # never raises
    assert len(r.buf) <= 1024 + 64


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 2000), st.binary(min_size=0, max_size=12)), max_size=12),
    st.sampled_from(sorted(S.MSG_TYPES)),
)
def test_framed_hostile_fields_never_raise(fields: list[tuple[int, bytes]], mt: str) -> None:
    body = hdr(mt) + b"".join(b"%d=%s\x01" % (t, v.replace(b"\x01", b"")) for t, v in fields)
    (f,) = frames(raw(body))
    if isinstance(f, bytes):
        m = CODEC.parse(f)
        assert m.problem is None or m.problem.reason in range(100)


# ------------------------------------------------------------------------------------------ encode helpers
def test_format_decimal_and_timestamps() -> None:
    assert format_decimal(100.10) == b"100.1"
    assert format_decimal(-0.0) == b"0"
    assert format_decimal(3.0) == b"3"
    with pytest.raises(FixEncodeError):
        format_decimal(math.nan)
    t = 1_700_000_000_987_654_321
    assert parse_utc_timestamp(utc_timestamp(t)) == t // 1_000_000 * 1_000_000
    with pytest.raises(ValueError):
        parse_utc_timestamp(b"20241301-00:00:00")


def test_encode_refuses_soh_and_nan() -> None:
    with pytest.raises(FixEncodeError):
        CODEC.encode(S.TEST_REQUEST, 1, [(S.TEST_REQ_ID, "a\x01b")])
    with pytest.raises(FixEncodeError):
        CODEC.encode(S.NEW_ORDER_SINGLE, 1, [(S.PRICE, math.nan)])
    with pytest.raises(FixError):
        FixCodec("", "X")


def test_redact_hides_credentials() -> None:
    m = CODEC.encode(
        S.LOGON, 1, [(S.ENCRYPT_METHOD, 0), (S.HEART_BT_INT, 30), (S.USERNAME, "bob"), (S.PASSWORD, "s3cret")]
    )
    text = redact(m)
    assert "s3cret" not in text and "bob" not in text and "CNS" not in text and "VENUE" not in text
    assert "554=***" in text and "108=30" in text
    assert "CNS" not in repr(CODEC)


# ------------------------------------------------------------------------------------------ template encoder
def test_template_encoder_output_is_valid_fix() -> None:
    enc = OrderEncoder(CODEC, SYMS, capacity=2)
    o = np.zeros(6, ORDER_DTYPE)
    o["order_id"] = [1, 2**64 - 1, 3, 4, 5, 6]
    o["instrument"] = [1, 2, 3, 1, 2, 1]
    o["side"] = [1, -1, 1, -1, 1, -1]
    o["type"] = [ORDER_LIMIT, ORDER_MARKET, ORDER_IOC, ORDER_CANCEL, ORDER_LIMIT, ORDER_LIMIT]
    o["qty"] = [100, 5, 7, 0, 1, 10**12]
    o["price"] = [100.1, math.nan, 0.00012345, 0.0, 123456.5, 9_999_999_999.0]
    o["target_id"][3] = 1
    o["ts_ns"] = [1_700_000_000_123_456_789, 0, 1, 2, 3, 4]
    data, ends = enc.encode(o, 7, 1_700_000_001_000_000_000)  # grows past capacity=2
    got = frames(bytes(data))
    assert len(got) == 6 and all(isinstance(f, bytes) for f in got)
    msgs = [PEER.parse(f) for f in got]  # type: ignore[arg-type]
    assert [m.problem for m in msgs] == [None] * 6
    assert [m.seq for m in msgs] == list(range(7, 13))
    m0, m1, m2, m3, m4, m5 = msgs
    assert (
        m0.msg_type,
        m0.get(11),
        m0.get(55),
        m0.get(54),
        m0.get(38),
        m0.get(40),
        m0.get(44),
        m0.get(59),
    ) == ("D", b"1", b"AAPL", b"1", b"100", b"2", b"100.1", b"0")
    assert m0.get(60) == b"20231114-22:13:20.123" and m0.get(52) == b"20231114-22:13:21.000"
    assert (m1.get(11), m1.get(40), m1.get(59), m1.has(44), m1.get(54)) == (
        b"18446744073709551615",
        b"1",
        b"3",
        False,
        b"2",
    )
    assert m1.get(60) == m1.get(52)  # ts_ns 0: the sending time
    assert (m2.get(44), m2.get(59), m2.get(55)) == (b"0.00012345", b"3", b"BRK.B")
    assert (m3.msg_type, m3.get(41), m3.get(11), m3.has(38)) == ("F", b"1", b"4", False)
    assert m4.get(44) == b"123456.5" and m5.get(38) == b"1000000000000"
    # byte-identical to the generic encoder for the same fields
    gen = CODEC.encode(
        "D",
        7,
        [
            (11, 1),
            (55, "AAPL"),
            (54, 1),
            (60, b"20231114-22:13:20.123"),
            (38, 100),
            (40, 2),
            (44, 100.1),
            (59, 0),
        ],
        sending_ns=1_700_000_001_000_000_000,
    )
    assert got[0] == gen


@pytest.mark.parametrize(
    "kw,err",
    [
        ({"price": math.nan}, 4),
        ({"price": math.inf}, 4),
        ({"price": -1.0}, 4),
        ({"price": 1e10}, 4),
        ({"qty": 0}, 3),
        ({"side": 0}, 2),
        ({"type": 9}, 1),
        ({"instrument": 0}, 5),
        ({"instrument": 99}, 5),
        ({"type": ORDER_CANCEL, "target_id": 0}, 6),
        ({"ts_ns": -1}, 7),
    ],
)
def test_template_encoder_fails_closed(kw: dict[str, object], err: int) -> None:
    enc = OrderEncoder(CODEC, SYMS)
    batch = np.concatenate([order(), order(**kw)])
    with pytest.raises(FixEncodeError, match=f"record 1: {ERROR_NAMES[err].split(',')[0]}"):
        enc.encode(batch, 1)
    with pytest.raises(FixEncodeError):
        enc.encode(np.zeros(1, np.float64), 1)  # type: ignore[arg-type]
    with pytest.raises(FixEncodeError):
        enc.encode(np.zeros((2, 2), ORDER_DTYPE), 1)  # a 2-D batch never reaches the compiled code


def test_symbol_table_rules() -> None:
    with pytest.raises(FixConfigError):
        SymbolTable(["", "A=B"])
    with pytest.raises(FixConfigError):
        SymbolTable(["", "A", "A"])
    with pytest.raises(FixConfigError):
        SymbolTable([""])
    t = SymbolTable({5: "X"})
    assert t.code(b"X") == 5 and t.code(b"Y") == 0 and t.symbol(5) == b"X"


def test_exec_report_decoder() -> None:
    dec = ExecReportDecoder(SYMS, owner=0)
    ts = b"20231114-22:13:20.123"
    fill = raw(
        hdr("8") + b"37=9\x0111=42\x0117=e1\x01150=F\x0139=2\x0155=MSFT\x0154=2\x0132=10\x0131=9.5\x01"
        b"151=0\x0114=10\x016=9.5\x0160=" + ts + b"\x01"
    )
    r = dec.decode(PEER.parse(fill))
    assert r is not None
    rec = r[0]
    assert (
        int(rec["order_id"]),
        int(rec["instrument"]),
        int(rec["kind"]),
        int(rec["side"]),
        int(rec["qty"]),
        float(rec["price"]),
        int(rec["ts_ns"]),
    ) == (42, 2, EXEC_FILL, -1, 10, 9.5, 1_700_000_000_123_000_000)
    ack = raw(
        hdr("8") + b"37=9\x0111=42\x0117=e0\x01150=0\x0139=0\x0155=AAPL\x0154=1\x01151=10\x0114=0\x016=0\x01"
    )
    assert int(dec.decode(PEER.parse(ack))[0]["kind"]) == EXEC_ACK  # type: ignore[index]
    cxl = raw(
        hdr("8") + b"37=9\x0111=43\x0141=42\x0117=e2\x01150=4\x0139=4\x0155=AAPL\x0154=1\x01151=0\x0114=0"
        b"\x016=0\x01"
    )
    c = dec.decode(PEER.parse(cxl))
    assert c is not None and int(c[0]["kind"]) == EXEC_CANCELED and int(c[0]["order_id"]) == 42
    odd = raw(
        hdr("8") + b"37=9\x0111=abc\x0117=e\x01150=0\x0139=0\x0155=AAPL\x0154=1\x01151=1\x0114=0\x016=0\x01"
    )
    assert dec.decode(PEER.parse(odd)) is None


def test_encode_latency_is_measured() -> None:
    """Smoke test of the bench: the hot path encodes one order in well under 20 us (p50)."""
    from cns.fix.bench import bench_encode

    r = bench_encode(n=2000, batch=64)
    assert r["single"]["count"] == 2000 and r["single"]["p50"] < 20_000
    assert r["batch_per_msg"]["p50"] < r["single"]["p50"] * 2
