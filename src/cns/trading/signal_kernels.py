"""Numba kernel: corroboration decisions -> candidate orders (ORDER_DTYPE)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from cns.kernel_deps import follow_sources
from cns.signals.dtypes import KIND_CENTRAL_BANK
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE, stamp_step
from cns.venue.dtypes import ORDER_IOC, ORDER_LIMIT


def _probe() -> int:  # names this directory's Numba cache for follow_sources; never compiled
    return 0


# the kernels here compile in the cycle-counter stamps of cns.signals.clock: their cache follows it
follow_sources(__file__, [Path(__file__).parent.parent / "signals" / "clock.py"], _probe)

# params vector layout (float64)
P_SENT_W = 0
P_SURP_W = 1
P_FULL_PCT = 2
P_MIN_STRENGTH = 3
P_NOTIONAL = 4
P_CONT_FRAC = 5
P_AGGRESS_BPS = 6
P_CONT_BPS = 7
P_UNSIZED = 8
P_RATE_FULL = 9
P_TRADE_LIMIT = 10  # 1.0: trade orders are resting day limits (ORDER_LIMIT); anything else: IOCs
P_TRADE_OFFSET_BPS = 11  # trade orders: this far behind the mid (net of P_AGGRESS_BPS)
N_SIGNAL_PARAMS = 12

# counters
SG_DECISIONS = 0
SG_ACTIONABLE = 1  # trade or contingency decisions
SG_WEAK = 2  # |score| below min_strength (or either is NaN)
SG_TOO_SMALL = 3  # strength * notional buys less than one share
SG_NO_REFERENCE = 4  # no usable mid: order emitted with NaN price, qty 0 (risk rejects it, fail closed)
SG_ORDERS = 5
SIGNAL_STAT_NAMES: tuple[str, ...] = (
    "decisions",
    "actionable",
    "weak",
    "too_small",
    "no_reference",
    "orders",
)
N_SIGNAL_STATS = len(SIGNAL_STAT_NAMES)  # the stats array the kernel writes

QTY_CAP = (
    1 << 53
)  # largest share count an order is sized to (exact in float64); far above risk's max_order_qty


@njit(cache=True)
def order_quantity(strength, notional, fraction, mid):
    """Shares for ``strength`` (0..1) of ``notional`` USD (times ``fraction``) at ``mid`` USD.

    0 (no order) when ``mid`` is not finite and positive or the size is NaN or below one share; a size at or
    above :data:`QTY_CAP` (an infinite one included) is ``QTY_CAP``, which the risk gate's ``max_qty`` check
    rejects. Only a finite value in ``[1, QTY_CAP)`` is ever converted to an integer.
    """
    if not (mid > 0.0) or math.isinf(mid):
        return 0
    shares = strength * notional * fraction / mid
    if not (shares >= 1.0):  # NaN, negative or less than a share
        return 0
    if shares >= QTY_CAP:
        return QTY_CAP
    return int(shares)  # shares >= 1: truncation is the floor


@njit(cache=True)
def signal_score(kind, direction, size_basis, sentiment, p):
    """Signed score: surprise term (direction * min(basis/full, 1), or unsized_strength without a basis)
    weighted with headline sentiment. ``full`` is the rate scale for central-bank decisions."""
    if math.isnan(size_basis):
        num = direction * p[P_UNSIZED]
    else:
        full = p[P_RATE_FULL] if kind == KIND_CENTRAL_BANK else p[P_FULL_PCT]
        num = direction * min(size_basis / full, 1.0)
    return p[P_SURP_W] * num + p[P_SENT_W] * sentiment


@njit(cache=True)
def decisions_to_orders(
    decisions, mid, proxy, p, next_id, out, stats, lat_ns=None, ns_per_cycle=0.0, overhead_cycles=0.0
):
    """Append one candidate order per actionable decision to ``out``; returns how many.

    ``mid`` is the reference mid per ticker code (USD); decisions about ticker 0 trade ``proxy``.
    ``next_id`` (int64[1]) is the next order id and is advanced. Trade decisions become limits
    ``aggress_bps - trade_offset_bps`` through the mid (negative: behind it), IOCs unless ``p[P_TRADE_LIMIT]``
    is 1 (then resting day limits, ORDER_LIMIT); contingency decisions resting limits
    ``contingency_offset_bps`` behind it for ``contingency_fraction`` of the size.

    Returns 0 and writes nothing when ``p`` is shorter than ``N_SIGNAL_PARAMS`` or ``stats`` than
    ``SIGNAL_STAT_NAMES``; stops when ``out`` is full.

    ``lat_ns`` (int64[len(decisions)] or None, compiled out when None): for each ``i`` with ``lat_ns[i] == 0``
    write the ns spent on decision ``i`` — scoring it and writing its order, if any (a decision makes at most
    one order; a non-actionable, weak or unpriceable one gets the cost of deciding so). See
    :func:`cns.trading.corroborate_kernels.stamp_step`.
    """
    n = 0
    if len(p) < N_SIGNAL_PARAMS or len(stats) < N_SIGNAL_STATS:
        return n
    trade_type = ORDER_LIMIT if p[P_TRADE_LIMIT] == 1.0 else ORDER_IOC
    trade_bps = p[P_AGGRESS_BPS] - p[P_TRADE_OFFSET_BPS]  # exactly P_AGGRESS_BPS when the offset is 0
    n_instr = len(mid)
    pending = -1
    c0 = np.uint64(0)
    for i in range(len(decisions)):
        if lat_ns is not None:
            pending, c0 = stamp_step(lat_ns, i, pending, c0, ns_per_cycle, overhead_cycles)
        d = decisions[i]
        stats[SG_DECISIONS] += 1
        if d.action != ACTION_TRADE and d.action != ACTION_CONTINGENCY:
            continue
        stats[SG_ACTIONABLE] += 1
        score = signal_score(d.kind, d.direction, d.size_basis, d.sentiment, p)
        strength = min(abs(score), 1.0)
        if not (strength >= p[P_MIN_STRENGTH]) or score == 0.0:  # a NaN score or threshold: no order
            stats[SG_WEAK] += 1
            continue
        side = 1 if score > 0 else -1
        instr = d.ticker if d.ticker != 0 else proxy
        m = mid[instr] if instr < n_instr else math.nan
        frac = 1.0 if d.action == ACTION_TRADE else p[P_CONT_FRAC]
        qty = order_quantity(strength, p[P_NOTIONAL], frac, m)
        valid_ref = m > 0.0 and not math.isinf(m)
        if not valid_ref:
            stats[SG_NO_REFERENCE] += 1
        elif qty <= 0:
            stats[SG_TOO_SMALL] += 1
            continue
        if n >= len(out):
            break
        o = out[n]
        o.order_id = next_id[0]
        next_id[0] += 1
        o.target_id = 0
        o.owner = 0
        o.instrument = instr
        o.side = side
        if d.action == ACTION_TRADE:
            o.type = trade_type
            o.price = m * (1.0 + side * trade_bps * 1e-4) if valid_ref else math.nan
        else:
            o.type = ORDER_LIMIT
            o.price = m * (1.0 - side * p[P_CONT_BPS] * 1e-4) if valid_ref else math.nan
        o.qty = qty
        o.ts_ns = d.ts_ns
        o.news_id = d.news_id
        stats[SG_ORDERS] += 1
        n += 1
    if lat_ns is not None:
        stamp_step(lat_ns, -1, pending, c0, ns_per_cycle, overhead_cycles)
    return n
