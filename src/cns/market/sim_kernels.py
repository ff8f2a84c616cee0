"""The simulated market's event loop (Numba): merges five time-ordered sources and applies them to the book.

Sources, with the tie order at equal timestamps: quote snapshots (for plots), story impacts, competitor
actions, external (CNS) orders at their venue arrival time, background events (market-maker requotes and
random takers). ``run_until`` processes every event with ``t <= t_end`` and is resumable: it returns a
status asking the Python driver for a new background chunk or more buffer room, and carries on where it
stopped when called again. It draws no random numbers itself (they come with the background events).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from cns.market.prices import BG_REQUOTE
from cns.market.sim import ACTION_ENTRY, OWNER_MARKET_MAKER, OWNER_TAKERS
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
C_ACT_POS = 3
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
CUR_SIZE = 20

# parameter slots of SimArrays.par
P_VOL = 0
P_HALF_SPREAD = 1
P_CROSS_TICKS = 2
P_AGGRESSION = 3
P_SNAPSHOT_NS = 4
PAR_SIZE = 8

_BIG = np.int64(1) << np.int64(62)


class SimArrays(NamedTuple):
    """Fixed-size state of the simulated market (allocated once by the simulator)."""

    fund: np.ndarray  # f8[n+1] fundamental value, USD
    fund_t: np.ndarray  # i8[n+1] ns of its last random-walk step
    ref_px: np.ndarray  # f8[n+1] opening reference price, USD
    mm_id: np.ndarray  # u8[n+1, 2, D] market-maker order ids per side/slot
    mm_lvl: np.ndarray  # i4[n+1, 2, D] their levels, -1 = slot empty
    mm_qty: np.ndarray  # i8[n+1] shares per quoted level
    tk_qty: np.ndarray  # f8[n+1] median taker shares
    q_ts: np.ndarray  # i8[n+1, R] quote-change ring: venue time
    q_bid: np.ndarray  # f8[n+1, R] best bid USD (NaN = none)
    q_ask: np.ndarray  # f8[n+1, R] best ask USD (NaN = none)
    q_cnt: np.ndarray  # i8[n+1] entries ever written
    q_last: np.ndarray  # i4[n+1, 2] best bid/ask levels last logged
    imp_t: np.ndarray  # i8[k]
    imp_instr: np.ndarray  # u4[k]
    imp_factor: np.ndarray  # f8[k]
    actions: np.ndarray  # ACTION_DTYPE[m]
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
    bb = b.best_bid[i]
    ba = b.best_ask[i]
    if bb < 0 or ba >= b.lv_head.shape[1]:
        return np.nan
    return 0.5 * (K.level_price(b, i, bb) + K.level_price(b, i, ba))


@njit(cache=True, _nrt=False, inline="always")
def _log_quote(b, s, i, t):
    bb = b.best_bid[i]
    ba = b.best_ask[i]
    if s.q_cnt[i] > 0 and s.q_last[i, 0] == bb and s.q_last[i, 1] == ba:
        return
    R = s.q_ts.shape[1]
    k = s.q_cnt[i] % R
    s.q_ts[i, k] = t
    s.q_bid[i, k] = K.level_price(b, i, bb) if bb >= 0 else np.nan
    s.q_ask[i, k] = K.level_price(b, i, ba) if ba < b.lv_head.shape[1] else np.nan
    s.q_cnt[i] += 1
    s.q_last[i, 0] = bb
    s.q_last[i, 1] = ba
    s.cur[C_QUOTE_CHANGES] += 1


@njit(cache=True, _nrt=False, inline="always")
def _send(b, s, io, owner, instr, side, otype, qty, price, t):
    s.cur[C_SEQ] += 1
    n_out, n_tr, _ = K.handle(b, np.uint64(s.cur[C_SEQ]), np.uint64(0), np.uint32(owner), instr, side, otype,
                              qty, price, t, io.out, s.cur[C_N_OUT], io.trades, s.cur[C_N_TR])
    s.cur[C_N_OUT] = n_out
    s.cur[C_N_TR] = n_tr
    return np.uint64(s.cur[C_SEQ])


@njit(cache=True, _nrt=False, inline="always")
def requote(b, s, io, i, t):
    """Move the market maker's ladder on instrument ``i`` to the fundamental, keeping unchanged levels."""
    L = b.lv_head.shape[1]
    D = s.mm_lvl.shape[2]
    tick = b.tick[i]
    f = s.fund[i]
    hs = s.par[P_HALF_SPREAD]
    top_b = np.int64(math.floor(f * (1.0 - hs) / tick)) - b.base_tick[i]
    top_a = np.int64(math.ceil(f * (1.0 + hs) / tick)) - b.base_tick[i]
    if top_a <= top_b:
        top_a = top_b + 1
    mm = np.uint32(OWNER_MARKET_MAKER)
    for sd in range(2):
        for d in range(D):
            lvl = s.mm_lvl[i, sd, d]
            if lvl < 0:
                continue
            if K.lookup(b, mm, s.mm_id[i, sd, d]) < 0:  # filled since
                s.mm_lvl[i, sd, d] = -1
                continue
            keep = (top_b - D < lvl <= top_b) if sd == 0 else (top_a <= lvl < top_a + D)
            if not keep:
                s.cur[C_SEQ] += 1
                n_out, n_tr, _ = K.handle(b, np.uint64(s.cur[C_SEQ]), s.mm_id[i, sd, d], mm, i, 0, ORDER_CANCEL,
                                          0, 0.0, t, io.out, s.cur[C_N_OUT], io.trades, s.cur[C_N_TR])
                s.cur[C_N_OUT] = n_out
                s.cur[C_N_TR] = n_tr
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
            oid = _send(b, s, io, mm, i, side, ORDER_LIMIT, s.mm_qty[i], K.level_price(b, i, lvl), t)
            s.mm_id[i, sd, free] = oid
            s.mm_lvl[i, sd, free] = lvl
    s.cur[C_REQUOTES] += 1


