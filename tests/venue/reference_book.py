"""A deliberately simple pure-Python order book: the oracle for the Numba kernels' property tests.

Same contract as :class:`cns.venue.book.OrderBook` (report order, snapping, band, reject reasons), written
with dicts and lists and no cleverness, so a disagreement points at the kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    ORDER_CANCEL,
    ORDER_IOC,
    ORDER_LIMIT,
    ORDER_MARKET,
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

_EPS = 1e-9


@dataclass
class RefOrder:
    oid: int
    owner: int
    instr: int
    side: int
    level: int
    qty: int


class ReferenceBook:
    """``tick[k]``/``base[k]`` per instrument code k (index 0 unused), ``levels`` ticks per band."""

    def __init__(
        self,
        tick: list[float],
        base: list[int],
        levels: int,
        stp: int = STP_CANCEL_NEWEST,
        fee: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    ) -> None:
        """``fee``: (maker bp, taker bp, maker USD/share, taker USD/share)."""
        self.tick, self.base, self.levels = tick, base, levels
        self.stp, self.fee = stp, fee
        # instrument -> level -> FIFO list of RefOrder
        self.book: dict[int, dict[int, list[RefOrder]]] = {k: {} for k in range(1, len(tick))}
        self.live: dict[tuple[int, int], RefOrder] = {}
        self.trades: list[tuple] = []

    def price(self, instr: int, lvl: int) -> float:
        return (self.base[instr] + lvl) * self.tick[instr]

    def snap(self, instr: int, side: int, price: float) -> int:
        x = price / self.tick[instr]
        t = math.floor(x + _EPS * abs(x) + _EPS) if side > 0 else math.ceil(x - _EPS * abs(x) - _EPS)
        return t - self.base[instr]

    def resting(self, instr: int) -> dict[int, list[tuple[int, int, int]]]:
        return {lvl: [(o.owner, o.oid, o.qty) for o in q] for lvl, q in self.book[instr].items() if q}

    def process(self, o: dict) -> list[tuple]:
        """Apply one order (a dict of ORDER_DTYPE fields); return its reports as tuples."""
        oid, owner, instr, side, typ = o["order_id"], o["owner"], o["instrument"], o["side"], o["type"]
        qty, price, t = o["qty"], o["price"], o["ts_ns"]
        rep: list[tuple] = []

        def emit(rid, rowner, rinstr, kind, rside, reason, q, leaves, px, liq=0, fee=0.0):
            rep.append((rid, rowner, rinstr, kind, rside, reason, liq, q, leaves, px, t, fee))

        if typ == ORDER_CANCEL:
            ro = self.live.pop((owner, o["target_id"]), None)
            if ro is None:
                emit(oid, owner, instr, EXEC_REJECTED, side, REJECT_UNKNOWN_ORDER, 0, 0, price)
                return rep
            self.book[ro.instr][ro.level].remove(ro)
            emit(ro.oid, owner, ro.instr, EXEC_CANCELED, ro.side, 0, 0, 0, self.price(ro.instr, ro.level))
            return rep
        reason = 0
        if typ not in (ORDER_LIMIT, ORDER_MARKET, ORDER_IOC):
            reason = REJECT_TYPE
        elif not 1 <= instr < len(self.tick):
            reason = REJECT_INSTRUMENT
        elif side not in (1, -1):
            reason = REJECT_SIDE
        elif qty <= 0:
            reason = REJECT_QTY
        lvl = self.levels - 1 if side > 0 else 0
        if reason == 0 and typ != ORDER_MARKET:
            if not (price > 0 and math.isfinite(price)):
                reason = REJECT_PRICE
            else:
                lvl = self.snap(instr, side, price)
                if not 0 <= lvl < self.levels:
                    reason = REJECT_PRICE_BAND
        if reason == 0 and (owner, oid) in self.live:
            reason = REJECT_DUPLICATE_ID
        if reason:
            emit(oid, owner, instr, EXEC_REJECTED, side, reason, 0, 0, price)
            return rep
        lpx = 0.0 if typ == ORDER_MARKET else self.price(instr, lvl)
        emit(oid, owner, instr, EXEC_ACK, side, 0, 0, qty, lpx)
        rem = qty
        book = self.book[instr]
        stopped = False
        while rem > 0 and not stopped:
            opp = [k for k, q in book.items() if q and q[0].side == -side]
            if not opp:
                break
            best = min(opp) if side > 0 else max(opp)
            if (side > 0 and best > lvl) or (side < 0 and best < lvl):
                break
            px = self.price(instr, best)
            q = book[best]
            while rem > 0 and q:
                m = q[0]
                if self.stp != STP_NONE and m.owner == owner:
                    if self.stp != STP_CANCEL_NEWEST:
                        emit(m.oid, owner, instr, EXEC_CANCELED, m.side, REJECT_SELF_TRADE, 0, 0, px)
                        q.pop(0)
                        del self.live[(m.owner, m.oid)]
                    if self.stp != STP_CANCEL_OLDEST:
                        stopped = True
                        break
                    continue
                f = min(rem, m.qty)
                rem -= f
                m.qty -= f
                mb, tb, mps, tps = self.fee
                emit(
                    oid,
                    owner,
                    instr,
                    EXEC_FILL if rem == 0 else EXEC_PARTIAL,
                    side,
                    0,
                    f,
                    rem,
                    px,
                    2,
                    f * (px * tb * 1e-4 + tps),
                )
                emit(
                    m.oid,
                    m.owner,
                    instr,
                    EXEC_FILL if m.qty == 0 else EXEC_PARTIAL,
                    m.side,
                    0,
                    f,
                    m.qty,
                    px,
                    1,
                    f * (px * mb * 1e-4 + mps),
                )
                self.trades.append((t, instr, side, f, px, owner, m.owner, oid, m.oid))
                if m.qty == 0:
                    q.pop(0)
                    del self.live[(m.owner, m.oid)]
        if rem > 0:
            if stopped:
                emit(oid, owner, instr, EXEC_CANCELED, side, REJECT_SELF_TRADE, 0, 0, lpx)
            elif typ != ORDER_LIMIT:
                emit(oid, owner, instr, EXEC_EXPIRED, side, 0, 0, 0, lpx)
            else:
                ro = RefOrder(oid, owner, instr, side, lvl, rem)
                book.setdefault(lvl, []).append(ro)
                self.live[(owner, oid)] = ro
        return rep
