"""Where the desk's orders go: the :class:`OrderSink` protocol, its FIX implementation (the shard's
``[[fix]]`` sessions, :mod:`cns.fix`) and an in-process simulated venue for tests and dry runs.

An order sink is used by the desk process only (inside its handlers, so its methods are ``async``: a FIX
send is a call to the session process, which parks the desk until the bytes are written).

- :meth:`OrderSink.send_orders` takes risk-approved ORDER_DTYPE records (entries, exits, cancels) and
  returns a :class:`SendResult`: how many were written and the records that were *not* (session down,
  encode refusal) with the reason -- the desk books those as rejected so the OMS releases their quantity.
  It never raises for a refusal.
- :meth:`OrderSink.cancel_all` is the kill switch: FIX sends one OrderMassCancelRequest (``35=q``,
  ``530=7``) per logged-on session; the venue answers with a Canceled report per order and an
  OrderMassCancelReport (``35=r``). Returns the number of requests written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cns.fix import spec as S
from cns.fix.codec import utc_timestamp
from cns.runtime import Node, Pid
from cns.serve.state import ServeState
from cns.venue.book import OrderBook
from cns.venue.dtypes import EXEC_DTYPE, ORDER_DTYPE, ORDER_LIMIT, SIDE_BUY, SIDE_SELL

__all__ = ["FixOrderSink", "InProcessVenue", "OrderSink", "SendResult", "VenueReports"]

_EMPTY = np.zeros(0, ORDER_DTYPE)


@dataclass(frozen=True, slots=True)
class SendResult:
    """``written``: records whose bytes were handed to the transport; ``refused``: the records that were
    not (ORDER_DTYPE, maybe empty); ``reason``: why (empty when none was refused)."""

    written: int
    refused: np.ndarray
    reason: str = ""


class OrderSink(Protocol):
    """The desk's way out (see the module doc)."""

    name: str

    async def send_orders(self, orders: np.ndarray) -> SendResult:
        """Hand ORDER_DTYPE ``orders`` to the venue; never raises: refused records come back in the result."""
        ...

    async def cancel_all(self) -> int:
        """Cancel every open order at the venue; return how many cancel requests were sent."""
        ...


class VenueReports:
    """In-process venue -> desk: EXEC_DTYPE reports (instrument = ticker code)."""

    __slots__ = ("execs",)

    def __init__(self, execs: np.ndarray) -> None:
        self.execs = execs


class FixOrderSink:
    """Orders over the shard's FIX sessions (``state.sessions``, routed by ``state.session_of``).

    A session that is not logged on (``state.session_up``, kept by the desk from ``FixSessionUp``/``Down``)
    refuses at once without a call; otherwise the records go to the session process as one
    ``("orders", records)`` call (template-encoded, persisted, written; :func:`cns.fix.send_orders`), bounded
    by ``timeout_s``. Refusals: ``FixNotActive``, ``FixEncodeError``, a call timeout, a session restarting."""

    name = "fix"

    def __init__(self, node: Node, state: ServeState, timeout_s: float = 2.0) -> None:
        self.node, self.state, self.timeout_s = node, state, timeout_s
        self.mass_cancel_id = 0

    async def send_orders(self, orders: np.ndarray) -> SendResult:
        """Send ORDER_DTYPE ``orders``, split by session; never raises: refusals come back in the result."""
        st = self.state
        sessions = st.sessions
        if len(sessions) == 1:
            return await self._one(sessions[0], orders)
        which = st.session_of[orders["instrument"]]
        written, refused, reason = 0, [], ""
        for k in np.unique(which).tolist():
            part = orders[which == k]
            if k < 0:
                refused.append(part)
                reason = "no session trades the instrument"
                continue
            r = await self._one(sessions[k], part)
            written += r.written
            if len(r.refused):
                refused.append(r.refused)
                reason = r.reason
        return SendResult(written, np.concatenate(refused) if refused else _EMPTY, reason)

    async def _one(self, session: str, orders: np.ndarray) -> SendResult:
        if not self.state.session_up.get(session):
            return SendResult(0, orders, f"{session} is not logged on")
        try:
            r = await self.node.acall(session, ("orders", orders), self.timeout_s)
        except Exception as e:  # noqa: BLE001 - NoProc (restarting), CallTimeout: refused, counted by the desk
            return SendResult(0, orders, f"{session}: {type(e).__name__}")
        if isinstance(r, BaseException):
            return SendResult(0, orders, f"{session}: {type(r).__name__}: {r}")
        return SendResult(int(r[1]), _EMPTY)

    async def cancel_all(self) -> int:
        """Send an OrderMassCancelRequest on every logged-on session; return how many sessions took it."""
        n = 0
        for session in self.state.sessions:
            if not self.state.session_up.get(session):
                continue
            self.mass_cancel_id += 1
            body = (
                (S.CL_ORD_ID, f"MC{self.state.names.shard}-{self.mass_cancel_id}"),
                (S.MASS_CANCEL_REQUEST_TYPE, "7"),
                (S.TRANSACT_TIME, utc_timestamp(time.time_ns())),
            )
            try:
                r = await self.node.acall(
                    session, ("send", S.ORDER_MASS_CANCEL_REQUEST, body), self.timeout_s
                )
            except Exception:  # noqa: BLE001 - the session went away: nothing to cancel through it
                continue
            if not isinstance(r, BaseException):
                n += 1
        return n


