"""The simulated market's event loop (Numba): merges seven time-ordered sources and applies them to the book.

Sources, with the tie order at equal timestamps: quote snapshots (for plots), story impacts (the hidden
fundamental jumps; nobody requotes), the market maker's news updates (its value estimate moves when it has
read a public report), competitor actions, external (CNS) orders at their venue arrival time, market-maker
refills (a fixed delay after the tape moved its estimate, so a FIFO queue stays time-ordered), background
events (timed requotes, uninformed and informed takers).

What the market maker knows: its own estimate ``mm_est`` (news + the signed flow on the tape, Kyle-style),
its realised volatility (``mm_var``) and its inventory. It never reads ``fund`` — only the informed takers
(:func:`_informed`) and the snapshots (for evaluation) do. ``run_until`` processes every event with ``t <= t_end`` and is resumable: it
returns a status asking the Python driver for a new background chunk or more buffer room, and carries on where
it stopped when called again. It draws no random numbers itself (they come with the background events).

Time safety: any int64 time is a valid time. "No pending event" is a flag per source, never a sentinel time
compared against real ones (the old ``1 << 62`` sentinel made every time past 2116 look like a pending impact
and read past the end of its array); future times are computed with :func:`sat_add`, which saturates at
``NEVER_NS`` (int64 max, "never") instead of wrapping into the past.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from cns.market.prices import BG_INFORMED, BG_REQUOTE
from cns.market.sim import FIRST_COMPETITOR, OWNER_MARKET_MAKER, OWNER_TAKERS
from cns.venue import book_kernels as K
from cns.venue.dtypes import ORDER_CANCEL, ORDER_IOC, ORDER_LIMIT, ORDER_MARKET

ST_DONE = 0
ST_NEED_BG = 1
ST_NEED_ROOM = 2
ST_NEED_SNAP = 3

# cursor / counter slots of SimArrays.cur
C_NOW = 0
C_BG_POS = 1
C_IMP_POS = 2
C_NEWS_POS = 3  # next market-maker news update
C_EXT_POS = 4
C_N_OUT = 5
C_N_TR = 6
C_N_SNAP = 7
C_NEXT_SNAP = 8
C_SEQ = 9
C_REQUOTES = 10
C_TAKERS = 11
C_TAKER_SKIPS = 12
C_ACTIONS = 13
C_ACTION_SKIPS = 14
C_EXT = 15
C_IMPACTS = 16
C_QUOTE_CHANGES = 17
C_OPEN_POS = 18  # next instrument to receive its opening quotes
C_RQ_HEAD = 19  # refill queue (FIFO: constant delay keeps it time-ordered)
C_RQ_TAIL = 20
C_REFILLS = 21
C_INFORMED = 22  # informed taker orders sent
C_INFORMED_SKIPS = 23  # informed arrivals that found no edge (or no quote)
C_NEWS_UPDATES = 24  # market-maker news updates applied
C_FLOW_UPDATES = 25  # events whose tape moved the market maker's estimate
CUR_SIZE = 32

# parameter slots of SimArrays.par
P_VOL = 0
P_HALF_SPREAD = 1
P_CROSS_TICKS = 2
P_AGGRESSION = 3
P_SNAPSHOT_NS = 4
P_HOLD_NS = 5
P_REFILL_NS = 6
P_KYLE = 7  # estimate log move per lot of net aggressor flow
P_VOL_TAU_NS = 8  # e-folding time of the realised-variance memory, ns
P_FLOW_MAX = 9  # cap of one event's flow update (log)
P_VOL_MULT = 10  # half spread per unit of realised vol
P_INV_SKEW = 11  # centre skew per lot of inventory (fraction)
P_INV_SKEW_MAX = 12  # cap of the skew (fraction)
P_INV_SPREAD = 13  # half spread per lot of inventory (fraction)
P_MAX_HALF_SPREAD = 14  # cap of the half spread (fraction)
P_INF_EDGE = 15  # informed takers' edge (fraction)
P_INF_MAX_LOTS = 16  # cap of an informed order's size, lots
PAR_SIZE = 18

NEVER_NS = np.int64(np.iinfo(np.int64).max)  # a time that never comes (saturated sums end here)


@njit(cache=True, _nrt=False, inline="always")
def sat_add(t, d):
    """``t + d`` for a duration ``d >= 0`` (ns), saturating at ``NEVER_NS`` instead of overflowing."""
    if d > 0 and t > NEVER_NS - d:
        return NEVER_NS
    return t + d


class SimArrays(NamedTuple):
    """Fixed-size state of the simulated market (allocated once by the simulator)."""

    fund: np.ndarray  # f8[n+1] fundamental value, USD
    fund_t: np.ndarray  # i8[n+1] ns of its last random-walk step
    ref_px: np.ndarray  # f8[n+1] opening reference price, USD
    mm_id: np.ndarray  # u8[n+1, 2, D] market-maker order ids per side/slot
    mm_lvl: np.ndarray  # i4[n+1, 2, D] their levels, -1 = slot empty
    mm_slot: np.ndarray  # i8[n+1, 2, D] their book pool slots (-1 = not resting); checked with K.slot_holds
    mm_qty: np.ndarray  # i8[n+1] shares per quoted level (one lot)
    mm_est: np.ndarray  # f8[n+1] market maker's value estimate, USD (never read from fund)
    mm_var: np.ndarray  # f8[n+1] its realised variance: decaying sum of squared log estimate changes
    mm_var_t: np.ndarray  # i8[n+1] ns of the last decay of mm_var
    rq_t: np.ndarray  # i8[n+1] refill queue: due time
    rq_i: np.ndarray  # i8[n+1] refill queue: instrument
    rq_pending: np.ndarray  # u1[n+1] instrument already queued
    tk_qty: np.ndarray  # f8[n+1] median uninformed taker shares
    q_ts: np.ndarray  # i8[n+1, R] quote-change ring: venue time
    q_bid: np.ndarray  # f8[n+1, R] best bid USD (NaN = none)
    q_ask: np.ndarray  # f8[n+1, R] best ask USD (NaN = none)
    q_cnt: np.ndarray  # i8[n+1] entries ever written
    q_head: np.ndarray  # i8[n+1] ring index of the next entry (q_cnt % R, kept to avoid a division per read)
    q_last: np.ndarray  # i4[n+1, 2] best bid/ask levels last logged
    imp_t: np.ndarray  # i8[k]
    imp_instr: np.ndarray  # u4[k]
    imp_factor: np.ndarray  # f8[k]
    nw_t: np.ndarray  # i8[u] market maker's news updates (cns.market.sim.mm_news_schedule), time order
    nw_instr: np.ndarray  # u4[u]
    nw_dlog: np.ndarray  # f8[u] log move of its estimate
    cp_off: np.ndarray  # competitor plan (cns.market.sim.CompetitorPlan): i8[K+1] row ranges per competitor
    cp_t: np.ndarray  # i8[n] entry times
    cp_instr: np.ndarray  # u4[n]
    cp_side: np.ndarray  # i1[n]
    cp_notional: np.ndarray  # f8[K]
    cp_md: np.ndarray  # i8[K] each competitor's market-data delay, ns (it prices on the quote that old)
    cp_pos: np.ndarray  # i8[2, K] next entry row / next exit row per competitor (absolute rows)
    req: np.ndarray  # ORDER_DTYPE[4 D + 2] scratch: one event's requests of the simulator's traders
    req_mm: np.ndarray  # i8[4 D + 2] scratch: sd * D + d of a market-maker quote request, else -1
    req_slot: np.ndarray  # i8[4 D + 2] scratch: pool slot of a market-maker cancel's target, else -1
    cur: np.ndarray  # i8[CUR_SIZE]
    par: np.ndarray  # f8[PAR_SIZE]


class SimIO(NamedTuple):
    """Buffers the driver replaces between calls (background chunk, pending orders, outputs)."""

    bg_t: np.ndarray
    bg_instr: np.ndarray
    bg_kind: np.ndarray
    bg_u: np.ndarray
    bg_z: np.ndarray
    ext: np.ndarray  # ORDER_DTYPE, sorted by ext_at
    ext_at: np.ndarray  # i8 venue arrival times
    out: np.ndarray  # EXEC_DTYPE
    trades: np.ndarray  # TRADE_DTYPE
    snap_t: np.ndarray  # i8[S]
    snap_mid: np.ndarray  # f8[S, n+1]
    snap_fund: np.ndarray  # f8[S, n+1]


@njit(cache=True, _nrt=False, inline="always")
def live_mid(b, i):
    """Mid (USD) of instrument ``i``'s book now; NaN when a side is empty."""
    bb = b.best_bid[i]
    ba = b.best_ask[i]
    if bb < 0 or ba >= b.lv.shape[1]:
        return np.nan
    return 0.5 * (K.level_price(b, i, bb) + K.level_price(b, i, ba))


