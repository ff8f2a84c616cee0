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

This module is the process (calls, events, matching); order handling is in :mod:`cns.gateway.orders`, the
reports in :mod:`cns.gateway.reports`, top of book and market-data records in
:mod:`cns.gateway.top_of_book`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from cns.fix import spec as S
from cns.fix.codec import FixMessage
from cns.fix.session import FixInbound, FixSessionDown
from cns.gateway.config import VenueConfig
from cns.gateway.marketdata import MdUpdate
from cns.gateway.orders import MAX_QTY as MAX_QTY
from cns.gateway.orders import OrderEntryMixin
from cns.gateway.reports import ExecIds, business_reject_body
from cns.gateway.top_of_book import snapshot, top_updates
from cns.otp import GenServer
from cns.runtime import From, Node, Pid
from cns.venue import book_kernels as K
from cns.venue.book import TRADE_DTYPE, allocate_book, tick_size_for
from cns.venue.dtypes import EXEC_DTYPE

__all__ = ["MarketMakerQuotes", "VenueGateway"]

log = logging.getLogger("cns.gateway")


class MarketMakerQuotes:
    """From the market maker: ORDER_DTYPE records (owner 1) to match as one batch."""

    __slots__ = ("orders",)

    def __init__(self, orders: np.ndarray) -> None:
        self.orders = orders


class VenueGateway(OrderEntryMixin, GenServer):
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
        """Start the gateway for ``config`` (linked to the caller when ``link``), registered as ``name``; book updates
        go to the market-data publisher ``md`` (None: no market data). Returns its Pid.
        """
        pid = cls.start(node, config, md, name=name, link=link)
        assert pid is not None
        return pid

    def init(self, config: VenueConfig, md: str | None) -> None:
        self.cfg = config
        self.md = md
        self.symbols = config.symbols
        self.by_symbol = {s.encode(): k for k, s in enumerate(self.symbols) if k}
        self.book = _allocate(config)
        self.out = np.zeros(4096, EXEC_DTYPE)
        self.trades = np.zeros(4096, TRADE_DTYPE)
        self.owner_of_session = {s.name: s.owner for s in config.sessions}
        self.orders = {}
        self.live = {}
        self.seen_cl: set[tuple[int, bytes]] = set()  # every ClOrdID accepted today, per owner (never reused)
        self.cancels = {}
        self.next_oid = 1
        self.exec_ids = ExecIds()
        self.mass_n = 0
        self.top = snapshot(self.book)
        self.stats = {
            "orders": 0,
            "fills": 0,
            "rejects": 0,
            "duplicate_clordids": 0,
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
            return self._position(int(request[1]))
        return None

    def _position(self, o: int) -> dict[str, Any]:
        if not 0 <= o < self.book.pos.shape[0]:
            return {}
        return {
            "cash": float(self.book.cash[o]),
            **{self.symbols[k]: int(self.book.pos[o, k]) for k in range(1, len(self.symbols))},
        }

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
        # FixSessionUp and anything else: nothing to do

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
                session, S.BUSINESS_MESSAGE_REJECT, business_reject_body(m, 3, "unsupported message type")
            )

    # ------------------------------------------------------------------ matching
    def _match(self, orders: np.ndarray) -> np.ndarray:
        """Match ``orders`` on the book; send the reports and the market data; return the reports."""
        chunks = []
        n_tr = 0
        i = 0
        while i < orders.shape[0]:
            j, n_out, n_tr = K.process_batch(self.book, orders, i, self.out, 0, self.trades, n_tr)
            chunks.append(self.out[:n_out].copy())
            if j == i:  # the report buffer was too small for one more order
                self.out = np.zeros(self.out.shape[0] * 2, EXEC_DTYPE)
            if j == i or self.trades.shape[0] - n_tr < self.out.shape[0]:
                self.trades = np.concatenate((self.trades[:n_tr], np.zeros(self.out.shape[0], TRADE_DTYPE)))
            i = j
        reports = (
            np.concatenate(chunks) if len(chunks) > 1 else (chunks[0] if chunks else np.zeros(0, EXEC_DTYPE))
        )
        for r in reports:
            self._report(r)
        self._market_data(orders, self.trades[:n_tr])
        return reports

    def _market_data(self, orders: np.ndarray, trades: np.ndarray) -> None:
        out = top_updates(self.book, self.top, orders, trades, time.time_ns())
        if out and self.md is not None:
            recs = np.concatenate(out)
            self.stats["md_records"] += recs.shape[0]
            try:
                self.node.send(self.md, MdUpdate(recs, self.top.copy()))
            except Exception:  # noqa: BLE001 - no publisher running
                pass


def _allocate(config: VenueConfig) -> Any:
    """The multi-instrument book of the venue's instruments (codes 1..n; tick sizes from the config, or by
    price when some are given)."""
    ref = np.array([math.nan] + [i.price for i in config.instruments])
    ticks = None
    if any(i.tick is not None for i in config.instruments):
        ticks = np.array(
            [0.0] + [i.tick if i.tick is not None else tick_size_for(i.price) for i in config.instruments]
        )
    owners = max(s.owner for s in config.sessions) + 1
    return allocate_book(
        ref, tick_sizes=ticks, levels=config.levels, capacity=config.capacity, tracked_owners=owners
    )