class InProcessVenue:
    """A simulated venue inside the shard's process (``order_sink = "inprocess"``): one
    :class:`~cns.venue.book.OrderBook` over the tradable instruments, with a resting market maker (owner 1)
    ``depth`` levels each side, ``spread_bps`` apart around the reference mids, ``qty`` shares a level.
    Orders are matched at once; the reports go to ``desk`` as :class:`VenueReports` (so the desk books them
    as it books FIX execution reports). Quotes stay the configured reference prices."""

    name = "inprocess"

    def __init__(
        self,
        node: Node,
        state: ServeState,
        desk: Pid | str,
        *,
        depth: int = 3,
        qty: int = 1_000_000,
        tick: float = 0.01,
        levels: int = 8192,
    ) -> None:
        self.node, self.state, self.desk = node, state, desk
        codes = np.flatnonzero(state.tradable)
        self.to_book = np.zeros(len(state.tradable), np.uint32)
        self.to_book[codes] = np.arange(1, len(codes) + 1, dtype=np.uint32)
        self.to_ticker = np.concatenate(([0], codes)).astype(np.uint32)
        ref = state.quotes.mid[codes]
        self.book = OrderBook(ref.tolist(), tick_sizes=[tick] * len(codes), levels=levels)
        self.next_mm_id = 1
        mm = np.zeros(2 * depth * len(codes), ORDER_DTYPE)
        k = 0
        now = time.time_ns()
        for j, px in enumerate(ref.tolist()):
            for lvl in range(1, depth + 1):
                for side in (SIDE_BUY, SIDE_SELL):
                    o = mm[k]
                    o["order_id"] = self.next_mm_id
                    o["owner"] = 1
                    o["instrument"] = j + 1
                    o["side"] = side
                    o["type"] = ORDER_LIMIT
                    o["qty"] = qty
                    o["price"] = (round(px / tick) - side * lvl) * tick
                    o["ts_ns"] = now
                    self.next_mm_id += 1
                    k += 1
        self.book.process(mm)

    async def send_orders(self, orders: np.ndarray) -> SendResult:
        """Match ORDER_DTYPE ``orders`` in the book at once, reports to the desk; none is refused."""
        o = orders.copy()
        o["instrument"] = self.to_book[o["instrument"]]
        execs = self.book.process(o)
        if len(execs):
            execs["instrument"] = self.to_ticker[execs["instrument"]]
            self.node.send(self.desk, VenueReports(execs))
        return SendResult(len(orders), _EMPTY)

    async def cancel_all(self) -> int:
        """Cancel every open OMS order (journalled when a journal is set) through the book; returns 1."""
        cancels = self.state.pipeline.oms.cancel_all(time.time_ns())
        if len(cancels):
            j = self.state.extra.get("journal")
            if j is not None:  # journalled, and aimed at the ids the book knows (the journal's)
                cancels = j.orders(cancels)
            await self.send_orders(cancels)
        return 1


def rejected_reports(orders: np.ndarray, ts_ns: int) -> np.ndarray:
    """EXEC_REJECTED reports for orders that never left (the OMS releases their open quantity)."""
    from cns.venue.dtypes import EXEC_REJECTED, ORDER_CANCEL

    live = orders[orders["type"] != ORDER_CANCEL]
    r = np.zeros(len(live), EXEC_DTYPE)
    r["order_id"] = live["order_id"]
    r["owner"] = live["owner"]
    r["instrument"] = live["instrument"]
    r["kind"] = EXEC_REJECTED
    r["side"] = live["side"]
    r["qty"] = 0
    r["leaves"] = 0
    r["price"] = np.nan
    r["ts_ns"] = ts_ns
    return r