@njit(cache=True, _nrt=False, inline="always")
def _log_quote(b, s, i, t):
    bb = b.best_bid[i]
    ba = b.best_ask[i]
    if s.q_cnt[i] > 0 and s.q_last[i, 0] == bb and s.q_last[i, 1] == ba:
        return
    R = s.q_ts.shape[1]
    k = s.q_head[i]
    s.q_head[i] = k + 1 if k + 1 < R else 0
    s.q_ts[i, k] = t
    s.q_bid[i, k] = K.level_price(b, i, bb) if bb >= 0 else np.nan
    s.q_ask[i, k] = K.level_price(b, i, ba) if ba < b.lv.shape[1] else np.nan
    s.q_cnt[i] += 1
    s.q_last[i, 0] = bb
    s.q_last[i, 1] = ba
    s.cur[C_QUOTE_CHANGES] += 1


@njit(cache=True, _nrt=False, inline="always")
def _req(s, n, target, owner, instr, side, otype, qty, price):
    """Write order request ``n`` of a simulated trader into the scratch batch ``s.req``; returns ``n + 1``."""
    s.cur[C_SEQ] += 1
    s.req_mm[n] = -1
    s.req_slot[n] = -1
    r = s.req[n]
    r.order_id = s.cur[C_SEQ]
    r.target_id = target
    r.owner = owner
    r.instrument = instr
    r.side = side
    r.type = otype
    r.qty = qty
    r.price = price
    return n + 1


