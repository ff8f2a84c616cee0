"""Numba kernel of pre-trade risk: one pass over candidate orders, state in preallocated arrays.

Each order gets a reason code (0 = accepted); rejections are counted, never raised. Checks run in the order
of the REJ_* codes; the first failing check is the reason. Cancel requests always pass; so do the position and
gross-exposure checks for an order that does not raise the instrument's worst-case position (an exit).

Exits are never throttled: a *position-reducing* order — opposite side to the filled position and at most
its size (the same test the daily-loss limit uses) — skips the duplicate check and the order-rate throttle:
a repeated exit of the same size at the same price is a retry, not a double send, and a throttle that drops
exits keeps positions past their holding period. It still counts in the rate window (entries after it see
it), and it never skips the kill switch, the restricted list, the reference-price, collar and size checks,
nor the position and exposure limits when it raises the worst case (open orders included).

Fail closed: every comparison is written so that a NaN on either side (a limit, a price, an exposure, the
day's P&L) rejects the order, e.g. ``not (qty <= limit)`` rather than ``qty > limit``. A malformed order is
never accepted, whatever ``enabled`` says: ``qty <= 0`` is rejected as ``max_qty``, a limit price that is not
finite and positive as ``collar``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit

from cns.kernel_deps import follow_sources
from cns.trading.corroborate_kernels import stamp_step
from cns.venue.dtypes import ORDER_CANCEL, ORDER_MARKET


def _probe() -> int:  # names this directory's Numba cache for follow_sources; never compiled
    return 0


# the kernels here compile in the cycle-counter stamps of cns.signals.clock: their cache follows it
follow_sources(__file__, [Path(__file__).parent.parent / "signals" / "clock.py"], _probe)

REJ_NONE = 0
REJ_KILL_SWITCH = 1
REJ_RESTRICTED = 2
REJ_REFERENCE = 3  # reference mid missing, stale, zero or NaN: fail closed
REJ_COLLAR = 4
REJ_MAX_QTY = 5
REJ_MAX_NOTIONAL = 6
REJ_DUPLICATE = 7
REJ_COOLDOWN = 8
REJ_POSITION = 9
REJ_GROSS_EXPOSURE = 10
REJ_DAILY_LOSS = 11
REJ_RATE = 12
RISK_REASON_NAMES: tuple[str, ...] = (
    "accepted",
    "kill_switch",
    "restricted",
    "reference",
    "collar",
    "max_qty",
    "max_notional",
    "duplicate",
    "cooldown",
    "position",
    "gross_exposure",
    "daily_loss",
    "rate",
)

# float64 parameter vector
RP_MAX_QTY = 0
RP_MAX_NOTIONAL = 1
RP_COLLAR = 2  # fraction (bps / 1e4)
RP_MAX_REF_AGE = 3  # ns
RP_MAX_POSITION = 4
RP_MAX_GROSS = 5
RP_DAILY_LOSS = 6  # USD, positive
RP_RATE_WINDOW = 7  # ns
RP_DUP_WINDOW = 8  # ns
RP_COOLDOWN = 9  # ns
N_RISK_PARAMS = 10

# int64 scalar state
RS_KILL = 0  # 1 = kill switch engaged
RS_RING_HEAD = 1
N_RISK_SCALARS = 2

COOLDOWN_PROBES = 8


class RiskState(NamedTuple):
    """The arrays of one pre-trade risk gate, passed to its kernels as one argument (owned by
    :class:`cns.trading.risk.RiskGate`; ``n`` = instruments, indexed by ticker code). The kernels write them in
    place and never resize them.

    Parameters: ``p`` float64[N_RISK_PARAMS] (``RP_*``), ``enabled`` uint8 per reason code (0 = check off),
    ``restricted`` uint8[n]. Read, owned elsewhere: ``position`` int64[n] (shares, the portfolio's); booked,
    the OMS's: ``open_buy``/``open_sell`` int64[n] (shares). The gate's own state: ``exposure`` float64[n] and
    ``gross`` float64[1] (USD, worst case), ``scal`` int64[N_RISK_SCALARS] (``RS_*``), the rate ``ring``
    (int64 ns, one slot per order allowed in the window), the last accepted order per instrument
    (``last_side`` int8, ``last_qty`` int64, ``last_px`` float64 USD, ``last_ts`` int64 ns), the cool-down
    table ``cd_keys`` uint64 / ``cd_ts`` int64 ns (a power of two of slots) and ``counts`` int64 per reason.
    """

    p: np.ndarray
    enabled: np.ndarray
    restricted: np.ndarray
    position: np.ndarray
    open_buy: np.ndarray
    open_sell: np.ndarray
    exposure: np.ndarray
    gross: np.ndarray
    scal: np.ndarray
    ring: np.ndarray
    last_side: np.ndarray
    last_qty: np.ndarray
    last_px: np.ndarray
    last_ts: np.ndarray
    cd_keys: np.ndarray
    cd_ts: np.ndarray
    counts: np.ndarray


_borrowing = njit(cache=True, _nrt=False)
"""The kernels that take a :class:`RiskState` allocate nothing: compiled without reference counting, a member
access borrows the caller's array (see :data:`cns.rules.term_table.borrowing`)."""


@njit(cache=True, inline="always")
def _mix(x):
    x = (x ^ (x >> 33)) * 0xFF51AFD7ED558CCD
    x = (x ^ (x >> 33)) * 0xC4CEB9FE1A85EC53
    return x ^ (x >> 33)


@njit(cache=True)
def _exposure(pos, ob, os_, px):
    return max(abs(pos + ob), abs(pos - os_)) * px


@_borrowing
def check_orders(
    orders, mid, mid_ts, now_ns, day_pnl, R, reasons, lat_ns=None, ns_per_cycle=0.0, overhead_cycles=0.0
):
    """Check ``orders`` (ORDER_DTYPE) in sequence against the gate ``R`` (:class:`RiskState`); write
    ``reasons[i]`` and count it in ``R.counts[reason]``. Returns the number accepted.

    ``mid``/``mid_ts`` are reference mids (USD) and their times (ns) per ticker code; ``now_ns`` the check
    time; ``day_pnl`` realised + unrealised USD. ``R.enabled[REJ_*]`` switches checks. Accepted orders are
    booked: ``open_buy``/``open_sell`` (shares), ``exposure``/``gross`` (USD, worst case of filling every open
    order on either side), the rate ring, the last order per instrument (duplicates) and the per-headline
    cool-down table (``cd_keys``/``cd_ts``, size a power of two).

    ``lat_ns`` (int64[len(orders)] or None, compiled out when None): for each ``i`` with ``lat_ns[i] == 0``
    write the ns spent on candidate ``i`` (all checks, and the booking when accepted). See
    :func:`cns.trading.corroborate_kernels.stamp_step`.
    """
    p = R.p
    enabled = R.enabled
    restricted = R.restricted
    position = R.position
    open_buy = R.open_buy
    open_sell = R.open_sell
    exposure = R.exposure
    gross = R.gross
    scal = R.scal
    ring = R.ring
    last_side = R.last_side
    last_qty = R.last_qty
    last_px = R.last_px
    last_ts = R.last_ts
    cd_keys = R.cd_keys
    cd_ts = R.cd_ts
    counts = R.counts
    n_ok = 0
    n_instr = len(mid)
    mask = len(cd_keys) - 1
    n_ring = len(ring)
    pending = -1
    c0 = np.uint64(0)
    for i in range(len(orders)):
        if lat_ns is not None:
            pending, c0 = stamp_step(lat_ns, i, pending, c0, ns_per_cycle, overhead_cycles)
        o = orders[i]
        if o.type == ORDER_CANCEL:
            reasons[i] = REJ_NONE
            counts[REJ_NONE] += 1
            n_ok += 1
            continue
        ins = o.instrument
        side = o.side
        qty = o.qty
        ts = o.ts_ns
        reason = REJ_NONE
        ref = mid[ins] if ins < n_instr else math.nan
        ref_ts = mid_ts[ins] if ins < n_instr else 0
        px = ref if o.type == ORDER_MARKET else o.price
        pos = position[ins] if ins < n_instr else 0
        ob = open_buy[ins] if ins < n_instr else 0
        osl = open_sell[ins] if ins < n_instr else 0
        new_exp = 0.0
        slot = -1
        bad_px = not (px > 0.0) or math.isinf(px)  # a market order's px is the reference
        # position-reducing (see the module docstring): exempt from the duplicate check and the rate throttle
        exit_safe = qty > 0 and (
            (side > 0 and pos < 0 and qty <= -pos) or (side < 0 and pos > 0 and qty <= pos)
        )
        if enabled[REJ_KILL_SWITCH] and scal[RS_KILL] != 0:
            reason = REJ_KILL_SWITCH
        elif enabled[REJ_RESTRICTED] and (ins >= n_instr or restricted[ins] != 0):
            reason = REJ_RESTRICTED
        elif enabled[REJ_REFERENCE] and (
            ins >= n_instr
            or not (ref > 0.0)
            or math.isinf(ref)
            or ref_ts <= 0
            or not (now_ns - ref_ts <= p[RP_MAX_REF_AGE])
        ):
            reason = REJ_REFERENCE
        elif bad_px or (enabled[REJ_COLLAR] and not (abs(px - ref) <= p[RP_COLLAR] * ref)):
            reason = REJ_COLLAR
        elif qty <= 0 or (enabled[REJ_MAX_QTY] and not (qty <= p[RP_MAX_QTY])):
            reason = REJ_MAX_QTY
        elif enabled[REJ_MAX_NOTIONAL] and not (qty * px <= p[RP_MAX_NOTIONAL]):
            reason = REJ_MAX_NOTIONAL
        elif (
            enabled[REJ_DUPLICATE]
            and not exit_safe
            and last_ts[ins] > 0
            and not (ts - last_ts[ins] >= p[RP_DUP_WINDOW])
            and last_side[ins] == side
            and last_qty[ins] == qty
            and abs(last_px[ins] - px) <= 1e-9 * abs(px)
        ):
            reason = REJ_DUPLICATE
        else:
            if enabled[REJ_COOLDOWN] and o.news_id != 0:
                h = _mix(o.news_id)
                for k in range(COOLDOWN_PROBES):
                    j = (h + k) & mask
                    if cd_keys[j] == o.news_id:
                        if not (ts - cd_ts[j] >= p[RP_COOLDOWN]):
                            reason = REJ_COOLDOWN
                        slot = j
                        break
                    if slot < 0 and (cd_keys[j] == 0 or ts - cd_ts[j] >= p[RP_COOLDOWN]):
                        slot = j
                if slot < 0:
                    slot = h & mask  # table crowded: evict the home slot
            if reason == REJ_NONE:
                ob2 = ob + qty if side > 0 else ob
                os2 = osl + qty if side < 0 else osl
                mark = ref if ref > 0.0 else px
                new_exp = _exposure(pos, ob2, os2, mark)
                reducing = (side > 0 and pos < 0 and qty <= -pos) or (side < 0 and pos > 0 and qty <= pos)
                # an order that does not raise the instrument's worst-case position (shares, filled + open on
                # either side) cannot breach a position or exposure limit: an exit passes even while the book
                # is at (or, after re-marking, above) the limit
                grows = max(abs(pos + ob2), abs(pos - os2)) > max(abs(pos + ob), abs(pos - osl))
                if enabled[REJ_POSITION] and grows and not (max(pos + ob2, os2 - pos) <= p[RP_MAX_POSITION]):
                    reason = REJ_POSITION
                elif (
                    enabled[REJ_GROSS_EXPOSURE]
                    and grows
                    and not (gross[0] - exposure[ins] + new_exp <= p[RP_MAX_GROSS])
                ):
                    reason = REJ_GROSS_EXPOSURE
                elif enabled[REJ_DAILY_LOSS] and not (day_pnl >= -p[RP_DAILY_LOSS]) and not reducing:
                    reason = REJ_DAILY_LOSS
                elif (
                    enabled[REJ_RATE]
                    and not exit_safe
                    and not (ts - ring[scal[RS_RING_HEAD]] >= p[RP_RATE_WINDOW])
                ):
                    reason = REJ_RATE
        reasons[i] = reason
        counts[reason] += 1
        if reason != REJ_NONE:
            continue
        n_ok += 1
        if side > 0:
            open_buy[ins] += qty
        else:
            open_sell[ins] += qty
        gross[0] += new_exp - exposure[ins]
        exposure[ins] = new_exp
        head = scal[RS_RING_HEAD]
        ring[head] = ts
        scal[RS_RING_HEAD] = (head + 1) % n_ring
        last_side[ins] = side
        last_qty[ins] = qty
        last_px[ins] = px
        last_ts[ins] = ts
        if slot >= 0:
            cd_keys[slot] = o.news_id
            cd_ts[slot] = ts
    if lat_ns is not None:
        stamp_step(lat_ns, -1, pending, c0, ns_per_cycle, overhead_cycles)
    return n_ok


@_borrowing
def mark_exposure(position, open_buy, open_sell, mid, exposure, gross):
    """Recompute per-instrument worst-case exposure (USD) and the gross total at fresh mids.
    Instruments without a usable mid keep their last exposure."""
    total = 0.0
    for i in range(len(position)):
        m = mid[i] if i < len(mid) else math.nan
        if m > 0.0 and not math.isinf(m):
            exposure[i] = _exposure(position[i], open_buy[i], open_sell[i], m)
        total += exposure[i]
    gross[0] = total


@_borrowing
def refresh_exposure(mid, R):
    """:func:`mark_exposure` of the gate ``R`` (:class:`RiskState`) at fresh mids."""
    mark_exposure(R.position, R.open_buy, R.open_sell, mid, R.exposure, R.gross)


# Python callers go through this: the dispatcher types a named tuple of arrays in Python (~3 us for 17 arrays,
# measured), loose array arguments in C, so the gate's arrays are spread into the call and bundled again here.
@_borrowing
def check_spread(
    orders, mid, mid_ts, now_ns, day_pnl, reasons, lat_ns, ns_per_cycle, overhead_cycles, *arrays
):
    """:func:`check_orders` with ``R`` spread: ``arrays`` are the fields of :class:`RiskState` in order (call
    it with ``*gate_arrays``)."""
    R = RiskState(*arrays)
    return check_orders(
        orders, mid, mid_ts, now_ns, day_pnl, R, reasons, lat_ns, ns_per_cycle, overhead_cycles
    )