@njit(cache=True, _nrt=False, inline="always")
def _room(b, s, io, need):
    return s.cur[C_N_OUT] + need <= io.out.shape[0] and s.cur[C_N_TR] + need <= io.trades.shape[0]


@njit(cache=True, _nrt=False, inline="always")
def _requote_need(b, s, i):
    D = s.mm_lvl.shape[2]
    return 2 * D + 2 * D * (3 + 2 * (b.n_rest[i, 0] + b.n_rest[i, 1]))


@njit(cache=True, _nrt=False)
def open_market(b, s, io, t):
    """Initial quotes on every instrument at ``t`` (needs ``out``/``trades`` room for every requote)."""
    for i in range(1, b.tick.shape[0]):
        requote(b, s, io, i, t)
        _log_quote(b, s, i, t)


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
    s.cur[C_NEXT_SNAP] = t + np.int64(s.par[P_SNAPSHOT_NS])


@njit(cache=True, _nrt=False, inline="always")
def _action(b, s, io, a, t):
    i = np.int64(a.instrument)
    L = b.lv_head.shape[1]
    if a.kind == ACTION_ENTRY:
        ref = live_mid(b, i)
        if not ref > 0.0:
            ref = b.last_px[i]
        if not ref > 0.0:
            s.cur[C_ACTION_SKIPS] += 1
            return
        side = np.int64(a.side)
        qty = max(np.int64(1), np.int64(round(a.notional_usd / ref)))
        lvl = K.snap_level(b, i, side, ref * (1.0 + side * s.par[P_AGGRESSION]))
        lvl = min(max(lvl, np.int64(0)), np.int64(L - 1))
        _send(b, s, io, a.owner, i, side, ORDER_IOC, qty, K.level_price(b, i, lvl), t)
    else:
        pos = b.pos[a.owner, i]
        if pos == 0:
            s.cur[C_ACTION_SKIPS] += 1
            return
        _send(b, s, io, a.owner, i, np.int64(-1 if pos > 0 else 1), ORDER_MARKET, abs(pos), 0.0, t)
    s.cur[C_ACTIONS] += 1


@njit(cache=True, _nrt=False, inline="always")
def _taker(b, s, io, i, u, z, t):
    L = b.lv_head.shape[1]
    side = np.int64(1 if u < 0.5 else -1)
    ct = np.int64(s.par[P_CROSS_TICKS])
    if side > 0:
        if b.best_ask[i] >= L:
            s.cur[C_TAKER_SKIPS] += 1
            return
        lvl = min(np.int64(b.best_ask[i]) + ct, np.int64(L - 1))
    else:
        if b.best_bid[i] < 0:
            s.cur[C_TAKER_SKIPS] += 1
            return
        lvl = max(np.int64(b.best_bid[i]) - ct, np.int64(0))
    qty = max(np.int64(1), np.int64(round(s.tk_qty[i] * math.exp(0.5 * z))))
    _send(b, s, io, OWNER_TAKERS, i, side, ORDER_IOC, qty, K.level_price(b, i, lvl), t)
    s.cur[C_TAKERS] += 1


