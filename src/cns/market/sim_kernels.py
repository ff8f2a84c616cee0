"""The simulated market's event loop (Numba): merges eight time-ordered sources and applies them to the book.

Sources, with the tie order at equal timestamps: quote snapshots (for plots), the wake-up of an idle market,
story impacts (the hidden fundamental jumps; nobody requotes), the market maker's news updates (its value
estimate moves when it has read a public report), competitor actions, external (CNS) orders at their venue
arrival time, market-maker refills (a fixed delay after the tape moved its estimate, so a FIFO queue stays
time-ordered), expected activity (times outside traders announced, ``SimIO.wake_t``), background events
(timed requotes, uninformed and informed takers).

What the market maker knows: its own estimate ``mm_est`` (news + the signed flow on the tape, Kyle-style),
its realised volatility (``mm_var``) and its inventory. It never reads ``fund`` — only the informed takers
(:func:`cns.market.sim_kernels_traders._informed`), an idle market's wake-up (:func:`wake`) and the snapshots (for
evaluation) do. ``run_until`` processes every event with ``t <= t_end`` and is resumable: it returns a status
asking the Python driver for a new background chunk, more buffer room or a wake-up, and carries on where it
stopped when called again. It draws no random numbers itself (they come with the background events).

Idle gaps cost nothing. *Activity* is everything but the background flow, snapshots and refills (the market
maker's reaction to that flow): news updates, impacts, competitor actions, external orders and expected
activity. ``C_IDLE_AFTER`` ns after the last activity, when the next known activity is more than
``C_WAKE_BEFORE`` ns away, the market goes idle: background events are not drawn or processed, refills
already due still happen, and the book stays as it is. It wakes ``C_WAKE_BEFORE`` before
the next known activity (never before the clock: an order nobody announced wakes it when it arrives), and
:func:`wake` summarises the gap: the hidden fundamental takes its exact random-walk step over it, the market
maker's estimate is moved to within the informed takers' edge of it (where their flow would have pushed it;
their trades in the gap are not simulated, so nobody's P&L holds them), and the market maker requotes every
instrument. The wake time depends only on known times, so the same inputs give the same market.

Time safety: any int64 time is a valid time. "No pending event" is a flag per source, never a sentinel time
compared against real ones (the old ``1 << 62`` sentinel made every time past 2116 look like a pending impact
and read past the end of its array); future times are computed with :func:`sat_add`, which saturates at
``NEVER_NS`` (int64 max, "never") instead of wrapping into the past.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from cns.kernel_deps import follow_sources
from cns.market.prices import BG_INFORMED, BG_REQUOTE
from cns.market.sim import OWNER_MARKET_MAKER
from cns.market.sim_kernels_state import (
    C_BG_POS,
    C_EXT,
    C_EXT_POS,
    C_FLOW_UPDATES,
    C_FROZEN_UNTIL,
    C_IDLE,
    C_IDLE_AFTER,
    C_IDLE_NS,
    C_IDLE_SINCE,
    C_IMP_POS,
    C_IMPACTS,
    C_LAST_ACT,
    C_LAST_EVENT,
    C_N_OUT,
    C_N_SNAP,
    C_N_TR,
    C_NEWS_POS,
    C_NEWS_UPDATES,
    C_NEXT_SNAP,
    C_NOW,
    C_OPEN_POS,
    C_QUOTE_CHANGES,
    C_REFILLS,
    C_REQUOTES,
    C_RQ_HEAD,
    C_RQ_TAIL,
    C_SEQ,
    C_WAKE_AT,
    C_WAKE_BEFORE,
    C_WAKE_POS,
    C_WAKES,
    NEVER_NS,
    P_FLOW_MAX,
    P_HALF_SPREAD,
    P_INF_EDGE,
    P_INV_SKEW,
    P_INV_SKEW_MAX,
    P_INV_SPREAD,
    P_KYLE,
    P_MAX_HALF_SPREAD,
    P_REFILL_NS,
    P_SNAPSHOT_NS,
    P_VOL,
    P_VOL_MULT,
    P_VOL_TAU_NS,
    ST_DONE,
    ST_NEED_BG,
    ST_NEED_ROOM,
    ST_NEED_SNAP,
    ST_WAKE,
    _req,
    live_mid,
    sat_add,
    sat_sub,
)
from cns.market.sim_kernels_traders import _action, _informed, _next_competitor, _taker
from cns.venue import book_kernels as K
from cns.venue.dtypes import ORDER_CANCEL, ORDER_LIMIT


def _probe() -> int:  # names this directory's Numba cache for follow_sources; never compiled
    return 0


_HERE = Path(__file__).parent
# kernels here inline helpers of these files: their cached machine code must follow them
follow_sources(
    __file__,
    [
        _HERE / "sim_kernels_state.py",
        _HERE / "sim_kernels_traders.py",
        _HERE.parent / "venue" / "book_kernels.py",
    ],
    _probe,
)


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
    n_wake = io.wake_t.shape[0]
    n_instr = b.tick.shape[0] - 1
    cur = s.cur
    while True:
        idle = cur[C_IDLE] != 0
        if not idle and cur[C_BG_POS] >= n_bg:
            return ST_NEED_BG
        opening = cur[C_OPEN_POS] <= n_instr  # opening quotes come first, at the opening time
        # each source: has_x says whether it has a pending event at all (never inferred from a time value)
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
        has_w = cur[C_WAKE_POS] < n_wake
        tw = io.wake_t[cur[C_WAKE_POS]] if has_w else NEVER_NS
        known = min(min(ti, tn), min(min(ta, te), tw))  # the next activity (refills follow the flow: not one)
        if not idle:
            tb = io.bg_t[cur[C_BG_POS]]
        elif known == NEVER_NS:
            tb = NEVER_NS  # idle until someone comes
        else:  # the wake-up stands in for the background stream
            tb = max(max(sat_sub(known, cur[C_WAKE_BEFORE]), cur[C_IDLE_SINCE]), cur[C_NOW])
        t = cur[C_NOW] if opening else min(min(min(tb, tr), tsn), known)
        if t > t_end:
            cur[C_FROZEN_UNTIL] = min(tb, tr) if idle else t_end
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
        elif idle and t == tb:  # the driver restarts the background stream at t and calls wake()
            cur[C_WAKE_AT] = t
            return ST_WAKE
        elif has_i and t == ti:  # the hidden value jumps; nobody is told (informed takers will find it)
            s.fund[np.int64(s.imp_instr[cur[C_IMP_POS]])] *= s.imp_factor[cur[C_IMP_POS]]
            cur[C_IMP_POS] += 1
            cur[C_IMPACTS] += 1
            cur[C_LAST_ACT] = max(cur[C_LAST_ACT], t)
            continue
        elif has_n and t == tn:  # the market maker has read a public report: move its estimate, requote
            i = np.int64(s.nw_instr[cur[C_NEWS_POS]])
            if not _room(b, s, io, _requote_need(b, s, i)):
                return ST_NEED_ROOM
            move_estimate(s, i, s.nw_dlog[cur[C_NEWS_POS]], t)
            n_req = requote(b, s, i, t)
            cur[C_NEWS_POS] += 1
            cur[C_NEWS_UPDATES] += 1
            cur[C_LAST_ACT] = max(cur[C_LAST_ACT], t)
        elif has_a and t == ta:
            i = np.int64(s.cp_instr[ck])
            if not _room(b, s, io, 3 + 2 * (b.n_rest[i, 0] + b.n_rest[i, 1])):
                return ST_NEED_ROOM
            n_req = _action(b, s, cj, cx, ck, t)
            hit = i
            cur[C_LAST_ACT] = max(cur[C_LAST_ACT], t)
        elif has_e and t == te:
            o = io.ext[cur[C_EXT_POS]]
            if not _room(
                b, s, io, K.room_needed(b, o.owner, o.target_id, np.int64(o.instrument), o.side, o.type)
            ):
                return ST_NEED_ROOM
            use_ext = True
            n_req = 1
            cur[C_EXT] += 1
            cur[C_LAST_ACT] = max(cur[C_LAST_ACT], t)
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
        elif has_w and t == tw:  # expected activity: keeps the market awake around it
            cur[C_WAKE_POS] += 1
            cur[C_LAST_ACT] = max(cur[C_LAST_ACT], t)
            continue
        else:  # t == tb: the minimum is a real event, and every other source is either later or absent
            after = cur[C_IDLE_AFTER]
            if (
                after > 0 and t > sat_add(cur[C_LAST_ACT], after) and t < sat_sub(known, cur[C_WAKE_BEFORE])
            ):  # a gap: go idle; this event and the rest of the stream are dropped (restarted on waking)
                cur[C_IDLE] = 1
                cur[C_IDLE_SINCE] = sat_add(cur[C_LAST_ACT], after)
                continue
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
        cur[C_LAST_EVENT] = t
    cur[C_NOW] = t_end
    return ST_DONE


@njit(cache=True, _nrt=False)
def wake(s, t, z):
    """End the idle period at ``t`` (``run_until`` answered ``ST_WAKE``; the driver has restarted the background
    stream at ``t``): summarise the gap (module docstring). ``z``: one standard normal per ticker code (index 0
    unused), the fundamental's random-walk steps over the gap."""
    cur = s.cur
    vol = s.par[P_VOL]
    edge = s.par[P_INF_EDGE]
    n_q = s.rq_t.shape[0]
    due = t
    if cur[C_RQ_HEAD] < cur[C_RQ_TAIL]:  # the refill FIFO stays in time order
        due = max(t, s.rq_t[(cur[C_RQ_TAIL] - 1) % n_q])
    for i in range(1, min(s.fund.shape[0], z.shape[0])):
        dt = (t - s.fund_t[i]) * 1e-9
        if dt > 0.0:
            s.fund[i] *= math.exp(vol * math.sqrt(dt) * z[i] - 0.5 * vol * vol * dt)
            s.fund_t[i] = t
        f = s.fund[i]
        if f > 0.0:  # where the informed takers' flow would have pushed the estimate
            s.mm_est[i] = min(max(s.mm_est[i], f * (1.0 - edge)), f * (1.0 + edge))
        if s.rq_pending[i] == 0:
            k = cur[C_RQ_TAIL] % n_q
            s.rq_t[k] = due
            s.rq_i[k] = i
            s.rq_pending[i] = 1
            cur[C_RQ_TAIL] += 1
    cur[C_IDLE_NS] += t - cur[C_IDLE_SINCE]
    cur[C_IDLE] = 0
    cur[C_WAKES] += 1
    cur[C_LAST_ACT] = max(cur[C_LAST_ACT], t)
    cur[C_BG_POS] = 0


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
