"""Numba kernels of the price-time-priority limit order book (one book per instrument, shared arrays).

Layout (all preallocated by :class:`cns.venue.book.OrderBook`, no Python object per order):

* price levels: each instrument owns ``L`` tick levels; level ``k`` of instrument ``i`` has price
  ``(base_tick[i] + k) * tick[i]`` USD. A level holds a FIFO doubly linked list of resting orders
  (``lv_head``/``lv_tail``, pool slots, -1 = empty) and their total shares ``lv_qty``. The book is never
  crossed, so a level only ever holds one side.
* order pool: parallel arrays indexed by slot (``p_*``), a free-slot stack ``free`` (``meta[M_NFREE]``
  entries valid).
* id index: open-addressing hash (linear probing, backward-shift deletion) from ``(owner, order_id)`` to the
  pool slot of a *resting* order.
* accounting: ``pos[owner, instrument]`` shares and ``cash[owner]`` USD for owners below ``pos.shape[0]``.

Reports are written into a caller-provided EXEC_DTYPE buffer; ``emit[owner] == 0`` suppresses the reports of
an owner (the simulator's own background traders). Trades are written into a TRADE_DTYPE buffer.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    ORDER_CANCEL,
    ORDER_IOC,
    ORDER_LIMIT,
    ORDER_MARKET,
    REJECT_BOOK_FULL,
    REJECT_DUPLICATE_ID,
    REJECT_INSTRUMENT,
    REJECT_PRICE,
    REJECT_PRICE_BAND,
    REJECT_QTY,
    REJECT_SIDE,
    REJECT_TYPE,
    REJECT_UNKNOWN_ORDER,
)

M_NFREE = 0  # meta index: number of valid entries in `free`
M_ORDERS = 1  # orders handled
M_MATCHES = 2  # maker/taker matches
M_CANCELS = 3  # successful cancels
M_REJECTS = 4  # rejected requests
META_SIZE = 8

_H1 = np.uint64(0x9E3779B97F4A7C15)
_H2 = np.uint64(0xC2B2AE3D27D4EB4F)
_EPS = 1e-9  # relative slack when snapping a price to the tick grid


class BookArrays(NamedTuple):
    """All state of a multi-instrument book; see the module docstring for the layout."""

    lv_head: np.ndarray  # i4[n+1, L]
    lv_tail: np.ndarray  # i4[n+1, L]
    lv_qty: np.ndarray  # i8[n+1, L]
    best_bid: np.ndarray  # i4[n+1], -1 = no bid
    best_ask: np.ndarray  # i4[n+1], L = no ask
    n_rest: np.ndarray  # i8[n+1, 2] resting orders per side (0 = bids, 1 = asks)
    base_tick: np.ndarray  # i8[n+1]
    tick: np.ndarray  # f8[n+1] USD, 0 = not listed
    last_px: np.ndarray  # f8[n+1] last trade price, NaN = none
    p_id: np.ndarray  # u8[M]
    p_owner: np.ndarray  # u4[M]
    p_instr: np.ndarray  # u4[M]
    p_side: np.ndarray  # i1[M]
    p_level: np.ndarray  # i4[M]
    p_qty: np.ndarray  # i8[M] leaves, shares
    p_ts: np.ndarray  # i8[M] ns, time the order rested
    p_prev: np.ndarray  # i4[M]
    p_next: np.ndarray  # i4[M]
    free: np.ndarray  # i4[M]
    meta: np.ndarray  # i8[META_SIZE]
    h_id: np.ndarray  # u8[H]
    h_owner: np.ndarray  # u4[H]
    h_slot: np.ndarray  # i4[H], -1 = empty
    pos: np.ndarray  # i8[n_owners, n+1] shares
    cash: np.ndarray  # f8[n_owners] USD
    emit: np.ndarray  # u1[n_owners]; owners >= len emit always


# ---- id index ------------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def _home(b, oid, owner):
    h = (np.uint64(oid) * _H1) ^ (np.uint64(owner) * _H2)
    h ^= h >> np.uint64(29)
    return np.int64(h & np.uint64(b.h_slot.shape[0] - 1))


@njit(cache=True, _nrt=False, inline="always")
def lookup(b, owner, oid):
    """Pool slot of the resting order ``(owner, oid)``, or -1."""
    mask = b.h_slot.shape[0] - 1
    j = _home(b, oid, owner)
    while b.h_slot[j] != -1:
        if b.h_id[j] == oid and b.h_owner[j] == owner:
            return np.int64(b.h_slot[j])
        j = (j + 1) & mask
    return np.int64(-1)


@njit(cache=True, _nrt=False, inline="always")
def _h_insert(b, owner, oid, slot):
    mask = b.h_slot.shape[0] - 1
    j = _home(b, oid, owner)
    while b.h_slot[j] != -1:
        j = (j + 1) & mask
    b.h_id[j] = oid
    b.h_owner[j] = owner
    b.h_slot[j] = slot


@njit(cache=True, _nrt=False, inline="always")
def _h_delete(b, owner, oid):
    mask = b.h_slot.shape[0] - 1
    i = _home(b, oid, owner)
    while not (b.h_id[i] == oid and b.h_owner[i] == owner and b.h_slot[i] != -1):
        i = (i + 1) & mask
    j = i
    while True:  # backward-shift deletion keeps every probe chain unbroken
        j = (j + 1) & mask
        if b.h_slot[j] == -1:
            break
        k = _home(b, b.h_id[j], b.h_owner[j])
        if i <= j:
            stays = i < k <= j
        else:
            stays = k > i or k <= j
        if stays:
            continue
        b.h_id[i] = b.h_id[j]
        b.h_owner[i] = b.h_owner[j]
        b.h_slot[i] = b.h_slot[j]
        i = j
    b.h_slot[i] = -1


# ---- helpers -------------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def level_price(b, instr, lvl):
    return (b.base_tick[instr] + lvl) * b.tick[instr]


@njit(cache=True, _nrt=False, inline="always")
def snap_level(b, instr, side, price):
    """Level of a limit ``price`` snapped to the grid toward the passive side (buy down, sell up)."""
    x = price / b.tick[instr]
    if side > 0:
        t = math.floor(x + _EPS * abs(x) + _EPS)
    else:
        t = math.ceil(x - _EPS * abs(x) - _EPS)
    return np.int64(t) - b.base_tick[instr]


@njit(cache=True, _nrt=False, inline="always")
def _emit(b, out, n, oid, owner, instr, kind, side, reason, qty, leaves, price, t):
    if owner < b.emit.shape[0] and b.emit[owner] == 0:
        return n
    r = out[n]
    r.order_id = oid
    r.owner = owner
    r.instrument = instr
    r.kind = kind
    r.side = side
    r.reason = reason
    r.qty = qty
    r.leaves = leaves
    r.price = price
    r.ts_ns = t
    return n + 1


@njit(cache=True, _nrt=False, inline="always")
def _account(b, owner, instr, side, qty, price):
    if owner < b.cash.shape[0]:
        b.pos[owner, instr] += side * qty
        b.cash[owner] -= side * qty * price


@njit(cache=True, _nrt=False, inline="always")
def _next_ask(b, instr, start):
    L = b.lv_head.shape[1]
    if b.n_rest[instr, 1] == 0:
        return L
    k = start
    while k < L and b.lv_head[instr, k] == -1:
        k += 1
    return k


@njit(cache=True, _nrt=False, inline="always")
def _next_bid(b, instr, start):
    if b.n_rest[instr, 0] == 0:
        return -1
    k = start
    while k >= 0 and b.lv_head[instr, k] == -1:
        k -= 1
    return k


@njit(cache=True, _nrt=False, inline="always")
def _unlink(b, slot):
    """Remove a resting order from its level, the id index and the pool."""
    instr = b.p_instr[slot]
    lvl = b.p_level[slot]
    prv = b.p_prev[slot]
    nxt = b.p_next[slot]
    if prv == -1:
        b.lv_head[instr, lvl] = nxt
    else:
        b.p_next[prv] = nxt
    if nxt == -1:
        b.lv_tail[instr, lvl] = prv
    else:
        b.p_prev[nxt] = prv
    b.lv_qty[instr, lvl] -= b.p_qty[slot]
    sd = 0 if b.p_side[slot] > 0 else 1
    b.n_rest[instr, sd] -= 1
    _h_delete(b, b.p_owner[slot], b.p_id[slot])
    b.free[b.meta[M_NFREE]] = slot
    b.meta[M_NFREE] += 1
    if b.lv_head[instr, lvl] == -1:
        if sd == 0 and b.best_bid[instr] == lvl:
            b.best_bid[instr] = _next_bid(b, instr, lvl - 1)
        elif sd == 1 and b.best_ask[instr] == lvl:
            b.best_ask[instr] = _next_ask(b, instr, lvl + 1)


# ---- the order handler ---------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def handle(b, oid, target, owner, instr, side, otype, qty, price, t, out, n_out, trades, n_tr):
    """Apply one order request at venue time ``t`` (ns). Returns ``(n_out, n_tr, instrument touched or 0)``.

    The caller guarantees room for ``3 + 2 * n_rest[instr, opposite]`` reports and ``n_rest[...]`` trades.
    """
    b.meta[M_ORDERS] += 1
    n_instr = b.tick.shape[0]
    L = b.lv_head.shape[1]
    if otype == ORDER_CANCEL:
        slot = lookup(b, owner, target)
        if slot < 0:
            b.meta[M_REJECTS] += 1
            n_out = _emit(b, out, n_out, oid, owner, instr, EXEC_REJECTED, side, REJECT_UNKNOWN_ORDER, 0, 0,
                          price, t)
            return n_out, n_tr, np.int64(0)
        ci = np.int64(b.p_instr[slot])
        px = level_price(b, ci, b.p_level[slot])
        cside = b.p_side[slot]
        _unlink(b, slot)
        b.meta[M_CANCELS] += 1
        n_out = _emit(b, out, n_out, target, owner, ci, EXEC_CANCELED, cside, 0, 0, 0, px, t)
        return n_out, n_tr, ci
    reason = 0
    if otype != ORDER_LIMIT and otype != ORDER_MARKET and otype != ORDER_IOC:
        reason = REJECT_TYPE
    elif instr <= 0 or instr >= n_instr or b.tick[instr] <= 0.0:
        reason = REJECT_INSTRUMENT
    elif side != 1 and side != -1:
        reason = REJECT_SIDE
    elif qty <= 0:
        reason = REJECT_QTY
    lvl = np.int64(L - 1) if side > 0 else np.int64(0)  # market: may walk the whole band
    if reason == 0 and otype != ORDER_MARKET:
        if not (price > 0.0 and price < np.inf):
            reason = REJECT_PRICE
        else:
            lvl = snap_level(b, instr, side, price)
            if lvl < 0 or lvl >= L:
                reason = REJECT_PRICE_BAND
    if reason == 0 and lookup(b, owner, oid) >= 0:
        reason = REJECT_DUPLICATE_ID
    if reason != 0:
        b.meta[M_REJECTS] += 1
        n_out = _emit(b, out, n_out, oid, owner, instr, EXEC_REJECTED, side, reason, 0, 0, price, t)
        return n_out, n_tr, np.int64(0)
    lpx = 0.0 if otype == ORDER_MARKET else level_price(b, instr, lvl)
    n_out = _emit(b, out, n_out, oid, owner, instr, EXEC_ACK, side, 0, 0, qty, lpx, t)
    rem = qty
    if side > 0:
        while rem > 0 and b.best_ask[instr] <= lvl:
            k = b.best_ask[instr]
            px = level_price(b, instr, k)
            while rem > 0 and b.lv_head[instr, k] != -1:
                m = b.lv_head[instr, k]
                f = min(rem, b.p_qty[m])
                rem, n_out, n_tr = _match(b, m, f, px, oid, owner, instr, side, rem, t, out, n_out, trades,
                                          n_tr)
    else:
        while rem > 0 and b.best_bid[instr] >= lvl:
            k = b.best_bid[instr]
            px = level_price(b, instr, k)
            while rem > 0 and b.lv_head[instr, k] != -1:
                m = b.lv_head[instr, k]
                f = min(rem, b.p_qty[m])
                rem, n_out, n_tr = _match(b, m, f, px, oid, owner, instr, side, rem, t, out, n_out, trades,
                                          n_tr)
    if rem > 0:
        if otype != ORDER_LIMIT:
            n_out = _emit(b, out, n_out, oid, owner, instr, EXEC_EXPIRED, side, 0, 0, 0, lpx, t)
        elif b.meta[M_NFREE] == 0:
            b.meta[M_REJECTS] += 1
            n_out = _emit(b, out, n_out, oid, owner, instr, EXEC_REJECTED, side, REJECT_BOOK_FULL, 0, 0, lpx, t)
        else:
            _rest(b, oid, owner, instr, side, lvl, rem, t)
    return n_out, n_tr, np.int64(instr)


@njit(cache=True, _nrt=False, inline="always")
def _match(b, m, f, px, oid, owner, instr, side, rem, t, out, n_out, trades, n_tr):
    """Fill ``f`` shares of the incoming order against resting slot ``m`` at ``px``."""
    b.meta[M_MATCHES] += 1
    rem -= f
    mowner = b.p_owner[m]
    mid = b.p_id[m]
    mside = b.p_side[m]
    mleft = b.p_qty[m] - f
    n_out = _emit(b, out, n_out, oid, owner, instr, EXEC_FILL if rem == 0 else EXEC_PARTIAL, side, 0, f, rem,
                  px, t)
    n_out = _emit(b, out, n_out, mid, mowner, instr, EXEC_FILL if mleft == 0 else EXEC_PARTIAL, mside, 0, f,
                  mleft, px, t)
    tr = trades[n_tr]
    tr.ts_ns = t
    tr.instrument = instr
    tr.side = side
    tr.qty = f
    tr.price = px
    tr.taker_owner = owner
    tr.maker_owner = mowner
    tr.taker_id = oid
    tr.maker_id = mid
    n_tr += 1
    _account(b, owner, instr, side, f, px)
    _account(b, mowner, instr, mside, f, px)
    b.last_px[instr] = px
    if mleft == 0:
        _unlink(b, m)
    else:
        b.p_qty[m] = mleft
        b.lv_qty[instr, b.p_level[m]] -= f
    return rem, n_out, n_tr


@njit(cache=True, _nrt=False, inline="always")
def _rest(b, oid, owner, instr, side, lvl, qty, t):
    b.meta[M_NFREE] -= 1
    s = b.free[b.meta[M_NFREE]]
    b.p_id[s] = oid
    b.p_owner[s] = owner
    b.p_instr[s] = instr
    b.p_side[s] = side
    b.p_level[s] = lvl
    b.p_qty[s] = qty
    b.p_ts[s] = t
    b.p_next[s] = -1
    tail = b.lv_tail[instr, lvl]
    b.p_prev[s] = tail
    if tail == -1:
        b.lv_head[instr, lvl] = s
    else:
        b.p_next[tail] = s
    b.lv_tail[instr, lvl] = s
    b.lv_qty[instr, lvl] += qty
    _h_insert(b, owner, oid, s)
    if side > 0:
        b.n_rest[instr, 0] += 1
        if lvl > b.best_bid[instr]:
            b.best_bid[instr] = lvl
    else:
        b.n_rest[instr, 1] += 1
        if lvl < b.best_ask[instr]:
            b.best_ask[instr] = lvl


@njit(cache=True, _nrt=False, inline="always")
def room_needed(b, owner, target, instr, side, otype):
    """Worst-case report count of one request (3 + 2 per resting order it could match)."""
    if otype == ORDER_CANCEL:
        return np.int64(1)
    if instr <= 0 or instr >= b.tick.shape[0]:
        return np.int64(1)
    return 3 + 2 * b.n_rest[instr, 1 if side > 0 else 0]


@njit(cache=True, _nrt=False)
def process_batch(b, orders, start, out, n_out, trades, n_tr):
    """Handle ``orders[start:]`` in order, each at its own ``ts_ns`` (the venue arrival time).

    Stops early when ``out``/``trades`` could overflow. Returns ``(next index, n_out, n_tr)``.
    """
    i = start
    while i < orders.shape[0]:
        o = orders[i]
        need = room_needed(b, o.owner, o.target_id, np.int64(o.instrument), o.side, o.type)
        if n_out + need > out.shape[0] or n_tr + need > trades.shape[0]:
            break
        n_out, n_tr, _ = handle(b, o.order_id, o.target_id, o.owner, np.int64(o.instrument), np.int64(o.side),
                                o.type, o.qty, o.price, o.ts_ns, out, n_out, trades, n_tr)
        i += 1
    return i, n_out, n_tr


@njit(cache=True, _nrt=False)
def shares_ahead(b, owner, oid):
    """Shares resting ahead of ``(owner, oid)`` at its price level (FIFO), or -1 if it is not resting."""
    s = lookup(b, owner, oid)
    if s < 0:
        return np.int64(-1)
    total = np.int64(0)
    k = b.p_prev[s]
    while k != -1:
        total += b.p_qty[k]
        k = b.p_prev[k]
    return total


@njit(cache=True, _nrt=False)
def level_orders(b, instr, lvl, out_owner, out_id, out_qty):
    """Copy the FIFO queue of one level into the given arrays; returns the count."""
    n = 0
    k = b.lv_head[instr, lvl]
    while k != -1 and n < out_id.shape[0]:
        out_owner[n] = b.p_owner[k]
        out_id[n] = b.p_id[k]
        out_qty[n] = b.p_qty[k]
        n += 1
        k = b.p_next[k]
    return n
