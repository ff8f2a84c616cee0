"""Numba kernels of the replay desk (see :mod:`cns.replay.desk`): the exit pass (which entries fell due, what
each instrument must trade to unwind them, and the batch of exit IOCs and cancels that does it), order
stamping, and the record of which pre-trade checks bound (first/last time, candidates dropped)."""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.trading.oms_kernels import is_open, write_cancel
from cns.venue.dtypes import ORDER_IOC

NEVER_NS = 1 << 62


@njit(cache=True)
def plan_exits(
    table,
    due_row,
    n_rows,
    t,
    hold_ns,
    retry_ns,
    position,
    mid,
    keep,
    exit_ids,
    n_exit_ids,
    first_id,
    base_id,
    exit_frac,
    max_qty,
    max_notional,
    out,
):
    """Plan the exit pass at ``t`` over the OMS ``table`` (ORDER_STATE_DTYPE) rows ``[due_row, n_rows)``.

    Entries (``news_id != 0``) sent at or before ``t - hold_ns``, up to the first one that is not, are
    due: each still open is cancelled. Per instrument the exit trades ``position`` down to what the entries
    not yet due hold (``keep``, a reused int64 scratch buffer), net of the exit IOCs
    ``exit_ids[:n_exit_ids]`` still in flight, never through zero, at most ``max_qty`` shares and
    ``max_notional`` USD. An exit that cannot be priced or sized is not written and is retried later: a
    ``mid`` or exit price (``mid * (1 ± exit_frac)``) that is not finite and positive, a NaN or non-positive
    ``max_notional``, a notional cap below one share. Only a finite share count below ``max_qty`` is ever
    converted from float (an infinite cap leaves ``max_qty``/the position as the bound). Writes the cancels,
    then the IOCs, ids from ``first_id``, into ``out`` (ORDER_DTYPE, length >= due rows + instruments) and
    compacts ``exit_ids`` to the ones still in flight.
    Returns ``(due_row, n_cancel, n_exit, n_exit_ids, next_exit_ns)``.
    """
    # ids handed out but never registered (risk rejects, cancels) may run past the end of the table
    n_rows = max(min(n_rows, len(table)), due_row)
    # first entry not yet due
    limit = t - hold_ns
    k = n_rows
    for i in range(due_row, n_rows):
        r = table[i]
        if r.state != 0 and r.news_id != 0 and r.sent_ns > limit:
            k = i
            break
    # cancels of the due entries still resting
    nc = 0
    for i in range(due_row, k):
        r = table[i]
        if r.news_id != 0 and is_open(r.state):
            write_cancel(out[nc], r, first_id + nc, base_id + i, t, 0)
            nc += 1
    # what the entries not yet due hold
    keep[:] = 0
    has_rest = False
    rest_min = 0
    for i in range(k, n_rows):
        r = table[i]
        if r.news_id != 0:
            keep[r.instrument] += np.int64(r.side) * r.filled
            if not has_rest or r.sent_ns < rest_min:
                rest_min = r.sent_ns
            has_rest = True
    for j in range(len(position)):
        keep[j] = position[j] - keep[j]  # now: shares to sell (> 0) or buy (< 0) to unwind the due lots
    want = keep
    # an exit IOC that has not reported yet counts as done until it does
    in_flight = False
    m = 0
    for j in range(n_exit_ids):
        oid = exit_ids[j]
        r = table[oid - base_id]
        if is_open(r.state):
            want[r.instrument] += np.int64(r.side) * (r.qty - r.filled)
            in_flight = True
            exit_ids[m] = oid
            m += 1
    # the IOCs: never through zero, at most the position, only where there is a mid to price them at
    todo = in_flight
    ne = 0
    for j in range(len(position)):
        w = want[j]
        p = position[j]
        if np.sign(w) != np.sign(p):
            w = 0
        elif abs(w) > abs(p):
            w = p
        if w == 0:
            continue
        todo = True
        side = -np.sign(w)
        px = mid[j] * (1.0 + side * exit_frac)
        if not (mid[j] > 0.0) or not (px > 0.0) or np.isinf(px):
            continue
        qty = min(abs(w), max_qty)
        if qty <= 0:
            continue
        cap = max_notional / px  # shares the notional cap allows: NaN, < 1 and inf are handled before int64
        if not (cap >= 1.0):
            continue
        if cap < qty:
            qty = np.int64(np.floor(cap))
        o = out[nc + ne]
        o.order_id = first_id + nc + ne
        o.target_id = 0
        o.owner = 0
        o.instrument = j
        o.side = side
        o.type = ORDER_IOC
        o.qty = qty
        o.price = px
        o.ts_ns = t
        o.news_id = 0
        ne += 1
    # when the pass has work next: retry until every due lot is unwound, or when the next entry falls due
    if todo:
        next_exit = t + retry_ns
        if has_rest:
            next_exit = min(next_exit, rest_min + hold_ns)
    elif has_rest:
        next_exit = rest_min + hold_ns
    else:
        next_exit = NEVER_NS
    return k, nc, ne, m, next_exit


@njit(cache=True)
def stamp_orders(orders, news_id, act_at, t):
    """Stamp each of ``orders`` (ORDER_DTYPE) with ``max(act_at[j], t)``, ``j`` the decision of its
    ``news_id`` (the first of equal ids; ``news_id``/``act_at`` per decision of the slice, in any order)."""
    n = len(news_id)
    by_id = np.argsort(news_id, kind="mergesort")  # stable, like NumPy's kind="stable"
    ids = news_id[by_id]
    for i in range(len(orders)):
        k = np.searchsorted(ids, orders[i].news_id)
        orders[i].ts_ns = max(act_at[by_id[min(k, n - 1)]], t)


@njit(cache=True)
def note_rejects(reasons, orders, start_ns, first_ns, last_ns, counts):
    """Record which pre-trade checks dropped ``orders`` (ORDER_DTYPE) in one risk call: for each reason code
    ``r != 0`` in ``reasons`` (uint8, one per order), ``counts[r] += 1`` and the order's stamp, as ns since
    ``start_ns``, in ``first_ns[r]`` (only while it is still -1) and ``last_ns[r]``. Returns a bit mask of
    the codes whose ``first_ns`` was set by this call (bit ``r``)."""
    new = 0
    for i in range(len(reasons)):
        r = reasons[i]
        if r == 0:
            continue
        t = orders[i].ts_ns - start_ns
        counts[r] += 1
        if first_ns[r] < 0:
            first_ns[r] = t
            new |= 1 << r
        last_ns[r] = t
    return new