@njit(cache=True, _nrt=False, inline="always")
def _decayed_var(s, i, t):
    """The market maker's realised variance of ``i`` decayed to ``t`` (stored back)."""
    dt = t - s.mm_var_t[i]
    if dt > 0:
        s.mm_var[i] *= math.exp(-dt / s.par[P_VOL_TAU_NS])
        s.mm_var_t[i] = t
    return s.mm_var[i]


@njit(cache=True, _nrt=False, inline="always")
def move_estimate(s, i, dlog, t):
    """Move the market maker's estimate of ``i`` by ``dlog`` (log) at ``t`` and record it as realised vol."""
    _decayed_var(s, i, t)
    s.mm_var[i] += dlog * dlog
    s.mm_est[i] *= math.exp(dlog)


@njit(cache=True, _nrt=False, inline="always")
def quote_frame(b, s, i, t):
    """``(centre USD, half spread fraction)`` the market maker quotes ``i`` at, at ``t``: its estimate skewed
    against its inventory, the base half spread widened by realised vol and inventory (module docstring of
    :mod:`cns.market.prices`, FlowConfig)."""
    inv = b.pos[OWNER_MARKET_MAKER, i] / max(s.mm_qty[i], 1)
    cap = s.par[P_INV_SKEW_MAX]
    skew = min(max(s.par[P_INV_SKEW] * inv, -cap), cap)
    vol = math.sqrt(_decayed_var(s, i, t) * 1e9 / s.par[P_VOL_TAU_NS])  # realised vol per sqrt(second)
    hs = s.par[P_HALF_SPREAD] + s.par[P_VOL_MULT] * vol + s.par[P_INV_SPREAD] * abs(inv)
    return s.mm_est[i] * (1.0 - skew), min(hs, s.par[P_MAX_HALF_SPREAD])


