"""Numba parse kernel of the CNS binary news format: validates each wire record and copies the good ones
into ``NEWS_DTYPE``; a corrupt record gets a non-zero status and is left out (quarantine)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cns.signals.clock import read_cycles
from cns.signals.dtypes import TAG_FLAGS_MASK, TAG_FLAGS_SHIFT, TAG_OTHER_FLAGS, TAG_ZERO_CONFIDENCE

# parse status per wire record: 0 = good, else the OR of one bit per failed check (every check runs, so the
# quarantine can name every bad field); cns.news.binary maps the bits to Reject reason codes
ST_OK = 0
ST_BAD_KIND = 1  # kind not a KIND_* code
ST_BAD_LENGTH = 2  # n_tickers > 4, headline past the blob, or headline_len > MAX_HEADLINE_BYTES
ST_BAD_CODE = 4  # a dictionary code out of range, or bad ticker padding
ST_BAD_FIELD = (
    8  # evidence type, flag bits, reserved bytes, an infinite EPS/move/rate, sentiment not in -1..1
)
ST_CONFIDENCE = 16  # confidence outside 0..1 or NaN
ST_NOT_UTF8 = 32  # headline bytes not UTF-8 (checked only when the headline is addressable)
ST_TIME = 64  # publish/receive time, or a known event time, outside the reader's window
ST_BITS = (ST_BAD_KIND, ST_BAD_LENGTH, ST_BAD_CODE, ST_BAD_FIELD, ST_CONFIDENCE, ST_NOT_UTF8, ST_TIME)

_N_KINDS = 8
_N_EVIDENCE = 5
_KNOWN_FLAGS = 0xF
_MAX_TICKERS = 4
MAX_HEADLINE_BYTES = 0xFFFF  # = cns.news.batch.MAX_FIELD_BYTES (the JSONL reader's limit)


@njit(cache=True)
def utf8_valid(buf: np.ndarray, start: int, end: int) -> bool:
    """True when ``buf[start:end]`` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF)."""
    p = start
    while p < end:
        c = buf[p]
        if c < 0x80:
            p += 1
            continue
        if 0xC2 <= c <= 0xDF:
            n = 1
            lo, hi = 0x80, 0xBF
        elif 0xE0 <= c <= 0xEF:
            n = 2
            lo = 0xA0 if c == 0xE0 else 0x80
            hi = 0x9F if c == 0xED else 0xBF
        elif 0xF0 <= c <= 0xF4:
            n = 3
            lo = 0x90 if c == 0xF0 else 0x80
            hi = 0x8F if c == 0xF4 else 0xBF
        else:
            return False
        if p + n >= end:
            return False
        c1 = buf[p + 1]
        if c1 < lo or c1 > hi:
            return False
        for k in range(2, n + 1):
            ck = buf[p + k]
            if ck < 0x80 or ck > 0xBF:
                return False
        p += n + 1
    return True


@njit(cache=True, inline="always")
def stamp_elapsed(
    lat_ns: np.ndarray, k: int, c0: np.uint64, c1: np.uint64, ns_per_cycle: float, overhead_cycles: float
) -> None:
    """``lat_ns[k] += max(0, round((c1 - c0 - overhead_cycles) * ns_per_cycle))`` (cycle-counter stamps)."""
    d = (np.float64(c1 - c0) - overhead_cycles) * ns_per_cycle
    if d > 0.0:
        lat_ns[k] += np.int64(d + 0.5)


@njit(cache=True, inline="always")
def _outside(t: int, min_ns: int, max_ns: int) -> bool:
    return bool(t < min_ns or t >= max_ns)


@njit(cache=True)
def parse_records(
    wire: np.ndarray,
    blob: np.ndarray,
    n_sources: int,
    n_tickers: int,
    n_data_sources: int,
    min_ns: int,
    max_ns: int,
    out: np.ndarray,
    status: np.ndarray,
    lat_ns: np.ndarray,
    ns_per_cycle: float,
    overhead_cycles: float,
    htag: np.ndarray,
    hsrc: np.ndarray,
) -> int:
    """Validate ``wire`` (WIRE_DTYPE view of the file bytes) and append good records to ``out``.

    ``htag``/``hsrc`` (uint16/uint32, ``len(out)`` entries each, or empty for none): entry ``j`` gets the
    header columns of ``out[j]`` (tag and source, :func:`cns.signals.dtypes.news_header`), written with it.

    ``status[i]`` receives the OR of the ST_* bits ``wire[i]`` fails (0 = good); returns the number of records
    written to ``out``. Dictionary sizes count the absent code 0 (a valid code is ``< n``). Times must lie in
    ``min_ns <= t < max_ns`` (``event_ns`` 0 = unknown is always good). Every index is bounds-checked against
    ``blob`` before the headline is read.

    Latency stamps: when ``len(lat_ns) > 0`` (int64, indexed by output position ``j``) and ``lat_ns[j] >= 0``,
    the cycle counter is read right before validating the wire record that may become ``out[j]`` and right
    after its copy; if it was good, the elapsed time (see :func:`stamp_elapsed`) is *added* to ``lat_ns[j]``.
    The time spent on a rejected record is not attributed. An empty ``lat_ns`` stamps nothing.
    """
    blob_len = np.uint64(len(blob))
    stamping = len(lat_ns) > 0
    want_header = len(htag) > 0
    j = 0
    for i in range(len(wire)):
        sample = stamping and j < len(lat_ns) and lat_ns[j] >= 0
        c0 = read_cycles() if sample else np.uint64(0)
        w = wire[i]
        st = ST_OK
        nt = w.n_tickers
        off = w.headline_off
        ln = np.uint64(w.headline_len)
        if w.kind >= _N_KINDS:
            st |= ST_BAD_KIND
        if nt > _MAX_TICKERS or off > blob_len or ln > blob_len - off or ln > MAX_HEADLINE_BYTES:
            st |= ST_BAD_LENGTH
        if w.source >= n_sources or w.data_source >= n_data_sources:
            st |= ST_BAD_CODE
        for k in range(_MAX_TICKERS):
            t = w.tickers[k]
            if t >= n_tickers or (k < nt and t == 0) or (k >= nt and t != 0):
                st |= ST_BAD_CODE
        if (
            w.evidence_type >= _N_EVIDENCE
            or (w.flags & ~_KNOWN_FLAGS) != 0
            or w.reserved0 != 0
            or w.reserved1 != 0
            or math.isinf(w.eps_actual)
            or math.isinf(w.eps_expected)
            or math.isinf(w.move_pct)
            or math.isinf(w.rate)
            or not (-1.0 <= w.sentiment <= 1.0)
        ):
            st |= ST_BAD_FIELD
        if not (w.confidence >= 0.0 and w.confidence <= 1.0):
            st |= ST_CONFIDENCE
        if (
            _outside(w.publish_ns, min_ns, max_ns)
            or _outside(w.receive_ns, min_ns, max_ns)
            or (w.event_ns != 0 and _outside(w.event_ns, min_ns, max_ns))
        ):
            st |= ST_TIME
        if (st & ST_BAD_LENGTH) == 0 and not utf8_valid(blob, np.int64(off), np.int64(off) + np.int64(ln)):
            st |= ST_NOT_UTF8
        status[i] = st
        if st != ST_OK:
            continue
        o = out[j]
        o.id = w.id
        o.publish_ns = w.publish_ns
        o.receive_ns = w.receive_ns
        o.event_ns = w.event_ns
        o.source = w.source
        o.data_source = w.data_source
        for k in range(_MAX_TICKERS):
            o.tickers[k] = w.tickers[k]
        o.n_tickers = nt
        o.kind = w.kind
        o.evidence_type = w.evidence_type
        o.flags = w.flags
        o.confidence = w.confidence
        o.eps_actual = w.eps_actual
        o.eps_expected = w.eps_expected
        o.move_pct = w.move_pct
        o.rate = w.rate
        o.sentiment = w.sentiment
        for k in range(32):
            o.evidence_hash[k] = w.evidence_hash[k]
        o.headline_off = off
        o.headline_len = w.headline_len
        if want_header:
            fl = np.int64(w.flags)
            htag[j] = np.uint16(
                np.int64(w.kind)
                | ((fl & TAG_FLAGS_MASK) << TAG_FLAGS_SHIFT)
                | (TAG_ZERO_CONFIDENCE if w.confidence == 0.0 else 0)
                | (TAG_OTHER_FLAGS if (fl & ~TAG_FLAGS_MASK) != 0 else 0)
            )
            hsrc[j] = w.source
        if sample:
            stamp_elapsed(lat_ns, j, c0, read_cycles(), ns_per_cycle, overhead_cycles)
        j += 1
    return j


@njit(cache=True)
def records_to_wire(records: np.ndarray, start: int, wire: np.ndarray) -> int:
    """Copy ``records[start:start + k]`` (NEWS_DTYPE) into ``wire[:k]`` (WIRE_DTYPE), field by field, with
    the reserved bytes zero; ``k = min(len(wire), len(records) - start)`` (0 when ``start`` is out of range),
    returned. Same bytes as NumPy's per-field assignment: every field has the same type on both sides."""
    if start < 0 or start >= len(records):
        return 0
    k = min(len(wire), len(records) - start)
    for i in range(k):
        r = records[start + i]
        w = wire[i]
        w.id = r.id
        w.publish_ns = r.publish_ns
        w.receive_ns = r.receive_ns
        w.event_ns = r.event_ns
        w.source = r.source
        w.data_source = r.data_source
        for t in range(_MAX_TICKERS):
            w.tickers[t] = r.tickers[t]
        w.n_tickers = r.n_tickers
        w.kind = r.kind
        w.evidence_type = r.evidence_type
        w.reserved0 = 0
        w.flags = r.flags
        w.reserved1 = 0
        w.confidence = r.confidence
        w.eps_actual = r.eps_actual
        w.eps_expected = r.eps_expected
        w.move_pct = r.move_pct
        w.rate = r.rate
        w.sentiment = r.sentiment
        w.headline_len = r.headline_len
        w.headline_off = r.headline_off
        for h in range(32):
            w.evidence_hash[h] = r.evidence_hash[h]
    return k
