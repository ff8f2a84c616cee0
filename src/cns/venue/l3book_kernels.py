# mypy: ignore-errors
# (Numba kernels: typed by Numba at compile time; the njit stubs do not know _nrt/inline options)
"""Entry points of the sparse L3 order book: the batch loop with its inline feed fast path, the single-op call,
top-of-book rows (matching: :mod:`cns.venue.l3book_match`; state layout: :mod:`cns.venue.l3book_store`).

Bounds: every op field is range-checked (``MAX_PRICE``, ``MAX_QTY``, ``MAX_QUOTE``, kinds, sides, stp modes)
before it is used, and ``MAX_QTY * MAX_ORDERS <= 2**62`` so no level or walk sum can overflow. A kernel never
raises: a bad op becomes one ``EXEC_REJECTED`` report with a ``REJECT_*`` reason. Capacity is checked before
an op starts: when the pool is full and the book may grow, or the report buffer could overflow, the kernel
returns to Python (``ST_GROW`` / ``ST_OUT``) *before* touching the op, so Python grows and resumes.

Entry points have explicit signatures (compiled at import, loaded from the cache afterwards) so a call does
no type dispatch; they take the state array and int64 matrices only (records are viewed as ``int64[n, k]``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from cns.venue.l3book_dtypes import (
    EMPTY_ASK_PRICE,
    EMPTY_BID_PRICE,
    EXEC_FILL,
    EXEC_PARTIAL,
    MAX_PRICE,
    MAX_QTY,
    N_STP_MODES,
    OP_ADD,
    OP_DELETE,
    OP_EXEC,
    OP_REDUCE,
)
from cns.venue.l3book_match import (  # noqa: F401  (re-exported: callers inline them from here)
    apply,
    needs_slot,
    room_needed,
    takes,
)
from cns.venue.l3book_store import (  # noqa: F401  (re-exported: the layout is part of this module's API)
    _I64_MAX,
    H_CANCELS,
    H_CAP,
    H_CAP_OUT,
    H_FILLS,
    H_GROWABLE,
    H_LAST_PX,
    H_LAST_QTY,
    H_LAST_TS,
    H_NFREE,
    H_NLVL,
    H_NORD,
    H_OFF_OUT,
    H_OPS,
    H_REJECTS,
    H_STP,
    H_VOLUME,
    L_COUNT,
    L_HEAD,
    L_PRICE,
    L_QTY,
    O_ID,
    O_KIND,
    O_OWNER,
    O_PRICE,
    O_QTY,
    O_QUOTE,
    O_SIDE,
    O_STP,
    O_TS,
    P_ID,
    P_NEXT,
    P_OWNER,
    P_PRICE,
    P_QTY,
    P_SIDE,
    ST_DONE,
    ST_GROW,
    ST_OUT,
    _crosses,
    _h_get,
    _h_slot,
    _reject,
    _remove,
    _remove_at,
    _rep,
    _rest,
    _rest_at,
    _shrink,
    _to_tail,
    allocate,
    lookup,
    out_view,
    refresh_cache_stamp,
    views,
)

refresh_cache_stamp(__file__)  # before any @njit below: see l3book_store.refresh_cache_stamp


# ---- entry points ------------------------------------------------------------------------------------------

_I64 = types.int64
_S = types.Array(types.int64, 1, "C")
_M = types.Array(types.int64, 2, "C")


@njit(types.UniTuple(_I64, 2)(_S, _I64, _I64), cache=True, _nrt=False)
def best_level(S, si, depth):
    """``(price, shares)`` of the ``depth``-th best level of side ``si`` (0 bids, 1 asks); shares 0 = none."""
    st = views(S)
    n = st.h[H_NLVL + si]
    if depth < 0 or depth >= n:
        return np.int64(0), np.int64(0)
    ls = st.slots[si, n - 1 - depth]
    return st.lvl[ls, L_PRICE], st.lvl[ls, L_QTY]


@njit(cache=True, _nrt=False, inline="always")
def write_tob(st, tob, row, nlev):
    """LOBSTER orderbook row: per level ask price, ask size, bid price, bid size (empty: LOBSTER marks)."""
    for si in range(2):
        n = st.h[H_NLVL + si]
        for k in range(nlev):
            c = 4 * k + (2 if si == 0 else 0)
            if k < n:
                ls = st.slots[si, n - 1 - k]
                tob[row, c] = st.lvl[ls, L_PRICE]
                tob[row, c + 1] = st.lvl[ls, L_QTY]
            else:
                tob[row, c] = EMPTY_BID_PRICE if si == 0 else EMPTY_ASK_PRICE
                tob[row, c + 1] = 0


@njit(cache=True, _nrt=False, inline="always")
def fast_path(st, out, n, ops, i, kind):
    """The common *valid* feed ops (add / delete / reduce / exec of a live order) applied inline, exactly as
    :func:`apply` would; returns False (nothing done) for anything else, which then goes through ``apply``.
    An OP_EXEC writes its one report at ``out[n]`` (the caller counts it)."""
    return fast_path_emit(st, out, n, ops, i, kind, True)


@njit(cache=True, _nrt=False, inline="always")
def fast_path_emit(st, out, n, ops, i, kind, emit):
    """:func:`fast_path`; with ``emit`` False an OP_EXEC writes no report (book-only replay)."""
    if kind == OP_ADD:
        side = ops[i, O_SIDE]
        price = ops[i, O_PRICE]
        qty = ops[i, O_QTY]
        stp = ops[i, O_STP]
        if (
            (side != 1 and side != -1)
            or price <= 0
            or price > MAX_PRICE
            or qty <= 0
            or qty > MAX_QTY
            or stp < 0
            or stp >= N_STP_MODES
            or st.h[H_NFREE] == 0
        ):
            return False
        oid = ops[i, O_ID]
        j = _h_slot(st, oid)
        if st.hx[j] != 0:
            return False
        st.h[H_OPS] += 1
        _rest_at(st, j, oid, ops[i, O_OWNER], side, price, qty)
        return True
    if kind != OP_DELETE and kind != OP_REDUCE and kind != OP_EXEC:
        return False
    oid = ops[i, O_ID]
    j = _h_slot(st, oid)
    s = _h_get(st, j)
    if s < 0:
        return False
    if kind == OP_DELETE:
        st.h[H_OPS] += 1
        _remove_at(st, s, j)
        st.h[H_CANCELS] += 1
        return True
    qty = ops[i, O_QTY]
    oq = st.pool[s, P_QTY]
    if qty <= 0 or qty > oq:
        return False
    st.h[H_OPS] += 1
    if kind == OP_EXEC:
        ts = ops[i, O_TS]
        st.h[H_FILLS] += 1
        st.h[H_VOLUME] += qty
        st.h[H_LAST_PX] = st.pool[s, P_PRICE]
        st.h[H_LAST_QTY] = qty
        st.h[H_LAST_TS] = ts
    if kind == OP_EXEC and emit:
        _rep(
            out,
            n,
            ts,
            oid,
            0,
            st.pool[s, P_OWNER],
            0,
            EXEC_FILL if qty == oq else EXEC_PARTIAL,
            st.pool[s, P_SIDE],
            st.pool[s, P_PRICE],
            qty,
            oq - qty,
            0,
            1,
        )
    if qty == oq:
        _remove_at(st, s, j)
    else:
        _shrink(st, s, qty)
    return True


@njit(types.UniTuple(_I64, 3)(_S, _M, _I64, _M, _I64, _M, _I64), cache=True, _nrt=False)
def process_batch(S, ops, start, out, n_out, tob, emit):
    """Apply ``ops[start:]`` (int64 view of L3_OP_DTYPE rows) in order, reports into ``out[n_out:]``.

    ``emit`` 0 keeps no report (book-only replay): the fast path writes none and the reports of any other op
    are written at ``out[0:]`` and dropped (``out`` is scratch then; the returned count stays 0).
    If ``tob`` has rows, row ``i`` receives the LOBSTER-format top ``tob.shape[1] // 4`` levels after op ``i``.
    Returns ``(next op index, report count, ST_*)``; stops *before* an op when the pool is full and the book
    is growable (ST_GROW) or when ``out`` might not hold its reports (ST_OUT).
    """
    st = views(S)
    nlev = tob.shape[1] // 4 if tob.shape[0] > 0 else 0
    keep = emit != 0
    if not keep:
        n_out = np.int64(0)
    i = start
    while i < ops.shape[0]:
        kind = ops[i, O_KIND]
        if (
            kind == OP_DELETE
            or kind == OP_REDUCE
            or kind == OP_EXEC
            or (kind == OP_ADD and st.h[H_NFREE] > 0)
        ):
            if n_out + 2 > out.shape[0]:  # feed ops: the inline fast path, at most one report
                return i, n_out, np.int64(ST_OUT)
            if fast_path_emit(st, out, n_out, ops, i, kind, keep):
                if kind == OP_EXEC and keep:
                    n_out += 1
                if nlev > 0 and i < tob.shape[0]:
                    write_tob(st, tob, i, nlev)
                i += 1
                continue
        if needs_slot(kind) and st.h[H_NFREE] == 0 and st.h[H_GROWABLE] == 1:
            return i, n_out, np.int64(ST_GROW)
        if takes(kind):
            need = room_needed(
                st,
                kind,
                ops[i, O_ID],
                ops[i, O_SIDE],
                ops[i, O_PRICE],
                ops[i, O_QTY],
                ops[i, O_QUOTE],
                ops[i, O_STP],
            )
        else:
            need = np.int64(2)
        if n_out + need > out.shape[0]:
            return i, n_out, np.int64(ST_OUT)
        n = apply(
            st,
            out,
            n_out,
            ops[i, O_TS],
            ops[i, O_ID],
            ops[i, O_OWNER],
            kind,
            ops[i, O_SIDE],
            ops[i, O_PRICE],
            ops[i, O_QTY],
            ops[i, O_QUOTE],
            ops[i, O_STP],
        )
        if keep:
            n_out = n
        if nlev > 0 and i < tob.shape[0]:
            write_tob(st, tob, i, nlev)
        i += 1
    return i, n_out, np.int64(ST_DONE)


@njit(_I64(_S, _I64, types.uint64, _I64, _I64, _I64, _I64, _I64, _I64, _I64), cache=True, _nrt=False)
def op1(S, ts, order_id, owner, kind, side, price, qty, quote, stp):
    """Apply one op; its reports go to the state's own report area. Returns the report count, or -1 (the
    pool is full and may grow) / -2 (the report area is too small): nothing was applied then."""
    st = views(S)
    oid = np.int64(order_id)
    if needs_slot(kind) and st.h[H_NFREE] == 0 and st.h[H_GROWABLE] == 1:
        return np.int64(-1)
    out = out_view(S)
    if room_needed(st, kind, oid, side, price, qty, quote, stp) > out.shape[0]:
        return np.int64(-2)
    return apply(st, out, 0, ts, oid, owner, kind, side, price, qty, quote, stp)