@njit(cache=True, _nrt=False, inline="always")
def requote(b, s, i, t):
    """Requests moving the market maker's ladder on ``i`` to its quote frame (:func:`quote_frame`); returns
    their count.

    Unchanged levels are kept (with their queue position); cancels come before adds, so the ladder never
    trades with itself.
    """
    L = b.lv.shape[1]
    D = s.mm_lvl.shape[2]
    tick = b.tick[i]
    f, hs = quote_frame(b, s, i, t)
    lo = f * (1.0 - hs) / tick
    hi = f * (1.0 + hs) / tick
    if not (lo > -4.0e18 and hi < 4.0e18):  # never convert a non-finite or huge price to int64
        s.cur[C_REQUOTES] += 1
        return 0
    top_b = np.int64(math.floor(lo)) - b.base_tick[i]
    top_a = np.int64(math.ceil(hi)) - b.base_tick[i]
    if top_a <= top_b:
        top_a = top_b + 1
    n = 0
    for sd in range(2):
        for d in range(D):
            lvl = s.mm_lvl[i, sd, d]
            if lvl < 0:
                continue
            if not K.slot_holds(
                b, s.mm_slot[i, sd, d], OWNER_MARKET_MAKER, s.mm_id[i, sd, d]
            ):  # filled since
                s.mm_lvl[i, sd, d] = -1
                continue
            keep = (top_b - D < lvl <= top_b) if sd == 0 else (top_a <= lvl < top_a + D)
            if not keep:
                n = _req(s, n, s.mm_id[i, sd, d], OWNER_MARKET_MAKER, i, 0, ORDER_CANCEL, 0, 0.0)
                s.req_slot[n - 1] = s.mm_slot[i, sd, d]  # the market maker is not in the id index
                s.mm_lvl[i, sd, d] = -1
    for sd in range(2):
        side = 1 if sd == 0 else -1
        for k in range(D):
            lvl = top_b - k if sd == 0 else top_a + k
            if lvl < 0 or lvl >= L:
                continue
            have = False
            free = -1
            for d in range(D):
                if s.mm_lvl[i, sd, d] == lvl:
                    have = True
                elif s.mm_lvl[i, sd, d] < 0 and free < 0:
                    free = d
            if have or free < 0:
                continue
            n = _req(s, n, 0, OWNER_MARKET_MAKER, i, side, ORDER_LIMIT, s.mm_qty[i], K.level_price(b, i, lvl))
            s.req_mm[n - 1] = sd * D + free
            s.mm_id[i, sd, free] = s.cur[C_SEQ]
            s.mm_lvl[i, sd, free] = lvl
            s.mm_slot[i, sd, free] = -1  # set once the book has placed it (run_until)
    s.cur[C_REQUOTES] += 1
    return n


@njit(cache=True, _nrt=False, inline="always")
def _room(b, s, io, need):
    return s.cur[C_N_OUT] + need <= io.out.shape[0] and s.cur[C_N_TR] + need <= io.trades.shape[0]


@njit(cache=True, _nrt=False, inline="always")
def _requote_need(b, s, i):
    D = s.mm_lvl.shape[2]
    return 2 * D + 2 * D * (3 + 2 * (b.n_rest[i, 0] + b.n_rest[i, 1]))


@njit(cache=True, _nrt=False, inline="always")
def _snapshot(b, s, io, t):
    k = s.cur[C_N_SNAP]
    io.snap_t[k] = t
    for i in range(1, b.tick.shape[0]):
        io.snap_mid[k, i] = live_mid(b, i)
        io.snap_fund[k, i] = s.fund[i]
    io.snap_mid[k, 0] = np.nan
    io.snap_fund[k, 0] = np.nan
    s.cur[C_N_SNAP] = k + 1
    s.cur[C_NEXT_SNAP] = sat_add(t, np.int64(s.par[P_SNAPSHOT_NS]))


@njit(cache=True, _nrt=False, inline="always")
def _next_competitor(s):
    """``(t_ns, competitor j, is_exit, plan row r)`` of the earliest pending competitor action (``j == -1``:
    none; an action due at ``NEVER_NS`` never happens). Entry row ``r`` exits at ``cp_t[r] + hold``; at equal
    times a competitor's entry comes before its exits."""
    best_t = NEVER_NS
    best_j = -1
    best_x = False
    best_r = -1
    hold = np.int64(s.par[P_HOLD_NS])
    for j in range(s.cp_off.shape[0] - 1):
        e = s.cp_pos[0, j]
        if e < s.cp_off[j + 1]:
            te = s.cp_t[e]
            if te < best_t:
                best_t = te
                best_j = j
                best_x = False
                best_r = e
        x = s.cp_pos[1, j]
        if x < e:  # only entries already made exit
            tx = sat_add(s.cp_t[x], hold)
            if tx < best_t:
                best_t = tx
                best_j = j
                best_x = True
                best_r = x
    return best_t, best_j, best_x, best_r


