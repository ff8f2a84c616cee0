# mypy: ignore-errors
# (Numba kernels: typed by Numba at compile time)
"""CNS side of ``cns bench backtest``: one compiled kernel replays an L3 feed through the sparse L3 book
(:mod:`cns.venue.l3book_kernels`, the same inlined op code as :meth:`cns.venue.l3book.L3Book.process`) and runs
the benchmark's strategy after every event, reading the top of book straight from the book's state.

The strategy (the same rule in every engine of the benchmark, see :mod:`cns.bench.backtest_peers`): after each
market event, when both sides are quoted and at least ``cooldown_ns`` of market time passed since its last
order, buy ``qty`` shares with an IOC at the best ask when ``bid_qty * den >= num * ask_qty`` (and the position
stays within ``max_pos``), or sell at the best bid on the mirror condition. Its position counts the shares it
sent, so the decisions depend on the book alone. Fills follow hftbacktest's no-partial-fill exchange: a
marketable IOC fills in full at the touch it crossed and does not change the market book (no market impact), so
the replayed book stays the recorded one.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.venue import l3book_kernels as K
from cns.venue.l3book_dtypes import EXEC_FIELDS, OP_ADD, OP_DELETE, OP_EXEC, OP_FIELDS, OP_REDUCE
from cns.venue.l3book_store import (
    H_GROWABLE,
    H_NFREE,
    H_NLVL,
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
    ST_DONE,
    ST_GROW,
    refresh_cache_stamp,
    views,
)

# params[] (int64): the strategy's settings
P_NUM, P_DEN, P_COOLDOWN, P_QTY, P_MAX_POS = range(5)
N_PARAMS = 5
# acc[] (int64): the strategy's state and counters, carried across the kernel's returns to Python
A_POS, A_LAST_TS, A_ORDERS, A_FILLS, A_BUYS, A_SELLS, A_CASH, A_QUOTED, A_CHECK, A_UPDATES = range(10)
N_ACC = 10
BAD_SHAPE = -1  # status: an argument array is too small (nothing was applied)


def _probe() -> int:  # only its cache locator is used (never compiled)
    return 0


# Numba keys this file's cache on this file only; the op code inlined from the L3 book lives in cns.venue
refresh_cache_stamp(__file__, _probe)


@njit(cache=True, _nrt=False)
def replay_with_strategy(S, ops, start, out, params, acc):
    """Apply ``ops[start:]`` (int64 view of L3_OP_DTYPE rows) to the book state ``S`` one at a time and run the
    strategy after each; reports of the feed ops go to ``out`` (scratch, at least 8 rows, overwritten per op).

    Returns ``(next op index, ST_DONE | ST_GROW | BAD_SHAPE)``: it stops *before* an op that needs a pool slot
    when the pool is full and the book may grow (grow, then call again); ``BAD_SHAPE`` (nothing done) when an
    array is too small for the fields the kernel reads. Never raises: bad feed ops become rejects in the book,
    as in :meth:`~cns.venue.l3book.L3Book.process`.
    """
    if (
        ops.shape[1] < OP_FIELDS
        or out.shape[0] < 8
        or out.shape[1] < EXEC_FIELDS
        or params.shape[0] < N_PARAMS
        or acc.shape[0] < N_ACC
    ):
        return start, np.int64(BAD_SHAPE)
    st = views(S)
    num = params[P_NUM]
    den = params[P_DEN]
    cooldown = params[P_COOLDOWN]
    qty = params[P_QTY]
    max_pos = params[P_MAX_POS]
    i = start
    while i < ops.shape[0]:
        kind = ops[i, O_KIND]
        if K.needs_slot(kind) and st.h[H_NFREE] == 0 and st.h[H_GROWABLE] == 1:
            return i, np.int64(ST_GROW)
        done = False
        if (
            kind == OP_DELETE
            or kind == OP_REDUCE
            or kind == OP_EXEC
            or (kind == OP_ADD and st.h[H_NFREE] > 0)
        ):
            done = K.fast_path(st, out, 0, ops, i, kind)
        if not done:
            if K.takes(kind):
                need = K.room_needed(
                    st,
                    kind,
                    ops[i, O_ID],
                    ops[i, O_SIDE],
                    ops[i, O_PRICE],
                    ops[i, O_QTY],
                    ops[i, O_QUOTE],
                    ops[i, O_STP],
                )
                if need > out.shape[0]:  # an aggressive feed op larger than the scratch: not in a feed replay
                    kind = -1  # becomes one reject
            K.apply(
                st,
                out,
                0,
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
        # ---- the strategy reads the top of book once the last event of a timestamp is applied
        ts = ops[i, O_TS]
        i += 1
        if i < ops.shape[0] and ops[i, O_TS] == ts:
            continue
        acc[A_UPDATES] += 1
        nb = st.h[H_NLVL]
        na = st.h[H_NLVL + 1]
        if nb > 0 and na > 0:
            lb = st.slots[0, nb - 1]
            la = st.slots[1, na - 1]
            bp = st.lvl[lb, L_PRICE]
            bq = st.lvl[lb, L_QTY]
            ap = st.lvl[la, L_PRICE]
            aq = st.lvl[la, L_QTY]
            acc[A_QUOTED] += 1
            acc[A_CHECK] += bp + ap
            if ts - acc[A_LAST_TS] >= cooldown:
                pos = acc[A_POS]
                if bq * den >= num * aq and pos + qty <= max_pos:
                    acc[A_POS] = pos + qty
                    acc[A_LAST_TS] = ts
                    acc[A_ORDERS] += 1
                    acc[A_FILLS] += 1
                    acc[A_BUYS] += 1
                    acc[A_CASH] -= ap * qty
                elif aq * den >= num * bq and pos - qty >= -max_pos:
                    acc[A_POS] = pos - qty
                    acc[A_LAST_TS] = ts
                    acc[A_ORDERS] += 1
                    acc[A_FILLS] += 1
                    acc[A_SELLS] += 1
                    acc[A_CASH] += bp * qty
    return i, np.int64(ST_DONE)
