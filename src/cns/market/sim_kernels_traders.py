"""The simulated market's traders other than the market maker (Numba, inlined into
:func:`cns.market.sim_kernels.run_until`): competitors acting on public news after their own latency, and the
background takers, uninformed and informed (the only readers of the hidden fundamental).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cns.market.sim import FIRST_COMPETITOR, OWNER_TAKERS
from cns.market.sim_kernels_state import (
    C_ACTION_SKIPS,
    C_ACTIONS,
    C_INFORMED,
    C_INFORMED_SKIPS,
    C_TAKER_SKIPS,
    C_TAKERS,
    NEVER_NS,
    P_AGGRESSION,
    P_CROSS_TICKS,
    P_HOLD_NS,
    P_INF_EDGE,
    P_INF_MAX_LOTS,
    P_KYLE,
    _req,
    live_mid,
    sat_add,
)
from cns.venue import book_kernels as K
from cns.venue.dtypes import ORDER_IOC, ORDER_MARKET


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