@njit(cache=True, _nrt=False, inline="always")
def seen_mid(b, s, i, t, md):
    """The mid of ``i`` a trader with market-data delay ``md`` sees at ``t``: the live mid when ``md == 0``,
    else the logged quote in force at ``t - md`` (the oldest one remembered if the ring has rotated past it);
    NaN when there is none or a side was empty."""
    if md <= 0:
        return live_mid(b, i)
    target = t - md
    R = s.q_ts.shape[1]
    n = min(s.q_cnt[i], R)
    k = s.q_head[i]
    for _back in range(n):
        k = k - 1 if k > 0 else R - 1
        if s.q_ts[i, k] <= target:
            return 0.5 * (s.q_bid[i, k] + s.q_ask[i, k])
    if n == R:  # rotated out: the oldest remembered quote
        k = s.q_head[i]
        return 0.5 * (s.q_bid[i, k] + s.q_ask[i, k])
    return np.nan


@njit(cache=True, _nrt=False, inline="always")
def _action(b, s, j, is_exit, r, t):
    """Request of competitor ``j`` for plan row ``r`` at ``t``: entry (IOC through the mid it sees, i.e. as of
    ``t - cp_md[j]``) or exit (IOC the same distance through that mid closing its whole position in the
    instrument; a market order only when there is no price at all)."""
    i = np.int64(s.cp_instr[r])
    owner = FIRST_COMPETITOR + j
    L = b.lv.shape[1]
    if not is_exit:
        s.cp_pos[0, j] += 1
        ref = seen_mid(b, s, i, t, s.cp_md[j])
        if not ref > 0.0:
            ref = b.last_px[i]
        if not ref > 0.0:
            s.cur[C_ACTION_SKIPS] += 1
            return 0
        side = np.int64(s.cp_side[r])
        qty = max(np.int64(1), np.int64(round(s.cp_notional[j] / ref)))
        lvl = K.snap_level(b, i, side, ref * (1.0 + side * s.par[P_AGGRESSION]))
        lvl = min(max(lvl, np.int64(0)), np.int64(L - 1))
        s.cur[C_ACTIONS] += 1
        return _req(s, 0, 0, owner, i, side, ORDER_IOC, qty, K.level_price(b, i, lvl))
    s.cp_pos[1, j] += 1
    pos = b.pos[owner, i]
    if pos == 0:
        s.cur[C_ACTION_SKIPS] += 1
        return 0
    s.cur[C_ACTIONS] += 1
    side = np.int64(-1 if pos > 0 else 1)
    ref = seen_mid(b, s, i, t, s.cp_md[j])
    if not ref > 0.0:
        ref = b.last_px[i]
    if not ref > 0.0:
        return _req(s, 0, 0, owner, i, side, ORDER_MARKET, abs(pos), 0.0)
    # a marketable limit, as the entry: the position (all its stories' lots) can be larger than the market
    # maker's ladder, and an unbounded market order would sweep through it into any stale resting order
    lvl = K.snap_level(b, i, side, ref * (1.0 + side * s.par[P_AGGRESSION]))
    lvl = min(max(lvl, np.int64(0)), np.int64(L - 1))
    return _req(s, 0, 0, owner, i, side, ORDER_IOC, abs(pos), K.level_price(b, i, lvl))


@njit(cache=True, _nrt=False, inline="always")
def _taker(b, s, i, u, z):
    """Request of a background taker: IOC ``cross_ticks`` through the touch, lognormal size."""
    L = b.lv.shape[1]
    side = np.int64(1 if u < 0.5 else -1)
    ct = np.int64(s.par[P_CROSS_TICKS])
    if side > 0:
        if b.best_ask[i] >= L:
            s.cur[C_TAKER_SKIPS] += 1
            return 0
        lvl = min(np.int64(b.best_ask[i]) + ct, np.int64(L - 1))
    else:
        if b.best_bid[i] < 0:
            s.cur[C_TAKER_SKIPS] += 1
            return 0
        lvl = max(np.int64(b.best_bid[i]) - ct, np.int64(0))
    qty = max(np.int64(1), np.int64(round(s.tk_qty[i] * math.exp(0.5 * z))))
    s.cur[C_TAKERS] += 1
    return _req(s, 0, 0, OWNER_TAKERS, i, side, ORDER_IOC, qty, K.level_price(b, i, lvl))


