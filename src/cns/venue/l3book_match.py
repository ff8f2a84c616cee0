# mypy: ignore-errors
# (Numba kernels: typed by Numba at compile time; the njit stubs do not know _nrt/inline options)
"""Matching of the sparse L3 order book: one op of any kind applied to the state (:func:`apply`), the
price-time walk of an incoming order (:func:`_take`) and the report-room bound of an op (:func:`room_needed`).
Entry points that loop over batches are in :mod:`cns.venue.l3book_kernels`; the state layout is in
:mod:`cns.venue.l3book_store`.

Bounds: every op field is range-checked (``MAX_PRICE``, ``MAX_QTY``, ``MAX_QUOTE``, kinds, sides, stp modes)
before it is used, and ``MAX_QTY * MAX_ORDERS <= 2**62`` so no level or walk sum can overflow. A bad op becomes
one ``EXEC_REJECTED`` report with a ``REJECT_*`` reason; nothing here raises.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.venue.l3book_dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_MODIFIED,
    EXEC_PARTIAL,
    EXEC_PRINT,
    MAX_PRICE,
    MAX_QTY,
    MAX_QUOTE,
    N_OP_KINDS,
    N_STP_MODES,
    OP_ADD,
    OP_CANCEL,
    OP_DELETE,
    OP_EXEC,
    OP_FOK,
    OP_IOC,
    OP_LIMIT,
    OP_MARKET,
    OP_MARKET_QUOTE,
    OP_MODIFY,
    OP_NOOP,
    OP_PMODIFY,
    OP_POST_ONLY,
    OP_PRINT,
    OP_REDUCE,
    REASON_STP,
    REJECT_BOOK_FULL,
    REJECT_DUPLICATE_ID,
    REJECT_EXCEEDS,
    REJECT_FOK,
    REJECT_OWNER,
    REJECT_POST_ONLY,
    REJECT_PRICE,
    REJECT_QTY,
    REJECT_QUOTE,
    REJECT_SIDE,
    REJECT_STP_MODE,
    REJECT_TYPE,
    REJECT_UNKNOWN_ORDER,
    STP_CANCEL_BOTH,
    STP_CANCEL_NEWEST,
    STP_CANCEL_OLDEST,
    STP_DECREMENT,
)
from cns.venue.l3book_store import (
    _I64_MAX,
    H_CANCELS,
    H_FILLS,
    H_LAST_PX,
    H_LAST_QTY,
    H_LAST_TS,
    H_NFREE,
    H_NLVL,
    H_NORD,
    H_OPS,
    H_STP,
    H_VOLUME,
    L_COUNT,
    L_HEAD,
    L_PRICE,
    L_QTY,
    P_ID,
    P_NEXT,
    P_OWNER,
    P_PRICE,
    P_QTY,
    P_SIDE,
    _crosses,
    _reject,
    _remove,
    _rep,
    _rest,
    _shrink,
    _to_tail,
    lookup,
    refresh_cache_stamp,
)

refresh_cache_stamp(__file__)  # before any @njit below: see l3book_store.refresh_cache_stamp

# ---- matching ----------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False)
def _fok_fillable(st, side, lim, qty, owner, stp):
    """Whether a FOK of ``qty`` at ``lim`` fills completely (dry run; same STP rules as the real walk)."""
    so = 1 if side > 0 else 0
    n = st.h[H_NLVL + so]
    avail = np.int64(0)
    for p in range(n - 1, -1, -1):
        ls = st.slots[so, p]
        if not _crosses(side, st.lvl[ls, L_PRICE], lim):
            return False
        if stp == 0:
            avail += st.lvl[ls, L_QTY]
            if avail >= qty:
                return True
            continue
        m = st.lvl[ls, L_HEAD]
        while m != -1:
            if st.pool[m, P_OWNER] == owner:
                if stp != STP_CANCEL_OLDEST:
                    return False  # the walk would stop or shrink the order here
            else:
                avail += st.pool[m, P_QTY]
                if avail >= qty:
                    return True
            m = st.pool[m, P_NEXT]
    return False


@njit(cache=True, _nrt=False)
def _take(st, out, n, ts, oid, owner, side, lim, qty, quote, stp, kind):
    """Match an incoming order against the opposite side; rest / expire the remainder per ``kind``.

    ``lim`` is the limit in ticks (market orders pass the most aggressive bound); for OP_MARKET_QUOTE
    ``quote`` is the budget and ``qty`` a share cap. Returns the new report count.
    """
    so = 1 if side > 0 else 0
    rem = qty
    budget = quote
    is_quote = kind == OP_MARKET_QUOTE
    done = False  # set when self-trade prevention canceled the incoming order
    while rem > 0 and st.h[H_NLVL + so] > 0:
        ls = st.slots[so, st.h[H_NLVL + so] - 1]
        px = st.lvl[ls, L_PRICE]
        if not _crosses(side, px, lim):
            break
        f = rem
        if is_quote:
            f = min(f, budget // px)
            if f == 0:
                break
        m = st.lvl[ls, L_HEAD]
        mq = st.pool[m, P_QTY]
        mid = st.pool[m, P_ID]
        mowner = st.pool[m, P_OWNER]
        mside = st.pool[m, P_SIDE]
        if stp != 0 and mowner == owner:
            st.h[H_STP] += 1
            if stp == STP_CANCEL_OLDEST or stp == STP_CANCEL_BOTH:
                st.h[H_CANCELS] += 1
                n = _rep(out, n, ts, mid, oid, mowner, owner, EXEC_CANCELED, mside, px, mq, 0, REASON_STP, 0)
                _remove(st, m)
            if stp == STP_CANCEL_NEWEST or stp == STP_CANCEL_BOTH:
                n = _rep(out, n, ts, oid, mid, owner, mowner, EXEC_CANCELED, side, px, rem, 0, REASON_STP, 0)
                rem = 0
                done = True
            elif stp == STP_DECREMENT:
                d = min(rem, mq)
                st.h[H_CANCELS] += 1
                n = _rep(
                    out, n, ts, mid, oid, mowner, owner, EXEC_CANCELED, mside, px, d, mq - d, REASON_STP, 0
                )
                if d == mq:
                    _remove(st, m)
                else:
                    _shrink(st, m, d)
                rem -= d
                n = _rep(out, n, ts, oid, mid, owner, mowner, EXEC_CANCELED, side, px, d, rem, REASON_STP, 0)
                if rem == 0:
                    done = True
            continue
        f = min(f, mq)
        rem -= f
        mleft = mq - f
        if is_quote:
            budget -= f * px
        st.h[H_FILLS] += 1
        st.h[H_VOLUME] += f
        st.h[H_LAST_PX] = px
        st.h[H_LAST_QTY] = f
        st.h[H_LAST_TS] = ts
        tk = EXEC_PARTIAL if (rem > 0 or is_quote) else EXEC_FILL
        n = _rep(out, n, ts, oid, mid, owner, mowner, tk, side, px, f, budget if is_quote else rem, 0, 0)
        n = _rep(
            out,
            n,
            ts,
            mid,
            oid,
            mowner,
            owner,
            EXEC_FILL if mleft == 0 else EXEC_PARTIAL,
            mside,
            px,
            f,
            mleft,
            0,
            1,
        )
        if mleft == 0:
            _remove(st, m)
        else:
            _shrink(st, m, f)
    if is_quote:
        return _rep(out, n, ts, oid, 0, owner, 0, EXEC_EXPIRED, side, 0, 0, budget, 0, 0)
    if done or rem == 0:
        return n
    if kind == OP_LIMIT or kind == OP_POST_ONLY or kind == OP_MODIFY:
        if st.h[H_NFREE] == 0:
            return _rep(out, n, ts, oid, 0, owner, 0, EXEC_EXPIRED, side, lim, rem, 0, REJECT_BOOK_FULL, 0)
        _rest(st, oid, owner, side, lim, rem)
        return n
    return _rep(
        out, n, ts, oid, 0, owner, 0, EXEC_EXPIRED, side, lim if kind != OP_MARKET else 0, rem, 0, 0, 0
    )


@njit(cache=True, _nrt=False)
def room_needed(st, kind, oid, side, price, qty, quote, stp):
    """Upper bound of the reports one op can write (2 per resting order it can reach, plus 4)."""
    if kind == OP_MODIFY:
        s = lookup(st, oid)
        if s < 0:
            return np.int64(2)
        side = st.pool[s, P_SIDE]
    elif not (
        kind == OP_LIMIT or kind == OP_MARKET or kind == OP_IOC or kind == OP_FOK or kind == OP_MARKET_QUOTE
    ):
        return np.int64(2)
    if side != 1 and side != -1:
        return np.int64(2)
    so = 1 if side > 0 else 0
    if stp != 0:
        return 4 + 2 * st.h[H_NORD + so]
    lim = price
    if kind == OP_MARKET or kind == OP_MARKET_QUOTE:
        lim = _I64_MAX if side > 0 else np.int64(0)
    cap = qty if kind != OP_MARKET_QUOTE or qty > 0 else _I64_MAX
    n = st.h[H_NLVL + so]
    cnt = np.int64(0)
    cum = np.int64(0)
    b = quote
    for p in range(n - 1, -1, -1):
        ls = st.slots[so, p]
        px = st.lvl[ls, L_PRICE]
        if not _crosses(side, px, lim):
            break
        cnt += st.lvl[ls, L_COUNT]
        lq = st.lvl[ls, L_QTY]
        if kind == OP_MARKET_QUOTE:
            if b <= 0:
                break
            take = min(lq, b // px)
            b -= take * px
            cum += take
            if take < lq or cum >= cap:
                break
        else:
            cum += lq
            if cum >= cap:
                break
    return 4 + 2 * cnt


@njit(cache=True, _nrt=False, inline="always")
def needs_slot(kind):
    """True for an op kind that may rest and so needs a free pool slot (limit, post-only, add)."""
    return kind == OP_LIMIT or kind == OP_POST_ONLY or kind == OP_ADD


# ---- one op ------------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def apply(st, out, n, ts, oid, owner, kind, side, price, qty, quote, stp):
    """Apply one op (fields as in L3_OP_DTYPE, id bits as int64). Returns the new report count."""
    st.h[H_OPS] += 1
    if kind < 0 or kind >= N_OP_KINDS:
        return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_TYPE)
    if kind == OP_NOOP:
        return n
    if (
        kind == OP_CANCEL
        or kind == OP_DELETE
        or kind == OP_REDUCE
        or kind == OP_EXEC
        or kind == OP_MODIFY
        or kind == OP_PMODIFY
    ):
        s = lookup(st, oid)
        if s < 0:
            return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_UNKNOWN_ORDER)
        oside = st.pool[s, P_SIDE]
        opx = st.pool[s, P_PRICE]
        oq = st.pool[s, P_QTY]
        oown = st.pool[s, P_OWNER]
        if (kind == OP_CANCEL or kind == OP_MODIFY) and oown != owner:
            return _reject(st, out, n, ts, oid, owner, oside, price, qty, REJECT_OWNER)
        if kind == OP_CANCEL or kind == OP_DELETE:
            _remove(st, s)
            st.h[H_CANCELS] += 1
            if kind == OP_CANCEL:
                return _rep(out, n, ts, oid, 0, owner, 0, EXEC_CANCELED, oside, opx, oq, 0, 0, 0)
            return n
        if qty <= 0 or qty > MAX_QTY:
            return _reject(st, out, n, ts, oid, owner, oside, price, qty, REJECT_QTY)
        if kind == OP_REDUCE or kind == OP_EXEC:
            if qty > oq:
                return _reject(st, out, n, ts, oid, owner, oside, opx, qty, REJECT_EXCEEDS)
            if qty == oq:
                _remove(st, s)
            else:
                _shrink(st, s, qty)
            if kind == OP_REDUCE:
                return n
            st.h[H_FILLS] += 1
            st.h[H_VOLUME] += qty
            st.h[H_LAST_PX] = opx
            st.h[H_LAST_QTY] = qty
            st.h[H_LAST_TS] = ts
            return _rep(
                out,
                n,
                ts,
                oid,
                0,
                oown,
                0,
                EXEC_FILL if qty == oq else EXEC_PARTIAL,
                oside,
                opx,
                qty,
                oq - qty,
                0,
                1,
            )
        # modify (active) / pmodify (passive)
        if price <= 0 or price > MAX_PRICE:
            return _reject(st, out, n, ts, oid, owner, oside, price, qty, REJECT_PRICE)
        if stp < 0 or stp >= N_STP_MODES:
            return _reject(st, out, n, ts, oid, owner, oside, price, qty, REJECT_STP_MODE)
        if price == opx:
            if qty < oq:
                _shrink(st, s, oq - qty)
            elif qty > oq:
                _to_tail(st, s, qty)
            if kind == OP_MODIFY:
                return _rep(out, n, ts, oid, 0, owner, 0, EXEC_MODIFIED, oside, price, 0, qty, 0, 0)
            return n
        _remove(st, s)
        if kind == OP_PMODIFY:
            _rest(st, oid, oown, oside, price, qty)
            return n
        n = _rep(out, n, ts, oid, 0, owner, 0, EXEC_MODIFIED, oside, price, 0, qty, 0, 0)
        return _take(st, out, n, ts, oid, owner, oside, price, qty, 0, stp, OP_MODIFY)
    # new orders / adds / prints
    if side != 1 and side != -1:
        return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_SIDE)
    if kind != OP_MARKET and kind != OP_MARKET_QUOTE and (price <= 0 or price > MAX_PRICE):
        return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_PRICE)
    if kind == OP_MARKET_QUOTE:
        if qty < 0 or qty > MAX_QTY:
            return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_QTY)
        if quote <= 0 or quote > MAX_QUOTE:
            return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_QUOTE)
    elif qty <= 0 or qty > MAX_QTY:
        return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_QTY)
    if kind == OP_PRINT:
        st.h[H_LAST_PX] = price
        st.h[H_LAST_QTY] = qty
        st.h[H_LAST_TS] = ts
        st.h[H_VOLUME] += qty
        return _rep(out, n, ts, oid, 0, owner, 0, EXEC_PRINT, side, price, qty, 0, 0, 0)
    if stp < 0 or stp >= N_STP_MODES:
        return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_STP_MODE)
    if lookup(st, oid) >= 0:
        return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_DUPLICATE_ID)
    if kind == OP_ADD:
        if st.h[H_NFREE] == 0:
            return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_BOOK_FULL)
        _rest(st, oid, owner, side, price, qty)
        return n
    so = 1 if side > 0 else 0
    if kind == OP_POST_ONLY and st.h[H_NLVL + so] > 0:
        best = st.lvl[st.slots[so, st.h[H_NLVL + so] - 1], L_PRICE]
        if _crosses(side, best, price):
            return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_POST_ONLY)
    lim = price
    if kind == OP_MARKET or kind == OP_MARKET_QUOTE:
        lim = _I64_MAX if side > 0 else np.int64(0)
    if kind == OP_FOK and not _fok_fillable(st, side, lim, qty, owner, stp):
        return _reject(st, out, n, ts, oid, owner, side, price, qty, REJECT_FOK)
    cap = qty
    if kind == OP_MARKET_QUOTE:
        cap = qty if qty > 0 else MAX_QTY
    n = _rep(
        out,
        n,
        ts,
        oid,
        0,
        owner,
        0,
        EXEC_ACK,
        side,
        0 if lim == _I64_MAX or lim == 0 else lim,
        0,
        quote if kind == OP_MARKET_QUOTE else qty,
        0,
        0,
    )
    if (
        kind == OP_LIMIT
        and st.h[H_NFREE] > 0
        and (
            st.h[H_NLVL + so] == 0
            or not _crosses(side, st.lvl[st.slots[so, st.h[H_NLVL + so] - 1], L_PRICE], lim)
        )
    ):
        _rest(st, oid, owner, side, lim, qty)  # the common case: a limit that does not cross rests at once
        return n
    return _take(st, out, n, ts, oid, owner, side, lim, cap, quote, stp, kind)


@njit(cache=True, _nrt=False, inline="always")
def takes(kind):
    """Whether an op kind can match (its report count depends on the book)."""
    return (
        kind == OP_LIMIT
        or kind == OP_MARKET
        or kind == OP_IOC
        or kind == OP_FOK
        or kind == OP_MARKET_QUOTE
        or kind == OP_MODIFY
    )
