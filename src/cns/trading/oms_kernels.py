"""Numba kernels of the order manager: register orders, apply execution reports, cancel all."""

from __future__ import annotations

import numpy as np
from numba import njit

from cns.trading.portfolio_kernels import apply_fill
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    ORDER_CANCEL,
)

# order states (ORDER_STATE_DTYPE.state)
OS_UNUSED = 0
OS_NEW = 1  # sent, not yet acknowledged
OS_ACKED = 2
OS_PARTIAL = 3
OS_FILLED = 4
OS_CANCELED = 5
OS_REJECTED = 6
OS_EXPIRED = 7
ORDER_STATE_NAMES: tuple[str, ...] = (
    "unused",
    "new",
    "acked",
    "partially_filled",
    "filled",
    "canceled",
    "rejected",
    "expired",
)

# OMS counters
OM_SUBMITTED = 0
OM_EXECS = 1  # reports applied to our orders
OM_FOREIGN = 2  # reports for other owners (ignored)
OM_UNKNOWN = 3  # reports for an order id we never registered, or after a terminal state
OM_FILL_REPORTS = 4
OM_CANCEL_REQUESTS = 5
OMS_STAT_NAMES: tuple[str, ...] = (
    "submitted",
    "execs",
    "foreign",
    "unknown",
    "fill_reports",
    "cancel_requests",
)

ORDER_STATE_DTYPE = np.dtype(
    [
        ("state", np.uint8),  # OS_*
        ("side", np.int8),
        ("type", np.uint8),  # ORDER_*
        ("instrument", np.uint32),
        ("qty", np.int64),  # shares ordered
        ("filled", np.int64),  # shares filled so far
        ("avg_px", np.float64),  # USD, average fill price
        ("price", np.float64),  # USD limit
        ("news_id", np.uint64),
        ("sent_ns", np.int64),
        ("last_ns", np.int64),  # time of the latest report
    ],
    align=True,
)


@njit(cache=True)
def register_orders(orders, base_id, table, stats):
    """Put ``orders`` (ORDER_DTYPE, ids in ``[base_id, base_id + len(table))``) into ``table`` as NEW.
    Cancel requests are counted, not registered. Returns the number registered."""
    n = 0
    for i in range(len(orders)):
        o = orders[i]
        if o.type == ORDER_CANCEL:
            stats[OM_CANCEL_REQUESTS] += 1
            continue
        k = o.order_id - base_id
        t = table[k]
        t.state = OS_NEW
        t.side = o.side
        t.type = o.type
        t.instrument = o.instrument
        t.qty = o.qty
        t.filled = 0
        t.avg_px = 0.0
        t.price = o.price
        t.news_id = o.news_id
        t.sent_ns = o.ts_ns
        t.last_ns = o.ts_ns
        stats[OM_SUBMITTED] += 1
        n += 1
    return n


@njit(cache=True)
def _release(t, open_buy, open_sell, shares):
    if t.side > 0:
        open_buy[t.instrument] -= shares
    else:
        open_sell[t.instrument] -= shares


@njit(cache=True)
def apply_execs(
    execs, owner, base_id, table, open_buy, open_sell, position, avg_cost, realized, pf_stats, stats
):
    """Apply EXEC_DTYPE reports for ``owner`` to the order table, open quantities and positions.

    Fills book into the portfolio arrays; cancels/expiries/rejects release the unfilled quantity from
    ``open_buy``/``open_sell``. Returns realised P&L (USD) booked by this batch.
    """
    pnl = 0.0
    n_tab = len(table)
    for i in range(len(execs)):
        e = execs[i]
        if e.owner != owner:
            stats[OM_FOREIGN] += 1
            continue
        k = np.int64(e.order_id) - base_id
        if k < 0 or k >= n_tab:
            stats[OM_UNKNOWN] += 1
            continue
        t = table[k]
        if t.state == OS_UNUSED or t.state >= OS_FILLED:
            stats[OM_UNKNOWN] += 1
            continue
        stats[OM_EXECS] += 1
        t.last_ns = e.ts_ns
        kind = e.kind
        if kind == EXEC_ACK:
            if t.state == OS_NEW:
                t.state = OS_ACKED
        elif kind == EXEC_FILL or kind == EXEC_PARTIAL:
            q = min(e.qty, t.qty - t.filled)
            if q > 0:
                stats[OM_FILL_REPORTS] += 1
                t.avg_px = (t.avg_px * t.filled + e.price * q) / (t.filled + q)
                t.filled += q
                _release(t, open_buy, open_sell, q)
                pnl += apply_fill(t.instrument, t.side, q, e.price, position, avg_cost, realized, pf_stats)
            if t.filled >= t.qty or (kind == EXEC_FILL and e.leaves == 0):
                if t.filled < t.qty:
                    _release(t, open_buy, open_sell, t.qty - t.filled)
                t.state = OS_FILLED
            else:
                t.state = OS_PARTIAL
        elif kind == EXEC_CANCELED or kind == EXEC_EXPIRED or kind == EXEC_REJECTED:
            _release(t, open_buy, open_sell, t.qty - t.filled)
            t.state = (
                OS_CANCELED
                if kind == EXEC_CANCELED
                else (OS_EXPIRED if kind == EXEC_EXPIRED else OS_REJECTED)
            )
    return pnl


@njit(cache=True, inline="always")
def is_open(state):
    """An order in this state can still fill (new, acked or partially filled)."""
    return state == OS_NEW or state == OS_ACKED or state == OS_PARTIAL


@njit(cache=True, inline="always")
def write_cancel(o, row, order_id, target_id, ts_ns, news_id):
    """Fill ORDER_DTYPE record ``o`` as a cancel of OMS ``row`` (the order ``target_id``) for its open shares."""
    o.order_id = order_id
    o.target_id = target_id
    o.owner = 0
    o.instrument = row.instrument
    o.side = row.side
    o.type = ORDER_CANCEL
    o.qty = row.qty - row.filled
    o.price = row.price
    o.ts_ns = ts_ns
    o.news_id = news_id


@njit(cache=True)
def cancel_open(table, base_id, next_id, ts_ns, out):
    """Write an ORDER_CANCEL into ``out`` for every open (new/acked/partial) order; ids from ``next_id``
    (int64[1], advanced). Returns how many."""
    n = 0
    for k in range(len(table)):
        t = table[k]
        if is_open(t.state):
            if n >= len(out):
                break
            write_cancel(out[n], t, next_id[0], base_id + k, ts_ns, t.news_id)
            next_id[0] += 1
            n += 1
    return n
