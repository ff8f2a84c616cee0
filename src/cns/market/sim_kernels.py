"""The simulated market's event loop (Numba): merges five time-ordered sources and applies them to the book.

Sources, with the tie order at equal timestamps: quote snapshots (for plots), story impacts, competitor
actions, external (CNS) orders at their venue arrival time, market-maker refills (a fixed delay, 0 by
default, after it was traded against, so a FIFO queue stays time-ordered), background events (market-maker
requotes and random takers). ``run_until`` processes every event with ``t <= t_end`` and is resumable: it
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

from cns.market.prices import BG_REQUOTE
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
C_ACT_POS = 3  # unused (competitor cursors live in SimArrays.cp_pos)
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
CUR_SIZE = 24

# parameter slots of SimArrays.par
P_VOL = 0
P_HALF_SPREAD = 1
P_CROSS_TICKS = 2
P_AGGRESSION = 3
P_SNAPSHOT_NS = 4
P_HOLD_NS = 5
P_REFILL_NS = 6
P_SKEW = 7
P_SKEW_DECAY_NS = 8
PAR_SIZE = 10

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
    mm_qty: np.ndarray  # i8[n+1] shares per quoted level
    mm_shift: np.ndarray  # f8[n+1] market maker's quote-centre skew, fraction of the fundamental
    mm_shift_t: np.ndarray  # i8[n+1] ns of its last decay
    rq_t: np.ndarray  # i8[n+1] refill queue: due time
    rq_i: np.ndarray  # i8[n+1] refill queue: instrument
    rq_pending: np.ndarray  # u1[n+1] instrument already queued
    tk_qty: np.ndarray  # f8[n+1] median taker shares
    q_ts: np.ndarray  # i8[n+1, R] quote-change ring: venue time
    q_bid: np.ndarray  # f8[n+1, R] best bid USD (NaN = none)
    q_ask: np.ndarray  # f8[n+1, R] best ask USD (NaN = none)
    q_cnt: np.ndarray  # i8[n+1] entries ever written
    q_head: np.ndarray  # i8[n+1] ring index of the next entry (q_cnt % R, kept to avoid a division per read)
    q_last: np.ndarray  # i4[n+1, 2] best bid/ask levels last logged
    imp_t: np.ndarray  # i8[k]
    imp_instr: np.ndarray  # u4[k]
    imp_factor: np.ndarray  # f8[k]
    cp_first: np.ndarray  # competitor plan (cns.market.sim.CompetitorPlan), stories sorted by first report
    cp_impact: np.ndarray
    cp_instr: np.ndarray
    cp_side: np.ndarray
    cp_take: np.ndarray
    cp_lat: np.ndarray
    cp_notional: np.ndarray
    cp_exit: np.ndarray
    cp_exit_len: np.ndarray
    cp_pos: np.ndarray  # i8[2, K] next entry story / next exit rank per competitor
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
def requote(b, s, i, t):
    """Requests moving the market maker's ladder on ``i`` to the fundamental; returns their count.

    Unchanged levels are kept (with their queue position); cancels come before adds, so the ladder never
    trades with itself.
    """
    L = b.lv.shape[1]
    D = s.mm_lvl.shape[2]
    tick = b.tick[i]
    s.mm_shift[i] *= math.exp(-(t - s.mm_shift_t[i]) / s.par[P_SKEW_DECAY_NS])
    s.mm_shift_t[i] = t
    f = s.fund[i] * (1.0 + s.mm_shift[i])
    hs = s.par[P_HALF_SPREAD]
    top_b = np.int64(math.floor(f * (1.0 - hs) / tick)) - b.base_tick[i]
    top_a = np.int64(math.ceil(f * (1.0 + hs) / tick)) - b.base_tick[i]
    if top_a <= top_b:
        top_a = top_b + 1
    n = 0
    for sd in range(2):
        for d in range(D):
            lvl = s.mm_lvl[i, sd, d]
            if lvl < 0:
                continue
            if not K.slot_holds(b, s.mm_slot[i, sd, d], OWNER_MARKET_MAKER, s.mm_id[i, sd, d]):  # filled since
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
    """``(t_ns, competitor j, is_exit, story k)`` of the earliest pending competitor action (``j == -1``: none;
    an action due at ``NEVER_NS`` never happens)."""
    best_t = NEVER_NS
    best_j = -1
    best_x = False
    best_k = -1
    n = s.cp_first.shape[0]
    hold = np.int64(s.par[P_HOLD_NS])
    for j in range(s.cp_lat.shape[0]):
        e = s.cp_pos[0, j]
        while e < n and s.cp_take[e, j] == 0:
            e += 1
        s.cp_pos[0, j] = e
        te = sat_add(s.cp_first[e], s.cp_lat[j]) if e < n else NEVER_NS
        if te < best_t:
            best_t = te
            best_j = j
            best_x = False
            best_k = e
        x = s.cp_pos[1, j]
        if x < s.cp_exit_len[j]:
            k = np.int64(s.cp_exit[j, x])
            tx = sat_add(max(sat_add(s.cp_first[k], s.cp_lat[j]), s.cp_impact[k]), hold)
            if tx < best_t:
                best_t = tx
                best_j = j
                best_x = True
                best_k = k
    return best_t, best_j, best_x, best_k


@njit(cache=True, _nrt=False, inline="always")
def _action(b, s, j, is_exit, k):
    """Request of competitor ``j`` on story ``k``: entry (IOC through the mid) or exit (IOC the same distance
    through the mid closing the position; a market order only when there is no price at all)."""
    i = np.int64(s.cp_instr[k])
    owner = FIRST_COMPETITOR + j
    L = b.lv.shape[1]
    if not is_exit:
        s.cp_pos[0, j] += 1
        ref = live_mid(b, i)
        if not ref > 0.0:
            ref = b.last_px[i]
        if not ref > 0.0:
            s.cur[C_ACTION_SKIPS] += 1
            return 0
        side = np.int64(s.cp_side[k])
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
    ref = live_mid(b, i)
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
def _after_hit(s, i, mm_bought, t):
    """The market maker was traded against: skew its quotes toward the aggressor and queue a refill.

    The refill (a full requote at the skewed centre) is due ``P_REFILL_NS`` later; 0 (the default) means at
    once, as the next event at the same timestamp. ``FlowConfig.mm_refill_ns = 0`` used to mean "no refill":
    a sweep then left the ladder thin or a side empty until the next random background requote (28 % of
    instrument-snapshots one-sided in the default news world), and takers and competitors traded against
    whatever stale order was left, percent away from the fundamental. Refilling only an emptied side is not
    enough: a side left with just its deepest level keeps the mid ~10 bp off, and exits through it unfilled.
    """
    s.mm_shift[i] *= math.exp(-(t - s.mm_shift_t[i]) / s.par[P_SKEW_DECAY_NS])
    s.mm_shift_t[i] = t
    step = s.par[P_SKEW] if mm_bought < 0 else -s.par[P_SKEW]
    s.mm_shift[i] = min(max(s.mm_shift[i] + step, -0.2), 0.2)
    if s.rq_pending[i] == 0:
        k = s.cur[C_RQ_TAIL] % s.rq_t.shape[0]
        s.rq_t[k] = sat_add(t, np.int64(s.par[P_REFILL_NS]))
        s.rq_i[k] = i
        s.rq_pending[i] = 1
        s.cur[C_RQ_TAIL] += 1


@njit(cache=True, _nrt=False)
def run_until(b, s, io, t_end):
    """Process every event with time ``<= t_end`` (ns). Returns ST_* (ST_DONE once ``now == t_end``).

    Each event first becomes order requests (the simulated traders' in ``s.req``, or the external order
    itself), which then go through the single inlined copy of the matching handler.
    """
    n_bg = io.bg_t.shape[0]
    n_imp = s.imp_t.shape[0]
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
        ta, cj, cx, ck = _next_competitor(s)
        has_a = cj >= 0
        has_e = cur[C_EXT_POS] < n_ext
        te = io.ext_at[cur[C_EXT_POS]] if has_e else NEVER_NS
        tsn = cur[C_NEXT_SNAP]
        has_sn = tsn < NEVER_NS
        n_q = s.rq_t.shape[0]
        has_r = cur[C_RQ_HEAD] < cur[C_RQ_TAIL]
        tr = s.rq_t[cur[C_RQ_HEAD] % n_q] if has_r else NEVER_NS
        t = cur[C_NOW] if opening else min(min(min(tb, tr), ti), min(min(ta, te), tsn))
        if t > t_end:
            break
        use_ext = False
        n_req = 0
        i = np.int64(0)
        hit = np.int64(0)  # instrument whose market maker may be traded against by this event's orders
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
        elif has_i and t == ti:
            i = np.int64(s.imp_instr[cur[C_IMP_POS]])
            if not _room(b, s, io, _requote_need(b, s, i)):
                return ST_NEED_ROOM
            s.fund[i] *= s.imp_factor[cur[C_IMP_POS]]
            s.mm_shift[i] = 0.0
            n_req = requote(b, s, i, t)
            cur[C_IMP_POS] += 1
            cur[C_IMPACTS] += 1
        elif has_a and t == ta:
            i = np.int64(s.cp_instr[ck])
            if not _room(b, s, io, 3 + 2 * (b.n_rest[i, 0] + b.n_rest[i, 1])):
                return ST_NEED_ROOM
            n_req = _action(b, s, cj, cx, ck)
            hit = i
        elif has_e and t == te:
            o = io.ext[cur[C_EXT_POS]]
            if not _room(b, s, io, K.room_needed(b, o.owner, o.target_id, np.int64(o.instrument), o.side,
                                                 o.type)):
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
                n_req = _taker(b, s, i, io.bg_u[k], io.bg_z[k])
                hit = i
            cur[C_BG_POS] += 1
        mm_before = b.pos[OWNER_MARKET_MAKER, hit]
        for r in range(n_req):
            o = io.ext[cur[C_EXT_POS]] if use_ext else s.req[r]
            n_out, n_tr, touched = K.handle(b, o.order_id, o.target_id, o.owner, np.int64(o.instrument),
                                            np.int64(o.side), o.type, o.qty, o.price, t, io.out, cur[C_N_OUT],
                                            io.trades, cur[C_N_TR], -1 if use_ext else s.req_slot[r])
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
        if hit > 0 and b.pos[OWNER_MARKET_MAKER, hit] != mm_before:
            _after_hit(s, hit, b.pos[OWNER_MARKET_MAKER, hit] - mm_before, t)
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
        for back in range(m):
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
