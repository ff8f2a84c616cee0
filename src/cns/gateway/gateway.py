"""The venue gateway: order books behind FIX sessions, matching on the wall clock.

:class:`VenueGateway` is a :class:`~cns.otp.GenServer` that owns a multi-instrument price-time-priority book
(:func:`cns.venue.book.allocate_book` and the kernels of :mod:`cns.venue.book_kernels`, the same matching as
:class:`~cns.venue.book.OrderBook` and the exchange simulator) and the order state of every client. The FIX
sessions (acceptor role) send it :class:`~cns.fix.session.FixInbound` events; it answers through the
sessions with ExecutionReports (``35=8``), OrderCancelRejects (``35=9``) and OrderMassCancelReports
(``35=r``), and sends top-of-book changes and trades to the :class:`~cns.gateway.marketdata.MarketDataPublisher`.

Each inbound order is matched when it is handled, stamped with ``time.time_ns()`` (venue wall clock); a
batch from the market maker is matched the same way. Message -> book mapping:

- NewOrderSingle ``D``: ``40=1`` market (never rests; the unfilled rest expires, ``150=C``), ``40=2`` limit with
  ``59`` 0/1 (Day/GTC: rests) or 3 (IOC). Reports: ``150=0`` New, ``150=F`` per fill (``39=1``/``2``, LastQty,
  LastPx, CumQty, AvgPx, LeavesQty), ``150=C`` expired remainder, ``150=8`` rejected (``103``/``58`` say why:
  unknown symbol, bad side/type/TIF/qty/price, price outside the band, duplicate live ClOrdID, book full).
- OrderCancelRequest ``F``: ``150=4`` Canceled (``41`` the original ClOrdID), or ``35=9`` ``434=1`` with
  ``102=1`` (unknown order: never seen, filled or canceled).
- OrderCancelReplaceRequest ``G``: cancel + new order with the new quantity/price (time priority is lost,
  CumQty carries over, the new leaves are ``38 - CumQty``); ``150=5`` Replaced, or ``35=9`` ``434=2``.
- OrderMassCancelRequest ``q``: ``530=7`` (all) or ``530=1`` (by symbol ``55``) cancels this client's live
  orders (a ``150=4`` report each) and answers ``35=r`` with ``531`` = the request type and ``533`` = the
  count; another type gets ``531=0`` (rejected). This is the kill switch.
- With ``cancel_on_disconnect`` a client's live orders are canceled when its session goes down (the reports
  are persisted and delivered when it logs on again: the counterparty's ResendRequest).

Owner ids: the market maker is owner 1; each session has the owner of its config. Reports to a session that
is not logged on are persisted by the session and delivered on its next Logon (a gap, then a resend).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from cns.fix import spec as S
from cns.fix.codec import FixMessage
from cns.fix.session import FixInbound, FixSend, FixSessionDown, FixSessionUp
from cns.gateway.config import OWNER_MARKET_MAKER, VenueConfig
from cns.gateway.marketdata import FLAG_TRADE, TOB_DTYPE, MdUpdate
from cns.otp import GenServer
from cns.runtime import From, Node, Pid
from cns.venue import book_kernels as K
from cns.venue.book import TRADE_DTYPE, allocate_book
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_DTYPE,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    ORDER_CANCEL,
    ORDER_DTYPE,
    ORDER_IOC,
    ORDER_LIMIT,
    ORDER_MARKET,
    REJECT_DUPLICATE_ID,
    REJECT_INSTRUMENT,
    REJECT_NAMES,
    REJECT_QTY,
    SIDE_BUY,
    SIDE_SELL,
)

__all__ = ["MarketMakerQuotes", "VenueGateway"]

log = logging.getLogger("cns.gateway")

MAX_QTY = 1_000_000_000
_REJ_CODE = {REJECT_INSTRUMENT: 1, REJECT_DUPLICATE_ID: 6, REJECT_QTY: 13}


class MarketMakerQuotes:
    """From the market maker: ORDER_DTYPE records (owner 1) to match as one batch."""

    __slots__ = ("orders",)

    def __init__(self, orders: np.ndarray) -> None:
        self.orders = orders


@dataclass(slots=True)
class _Order:
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


class VenueGateway(GenServer):
    """See the module doc. Calls: ``"stats"``, ``"top"`` (TOB_DTYPE per instrument), ``("position", owner)``
    -> ``{symbol: shares}`` and cash."""

    @classmethod
    def start_gateway(
        cls,
        node: Node,
        config: VenueConfig,
        *,
        name: str = "venue_gateway",
        md: str | None = "venue_md",
        link: bool = True,
    ) -> Pid:
        pid = cls.start(node, config, md, name=name, link=link)
        assert pid is not None
        return pid

    def init(self, config: VenueConfig, md: str | None) -> None:
        self.cfg = config
        self.md = md
        self.symbols = config.symbols
        self.by_symbol = {s.encode(): k for k, s in enumerate(self.symbols) if k}
        ref = np.array([math.nan] + [i.price for i in config.instruments])
        ticks = None
        if any(i.tick is not None for i in config.instruments):
            from cns.venue.book import tick_size_for

            ticks = np.array(
                [0.0] + [i.tick if i.tick is not None else tick_size_for(i.price) for i in config.instruments]
            )
        owners = max(s.owner for s in config.sessions) + 1
        self.book = allocate_book(
            ref, tick_sizes=ticks, levels=config.levels, capacity=config.capacity, tracked_owners=owners
        )
        self.out = np.zeros(4096, EXEC_DTYPE)
        self.trades = np.zeros(4096, TRADE_DTYPE)
        self.session_of_owner = {s.owner: f"fix:{s.name}" for s in config.sessions}
        self.owner_of_session = {s.name: s.owner for s in config.sessions}
        self.orders: dict[int, _Order] = {}
        self.live: dict[tuple[int, bytes], int] = {}
        self.cancels: dict[
            int, tuple[_Order, bytes, int]
        ] = {}  # cancel request id -> (order, its ClOrdID, 434)
        self.next_oid = 1
        self.exec_n = 0
        self.exec_prefix = b"%x-" % (time.time_ns() // 1_000_000)
        self.mass_n = 0
        self.one = np.zeros(1, ORDER_DTYPE)
        self.top = self._snapshot()
        self.stats = {
            "orders": 0,
            "fills": 0,
            "rejects": 0,
            "cancels": 0,
            "mm_batches": 0,
            "md_records": 0,
            "reports": 0,
        }

    # ------------------------------------------------------------------ calls and events
    def handle_call(self, request: Any, from_: From) -> Any:
        if request == "stats":
            m = self.book.meta
            return dict(
                self.stats,
                resting=int(self.book.n_rest.sum()),
                matches=int(m[K.M_MATCHES]),
                live_orders=len(self.live),
            )
        if request == "top":
            return self.top.copy()
        if isinstance(request, tuple) and request[0] == "position":
            o = int(request[1])
            if not 0 <= o < self.book.pos.shape[0]:
                return {}
            return {
                "cash": float(self.book.cash[o]),
                **{self.symbols[k]: int(self.book.pos[o, k]) for k in range(1, len(self.symbols))},
            }
        return None

    def handle_cast(self, msg: Any) -> None:
        self.handle_info(msg)

    def handle_info(self, msg: Any) -> None:
        cls = msg.__class__
        if cls is FixInbound:
            owner = self.owner_of_session.get(msg.session)
            if owner is not None:
                self._inbound(owner, f"fix:{msg.session}", msg.msg)
        elif cls is MarketMakerQuotes:
            self.stats["mm_batches"] += 1
            self._match(msg.orders)
        elif cls is FixSessionDown:
            owner = self.owner_of_session.get(msg.session)
            if owner is not None and self.cfg.cancel_on_disconnect:
                n = self._cancel_all(owner, None, None)
                if n:
                    log.info("venue: canceled %d orders of %s on disconnect", n, msg.session)
        elif cls is FixSessionUp:
            pass

    # ------------------------------------------------------------------ inbound FIX
    def _inbound(self, owner: int, session: str, m: FixMessage) -> None:
        mt = m.msg_type
        if mt == S.NEW_ORDER_SINGLE:
            self._new_order(owner, session, m)
        elif mt == S.ORDER_CANCEL_REQUEST:
            self._cancel(owner, session, m)
        elif mt == S.ORDER_CANCEL_REPLACE_REQUEST:
            self._replace(owner, session, m)
        elif mt == S.ORDER_MASS_CANCEL_REQUEST:
            self._mass_cancel(owner, session, m)
        else:
            self._send(
                session,
                S.BUSINESS_MESSAGE_REJECT,
                [
                    (S.REF_SEQ_NUM, m.seq),
                    (S.REF_MSG_TYPE, mt),
                    (S.BUSINESS_REJECT_REASON, 3),
                    (S.TEXT, "unsupported message type"),
                ],
            )

    def _order_params(self, m: FixMessage) -> tuple[int, int, int, int, float] | str:
        """(instrument, side, type, qty, price) or the reason it is refused."""
        k = self.by_symbol.get(m.get(S.SYMBOL) or b"", 0)
        if k == 0:
            return "unknown symbol"
        side = {b"1": SIDE_BUY, b"2": SIDE_SELL}.get(m.get(S.SIDE) or b"")
        if side is None:
            return "side must be 1 (buy) or 2 (sell)"
        ot = m.get(S.ORD_TYPE)
        tif = m.get(S.TIME_IN_FORCE, b"0")
        if ot == b"1":
            otype = ORDER_MARKET
        elif ot == b"2":
            if tif in (b"0", b"1"):
                otype = ORDER_LIMIT
            elif tif == b"3":
                otype = ORDER_IOC
            else:
                return "TimeInForce must be 0 (Day), 1 (GTC) or 3 (IOC)"
        else:
            return "OrdType must be 1 (market) or 2 (limit)"
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

    def _new_order(self, owner: int, session: str, m: FixMessage) -> None:
        self.stats["orders"] += 1
        cl = m.get(S.CL_ORD_ID) or b""
        p = self._order_params(m)
        if isinstance(p, str):
            self._reject_new(session, m, 1 if p == "unknown symbol" else (13 if "OrderQty" in p else 99), p)
            return
        if (owner, cl) in self.live:
            self._reject_new(session, m, 6, "duplicate ClOrdID of a live order")
            return
        k, side, otype, qty, px = p
        o = _Order(self._oid(), owner, session, cl, None, k, self.symbols[k].encode(), side, qty, px, otype)
        self.orders[o.oid] = o
        self._match(self._record(o.oid, 0, owner, k, side, otype, qty, px))

    def _reject_new(self, session: str, m: FixMessage, code: int, text: str) -> None:
        self.stats["rejects"] += 1
        side = m.get(S.SIDE) or b"1"
        self._send(
            session,
            S.EXECUTION_REPORT,
            [
                (S.ORDER_ID, b"NONE"),
                (S.CL_ORD_ID, m.get(S.CL_ORD_ID) or b"?"),
                (S.EXEC_ID, self._exec_id()),
                (S.EXEC_TYPE, S.EXEC_REJECTED),
                (S.ORD_STATUS, S.ST_REJECTED),
                (S.SYMBOL, m.get(S.SYMBOL) or b"?"),
                (S.SIDE, side if side in (b"1", b"2") else b"1"),
                (S.LEAVES_QTY, 0),
                (S.CUM_QTY, 0),
                (S.AVG_PX, 0),
                (S.ORD_REJ_REASON, code),
                (S.TEXT, text),
            ],
        )

    def _cancel(self, owner: int, session: str, m: FixMessage) -> None:
        cl = m.get(S.CL_ORD_ID) or b"?"
        orig = m.get(S.ORIG_CL_ORD_ID) or b"?"
        oid = self.live.get((owner, orig))
        if oid is None:
            self._cancel_reject(session, cl, orig, b"1", 1, "unknown order (never seen, filled or canceled)")
            return
        o = self.orders[oid]
        o.cancel_cl = cl
        self._cancel_records([o], cl, b"1")

    def _cancel_records(self, orders: list[_Order], cl: bytes | None, resp_to: bytes) -> np.ndarray:
        recs = np.zeros(len(orders), ORDER_DTYPE)
        ts = time.time_ns()
        for i, o in enumerate(orders):
            cid = self._oid()
            self.cancels[cid] = (o, cl if cl is not None else o.cl, 1 if resp_to == b"1" else 2)
            r = recs[i]
            r["order_id"] = cid
            r["target_id"] = o.oid
            r["owner"] = o.owner
            r["instrument"] = o.instrument
            r["side"] = o.side
            r["type"] = ORDER_CANCEL
            r["ts_ns"] = ts
        try:
            return self._match(recs)
        finally:
            for cid in recs["order_id"]:  # a cancel is answered within its own batch
                self.cancels.pop(int(cid), None)

    def _cancel_reject(
        self,
        session: str,
        cl: bytes,
        orig: bytes,
        resp_to: bytes,
        reason: int,
        text: str,
        order: _Order | None = None,
    ) -> None:
        self.stats["rejects"] += 1
        status = S.ST_REJECTED if order is None else self._status(order)
        self._send(
            session,
            S.ORDER_CANCEL_REJECT,
            [
                (S.ORDER_ID, b"%d" % order.oid if order is not None else b"NONE"),
                (S.CL_ORD_ID, cl),
                (S.ORIG_CL_ORD_ID, orig),
                (S.ORD_STATUS, status),
                (S.CXL_REJ_RESPONSE_TO, resp_to),
                (S.CXL_REJ_REASON, reason),
                (S.TEXT, text),
            ],
        )

    def _replace(self, owner: int, session: str, m: FixMessage) -> None:
        cl = m.get(S.CL_ORD_ID) or b"?"
        orig = m.get(S.ORIG_CL_ORD_ID) or b"?"
        oid = self.live.get((owner, orig))
        if oid is None:
            self._cancel_reject(session, cl, orig, b"2", 1, "unknown order (never seen, filled or canceled)")
            return
        o = self.orders[oid]
        p = self._order_params(m)
        if isinstance(p, str) or p[0] != o.instrument or p[1] != o.side:
            self._cancel_reject(
                session, cl, orig, b"2", 99, p if isinstance(p, str) else "symbol and side cannot change", o
            )
            return
        if (owner, cl) in self.live:
            self._cancel_reject(session, cl, orig, b"2", 6, "duplicate ClOrdID of a live order", o)
            return
        _, _, otype, qty, px = p
        if qty <= o.cum:
            self._cancel_reject(session, cl, orig, b"2", 99, "OrderQty must exceed CumQty", o)
            return
        o.replacing = True
        self._cancel_records([o], cl, b"2")
        if o.live:  # the cancel failed (a race with a fill): the reject was sent
            o.replacing = False
            return
        n = _Order(
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
        self._match(self._record(n.oid, 0, owner, o.instrument, o.side, otype, qty - o.cum, px))

    def _mass_cancel(self, owner: int, session: str, m: FixMessage) -> None:
        cl = m.get(S.CL_ORD_ID) or b"?"
        kind = m.get(S.MASS_CANCEL_REQUEST_TYPE) or b"?"
        self.mass_n += 1
        body: list[tuple[int, Any]] = [
            (S.CL_ORD_ID, cl),
            (S.ORDER_ID, b"MC%d" % self.mass_n),
            (S.MASS_CANCEL_REQUEST_TYPE, kind),
        ]
        if kind == b"7":
            n = self._cancel_all(owner, None, cl)
        elif kind == b"1":
            k = self.by_symbol.get(m.get(S.SYMBOL) or b"", 0)
            if k == 0:
                self._send(
                    session,
                    S.ORDER_MASS_CANCEL_REPORT,
                    body
                    + [
                        (S.MASS_CANCEL_RESPONSE, b"0"),
                        (S.MASS_CANCEL_REJECT_REASON, 1),
                        (S.TEXT, "unknown symbol"),
                    ],
                )
                return
            n = self._cancel_all(owner, k, cl)
        else:
            self._send(
                session,
                S.ORDER_MASS_CANCEL_REPORT,
                body
                + [
                    (S.MASS_CANCEL_RESPONSE, b"0"),
                    (S.MASS_CANCEL_REJECT_REASON, 0),
                    (S.TEXT, "MassCancelRequestType must be 1 (symbol) or 7 (all)"),
                ],
            )
            return
        self._send(
            session,
            S.ORDER_MASS_CANCEL_REPORT,
            body + [(S.MASS_CANCEL_RESPONSE, kind), (S.TOTAL_AFFECTED_ORDERS, n)],
        )

    def _cancel_all(self, owner: int, instrument: int | None, cl: bytes | None) -> int:
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

    # ------------------------------------------------------------------ matching
    def _oid(self) -> int:
        oid = self.next_oid
        self.next_oid += 1
        return oid

    def _record(
        self, oid: int, target: int, owner: int, k: int, side: int, otype: int, qty: int, px: float
    ) -> np.ndarray:
        r = np.zeros(1, ORDER_DTYPE)
        rec = r[0]
        rec["order_id"] = oid
        rec["target_id"] = target
        rec["owner"] = owner
        rec["instrument"] = k
        rec["side"] = side
        rec["type"] = otype
        rec["qty"] = qty
        rec["price"] = px
        rec["ts_ns"] = time.time_ns()
        return r

    def _match(self, orders: np.ndarray) -> np.ndarray:
        """Match ``orders`` on the book; send the reports and the market data; return the reports."""
        chunks = []
        n_tr = 0
        i = 0
        while i < orders.shape[0]:
            j, n_out, n_tr = K.process_batch(self.book, orders, i, self.out, 0, self.trades, n_tr)
            chunks.append(self.out[:n_out].copy())
            if j == i:
                self.out = np.zeros(self.out.shape[0] * 2, EXEC_DTYPE)
                self.trades = np.concatenate((self.trades[:n_tr], np.zeros(self.out.shape[0], TRADE_DTYPE)))
            elif self.trades.shape[0] - n_tr < self.out.shape[0]:
                self.trades = np.concatenate((self.trades[:n_tr], np.zeros(self.out.shape[0], TRADE_DTYPE)))
            i = j
        reports = (
            np.concatenate(chunks) if len(chunks) > 1 else (chunks[0] if chunks else np.zeros(0, EXEC_DTYPE))
        )
        for r in reports:
            self._report(r)
        self._market_data(orders, self.trades[:n_tr])
        return reports

    def _report(self, r: np.void) -> None:
        owner = int(r["owner"])
        if owner == OWNER_MARKET_MAKER:
            return
        kind = int(r["kind"])
        oid = int(r["order_id"])
        if kind == EXEC_REJECTED and oid in self.cancels:
            target, ccl, resp = self.cancels.pop(oid)
            self._cancel_reject(
                target.session, ccl, target.cl, b"%d" % resp, 1, "unknown order (filled or canceled)", target
            )
            return
        found = self.orders.get(oid)
        if found is None:
            return
        o = found
        self.stats["reports"] += 1
        if kind == EXEC_ACK:
            self.live[(o.owner, o.cl)] = o.oid
            if o.orig is not None:
                self._er(o, S.EXEC_REPLACED, orig=o.orig)
            else:
                self._er(o, S.EXEC_NEW)
        elif kind in (EXEC_FILL, EXEC_PARTIAL):
            q = int(r["qty"])
            px = float(r["price"])
            o.cum += q
            o.notional += q * px
            self.stats["fills"] += 1
            if kind == EXEC_FILL:
                self._done(o)
            self._er(o, S.EXEC_TRADE, last=(q, px), leaves=int(r["leaves"]))
        elif kind == EXEC_CANCELED:
            self._done(o)
            if not o.replacing:
                self.stats["cancels"] += 1
                by = o.cancel_cl
                self._er(
                    o,
                    S.EXEC_CANCELED,
                    cl=by if by is not None else o.cl,
                    orig=o.cl if by is not None and by != o.cl else None,
                )
        elif kind == EXEC_EXPIRED:
            self._done(o)
            self._er(o, S.EXEC_EXPIRED)
        elif kind == EXEC_REJECTED:
            self._done(o)
            self.stats["rejects"] += 1
            reason = int(r["reason"])
            self._er(
                o,
                S.EXEC_REJECTED,
                rej=(
                    _REJ_CODE.get(reason, 99),
                    REJECT_NAMES[reason] if reason < len(REJECT_NAMES) else "rejected",
                ),
            )

    def _done(self, o: _Order) -> None:
        if o.live:
            o.live = False
            if self.live.get((o.owner, o.cl)) == o.oid:
                del self.live[(o.owner, o.cl)]
            self.orders.pop(o.oid, None)

    def _status(self, o: _Order) -> bytes:
        if o.live:
            return S.ST_PARTIAL if o.cum else S.ST_NEW
        return S.ST_FILLED if o.cum >= o.qty else S.ST_CANCELED

    def _er(
        self,
        o: _Order,
        exec_type: bytes,
        *,
        last: tuple[int, float] | None = None,
        leaves: int | None = None,
        cl: bytes | None = None,
        orig: bytes | None = None,
        rej: tuple[int, str] | None = None,
    ) -> None:
        if exec_type == S.EXEC_TRADE:
            status = S.ST_FILLED if o.cum >= o.qty else S.ST_PARTIAL
        elif exec_type in (S.EXEC_NEW, S.EXEC_REPLACED):
            status = S.ST_PARTIAL if o.cum else S.ST_NEW
        elif exec_type == S.EXEC_CANCELED:
            status = S.ST_CANCELED
        elif exec_type == S.EXEC_EXPIRED:
            status = S.ST_EXPIRED
        else:
            status = S.ST_REJECTED
        if leaves is None:
            leaves = o.qty - o.cum if o.live else 0
        body: list[tuple[int, Any]] = [
            (S.ORDER_ID, b"%d" % o.oid),
            (S.CL_ORD_ID, cl if cl is not None else o.cl),
        ]
        if orig is not None:
            body.append((S.ORIG_CL_ORD_ID, orig))
        body += [
            (S.EXEC_ID, self._exec_id()),
            (S.EXEC_TYPE, exec_type),
            (S.ORD_STATUS, status),
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
            (S.TRANSACT_TIME, _ts()),
        ]
        if rej is not None:
            body += [(S.ORD_REJ_REASON, rej[0]), (S.TEXT, rej[1])]
        self._send(o.session, S.EXECUTION_REPORT, body)

    def _exec_id(self) -> bytes:
        self.exec_n += 1
        return self.exec_prefix + b"%d" % self.exec_n

    def _send(self, session: str, msg_type: str, body: list[tuple[int, Any]]) -> None:
        try:
            self.node.send(session, FixSend(msg_type, tuple(body)))
        except Exception:  # noqa: BLE001 - the session is restarting: the report is lost, counted
            self.stats.setdefault("lost_reports", 0)
            self.stats["lost_reports"] += 1
            log.warning("venue: report to %s lost (session not running)", session)

    # ------------------------------------------------------------------ market data
    def _snapshot(self) -> np.ndarray:
        b = self.book
        n1 = b.tick.shape[0]
        L = b.lv.shape[1]
        top = np.zeros(n1 - 1, TOB_DTYPE)
        top["instrument"] = np.arange(1, n1)
        top["last_px"] = np.nan
        for k in range(1, n1):
            self._fill_top(top[k - 1], k, L)
        return top

    def _fill_top(self, rec: np.void, k: int, L: int) -> None:
        b = self.book
        bb, ba = int(b.best_bid[k]), int(b.best_ask[k])
        if bb >= 0:
            rec["bid_px"], rec["bid_qty"] = (b.base_tick[k] + bb) * b.tick[k], b.lv[k, bb, 2]
        else:
            rec["bid_px"], rec["bid_qty"] = np.nan, 0
        if ba < L:
            rec["ask_px"], rec["ask_qty"] = (b.base_tick[k] + ba) * b.tick[k], b.lv[k, ba, 2]
        else:
            rec["ask_px"], rec["ask_qty"] = np.nan, 0

    def _market_data(self, orders: np.ndarray, trades: np.ndarray) -> None:
        L = self.book.lv.shape[1]
        ts = time.time_ns()
        out = []
        new = np.zeros(1, TOB_DTYPE)[0]
        for t in trades:  # one record per trade (the book after the batch)
            k = int(t["instrument"])
            rec = np.zeros(1, TOB_DTYPE)
            rec["ts_ns"] = ts
            rec["instrument"] = k
            rec["flags"] = FLAG_TRADE
            self._fill_top(rec[0], k, L)
            rec["last_px"] = t["price"]
            rec["last_qty"] = t["qty"]
            out.append(rec)
        touched = np.unique(orders["instrument"])
        for k in touched:
            k = int(k)
            if not 0 < k <= self.top.shape[0]:
                continue
            old = self.top[k - 1]
            new["instrument"] = k
            self._fill_top(new, k, L)
            changed = any(not _same(old[f], new[f]) for f in ("bid_px", "bid_qty", "ask_px", "ask_qty"))
            for f in ("bid_px", "bid_qty", "ask_px", "ask_qty"):
                old[f] = new[f]
            if changed and not any(int(r["instrument"][0]) == k for r in out):
                rec = np.zeros(1, TOB_DTYPE)
                rec[0] = old
                rec["ts_ns"] = ts
                rec["flags"] = 0
                rec["last_px"] = np.nan
                rec["last_qty"] = 0
                out.append(rec)
        for t in trades:
            k = int(t["instrument"])
            self.top[k - 1]["last_px"] = t["price"]
            self.top[k - 1]["last_qty"] = t["qty"]
        if out and self.md is not None:
            recs = np.concatenate(out)
            self.stats["md_records"] += recs.shape[0]
            try:
                self.node.send(self.md, MdUpdate(recs, self.top.copy()))
            except Exception:  # noqa: BLE001 - no publisher running
                pass


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) or (isinstance(a, float | np.floating) and math.isnan(a) and math.isnan(b))


def _ts() -> bytes:
    from cns.fix.codec import utc_timestamp

    return utc_timestamp(time.time_ns())
