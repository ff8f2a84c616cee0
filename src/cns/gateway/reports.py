"""What the venue gateway tells its clients: ExecutionReports (``35=8``), OrderCancelRejects (``35=9``),
OrderMassCancelReports (``35=r``) and BusinessMessageRejects (``35=j``).

The ``*_body`` functions build a message's body (``(tag, value)`` pairs in order) and nothing else;
:class:`ReportMixin` (part of :class:`~cns.gateway.gateway.VenueGateway`) turns what the book did -- an
``EXEC_DTYPE`` record per ack, fill, cancel, expiry or reject -- into the order's new state and its report,
and sends every report through the client's FIX session (:class:`~cns.fix.session.FixSend`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from cns.fix import spec as S
from cns.fix.codec import FixMessage, utc_timestamp
from cns.fix.session import FixSend
from cns.gateway.config import OWNER_MARKET_MAKER
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    ORDER_MARKET,
    REJECT_DUPLICATE_ID,
    REJECT_INSTRUMENT,
    REJECT_NAMES,
    REJECT_QTY,
    SIDE_BUY,
)

if TYPE_CHECKING:
    from cns.gateway.orders import Order
    from cns.runtime import Node

__all__ = [
    "ExecIds",
    "ReportMixin",
    "business_reject_body",
    "cancel_reject_body",
    "execution_report_body",
    "mass_cancel_done_body",
    "mass_cancel_refused_body",
    "new_order_reject_body",
    "order_status",
]

log = logging.getLogger("cns.gateway")

_REJ_CODE = {REJECT_INSTRUMENT: 1, REJECT_DUPLICATE_ID: 6, REJECT_QTY: 13}  # book reject -> OrdRejReason


class ExecIds:
    """ExecIDs (17) unique across restarts: the start time in ms (hex), then a counter."""

    __slots__ = ("n", "prefix")

    def __init__(self) -> None:
        self.prefix = b"%x-" % (time.time_ns() // 1_000_000)
        self.n = 0

    def next(self) -> bytes:
        """The next ExecID: ``<start ms hex>-<counter>`` as ASCII bytes."""
        self.n += 1
        return self.prefix + b"%d" % self.n


def _transact_time() -> bytes:
    return utc_timestamp(time.time_ns())


# ----------------------------------------------------------------------------------------- bodies
def order_status(o: Order) -> bytes:
    """OrdStatus (39) of an order as it stands."""
    if o.live:
        return S.ST_PARTIAL if o.cum else S.ST_NEW
    return S.ST_FILLED if o.cum >= o.qty else S.ST_CANCELED


def _report_status(o: Order, exec_type: bytes) -> bytes:
    """OrdStatus (39) of the report of ``exec_type``."""
    if exec_type == S.EXEC_TRADE:
        return S.ST_FILLED if o.cum >= o.qty else S.ST_PARTIAL
    if exec_type in (S.EXEC_NEW, S.EXEC_REPLACED):
        return S.ST_PARTIAL if o.cum else S.ST_NEW
    if exec_type == S.EXEC_CANCELED:
        return S.ST_CANCELED
    if exec_type == S.EXEC_EXPIRED:
        return S.ST_EXPIRED
    return S.ST_REJECTED


def execution_report_body(
    o: Order,
    exec_type: bytes,
    exec_id: bytes,
    *,
    last: tuple[int, float] | None = None,
    leaves: int | None = None,
    cl: bytes | None = None,
    orig: bytes | None = None,
    rej: tuple[int, str] | None = None,
) -> list[tuple[int, Any]]:
    """ExecutionReport of order ``o``: ``last`` (LastQty, LastPx) of a fill, ``leaves`` (default: what is
    left of a live order), ``cl``/``orig`` (ClOrdID / OrigClOrdID when a cancel request is answered),
    ``rej`` (OrdRejReason, Text)."""
    if leaves is None:
        leaves = o.qty - o.cum if o.live else 0
    body: list[tuple[int, Any]] = [
        (S.ORDER_ID, b"%d" % o.oid),
        (S.CL_ORD_ID, cl if cl is not None else o.cl),
    ]
    if orig is not None:
        body.append((S.ORIG_CL_ORD_ID, orig))
    body += [
        (S.EXEC_ID, exec_id),
        (S.EXEC_TYPE, exec_type),
        (S.ORD_STATUS, _report_status(o, exec_type)),
        (S.SYMBOL, o.symbol),
        (S.SIDE, b"1" if o.side == SIDE_BUY else b"2"),
        (S.ORDER_QTY, o.qty),
        (S.ORD_TYPE, b"1" if o.otype == ORDER_MARKET else b"2"),
    ]
    if o.otype != ORDER_MARKET:
        body.append((S.PRICE, o.price))
    if last is not None:
        body += [(S.LAST_QTY, last[0]), (S.LAST_PX, last[1])]
    body += [
        (S.LEAVES_QTY, leaves),
        (S.CUM_QTY, o.cum),
        (S.AVG_PX, o.notional / o.cum if o.cum else 0.0),
        (S.TRANSACT_TIME, _transact_time()),
    ]
    if rej is not None:
        body += [(S.ORD_REJ_REASON, rej[0]), (S.TEXT, rej[1])]
    return body


def new_order_reject_body(m: FixMessage, exec_id: bytes, code: int, text: str) -> list[tuple[int, Any]]:
    """ExecutionReport ``150=8`` of a NewOrderSingle refused before it reached the book."""
    side = m.get(S.SIDE) or b"1"
    return [
        (S.ORDER_ID, b"NONE"),
        (S.CL_ORD_ID, m.get(S.CL_ORD_ID) or b"?"),
        (S.EXEC_ID, exec_id),
        (S.EXEC_TYPE, S.EXEC_REJECTED),
        (S.ORD_STATUS, S.ST_REJECTED),
        (S.SYMBOL, m.get(S.SYMBOL) or b"?"),
        (S.SIDE, side if side in (b"1", b"2") else b"1"),
        (S.LEAVES_QTY, 0),
        (S.CUM_QTY, 0),
        (S.AVG_PX, 0),
        (S.ORD_REJ_REASON, code),
        (S.TEXT, text),
    ]


def cancel_reject_body(
    cl: bytes, orig: bytes, resp_to: bytes, reason: int, text: str, order: Order | None
) -> list[tuple[int, Any]]:
    """OrderCancelReject: ``resp_to`` (434) ``b"1"`` cancel / ``b"2"`` replace; ``order`` None when unknown."""
    return [
        (S.ORDER_ID, b"%d" % order.oid if order is not None else b"NONE"),
        (S.CL_ORD_ID, cl),
        (S.ORIG_CL_ORD_ID, orig),
        (S.ORD_STATUS, S.ST_REJECTED if order is None else order_status(order)),
        (S.CXL_REJ_RESPONSE_TO, resp_to),
        (S.CXL_REJ_REASON, reason),
        (S.TEXT, text),
    ]


def _mass_cancel_head(cl: bytes, report_id: bytes, kind: bytes) -> list[tuple[int, Any]]:
    return [(S.CL_ORD_ID, cl), (S.ORDER_ID, report_id), (S.MASS_CANCEL_REQUEST_TYPE, kind)]


def mass_cancel_done_body(cl: bytes, report_id: bytes, kind: bytes, affected: int) -> list[tuple[int, Any]]:
    """OrderMassCancelReport of an accepted request: ``531`` = the request type, ``533`` = ``affected``."""
    return _mass_cancel_head(cl, report_id, kind) + [
        (S.MASS_CANCEL_RESPONSE, kind),
        (S.TOTAL_AFFECTED_ORDERS, affected),
    ]


def mass_cancel_refused_body(
    cl: bytes, report_id: bytes, kind: bytes, reason: int, text: str
) -> list[tuple[int, Any]]:
    """OrderMassCancelReport of a refused request: ``531=0``, ``532`` = ``reason``."""
    return _mass_cancel_head(cl, report_id, kind) + [
        (S.MASS_CANCEL_RESPONSE, b"0"),
        (S.MASS_CANCEL_REJECT_REASON, reason),
        (S.TEXT, text),
    ]


def business_reject_body(m: FixMessage, reason: int, text: str) -> list[tuple[int, Any]]:
    """BusinessMessageReject of application message ``m``."""
    return [
        (S.REF_SEQ_NUM, m.seq),
        (S.REF_MSG_TYPE, m.msg_type),
        (S.BUSINESS_REJECT_REASON, reason),
        (S.TEXT, text),
    ]


# ----------------------------------------------------------------------------------------- the gateway's side
class ReportMixin:
    """Book results -> order state -> reports (part of :class:`~cns.gateway.gateway.VenueGateway`)."""

    node: Node
    stats: dict[str, int]
    orders: dict[int, Order]
    live: dict[tuple[int, bytes], int]
    cancels: dict[int, tuple[Order, bytes, int]]  # cancel request id -> (order, its ClOrdID, 434)
    exec_ids: ExecIds

    def _report(self, r: np.void) -> None:
        """Apply one ``EXEC_DTYPE`` record of the book to its order and report it (the market maker's are
        not reported)."""
        if int(r["owner"]) == OWNER_MARKET_MAKER:
            return
        kind = int(r["kind"])
        oid = int(r["order_id"])
        if kind == EXEC_REJECTED and oid in self.cancels:
            target, ccl, resp = self.cancels.pop(oid)
            self._cancel_reject(
                target.session, ccl, target.cl, b"%d" % resp, 1, "unknown order (filled or canceled)", target
            )
            return
        o = self.orders.get(oid)
        if o is None:
            return
        self.stats["reports"] += 1
        if kind == EXEC_ACK:
            self.live[(o.owner, o.cl)] = o.oid
            if o.orig is not None:
                self._er(o, S.EXEC_REPLACED, orig=o.orig)
            else:
                self._er(o, S.EXEC_NEW)
        elif kind in (EXEC_FILL, EXEC_PARTIAL):
            self._filled(o, r, done=kind == EXEC_FILL)
        elif kind == EXEC_CANCELED:
            self._canceled(o)
        elif kind == EXEC_EXPIRED:
            self._done(o)
            self._er(o, S.EXEC_EXPIRED)
        elif kind == EXEC_REJECTED:
            self._done(o)
            self.stats["rejects"] += 1
            reason = int(r["reason"])
            text = REJECT_NAMES[reason] if reason < len(REJECT_NAMES) else "rejected"
            self._er(o, S.EXEC_REJECTED, rej=(_REJ_CODE.get(reason, 99), text))

    def _filled(self, o: Order, r: np.void, done: bool) -> None:
        q = int(r["qty"])
        px = float(r["price"])
        o.cum += q
        o.notional += q * px
        self.stats["fills"] += 1
        if done:
            self._done(o)
        self._er(o, S.EXEC_TRADE, last=(q, px), leaves=int(r["leaves"]))

    def _canceled(self, o: Order) -> None:
        """Canceled by request (``cancel_cl``: its ClOrdID answers), by a mass cancel or on disconnect; the
        cancel half of a replace is not reported (the Replaced report is)."""
        self._done(o)
        if o.replacing:
            return
        self.stats["cancels"] += 1
        by = o.cancel_cl
        self._er(
            o,
            S.EXEC_CANCELED,
            cl=by if by is not None else o.cl,
            orig=o.cl if by is not None and by != o.cl else None,
        )

    def _done(self, o: Order) -> None:
        """The order left the book: forget it."""
        if o.live:
            o.live = False
            if self.live.get((o.owner, o.cl)) == o.oid:
                del self.live[(o.owner, o.cl)]
            self.orders.pop(o.oid, None)

    def _er(self, o: Order, exec_type: bytes, **kw: Any) -> None:
        self._send(
            o.session, S.EXECUTION_REPORT, execution_report_body(o, exec_type, self.exec_ids.next(), **kw)
        )

    def _reject_new(self, session: str, m: FixMessage, code: int, text: str) -> None:
        self.stats["rejects"] += 1
        self._send(session, S.EXECUTION_REPORT, new_order_reject_body(m, self.exec_ids.next(), code, text))

    def _cancel_reject(
        self,
        session: str,
        cl: bytes,
        orig: bytes,
        resp_to: bytes,
        reason: int,
        text: str,
        order: Order | None = None,
    ) -> None:
        self.stats["rejects"] += 1
        self._send(session, S.ORDER_CANCEL_REJECT, cancel_reject_body(cl, orig, resp_to, reason, text, order))

    def _send(self, session: str, msg_type: str, body: list[tuple[int, Any]]) -> None:
        """To the client through its session (which persists it when the client is not logged on)."""
        try:
            self.node.send(session, FixSend(msg_type, tuple(body)))
        except Exception:  # noqa: BLE001 - the session is restarting: the report is lost, counted
            self.stats.setdefault("lost_reports", 0)
            self.stats["lost_reports"] += 1
            log.warning("venue: report to %s lost (session not running)", session)
