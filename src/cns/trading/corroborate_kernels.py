"""Numba kernels of streaming corroboration: per-(ticker, kind) clusters in preallocated state arrays.

One slot per (ticker code, event kind): ``slot = ticker * N_KINDS + kind`` (ticker 0 = market-wide news).
A slot holds one open cluster: its first publish time ``t0``, counters and latest report (one 64-byte
SLOT_DTYPE row), and up to ``MAX_CLUSTER_SOURCES`` qualified entries (ENTRY_DTYPE: numeric claim, EPS
expected, source code, agreement count; 24 bytes each, a slot's row contiguous). A report touches its slot's
header line and the first lines of its entry row — 2 to 3 cache lines, not one per state array. Each record
costs O(K) with K the stored entries, independent of history. Decisions are written to a caller-provided DECISION_DTYPE
buffer the moment a rule's tier rises; rumor clusters decide when their window closes.

Optional arguments that are ``None`` are compiled out (Numba prunes ``if x is not None`` branches on a
``None``-typed argument), so the plain call pays nothing for them:

* ``mask`` (bool[n]): only records with ``mask[i]`` true take part; the others cost one byte read each (the
  176-byte record is not touched) and are counted ``masked``.
* ``lat_ns`` (int64[n]): per-record latency stamps, see :func:`stamp_step` — shared with the signal and risk
  kernels.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from cns.kernel_deps import follow_sources
from cns.signals.clock import empty_stamps, read_cycles, stamp_step  # noqa: F401 (re-exported)
from cns.signals.dtypes import MAX_TICKERS, N_KINDS


def _probe() -> int:  # names this directory's Numba cache for follow_sources; never compiled
    return 0


# the kernels here compile in the cycle-counter stamps of cns.signals.clock: their cache follows it
follow_sources(__file__, [Path(__file__).parent.parent / "signals" / "clock.py"], _probe)

MAX_CLUSTER_SOURCES = 16

# ---- rule modes per event kind (KIND_PARAMS_DTYPE.mode) ---------------------------------------------------
MODE_OFF = 0  # kind not corroborated (heartbeats)
MODE_CONSENSUS = 1  # agreeing credible numeric claims (flash crash, earnings, macro, guidance, M&A)
MODE_COUNT = 2  # distinct credible sources pick a tier (supply disruption)
MODE_QUOTE = 3  # valid direct quotes from highly credible sources (central bank)
MODE_RUMOR = 4  # share of verified reports in the window (rumor storm)

# ---- which numeric field a kind claims (KIND_PARAMS_DTYPE.value_field) ----------------------------------
VALUE_NONE = 0
VALUE_MOVE = 1
VALUE_EPS = 2
VALUE_RATE = 3

# ---- decision actions (DECISION_DTYPE.action), ordered by escalation except ALERT ----------------------
ACTION_IGNORE = 0
ACTION_MONITOR = 1
ACTION_ALERT = 2
ACTION_CONTINGENCY = 3
ACTION_TRADE = 4  # for supply disruption: adjust positions
ACTION_NAMES: tuple[str, ...] = ("ignore", "monitor", "alert", "contingency", "trade")

# ---- counters (stats array index) ----------------------------------------------------------------------
CS_RECORDS = 0  # records seen
CS_UNCLUSTERED = 1  # records of a kind with MODE_OFF
CS_REPORTS = 2  # (record, ticker) reports clustered
CS_STALE = 3  # published before its cluster's window
CS_LOW_CREDIBILITY = 4  # not qualified: credibility, missing direct-quote flag
CS_DUPLICATE_SOURCE = 5  # a qualified source already counted in the cluster (not independent)
CS_QUALIFIED = 6
CS_DISAGREE = 7  # a qualified claim agreeing with none of the cluster's earlier claims
CS_UNTRUSTED = 8  # single-source claim above the surprise cap
CS_CLUSTER_FULL = 9  # qualified entry not stored: cluster at MAX_CLUSTER_SOURCES
CS_CLUSTERS = 10  # clusters opened
CS_DECISIONS = 11
CS_OVERFLOW = 12  # decisions dropped: output buffer full (the driver sizes it so this stays 0)
CS_MASKED = 13  # records skipped by the caller's mask (failed validation, test traffic, ...)
CORROBORATION_STAT_NAMES: tuple[str, ...] = (
    "records",
    "unclustered",
    "reports",
    "stale",
    "low_credibility",
    "duplicate_source",
    "qualified",
    "disagree",
    "untrusted",
    "cluster_full",
    "clusters",
    "decisions",
    "overflow",
    "masked",
)

KIND_PARAMS_DTYPE = np.dtype(
    [
        ("mode", np.uint8),
        ("value_field", np.uint8),
        ("req_flags", np.uint16),  # FLAG_* bits a report needs to qualify
        ("qual_above", np.float64),  # credibility must be strictly above
        ("tol_abs", np.float64),
        ("tol_rel", np.float64),
        ("single_max", np.float64),  # |surprise| cap for a single-source claim (inf = none)
        ("monitor_at", np.int64),  # support needed per tier (0 = tier unused)
        ("contingency_at", np.int64),
        ("trade_at", np.int64),
    ],
    align=True,
)

SLOT_DTYPE = np.dtype(
    [
        ("t0", np.int64),  # publish ns of the cluster's first report
        ("last_id", np.uint64),  # the cluster's latest report (decisions made on close name it)
        ("last_ts", np.int64),  # its receive time
        ("sent_sum", np.float64),  # sentiment over qualified (rumor: verified) reports
        ("n_reports", np.int64),
        ("n_qual", np.int32),  # distinct qualified sources
        ("n_neutral", np.int32),  # qualified entries without a numeric claim
        ("n_store", np.int32),
        ("n_verified", np.int32),  # rumor mode
        ("active", np.uint8),
        ("level", np.uint8),  # highest action emitted (0 = none)
    ],
    align=True,
)  # 64 bytes: one cache line when the array is 64-byte aligned (the driver allocates it so)

ENTRY_DTYPE = np.dtype(
    [
        ("val", np.float64),  # numeric claim (NaN: none)
        ("exp", np.float64),  # EPS expected (NaN: none)
        ("src", np.uint32),  # source code
        ("agree", np.int32),  # stored claims it agrees with, itself included
    ],
    align=True,
)

DECISION_DTYPE = np.dtype(
    [
        ("news_id", np.uint64),  # the report that made the rule fire (last of the window for rumors)
        ("ts_ns", np.int64),  # its receive time (rumor storms: the window's close, see _close)
        ("t0_ns", np.int64),  # publish time of the cluster's first report
        ("ticker", np.uint32),  # ticker code (0 = market-wide)
        ("kind", np.uint8),  # KIND_*
        ("action", np.uint8),  # ACTION_*
        ("direction", np.int8),  # +1 bullish / buy, -1 bearish / sell, 0 unknown
        ("n_sources", np.uint16),  # distinct qualified sources
        ("n_agree", np.uint16),  # support: agreeing qualified claims (+ qualified reports without a number)
        ("n_reports", np.uint32),  # all reports in the cluster so far
        ("consensus", np.float64),  # mean agreeing claim (move %, EPS USD, rate %), NaN if none
        (
            "surprise_pct",
            np.float64,
        ),  # earnings: (EPS - expected)/|expected| %; move: move %; rate: minus expectation
        ("size_basis", np.float64),  # |surprise_pct|, NaN when there is no number to size on
        ("verified_pct", np.float64),  # rumor: verified / all reports, percent (NaN otherwise)
        ("sentiment", np.float32),  # mean headline sentiment of the counted reports
    ],
    align=True,
)


@njit(cache=True, inline="always")
def _tol(kp, a, b):
    return max(kp.tol_abs, kp.tol_rel * max(abs(a), abs(b)))


@njit(cache=True)
def _emit(out, n_out, stats, slot, ent, kp, ticker, kind, action, rec_id, ts, rate_expect):
    """Write one decision for ``slot`` into ``out[n_out]``; returns the new n_out."""
    if n_out >= len(out):
        stats[CS_OVERFLOW] += 1
        return n_out
    n = slot.n_store
    best = -1
    best_a = 0
    for j in range(n):
        if not math.isnan(ent[j].val) and ent[j].agree > best_a:
            best_a = ent[j].agree
            best = j
    consensus = math.nan
    expected = math.nan
    if best >= 0:
        s = 0.0
        c = 0
        se = 0.0
        ce = 0
        vb = ent[best].val
        for j in range(n):
            v = ent[j].val
            if not math.isnan(v) and abs(v - vb) <= _tol(kp, v, vb):
                s += v
                c += 1
                if not math.isnan(ent[j].exp):
                    se += ent[j].exp
                    ce += 1
        consensus = s / c
        if ce > 0:
            expected = se / ce
    surprise = math.nan
    if kp.value_field == VALUE_EPS:
        if not math.isnan(expected) and expected != 0.0:
            surprise = 100.0 * (consensus - expected) / abs(expected)
    elif kp.value_field == VALUE_RATE:
        surprise = consensus - rate_expect
    else:
        surprise = consensus
    counted = slot.n_verified if kp.mode == MODE_RUMOR else slot.n_qual
    sent = slot.sent_sum / counted if counted > 0 else 0.0
    direction = 0
    if not math.isnan(surprise):
        sig = -surprise if kp.value_field == VALUE_RATE else surprise  # a hawkish surprise is bearish
        direction = 1 if sig > 0 else (-1 if sig < 0 else 0)
    if direction == 0:
        direction = 1 if sent > 0 else (-1 if sent < 0 else 0)
    if direction == 0 and kp.mode == MODE_COUNT:
        direction = -1  # a disruption with no number and neutral wording is still bad news
    d = out[n_out]
    d.news_id = rec_id
    d.ts_ns = ts
    d.t0_ns = slot.t0
    d.ticker = ticker
    d.kind = kind
    d.action = action
    d.direction = direction
    d.n_sources = min(slot.n_qual, 65535)
    d.n_agree = min(best_a + slot.n_neutral, 65535)
    d.n_reports = min(slot.n_reports, 4294967295)
    d.consensus = consensus
    d.surprise_pct = surprise
    d.size_basis = abs(surprise)
    d.verified_pct = 100.0 * slot.n_verified / slot.n_reports if kp.mode == MODE_RUMOR else math.nan
    d.sentiment = sent
    stats[CS_DECISIONS] += 1
    return n_out + 1


@njit(cache=True)
def _close(
    out, n_out, stats, slot, ent, kp, ticker, kind, window_ns, rate_expect, ignore_below, monitor_below
):
    """Close ``slot``'s cluster; a rumor cluster emits its storm decision, stamped (``ts_ns``) at the window's
    close: ``max(last report's receive ns, t0 + window_ns + 1)``."""
    if slot.active and kp.mode == MODE_RUMOR and slot.n_reports > 0:
        pct = 100.0 * slot.n_verified / slot.n_reports
        action = (
            ACTION_IGNORE if pct < ignore_below else (ACTION_MONITOR if pct < monitor_below else ACTION_ALERT)
        )
        # knowable only once the window has closed: a report published up to t0 + window_ns still joins it
        closed_ns = max(slot.last_ts, slot.t0 + window_ns + 1)
        n_out = _emit(
            out, n_out, stats, slot, ent, kp, ticker, kind, action, slot.last_id, closed_ns, rate_expect
        )
    slot.active = 0
    return n_out


@njit(cache=True)
def _open(slot, t0):
    slot.t0 = t0
    slot.active = 1
    slot.level = 0
    slot.n_reports = 0
    slot.n_qual = 0
    slot.n_neutral = 0
    slot.n_store = 0
    slot.n_verified = 0
    slot.sent_sum = 0.0


@njit(cache=True)
def corroborate_batch(
    recs,
    scores,
    verified,
    kparams,
    window_ns,
    rate_expect,
    ignore_below,
    monitor_below,
    slots,
    entries,
    out,
    stats,
    mask=None,
    lat_ns=None,
    ns_per_cycle=0.0,
    overhead_cycles=0.0,
):
    """Cluster ``recs`` (NEWS_DTYPE) into ``slots`` and append decisions to ``out``; returns how many.

    ``scores``/``verified`` are indexed by source code (codes beyond them score 0, unverified);
    ``kparams`` is KIND_PARAMS_DTYPE[N_KINDS]; ``slots`` SLOT_DTYPE[n_slots] and ``entries``
    ENTRY_DTYPE[n_slots, MAX_CLUSTER_SOURCES]. Returns ``(n_decisions, n_done)``: the kernel stops *before*
    the first clustered record with a ticker code ``>= n_slots // N_KINDS`` (``n_done`` < len(recs), nothing of that
    record applied, its latency sample left open at 0) so the driver can grow the state and call again with
    ``recs[n_done:]``. At most ``MAX_TICKERS`` ticker entries of a record are read.

    ``mask`` (bool[len(recs)] or None): skip records with ``mask[i]`` false. ``lat_ns`` (int64[len(recs)] or
    None): for each ``i`` with ``lat_ns[i] == 0`` write the ns spent on record ``i`` (its clustering for every
    ticker, cluster closes and decisions it caused; a masked or unclustered record gets its skip cost) —
    see :func:`stamp_step` for ``ns_per_cycle``/``overhead_cycles``.
    """
    n_out = 0
    n_src = len(scores)
    n_masked = 0
    n_tick = len(slots) // N_KINDS
    pending = -1
    c0 = np.uint64(0)
    for i in range(len(recs)):
        if lat_ns is not None:
            pending, c0 = stamp_step(lat_ns, i, pending, c0, ns_per_cycle, overhead_cycles)
        if mask is not None:
            if not mask[i]:
                n_masked += 1
                continue
        r = recs[i]
        kind = r.kind
        if kind >= N_KINDS:
            stats[CS_UNCLUSTERED] += 1
            continue
        kp = kparams[kind]
        if kp.mode == MODE_OFF:
            stats[CS_UNCLUSTERED] += 1
            continue
        nt = min(r.n_tickers, MAX_TICKERS)
        for t in range(nt):
            if r.tickers[t] >= n_tick:  # state too small: stop here, the driver grows it and resumes at i
                stats[CS_RECORDS] += i
                stats[CS_MASKED] += n_masked
                return n_out, i
        s_code = r.source
        cred = scores[s_code] if s_code < n_src else 0.0
        is_verified = verified[s_code] if s_code < n_src else 0
        if kp.value_field == VALUE_MOVE:
            value = r.move_pct
        elif kp.value_field == VALUE_EPS:
            value = r.eps_actual
        elif kp.value_field == VALUE_RATE:
            value = r.rate
        else:
            value = math.nan
        qualifies = cred > kp.qual_above and (r.flags & kp.req_flags) == kp.req_flags
        for t in range(max(nt, 1)):
            ticker = r.tickers[t] if nt > 0 else 0
            s = ticker * N_KINDS + kind
            slot = slots[s]
            stats[CS_REPORTS] += 1
            pub = r.publish_ns
            if slot.active and pub > slot.t0 + window_ns:
                n_out = _close(
                    out,
                    n_out,
                    stats,
                    slot,
                    entries[s],
                    kp,
                    ticker,
                    kind,
                    window_ns,
                    rate_expect,
                    ignore_below,
                    monitor_below,
                )
            if not slot.active:
                _open(slot, pub)
                stats[CS_CLUSTERS] += 1
            elif pub < slot.t0 - window_ns:
                stats[CS_STALE] += 1
                continue
            slot.n_reports += 1
            slot.last_id = r.id
            slot.last_ts = r.receive_ns
            if kp.mode == MODE_RUMOR:
                if is_verified:
                    slot.n_verified += 1
                    slot.sent_sum += r.sentiment
                continue
            if not qualifies:
                stats[CS_LOW_CREDIBILITY] += 1
                continue
            ent = entries[s]
            n = slot.n_store
            dup = False
            for j in range(n):
                if ent[j].src == s_code:
                    dup = True
                    break
            if dup:
                stats[CS_DUPLICATE_SOURCE] += 1
                continue
            stats[CS_QUALIFIED] += 1
            slot.n_qual += 1
            slot.sent_sum += r.sentiment
            if n >= MAX_CLUSTER_SOURCES:
                stats[CS_CLUSTER_FULL] += 1
                continue
            e = ent[n]
            e.src = s_code
            e.val = value
            e.exp = r.eps_expected
            slot.n_store = n + 1
            if math.isnan(value):
                slot.n_neutral += 1
                e.agree = 0
            else:
                a = 1
                others = 0
                for j in range(n):
                    v = ent[j].val
                    if not math.isnan(v):
                        others += 1
                        if abs(v - value) <= _tol(kp, v, value):
                            ent[j].agree += 1
                            a += 1
                e.agree = a
                if a == 1 and others > 0:
                    stats[CS_DISAGREE] += 1
            # support: best agreement among numeric claims plus qualified reports without a number
            best_a = 0
            best_j = 0
            for j in range(n + 1):
                if not math.isnan(ent[j].val) and ent[j].agree > best_a:
                    best_a = ent[j].agree
                    best_j = j
            support = slot.n_qual if kp.mode == MODE_COUNT else best_a + slot.n_neutral
            action = 0
            if kp.trade_at > 0 and support >= kp.trade_at:
                action = ACTION_TRADE
            elif kp.contingency_at > 0 and support >= kp.contingency_at:
                action = ACTION_CONTINGENCY
            elif kp.monitor_at > 0 and support >= kp.monitor_at:
                action = ACTION_MONITOR
            if support == 1 and best_a == 1 and action > 0 and kp.single_max < math.inf:
                # a single numeric claim: trusted only up to the surprise cap
                surprise = ent[best_j].val
                if kp.value_field == VALUE_EPS:
                    x = ent[best_j].exp
                    surprise = 100.0 * (surprise - x) / abs(x) if x != 0.0 else math.nan
                if math.isnan(surprise) or abs(surprise) > kp.single_max:
                    stats[CS_UNTRUSTED] += 1
                    action = 0
            if action > slot.level:
                slot.level = action
                n_out = _emit(
                    out, n_out, stats, slot, ent, kp, ticker, kind, action, r.id, r.receive_ns, rate_expect
                )
    if lat_ns is not None:
        stamp_step(lat_ns, -1, pending, c0, ns_per_cycle, overhead_cycles)
    stats[CS_RECORDS] += len(recs)
    stats[CS_MASKED] += n_masked
    return n_out, len(recs)


@njit(cache=True)
def flush_slots(
    now_ns,
    close_all,
    kparams,
    window_ns,
    rate_expect,
    ignore_below,
    monitor_below,
    slots,
    entries,
    out,
    stats,
):
    """Close every active cluster whose window ended before ``now_ns`` (all of them when ``close_all``);
    rumor clusters emit their decision. Returns the number of decisions written to ``out``."""
    n_out = 0
    for s in range(len(slots)):
        slot = slots[s]
        if not slot.active:
            continue
        if close_all or now_ns > slot.t0 + window_ns:
            kind = s % N_KINDS
            n_out = _close(
                out,
                n_out,
                stats,
                slot,
                entries[s],
                kparams[kind],
                s // N_KINDS,
                kind,
                window_ns,
                rate_expect,
                ignore_below,
                monitor_below,
            )
    return n_out
