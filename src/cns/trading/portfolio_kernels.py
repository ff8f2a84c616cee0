"""Numba kernels of position accounting: average cost, realised P&L (USD), mark-to-market."""

from __future__ import annotations

import math

from numba import njit

# round-trip counters (Portfolio stats array)
PF_FILLS = 0
PF_CLOSES = 1  # fills that reduced or closed a position (a round-trip leg)
PF_WINS = 2  # closing fills with positive realised P&L
PF_LOSSES = 3  # closing fills with negative realised P&L
PF_SHARES = 4  # shares traded
PORTFOLIO_STAT_NAMES: tuple[str, ...] = ("fills", "closes", "wins", "losses", "shares")


@njit(cache=True)
def apply_fill(instr, side, qty, price, position, avg_cost, realized, stats):
    """Book a fill of ``qty`` shares at ``price`` USD on ``side`` (+1 buy / -1 sell); returns realised USD.

    Increasing a position moves its average cost; reducing it realises ``closed * (price - avg) * sign(pos)``;
    crossing through zero opens the remainder at ``price``.
    """
    pos = position[instr]
    q = side * qty
    pnl = 0.0
    stats[PF_FILLS] += 1
    stats[PF_SHARES] += qty
    if pos == 0 or (pos > 0) == (q > 0):
        new = pos + q
        avg_cost[instr] = (avg_cost[instr] * abs(pos) + price * abs(q)) / abs(new)
        position[instr] = new
        return 0.0
    closed = min(abs(q), abs(pos))
    pnl = closed * (price - avg_cost[instr]) * (1.0 if pos > 0 else -1.0)
    realized[instr] += pnl
    stats[PF_CLOSES] += 1
    if pnl > 0.0:
        stats[PF_WINS] += 1
    elif pnl < 0.0:
        stats[PF_LOSSES] += 1
    new = pos + q
    position[instr] = new
    if new == 0:
        avg_cost[instr] = 0.0
    elif abs(q) > abs(pos):
        avg_cost[instr] = price
    return pnl


@njit(cache=True)
def mark_to_market(position, avg_cost, mid, unrealized):
    """Fill ``unrealized[i] = position[i] * (mid[i] - avg_cost[i])`` (USD) and return the total.

    A position whose mid is missing (NaN/zero) keeps its previous unrealised value (last good mark).
    """
    total = 0.0
    for i in range(len(position)):
        p = position[i]
        if p == 0:
            unrealized[i] = 0.0
            continue
        m = mid[i] if i < len(mid) else math.nan
        if m > 0.0 and not math.isinf(m):
            unrealized[i] = p * (m - avg_cost[i])
        total += unrealized[i]
    return total