@njit(cache=True, _nrt=False, inline="always")
def _informed(b, s, i, z):
    """Request of an informed taker: it knows the hidden fundamental and buys (sells) with an IOC limited to
    ``fund * (1 - edge)`` (``fund * (1 + edge)``) when the best ask (bid) is that far inside it. Size (Kyle's
    informed trader, who knows the market maker's lambda): ``gap / (2 * lambda)`` lots, at most
    ``P_INF_MAX_LOTS``, times a lognormal ``exp(z / 2)``. Nothing when the quotes are within the edge or the
    side is empty."""
    L = b.lv.shape[1]
    f = s.fund[i]
    edge = s.par[P_INF_EDGE]
    side = np.int64(0)
    gap = 0.0
    if b.best_ask[i] < L and f * (1.0 - edge) >= K.level_price(b, i, b.best_ask[i]):
        side = np.int64(1)
        gap = f / K.level_price(b, i, b.best_ask[i]) - 1.0
    elif b.best_bid[i] >= 0 and f * (1.0 + edge) <= K.level_price(b, i, b.best_bid[i]):
        side = np.int64(-1)
        gap = 1.0 - f / K.level_price(b, i, b.best_bid[i])
    if side == 0:
        s.cur[C_INFORMED_SKIPS] += 1
        return 0
    lvl = K.snap_level(b, i, side, f * (1.0 - side * edge))
    lvl = min(max(lvl, np.int64(0)), np.int64(L - 1))
    lam = s.par[P_KYLE]
    lots = min(gap / (2.0 * lam), s.par[P_INF_MAX_LOTS]) if lam > 0.0 else s.par[P_INF_MAX_LOTS]
    qty = max(np.int64(1), np.int64(round(s.mm_qty[i] * lots * math.exp(0.5 * z))))
    s.cur[C_INFORMED] += 1
    return _req(s, 0, 0, OWNER_TAKERS, i, side, ORDER_IOC, qty, K.level_price(b, i, lvl))


@njit(cache=True, _nrt=False, inline="always")
def _queue_refill(s, i, t):
    """Queue a requote of ``i`` ``P_REFILL_NS`` after ``t`` (once: an instrument already queued waits for
    its pending refill). The constant delay keeps the FIFO in time order."""
    if s.rq_pending[i] == 0:
        k = s.cur[C_RQ_TAIL] % s.rq_t.shape[0]
        s.rq_t[k] = sat_add(t, np.int64(s.par[P_REFILL_NS]))
        s.rq_i[k] = i
        s.rq_pending[i] = 1
        s.cur[C_RQ_TAIL] += 1


@njit(cache=True, _nrt=False, inline="always")
def _learn_from_tape(b, s, io, i, tr0, tr1, t):
    """Kyle-style update of the market maker's estimate of ``i`` from the trades ``io.trades[tr0:tr1]`` of
    one event (all on ``i``): ``P_KYLE`` log per lot of net signed aggressor volume, its own aggressive fills
    excluded, capped at ``P_FLOW_MAX``; then a refill is queued."""
    flow = np.int64(0)
    for k in range(tr0, tr1):
        tr = io.trades[k]
        if tr.taker_owner != OWNER_MARKET_MAKER:
            flow += np.int64(tr.side) * tr.qty
    if flow == 0:
        return
    cap = s.par[P_FLOW_MAX]
    dlog = min(max(s.par[P_KYLE] * flow / max(s.mm_qty[i], 1), -cap), cap)
    move_estimate(s, i, dlog, t)
    s.cur[C_FLOW_UPDATES] += 1
    _queue_refill(s, i, t)


