"""Numba kernels of the price-time-priority limit order book (one book per instrument, shared arrays).

Layout (all preallocated by :func:`cns.venue.book.allocate_book`, no Python object per order):

* price levels: each instrument owns ``L`` tick levels; level ``k`` of instrument ``i`` has price
  ``(base_tick[i] + k) * tick[i]`` USD. ``lv[i, k]`` holds the head and tail pool slots of a FIFO doubly
  linked list of resting orders (-1 = empty) and their total shares. The book is never crossed, so a level
  only ever holds one side.
* order pool: one int64 row per slot (columns ``Q_*``: id bits, owner, instrument, side, level, leaves,
  prev, next), a free-slot stack ``free`` (``meta[M_NFREE]`` entries valid).
* id index: open-addressing hash (linear probing, backward-shift deletion) from ``(owner, order_id)`` to the
  pool slot of a *resting* order.

All kernels are compiled with ``_nrt=False`` (they allocate nothing) and the helpers are inlined, so the
namedtuple of arrays costs no reference counting per call.
* accounting: ``pos[owner, instrument]`` shares and ``cash[owner]`` USD for owners below ``pos.shape[0]``;
  ``cash`` is net of fees, ``fees[owner]`` = (fees paid, rebates earned) USD.
* fees: every fill charges the taker ``qty * (price * fee[F_TAKER_BP] * 1e-4 + fee[F_TAKER_PS])`` and the
  maker the same with the maker rates (a negative charge is a rebate); the amount is on the fill's report
  (``EXEC_DTYPE.fee``, with ``liquidity`` LIQ_MAKER / LIQ_TAKER).
* self-trade prevention (``meta[M_STP]``, STP_*): an incoming order that would match a resting order of the
  same owner cancels the incoming remainder (STP_CANCEL_NEWEST, the default), the resting order
  (STP_CANCEL_OLDEST: matching goes on), both, or trades (STP_NONE). A cancel by STP is an EXEC_CANCELED
  report with ``reason`` REJECT_SELF_TRADE (the incoming order's own id for its remainder).

Reports are written into a caller-provided EXEC_DTYPE buffer; ``emit[owner] & EMIT_REPORTS == 0`` suppresses
the reports of an owner (the simulator's own background traders). ``emit[owner] & EMIT_UNINDEXED`` keeps an
owner's orders out of the id index (no duplicate-id check, no index insert/delete: most of the cache misses of
the simulator's market maker): it cancels with the pool slot as ``hint`` (see :func:`handle`). Trades are
written into a TRADE_DTYPE buffer.
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
    LIQ_MAKER,
    LIQ_NONE,
    LIQ_TAKER,
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
    REJECT_SELF_TRADE,
    REJECT_SIDE,
    REJECT_TYPE,
    REJECT_UNKNOWN_ORDER,
    STP_CANCEL_NEWEST,
    STP_CANCEL_OLDEST,
    STP_NONE,
)

M_NFREE = 0  # meta index: number of valid entries in `free`
M_ORDERS = 1  # orders handled
M_MATCHES = 2  # maker/taker matches
M_CANCELS = 3  # successful cancels
M_REJECTS = 4  # rejected requests
M_STP = 5  # the book's self-trade prevention mode (STP_*)
M_STP_CANCELS = 6  # orders (incoming or resting) canceled by self-trade prevention
META_SIZE = 8

# BookArrays.fee: the venue's fee schedule (positive = charged, negative = rebate)
F_MAKER_BP = 0  # maker fee, bp of the fill's notional
F_TAKER_BP = 1  # taker fee, bp of the fill's notional
F_MAKER_PS = 2  # maker fee, USD per share
F_TAKER_PS = 3  # taker fee, USD per share
FEE_SIZE = 4

# columns of BookArrays.pool
Q_ID = 0
Q_OWNER = 1
Q_INSTR = 2
Q_SIDE = 3
Q_LEVEL = 4
Q_QTY = 5
Q_PREV = 6
Q_NEXT = 7

EMIT_REPORTS = 1  # emit[] bits
EMIT_UNINDEXED = 2

_H1 = np.uint64(0x9E3779B97F4A7C15)
_H2 = np.uint64(0xC2B2AE3D27D4EB4F)
_EPS = 1e-9  # relative slack when snapping a price to the tick grid


class BookArrays(NamedTuple):
    """All state of a multi-instrument book; see the module docstring for the layout."""

    lv: np.ndarray  # i8[n+1, L, 4] per level: FIFO head slot, tail slot (-1 = empty), shares, unused
    best_bid: np.ndarray  # i4[n+1], -1 = no bid
    best_ask: np.ndarray  # i4[n+1], L = no ask
    n_rest: np.ndarray  # i8[n+1, 2] resting orders per side (0 = bids, 1 = asks)
    base_tick: np.ndarray  # i8[n+1]
    tick: np.ndarray  # f8[n+1] USD, 0 = not listed
    last_px: np.ndarray  # f8[n+1] last trade price, NaN = none
    pool: np.ndarray  # i8[M, 8] one row (64 bytes) per order slot, columns Q_*
    free: np.ndarray  # i4[M]
    meta: np.ndarray  # i8[META_SIZE]
    hx: np.ndarray  # i8[H, 4] id index rows: order id (bits of the u8), owner, pool slot (-1 = empty), unused
    pos: np.ndarray  # i8[n_owners, n+1] shares
    cash: np.ndarray  # f8[n_owners] USD
    emit: np.ndarray  # u1[n_owners] EMIT_* bits; owners >= len emit: reports, indexed
    fee: np.ndarray  # f8[FEE_SIZE] fee schedule (F_*)
    fees: np.ndarray  # f8[n_owners, 2] USD fees paid (>= 0), rebates earned (>= 0) per tracked owner


# ---- id index ----------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def _home(b, oid, owner):
    h = (np.uint64(np.int64(oid)) * _H1) ^ (np.uint64(np.int64(owner)) * _H2)
    h ^= h >> np.uint64(29)
    return np.int64(h & np.uint64(b.hx.shape[0] - 1))


@njit(cache=True, _nrt=False, inline="always")
def lookup(b, owner, oid):
    """Pool slot of the resting order ``(owner, oid)``, or -1."""
    oid = np.int64(oid)
    owner = np.int64(owner)
    mask = b.hx.shape[0] - 1
    j = _home(b, oid, owner)
    while b.hx[j, 2] != -1:
        if b.hx[j, 0] == oid and b.hx[j, 1] == owner:
            return np.int64(b.hx[j, 2])
        j = (j + 1) & mask
    return np.int64(-1)


@njit(cache=True, _nrt=False, inline="always")
def _h_insert(b, owner, oid, slot):
    oid = np.int64(oid)
    owner = np.int64(owner)
    mask = b.hx.shape[0] - 1
    j = _home(b, oid, owner)
    while b.hx[j, 2] != -1:
        j = (j + 1) & mask
    b.hx[j, 0] = oid
    b.hx[j, 1] = owner
    b.hx[j, 2] = slot


@njit(cache=True, _nrt=False, inline="always")
def _h_delete(b, owner, oid):
    oid = np.int64(oid)
    owner = np.int64(owner)
    mask = b.hx.shape[0] - 1
    i = _home(b, oid, owner)
    while not (b.hx[i, 0] == oid and b.hx[i, 1] == owner and b.hx[i, 2] != -1):
        i = (i + 1) & mask
    j = i
    while True:  # backward-shift deletion keeps every probe chain unbroken
        j = (j + 1) & mask
        if b.hx[j, 2] == -1:
            break
        k = _home(b, b.hx[j, 0], b.hx[j, 1])
        if i <= j:
            stays = i < k <= j
        else:
            stays = k > i or k <= j
        if stays:
            continue
        b.hx[i, 0] = b.hx[j, 0]
        b.hx[i, 1] = b.hx[j, 1]
        b.hx[i, 2] = b.hx[j, 2]
        i = j
    b.hx[i, 2] = -1


# ---- helpers -----------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def _indexed(b, owner):
    return owner >= b.emit.shape[0] or (b.emit[owner] & EMIT_UNINDEXED) == 0


@njit(cache=True, _nrt=False, inline="always")
def slot_holds(b, slot, owner, oid):
    """Whether pool ``slot`` holds the resting order ``(owner, oid)`` (no id-index probe)."""
    return slot >= 0 and b.pool[slot, Q_OWNER] == np.int64(owner) and b.pool[slot, Q_ID] == np.int64(oid)


@njit(cache=True, _nrt=False, inline="always")
def level_price(b, instr, lvl):
    """Price (USD) of ladder level ``lvl`` of ``instr``: ``(base_tick + lvl) * tick``."""
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
def _emit(b, out, n, oid, owner, instr, kind, side, reason, qty, leaves, price, t, liq=LIQ_NONE, fee=0.0):
    if owner < b.emit.shape[0] and (b.emit[owner] & EMIT_REPORTS) == 0:
        return n
    r = out[n]
    r.order_id = oid
    r.owner = owner
    r.instrument = instr
    r.kind = kind
    r.side = side
    r.reason = reason
    r.liquidity = liq
    r.qty = qty
    r.leaves = leaves
    r.price = price
    r.ts_ns = t
    r.fee = fee
    return n + 1


@njit(cache=True, _nrt=False, inline="always")
def fill_fee(b, qty, price, maker):
    """USD charged for ``qty`` shares at ``price`` by the fee schedule (negative: a rebate)."""
    if maker:
        return qty * (price * b.fee[F_MAKER_BP] * 1e-4 + b.fee[F_MAKER_PS])
    return qty * (price * b.fee[F_TAKER_BP] * 1e-4 + b.fee[F_TAKER_PS])


@njit(cache=True, _nrt=False, inline="always")
def _account(b, owner, instr, side, qty, price, fee):
    if owner < b.cash.shape[0]:
        b.pos[owner, instr] += side * qty
        b.cash[owner] -= side * qty * price + fee
        if fee > 0.0:
            b.fees[owner, 0] += fee
        elif fee < 0.0:
            b.fees[owner, 1] -= fee


@njit(cache=True, _nrt=False, inline="always")
def _next_ask(b, instr, start):
    L = b.lv.shape[1]
    if b.n_rest[instr, 1] == 0:
        return L
    k = start
    while k < L and b.lv[instr, k, 0] == -1:
        k += 1
    return k


@njit(cache=True, _nrt=False, inline="always")
def _next_bid(b, instr, start):
    if b.n_rest[instr, 0] == 0:
        return -1
    k = start
    while k >= 0 and b.lv[instr, k, 0] == -1:
        k -= 1
    return k


@njit(cache=True, _nrt=False, inline="always")
def _unlink(b, slot):
    """Remove a resting order from its level, the id index and the pool."""
    instr = b.pool[slot, Q_INSTR]
    lvl = b.pool[slot, Q_LEVEL]
    prv = b.pool[slot, Q_PREV]
    nxt = b.pool[slot, Q_NEXT]
    if prv == -1:
        b.lv[instr, lvl, 0] = nxt
    else:
        b.pool[prv, Q_NEXT] = nxt
    if nxt == -1:
        b.lv[instr, lvl, 1] = prv
    else:
        b.pool[nxt, Q_PREV] = prv
    b.lv[instr, lvl, 2] -= b.pool[slot, Q_QTY]
    sd = 0 if b.pool[slot, Q_SIDE] > 0 else 1
    b.n_rest[instr, sd] -= 1
    if _indexed(b, b.pool[slot, Q_OWNER]):
        _h_delete(b, b.pool[slot, Q_OWNER], b.pool[slot, Q_ID])
    b.pool[slot, Q_OWNER] = -1  # a free slot matches no (owner, id): lets callers check a remembered slot
    b.free[b.meta[M_NFREE]] = slot
    b.meta[M_NFREE] += 1
    if b.lv[instr, lvl, 0] == -1:
        if sd == 0 and b.best_bid[instr] == lvl:
            b.best_bid[instr] = _next_bid(b, instr, lvl - 1)
        elif sd == 1 and b.best_ask[instr] == lvl:
            b.best_ask[instr] = _next_ask(b, instr, lvl + 1)


# ---- the order handler -------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def handle(b, oid, target, owner, instr, side, otype, qty, price, t, out, n_out, trades, n_tr, hint):
    """Apply one order request at venue time ``t`` (ns). Returns ``(n_out, n_tr, instrument touched or 0)``.

    ``hint``: for a cancel, the pool slot of the target if the caller knows it (-1 otherwise); used only if
    the slot holds ``(owner, target)``. The only way to cancel an order of an EMIT_UNINDEXED owner.

    The caller guarantees room for ``3 + 2 * n_rest[instr, opposite]`` reports and ``n_rest[...]`` trades.
    """
    b.meta[M_ORDERS] += 1
    n_instr = b.tick.shape[0]
    L = b.lv.shape[1]
    if otype == ORDER_CANCEL:
        if slot_holds(b, hint, owner, target):
            slot = np.int64(hint)
        elif _indexed(b, owner):
            slot = lookup(b, owner, target)
        else:
            slot = np.int64(-1)
        if slot < 0:
            b.meta[M_REJECTS] += 1
            n_out = _emit(
                b, out, n_out, oid, owner, instr, EXEC_REJECTED, side, REJECT_UNKNOWN_ORDER, 0, 0, price, t
            )
            return n_out, n_tr, np.int64(0)
        ci = np.int64(b.pool[slot, Q_INSTR])
        px = level_price(b, ci, b.pool[slot, Q_LEVEL])
        cside = b.pool[slot, Q_SIDE]
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
    if reason == 0 and _indexed(b, owner) and lookup(b, owner, oid) >= 0:
        reason = REJECT_DUPLICATE_ID
    if reason != 0:
        b.meta[M_REJECTS] += 1
        n_out = _emit(b, out, n_out, oid, owner, instr, EXEC_REJECTED, side, reason, 0, 0, price, t)
        return n_out, n_tr, np.int64(0)
    lpx = 0.0 if otype == ORDER_MARKET else level_price(b, instr, lvl)
    n_out = _emit(b, out, n_out, oid, owner, instr, EXEC_ACK, side, 0, 0, qty, lpx, t)
    rem = qty
    stp = b.meta[M_STP]
    stopped = False  # self-trade prevention canceled the incoming remainder
    while rem > 0 and not stopped:  # one matching loop for both sides keeps a single inlined copy of _match
        k = np.int64(b.best_ask[instr]) if side > 0 else np.int64(b.best_bid[instr])
        if (side > 0 and k > lvl) or (side < 0 and k < lvl):
            break
        px = level_price(b, instr, k)
        while rem > 0 and b.lv[instr, k, 0] != -1:
            m = b.lv[instr, k, 0]
            if stp != STP_NONE and b.pool[m, Q_OWNER] == owner:
                if stp != STP_CANCEL_NEWEST:  # cancel the resting order
                    n_out = _emit(
                        b,
                        out,
                        n_out,
                        b.pool[m, Q_ID],
                        owner,
                        instr,
                        EXEC_CANCELED,
                        b.pool[m, Q_SIDE],
                        REJECT_SELF_TRADE,
                        0,
                        0,
                        px,
                        t,
                    )
                    _unlink(b, m)
                    b.meta[M_STP_CANCELS] += 1
                if stp != STP_CANCEL_OLDEST:  # cancel the incoming remainder
                    stopped = True
                    break
                continue
            f = min(rem, b.pool[m, Q_QTY])
            rem, n_out, n_tr = _match(b, m, f, px, oid, owner, instr, side, rem, t, out, n_out, trades, n_tr)
    if rem > 0:
        if stopped:
            b.meta[M_STP_CANCELS] += 1
            n_out = _emit(
                b, out, n_out, oid, owner, instr, EXEC_CANCELED, side, REJECT_SELF_TRADE, 0, 0, lpx, t
            )
        elif otype != ORDER_LIMIT:
            n_out = _emit(b, out, n_out, oid, owner, instr, EXEC_EXPIRED, side, 0, 0, 0, lpx, t)
        elif b.meta[M_NFREE] == 0:
            b.meta[M_REJECTS] += 1
            n_out = _emit(
                b, out, n_out, oid, owner, instr, EXEC_REJECTED, side, REJECT_BOOK_FULL, 0, 0, lpx, t
            )
        else:
            _rest(b, oid, owner, instr, side, lvl, rem, t)
    return n_out, n_tr, np.int64(instr)


@njit(cache=True, _nrt=False, inline="always")
def _match(b, m, f, px, oid, owner, instr, side, rem, t, out, n_out, trades, n_tr):
    """Fill ``f`` shares of the incoming order against resting slot ``m`` at ``px``."""
    b.meta[M_MATCHES] += 1
    rem -= f
    mowner = b.pool[m, Q_OWNER]
    mid = b.pool[m, Q_ID]
    mside = b.pool[m, Q_SIDE]
    mleft = b.pool[m, Q_QTY] - f
    tfee = fill_fee(b, f, px, False)
    mfee = fill_fee(b, f, px, True)
    n_out = _emit(
        b,
        out,
        n_out,
        oid,
        owner,
        instr,
        EXEC_FILL if rem == 0 else EXEC_PARTIAL,
        side,
        0,
        f,
        rem,
        px,
        t,
        LIQ_TAKER,
        tfee,
    )
    n_out = _emit(
        b,
        out,
        n_out,
        mid,
        mowner,
        instr,
        EXEC_FILL if mleft == 0 else EXEC_PARTIAL,
        mside,
        0,
        f,
        mleft,
        px,
        t,
        LIQ_MAKER,
        mfee,
    )
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
    _account(b, owner, instr, side, f, px, tfee)
    _account(b, mowner, instr, mside, f, px, mfee)
    b.last_px[instr] = px
    if mleft == 0:
        _unlink(b, m)
    else:
        b.pool[m, Q_QTY] = mleft
        b.lv[instr, b.pool[m, Q_LEVEL], 2] -= f
    return rem, n_out, n_tr


@njit(cache=True, _nrt=False, inline="always")
def _rest(b, oid, owner, instr, side, lvl, qty, t):
    b.meta[M_NFREE] -= 1
    s = b.free[b.meta[M_NFREE]]
    b.pool[s, Q_ID] = np.int64(oid)
    b.pool[s, Q_OWNER] = owner
    b.pool[s, Q_INSTR] = instr
    b.pool[s, Q_SIDE] = side
    b.pool[s, Q_LEVEL] = lvl
    b.pool[s, Q_QTY] = qty
    b.pool[s, Q_NEXT] = -1
    tail = b.lv[instr, lvl, 1]
    b.pool[s, Q_PREV] = tail
    if tail == -1:
        b.lv[instr, lvl, 0] = s
    else:
        b.pool[tail, Q_NEXT] = s
    b.lv[instr, lvl, 1] = s
    b.lv[instr, lvl, 2] += qty
    if _indexed(b, owner):
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
        n_out, n_tr, _ = handle(
            b,
            o.order_id,
            o.target_id,
            o.owner,
            np.int64(o.instrument),
            np.int64(o.side),
            o.type,
            o.qty,
            o.price,
            o.ts_ns,
            out,
            n_out,
            trades,
            n_tr,
            np.int64(-1),
        )
        i += 1
    return i, n_out, n_tr


@njit(cache=True, _nrt=False)
def shares_ahead(b, owner, oid):
    """Shares resting ahead of ``(owner, oid)`` at its price level (FIFO), or -1 if it is not resting."""
    s = lookup(b, owner, oid)
    if s < 0 and not _indexed(b, owner):  # not in the id index: scan the pool (a diagnostic, not a hot path)
        for k in range(b.pool.shape[0]):
            if slot_holds(b, k, owner, oid):
                s = np.int64(k)
                break
    if s < 0:
        return np.int64(-1)
    total = np.int64(0)
    k = b.pool[s, Q_PREV]
    while k != -1:
        total += b.pool[k, Q_QTY]
        k = b.pool[k, Q_PREV]
    return total


@njit(cache=True, _nrt=False)
def level_orders(b, instr, lvl, out_owner, out_id, out_qty):
    """Copy the FIFO queue of one level into the given arrays; returns the count."""
    n = 0
    k = b.lv[instr, lvl, 0]
    while k != -1 and n < out_id.shape[0]:
        out_owner[n] = b.pool[k, Q_OWNER]
        out_id[n] = b.pool[k, Q_ID]
        out_qty[n] = b.pool[k, Q_QTY]
        n += 1
        k = b.pool[k, Q_NEXT]
    return n