@njit(cache=True, _nrt=False)
def run_until(b, s, io, t_end):
    """Process every event with time ``<= t_end`` (ns). Returns ST_* (ST_DONE once ``now == t_end``)."""
    n_bg = io.bg_t.shape[0]
    n_imp = s.imp_t.shape[0]
    n_act = s.actions.shape[0]
    n_ext = io.ext.shape[0]
    cur = s.cur
    while True:
        if cur[C_BG_POS] >= n_bg:
            return ST_NEED_BG
        tb = io.bg_t[cur[C_BG_POS]]
        ti = s.imp_t[cur[C_IMP_POS]] if cur[C_IMP_POS] < n_imp else _BIG
        ta = s.actions[cur[C_ACT_POS]].t_ns if cur[C_ACT_POS] < n_act else _BIG
        te = io.ext_at[cur[C_EXT_POS]] if cur[C_EXT_POS] < n_ext else _BIG
        tsn = cur[C_NEXT_SNAP]
        t = min(min(tb, ti), min(min(ta, te), tsn))
        if t > t_end:
            break
        if t == tsn:
            if cur[C_N_SNAP] >= io.snap_t.shape[0]:
                return ST_NEED_SNAP
            _snapshot(b, s, io, t)
        elif t == ti:
            i = np.int64(s.imp_instr[cur[C_IMP_POS]])
            if not _room(b, s, io, _requote_need(b, s, i)):
                return ST_NEED_ROOM
            s.fund[i] *= s.imp_factor[cur[C_IMP_POS]]
            requote(b, s, io, i, t)
            _log_quote(b, s, i, t)
            cur[C_IMP_POS] += 1
            cur[C_IMPACTS] += 1
        elif t == ta:
            a = s.actions[cur[C_ACT_POS]]
            i = np.int64(a.instrument)
            if not _room(b, s, io, 3 + 2 * (b.n_rest[i, 0] + b.n_rest[i, 1])):
                return ST_NEED_ROOM
            _action(b, s, io, a, t)
            _log_quote(b, s, i, t)
            cur[C_ACT_POS] += 1
        elif t == te:
            o = io.ext[cur[C_EXT_POS]]
            need = K.room_needed(b, o.owner, o.target_id, np.int64(o.instrument), o.side, o.type)
            if not _room(b, s, io, need):
                return ST_NEED_ROOM
            n_out, n_tr, touched = K.handle(b, o.order_id, o.target_id, o.owner, np.int64(o.instrument),
                                            np.int64(o.side), o.type, o.qty, o.price, t, io.out, cur[C_N_OUT],
                                            io.trades, cur[C_N_TR])
            cur[C_N_OUT] = n_out
            cur[C_N_TR] = n_tr
            if touched > 0:
                _log_quote(b, s, touched, t)
            cur[C_EXT_POS] += 1
            cur[C_EXT] += 1
        else:
            k = cur[C_BG_POS]
            i = np.int64(io.bg_instr[k])
            if io.bg_kind[k] == BG_REQUOTE:
                if not _room(b, s, io, _requote_need(b, s, i)):
                    return ST_NEED_ROOM
                dt = (t - s.fund_t[i]) * 1e-9
                vol = s.par[P_VOL]
                s.fund[i] *= math.exp(vol * math.sqrt(dt) * io.bg_z[k] - 0.5 * vol * vol * dt)
                s.fund_t[i] = t
                requote(b, s, io, i, t)
            else:
                if not _room(b, s, io, 3 + 2 * (b.n_rest[i, 0] + b.n_rest[i, 1])):
                    return ST_NEED_ROOM
                _taker(b, s, io, i, io.bg_u[k], io.bg_z[k], t)
            _log_quote(b, s, i, t)
            cur[C_BG_POS] += 1
    cur[C_NOW] = t_end
    return ST_DONE


@njit(cache=True, _nrt=False)
def quotes_at(s, target, bid, ask, ts):
    """Fill ``bid``/``ask``/``ts`` with the quote in force at ``target`` (ns) per instrument.

    Returns how many instruments had their quote at ``target`` already rotated out of the ring (their
    oldest remembered quote is returned instead).
    """
    R = s.q_ts.shape[1]
    stale = 0
    for i in range(1, s.q_cnt.shape[0]):
        n = s.q_cnt[i]
        bid[i] = np.nan
        ask[i] = np.nan
        ts[i] = 0
        found = False
        m = min(n, R)
        for back in range(m):
            k = (n - 1 - back) % R
            if s.q_ts[i, k] <= target:
                bid[i] = s.q_bid[i, k]
                ask[i] = s.q_ask[i, k]
                ts[i] = s.q_ts[i, k]
                found = True
                break
        if not found and n > R:
            k = n % R  # oldest surviving entry
            bid[i] = s.q_bid[i, k]
            ask[i] = s.q_ask[i, k]
            ts[i] = s.q_ts[i, k]
            stale += 1
    return stale
