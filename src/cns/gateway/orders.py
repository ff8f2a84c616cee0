"""Order handling of the venue gateway: a client's NewOrderSingle ``D``, OrderCancelRequest ``F``,
OrderCancelReplaceRequest ``G`` and OrderMassCancelRequest ``q`` become ``ORDER_DTYPE`` records for the book.

:func:`parse_order` validates an order message (pure); :class:`OrderEntryMixin` (part of
:class:`~cns.gateway.gateway.VenueGateway`) keeps every client's live orders (:class:`Order`, by ClOrdID),
turns requests into book records and refuses what cannot reach the book (an ExecutionReport ``150=8`` or an
OrderCancelReject, built in :mod:`cns.gateway.reports`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cns.fix import spec as S
from cns.fix.codec import FixMessage
from cns.gateway.reports import ReportMixin, mass_cancel_done_body, mass_cancel_refused_body
from cns.venue.dtypes import (
    ORDER_CANCEL,
    ORDER_DTYPE,
    ORDER_IOC,
    ORDER_LIMIT,
    ORDER_MARKET,
    SIDE_BUY,
    SIDE_SELL,
)

__all__ = ["MAX_QTY", "Order", "OrderEntryMixin", "order_record", "parse_order", "refusal_code"]

MAX_QTY = 1_000_000_000

_SIDES = {b"1": SIDE_BUY, b"2": SIDE_SELL}
_UNKNOWN_ORDER = "unknown order (never seen, filled or canceled)"

OrderParams = tuple[int, int, int, int, float]  # (instrument, side, type, qty, price)


@dataclass(slots=True)
class Order:
    oid: int
    owner: int
    session: str  # process name of the session
    cl: bytes  # ClOrdID
    orig: bytes | None  # the ClOrdID this order replaced (G)
    instrument: int
    symbol: bytes
    side: int
    qty: int  # total OrderQty (38)
    price: float
    otype: int
    cum: int = 0
    notional: float = 0.0
    live: bool = True
    replacing: bool = False  # its cancel is part of a replace: no Canceled report
    cancel_cl: bytes | None = None  # ClOrdID of the pending cancel request


def _order_type(m: FixMessage) -> int | str:
    """ORDER_MARKET / ORDER_LIMIT / ORDER_IOC from OrdType (40) and TimeInForce (59), or the refusal."""
    ot = m.get(S.ORD_TYPE)
    if ot == b"1":
        return ORDER_MARKET
    if ot != b"2":
        return "OrdType must be 1 (market) or 2 (limit)"
    tif = m.get(S.TIME_IN_FORCE, b"0")
    if tif in (b"0", b"1"):
        return ORDER_LIMIT
    if tif == b"3":
        return ORDER_IOC
    return "TimeInForce must be 0 (Day), 1 (GTC) or 3 (IOC)"


def parse_order(m: FixMessage, by_symbol: dict[bytes, int]) -> OrderParams | str:
    """(instrument, side, type, qty, price) of a ``D`` or ``G``, or the reason it is refused."""
    k = by_symbol.get(m.get(S.SYMBOL) or b"", 0)
    if k == 0:
        return "unknown symbol"
    side = _SIDES.get(m.get(S.SIDE) or b"")
    if side is None:
        return "side must be 1 (buy) or 2 (sell)"
    otype = _order_type(m)
    if isinstance(otype, str):
        return otype
    try:
        q = float(m.get(S.ORDER_QTY) or b"nan")
    except ValueError:
        return "bad OrderQty"
    if not (q > 0 and q == int(q) and q <= MAX_QTY):
        return "OrderQty must be a whole number of shares in 1..1e9"
    px = 0.0
    if otype != ORDER_MARKET:
        px = float(m.get(S.PRICE) or b"nan")
        if not (px > 0 and math.isfinite(px)):
            return "Price must be > 0"
    return k, side, otype, int(q), px


def refusal_code(reason: str) -> int:
    """OrdRejReason (103) of a :func:`parse_order` refusal: 1 unknown symbol, 13 bad quantity, 99 other."""
    if reason == "unknown symbol":
        return 1
    return 13 if "OrderQty" in reason else 99


def _fill(rec: np.void, oid: int, target: int, owner: int, k: int, side: int, otype: int, ts: int) -> None:
    rec["order_id"] = oid
    rec["target_id"] = target
    rec["owner"] = owner
    rec["instrument"] = k
    rec["side"] = side
    rec["type"] = otype
    rec["ts_ns"] = ts


def order_record(
    oid: int, target: int, owner: int, k: int, side: int, otype: int, qty: int, px: float
) -> np.ndarray:
    """One ``ORDER_DTYPE`` record stamped now."""
    r = np.zeros(1, ORDER_DTYPE)
    _fill(r[0], oid, target, owner, k, side, otype, time.time_ns())
    r[0]["qty"] = qty
    r[0]["price"] = px
    return r


class OrderEntryMixin(ReportMixin):
    """Client requests -> book records (part of :class:`~cns.gateway.gateway.VenueGateway`)."""

    symbols: list[str]
    by_symbol: dict[bytes, int]
    next_oid: int
    mass_n: int
    seen_cl: set[tuple[int, bytes]]

    if TYPE_CHECKING:

        def _match(self, orders: np.ndarray) -> np.ndarray: ...

    def _oid(self) -> int:
        oid = self.next_oid
        self.next_oid += 1
        return oid

    def _new_order(self, owner: int, session: str, m: FixMessage) -> None:
        self.stats["orders"] += 1
        cl = m.get(S.CL_ORD_ID) or b""
        p = parse_order(m, self.by_symbol)
        if isinstance(p, str):
            self._reject_new(session, m, refusal_code(p), p)
            return
        if (owner, cl) in self.seen_cl:
            # FIX: ClOrdID is unique per trading day; a resend of a filled or cancelled order must not trade twice
            self.stats["duplicate_clordids"] += 1
            self._reject_new(session, m, 6, "duplicate ClOrdID (already used today)")
            return
        self.seen_cl.add((owner, cl))
        k, side, otype, qty, px = p
        o = Order(self._oid(), owner, session, cl, None, k, self.symbols[k].encode(), side, qty, px, otype)
        self.orders[o.oid] = o
        self._match(order_record(o.oid, 0, owner, k, side, otype, qty, px))

    def _cancel(self, owner: int, session: str, m: FixMessage) -> None:
        cl = m.get(S.CL_ORD_ID) or b"?"
        orig = m.get(S.ORIG_CL_ORD_ID) or b"?"
        oid = self.live.get((owner, orig))
        if oid is None:
            self._cancel_reject(session, cl, orig, b"1", 1, _UNKNOWN_ORDER)
            return
        o = self.orders[oid]
        o.cancel_cl = cl
        self._cancel_records([o], cl, b"1")

    def _cancel_records(self, orders: list[Order], cl: bytes | None, resp_to: bytes) -> np.ndarray:
        """Cancel ``orders`` in one batch; a cancel the book refuses (the order is gone) is answered with an
        OrderCancelReject (``resp_to``: 434) within the batch."""
        recs = np.zeros(len(orders), ORDER_DTYPE)
        ts = time.time_ns()
        for i, o in enumerate(orders):
            cid = self._oid()
            self.cancels[cid] = (o, cl if cl is not None else o.cl, 1 if resp_to == b"1" else 2)
            _fill(recs[i], cid, o.oid, o.owner, o.instrument, o.side, ORDER_CANCEL, ts)
        try:
            return self._match(recs)
        finally:
            for cid in recs["order_id"]:  # a cancel is answered within its own batch
                self.cancels.pop(int(cid), None)

    def _replace(self, owner: int, session: str, m: FixMessage) -> None:
        """Cancel + a new order with the new quantity/price (time priority lost, CumQty carried over)."""
        cl = m.get(S.CL_ORD_ID) or b"?"
        orig = m.get(S.ORIG_CL_ORD_ID) or b"?"
        oid = self.live.get((owner, orig))
        if oid is None:
            self._cancel_reject(session, cl, orig, b"2", 1, _UNKNOWN_ORDER)
            return
        o = self.orders[oid]
        p = parse_order(m, self.by_symbol)
        if isinstance(p, str) or p[0] != o.instrument or p[1] != o.side:
            self._cancel_reject(
                session, cl, orig, b"2", 99, p if isinstance(p, str) else "symbol and side cannot change", o
            )
            return
        if (owner, cl) in self.seen_cl:
            self.stats["duplicate_clordids"] += 1
            self._cancel_reject(session, cl, orig, b"2", 6, "duplicate ClOrdID (already used today)", o)
            return
        self.seen_cl.add((owner, cl))
        _, _, otype, qty, px = p
        if qty <= o.cum:
            self._cancel_reject(session, cl, orig, b"2", 99, "OrderQty must exceed CumQty", o)
            return
        o.replacing = True
        self._cancel_records([o], cl, b"2")
        if o.live:  # the cancel failed (a race with a fill): the reject was sent
            o.replacing = False
            return
        n = Order(
            self._oid(),
            owner,
            session,
            cl,
            orig,
            o.instrument,
            o.symbol,
            o.side,
            qty,
            px,
            otype,
            cum=o.cum,
            notional=o.notional,
        )
        self.orders[n.oid] = n
        self._match(order_record(n.oid, 0, owner, o.instrument, o.side, otype, qty - o.cum, px))

    def _mass_cancel(self, owner: int, session: str, m: FixMessage) -> None:
        """The kill switch: ``530=7`` all of this client's live orders, ``530=1`` those of symbol ``55``."""
        cl = m.get(S.CL_ORD_ID) or b"?"
        kind = m.get(S.MASS_CANCEL_REQUEST_TYPE) or b"?"
        self.mass_n += 1
        report_id = b"MC%d" % self.mass_n
        if kind == b"7":
            n = self._cancel_all(owner, None, cl)
        elif kind == b"1":
            k = self.by_symbol.get(m.get(S.SYMBOL) or b"", 0)
            if k == 0:
                body = mass_cancel_refused_body(cl, report_id, kind, 1, "unknown symbol")
                self._send(session, S.ORDER_MASS_CANCEL_REPORT, body)
                return
            n = self._cancel_all(owner, k, cl)
        else:
            text = "MassCancelRequestType must be 1 (symbol) or 7 (all)"
            self._send(
                session, S.ORDER_MASS_CANCEL_REPORT, mass_cancel_refused_body(cl, report_id, kind, 0, text)
            )
            return
        self._send(session, S.ORDER_MASS_CANCEL_REPORT, mass_cancel_done_body(cl, report_id, kind, n))

    def _cancel_all(self, owner: int, instrument: int | None, cl: bytes | None) -> int:
        """Cancel ``owner``'s live orders (of ``instrument``, or all); how many were canceled."""
        targets = [
            self.orders[oid]
            for (own, _), oid in self.live.items()
            if own == owner and (instrument is None or self.orders[oid].instrument == instrument)
        ]
        if not targets:
            return 0
        for o in targets:
            o.cancel_cl = cl
        self._cancel_records(targets, cl, b"1")
        return sum(1 for o in targets if not o.live)