@njit(cache=True, _nrt=False)
def run_until(b, s, io, t_end):
    """Process every event with time ``<= t_end`` (ns). Returns ST_* (ST_DONE once ``now == t_end``).

    Each event first becomes order requests (the simulated traders' in ``s.req``, or the external order
    itself), which then go through the single inlined copy of the matching handler.
    """
    n_bg = io.bg_t.shape[0]
    n_imp = s.imp_t.shape[0]
    n_nw = s.nw_t.shape[0]
    n_ext = io.ext.shape[0]
    n_instr = b.tick.shape[0] - 1
    cur = s.cur
    while True:
        if cur[C_BG_POS] >= n_bg:
            return ST_NEED_BG
        opening = cur[C_OPEN_POS] <= n_instr  # opening quotes come first, at the opening time
        # each source: has_x says whether it has a pending event at all (never inferred from a time value)
        tb = io.bg_t[cur[C_BG_POS]]
        has_i = cur[C_IMP_POS] < n_imp
        ti = s.imp_t[cur[C_IMP_POS]] if has_i else NEVER_NS
        has_n = cur[C_NEWS_POS] < n_nw
        tn = s.nw_t[cur[C_NEWS_POS]] if has_n else NEVER_NS
        ta, cj, cx, ck = _next_competitor(s)
        has_a = cj >= 0
        has_e = cur[C_EXT_POS] < n_ext
        te = io.ext_at[cur[C_EXT_POS]] if has_e else NEVER_NS
        tsn = cur[C_NEXT_SNAP]
        has_sn = tsn < NEVER_NS
        n_q = s.rq_t.shape[0]
        has_r = cur[C_RQ_HEAD] < cur[C_RQ_TAIL]
        tr = s.rq_t[cur[C_RQ_HEAD] % n_q] if has_r else NEVER_NS
        t = cur[C_NOW] if opening else min(min(min(tb, tr), min(ti, tn)), min(min(ta, te), tsn))
        if t > t_end:
            break
        use_ext = False
        n_req = 0
        i = np.int64(0)
        hit = np.int64(
            0
        )  # instrument of this event's aggressive order(s): the tape the market maker learns from
        if opening:
            i = cur[C_OPEN_POS]
            if not _room(b, s, io, _requote_need(b, s, i)):
                return ST_NEED_ROOM
            n_req = requote(b, s, i, t)
            cur[C_OPEN_POS] += 1
        elif has_sn and t == tsn:
            if cur[C_N_SNAP] >= io.snap_t.shape[0]:
                return ST_NEED_SNAP
            _snapshot(b, s, io, t)
            continue
        elif has_i and t == ti:  # the hidden value jumps; nobody is told (informed takers will find it)
            s.fund[np.int64(s.imp_instr[cur[C_IMP_POS]])] *= s.imp_factor[cur[C_IMP_POS]]
            cur[C_IMP_POS] += 1
            cur[C_IMPACTS] += 1
            continue
        elif has_n and t == tn:  # the market maker has read a public report: move its estimate, requote
            i = np.int64(s.nw_instr[cur[C_NEWS_POS]])
            if not _room(b, s, io, _requote_need(b, s, i)):
                return ST_NEED_ROOM
            move_estimate(s, i, s.nw_dlog[cur[C_NEWS_POS]], t)
            n_req = requote(b, s, i, t)
            cur[C_NEWS_POS] += 1
            cur[C_NEWS_UPDATES] += 1
        elif has_a and t == ta:
            i = np.int64(s.cp_instr[ck])
            if not _room(b, s, io, 3 + 2 * (b.n_rest[i, 0] + b.n_rest[i, 1])):
                return ST_NEED_ROOM
            n_req = _action(b, s, cj, cx, ck, t)
            hit = i
        elif has_e and t == te:
            o = io.ext[cur[C_EXT_POS]]
            if not _room(
                b, s, io, K.room_needed(b, o.owner, o.target_id, np.int64(o.instrument), o.side, o.type)
            ):
                return ST_NEED_ROOM
            use_ext = True
            n_req = 1
            cur[C_EXT] += 1
            if 0 < o.instrument <= n_instr:
                hit = np.int64(o.instrument)
        elif has_r and t == tr:
            k = cur[C_RQ_HEAD] % n_q
            i = s.rq_i[k]
            if not _room(b, s, io, _requote_need(b, s, i)):
                return ST_NEED_ROOM
            s.rq_pending[i] = 0
            cur[C_RQ_HEAD] += 1
            cur[C_REFILLS] += 1
            n_req = requote(b, s, i, t)
        else:  # t == tb: the minimum is a real event, and every other source is either later or absent
            k = cur[C_BG_POS]
            i = np.int64(io.bg_instr[k])
            if io.bg_kind[k] == BG_REQUOTE:
                if not _room(b, s, io, _requote_need(b, s, i)):
                    return ST_NEED_ROOM
                dt = (t - s.fund_t[i]) * 1e-9
                vol = s.par[P_VOL]
                s.fund[i] *= math.exp(vol * math.sqrt(dt) * io.bg_z[k] - 0.5 * vol * vol * dt)
                s.fund_t[i] = t
                n_req = requote(b, s, i, t)
            else:
                if not _room(b, s, io, 3 + 2 * (b.n_rest[i, 0] + b.n_rest[i, 1])):
                    return ST_NEED_ROOM
                if io.bg_kind[k] == BG_INFORMED:
                    n_req = _informed(b, s, i, io.bg_z[k])
                else:
                    n_req = _taker(b, s, i, io.bg_u[k], io.bg_z[k])
                hit = i
            cur[C_BG_POS] += 1
        tr0 = cur[C_N_TR]
        for r in range(n_req):
            o = io.ext[cur[C_EXT_POS]] if use_ext else s.req[r]
            n_out, n_tr, touched = K.handle(
                b,
                o.order_id,
                o.target_id,
                o.owner,
                np.int64(o.instrument),
                np.int64(o.side),
                o.type,
                o.qty,
                o.price,
                t,
                io.out,
                cur[C_N_OUT],
                io.trades,
                cur[C_N_TR],
                -1 if use_ext else s.req_slot[r],
            )
            cur[C_N_OUT] = n_out
            cur[C_N_TR] = n_tr
            if touched > 0:
                i = touched
            if not use_ext and s.req_mm[r] >= 0:  # a market-maker quote: remember its slot if it rested
                q = s.req_mm[r]
                sd = q // s.mm_lvl.shape[2]
                nf = b.meta[K.M_NFREE]
                slot = np.int64(b.free[nf]) if nf < b.free.shape[0] else np.int64(-1)  # _rest's pop, if any
                if not K.slot_holds(b, slot, o.owner, o.order_id):
                    slot = -1
                s.mm_slot[o.instrument, sd, q - sd * s.mm_lvl.shape[2]] = slot
        if use_ext:
            cur[C_EXT_POS] += 1
        if hit > 0 and cur[C_N_TR] > tr0:
            _learn_from_tape(b, s, io, hit, tr0, cur[C_N_TR], t)
        if i > 0:
            _log_quote(b, s, i, t)
    cur[C_NOW] = t_end
    return ST_DONE


