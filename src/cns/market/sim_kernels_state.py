"""The simulated market's state layout: status codes, cursor/counter and parameter slots, the state and I/O
named tuples, and the small inlined helpers every simulated-market kernel shares (saturating time sums, the
live mid, the request writer).

Kernels: :mod:`cns.market.sim_kernels` (event loop, market-maker quoting) and :mod:`cns.market.sim_kernels_traders`
(competitors and background takers).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from cns.venue import book_kernels as K

ST_DONE = 0
ST_NEED_BG = 1
ST_NEED_ROOM = 2
ST_NEED_SNAP = 3
ST_WAKE = 4  # an idle market wakes at cur[C_WAKE_AT]: restart the background stream there, then call again

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
C_IDLE = 26  # 1 while the market is idle (no background flow; see cns.market.sim_kernels)
C_LAST_ACT = 27  # time of the last activity (news, competitor, external order, expected activity), ns
C_WAKE_POS = 28  # next expected-activity time in SimIO.wake_t
C_WAKE_AT = 29  # with ST_WAKE: the time the market wakes at
C_WAKES = 30  # idle periods ended
C_IDLE_NS = 31  # simulated ns spent idle (ended periods)
C_IDLE_SINCE = 32  # start of the current idle period
C_IDLE_AFTER = 33  # SimConfig.idle_after_ns (0: never idle)
C_WAKE_BEFORE = 34  # SimConfig.wake_before_ns
C_LAST_EVENT = 35  # time of the last event that could change the book (not snapshots, impacts, announcements)
C_FROZEN_UNTIL = 36  # at the end of run_until: idle, nothing changes the book before this (else C_NOW)
CUR_SIZE = 40

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


@njit(cache=True, _nrt=False, inline="always")
def sat_sub(t, d):
    """``t - d`` for a duration ``d >= 0`` (ns), saturating at ``-NEVER_NS`` instead of overflowing."""
    if d > 0 and t < -NEVER_NS + d:
        return -NEVER_NS
    return t - d


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
    wake_t: np.ndarray  # i8 expected activity times (ExchangeSimulator.expect_activity), sorted
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
