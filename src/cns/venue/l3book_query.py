# mypy: ignore-errors
# (Numba kernels: typed by Numba at compile time; the njit stubs do not know _nrt/inline options)
"""Read-side and maintenance kernels of the sparse L3 book: depth, order lookups, queue position, snapshots,
growth (copy into a bigger state) and an invariant checker for tests. None of them is on the matching path.

State layout: see :mod:`cns.venue.l3book_store`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from cns.venue.l3book_store import (
    H_CANCELS,
    H_FILLS,
    H_GROWABLE,
    H_LAST_PX,
    H_LAST_QTY,
    H_LAST_TS,
    H_NFREE,
    H_NLFREE,
    H_NLVL,
    H_NORD,
    H_OPS,
    H_REJECTS,
    H_STP,
    H_VOLUME,
    L_COUNT,
    L_HEAD,
    L_PRICE,
    L_QTY,
    L_SIDE,
    L_TAIL,
    P_ID,
    P_LVL,
    P_NEXT,
    P_OWNER,
    P_PREV,
    P_PRICE,
    P_QTY,
    P_SIDE,
    _h_insert_at,
    _h_slot,
    lookup,
    refresh_cache_stamp,
    views,
)

refresh_cache_stamp(__file__)  # before any @njit below: see l3book_store.refresh_cache_stamp

_I64 = types.int64
_S = types.Array(types.int64, 1, "C")
_M = types.Array(types.int64, 2, "C")


@njit(_I64(_S, _I64, _M), cache=True, _nrt=False)
def depth(S, si, out):
    """Best ``out.shape[0]`` levels of side ``si`` (0 bids, 1 asks), best first, rows (price, shares, orders).
    Returns the row count."""
    st = views(S)
    n = st.h[H_NLVL + si]
    k = 0
    while k < n and k < out.shape[0]:
        ls = st.slots[si, n - 1 - k]
        out[k, 0] = st.lvl[ls, L_PRICE]
        out[k, 1] = st.lvl[ls, L_QTY]
        out[k, 2] = st.lvl[ls, L_COUNT]
        k += 1
    return k


@njit(types.UniTuple(_I64, 6)(_S, types.uint64), cache=True, _nrt=False)
def order_info(S, order_id):
    """``(side, price, leaves, owner, orders ahead, shares ahead)`` of a resting order; side 0 = not resting."""
    st = views(S)
    s = lookup(st, np.int64(order_id))
    if s < 0:
        z = np.int64(0)
        return z, z, z, z, z, z
    ahead = np.int64(0)
    shares = np.int64(0)
    k = st.pool[s, P_PREV]
    while k != -1:
        ahead += 1
        shares += st.pool[k, P_QTY]
        k = st.pool[k, P_PREV]
    return st.pool[s, P_SIDE], st.pool[s, P_PRICE], st.pool[s, P_QTY], st.pool[s, P_OWNER], ahead, shares


@njit(_I64(_S, _M), cache=True, _nrt=False)
def snapshot(S, out):
    """Every resting order in priority order (bids best first, then asks best first, FIFO within a level):
    rows (side, price, order id bits, owner, leaves). ``out`` must have ``resting`` rows; returns the count."""
    st = views(S)
    r = 0
    for si in range(2):
        n = st.h[H_NLVL + si]
        for p in range(n - 1, -1, -1):
            m = st.lvl[st.slots[si, p], L_HEAD]
            while m != -1 and r < out.shape[0]:
                out[r, 0] = st.pool[m, P_SIDE]
                out[r, 1] = st.pool[m, P_PRICE]
                out[r, 2] = st.pool[m, P_ID]
                out[r, 3] = st.pool[m, P_OWNER]
                out[r, 4] = st.pool[m, P_QTY]
                r += 1
                m = st.pool[m, P_NEXT]
    return r


@njit(types.none(_S, _S), cache=True)
def grow_into(old, new):
    """Copy the book in ``old`` into the larger empty state ``new`` (same slot numbers; id index rebuilt)."""
    a = views(old)
    b = views(new)
    cap = a.pool.shape[0]
    ncap = b.pool.shape[0]
    b.pool[:cap] = a.pool
    b.lvl[:cap] = a.lvl
    for si in range(2):
        n = a.h[H_NLVL + si]
        b.keys[si, :n] = a.keys[si, :n]
        b.slots[si, :n] = a.slots[si, :n]
    # free stacks: the new slots at the bottom, the old free ones on top (used first)
    k = 0
    for s in range(ncap - 1, cap - 1, -1):
        b.free[k] = s
        b.lfree[k] = s
        k += 1
    nf = a.h[H_NFREE]
    b.free[k : k + nf] = a.free[:nf]
    b.h[H_NFREE] = k + nf
    nlf = a.h[H_NLFREE]
    b.lfree[k : k + nlf] = a.lfree[:nlf]
    b.h[H_NLFREE] = k + nlf
    for j in (
        H_NORD,
        H_NORD + 1,
        H_NLVL,
        H_NLVL + 1,
        H_LAST_PX,
        H_LAST_QTY,
        H_LAST_TS,
        H_OPS,
        H_FILLS,
        H_CANCELS,
        H_REJECTS,
        H_STP,
        H_VOLUME,
        H_GROWABLE,
    ):
        b.h[j] = a.h[j]
    for s in range(cap):
        if a.pool[s, P_LVL] != -1:
            _h_insert_at(b, _h_slot(b, a.pool[s, P_ID]), a.pool[s, P_ID], s)


@njit(_I64(_S), cache=True, _nrt=False)
def check_invariants(S):
    """0 if the state is consistent, else a positive code naming the first broken invariant (for tests):
    1 keys not strictly ascending, 2 level side/price/key mismatch, 3 FIFO links broken, 4 level shares or
    count wrong, 5 order count per side wrong, 6 id index wrong, 7 free counts wrong, 8 empty level kept."""
    st = views(S)
    cap = st.pool.shape[0]
    live = 0
    for si in range(2):
        n = st.h[H_NLVL + si]
        orders = 0
        for p in range(n):
            if p > 0 and st.keys[si, p] <= st.keys[si, p - 1]:
                return np.int64(1)
            ls = st.slots[si, p]
            px = st.lvl[ls, L_PRICE]
            if st.lvl[ls, L_SIDE] != (1 if si == 0 else -1) or st.keys[si, p] != (px if si == 0 else -px):
                return np.int64(2)
            if st.lvl[ls, L_COUNT] == 0:
                return np.int64(8)
            m = st.lvl[ls, L_HEAD]
            prev = np.int64(-1)
            qty = np.int64(0)
            cnt = 0
            while m != -1:
                if cnt > cap or st.pool[m, P_PREV] != prev or st.pool[m, P_LVL] != ls:
                    return np.int64(3)
                if (
                    st.pool[m, P_PRICE] != px
                    or st.pool[m, P_SIDE] != st.lvl[ls, L_SIDE]
                    or st.pool[m, P_QTY] <= 0
                ):
                    return np.int64(3)
                if lookup(st, st.pool[m, P_ID]) != m:
                    return np.int64(6)
                qty += st.pool[m, P_QTY]
                cnt += 1
                prev = m
                m = st.pool[m, P_NEXT]
            if st.lvl[ls, L_TAIL] != prev:
                return np.int64(3)
            if qty != st.lvl[ls, L_QTY] or cnt != st.lvl[ls, L_COUNT]:
                return np.int64(4)
            orders += cnt
        if orders != st.h[H_NORD + si]:
            return np.int64(5)
        live += orders
    if st.h[H_NFREE] + live != cap or st.h[H_NLFREE] + st.h[H_NLVL] + st.h[H_NLVL + 1] != cap:
        return np.int64(7)
    used = 0
    for j in range(st.hx.shape[0]):
        if st.hx[j] != 0:
            used += 1
    if used != live:
        return np.int64(6)
    return np.int64(0)


__all__ = ["check_invariants", "depth", "grow_into", "order_info", "snapshot"]