@njit(cache=True, _nrt=False, inline="always")
def _quotes_into(q_ts, q_bid, q_ask, q_cnt, q_head, target, bid, ask, ts, mid, want_mid):
    R = q_ts.shape[1]
    stale = 0
    for i in range(1, q_cnt.shape[0]):
        n = q_cnt[i]
        qb = np.nan
        qa = np.nan
        qt = np.int64(0)
        found = False
        m = min(n, R)
        k = q_head[i]
        for _back in range(m):
            k = k - 1 if k > 0 else R - 1
            if q_ts[i, k] <= target:
                qb = q_bid[i, k]
                qa = q_ask[i, k]
                qt = q_ts[i, k]
                found = True
                break
        if not found and n > R:
            k = q_head[i]  # oldest surviving entry
            qb = q_bid[i, k]
            qa = q_ask[i, k]
            qt = q_ts[i, k]
            stale += 1
        ts[i] = qt
        if want_mid:
            mid[i] = (qb + qa) * 0.5
        else:
            bid[i] = qb
            ask[i] = qa
    return stale


@njit(cache=True, _nrt=False)
def quotes_at(s, target, bid, ask, ts):
    """Fill ``bid``/``ask``/``ts`` with the quote in force at ``target`` (ns) per instrument.

    Returns how many instruments had their quote at ``target`` already rotated out of the ring (their
    oldest remembered quote is returned instead).
    """
    return _quotes_into(s.q_ts, s.q_bid, s.q_ask, s.q_cnt, s.q_head, target, bid, ask, ts, bid, False)


@njit(cache=True, _nrt=False)
def mids_at(q_ts, q_bid, q_ask, q_cnt, q_head, target, mid, ts):
    """:func:`quotes_at` writing ``(bid + ask) * 0.5`` into ``mid`` (index 0: NaN / 0); takes the quote ring
    arrays rather than the whole state, whose unboxing cost more than the work (the desk calls it per slice)."""
    mid[0] = np.nan
    ts[0] = 0
    return _quotes_into(q_ts, q_bid, q_ask, q_cnt, q_head, target, mid, mid, ts, mid, True)
