"""A sparse, order-by-order (L3) limit order book for replaying exchange feeds and for simulation.

One book per instrument. Prices are integer ticks (``usd = ticks * tick_size``), sizes integer shares, times
integer ns; order ids are ``uint64``, unique within the book. Price levels are kept sparse (per side a sorted
array of the active levels, see :mod:`cns.venue.l3book_kernels`), so an order at any price in
``1..MAX_PRICE`` ticks is accepted and memory follows the live orders, never the price range.

Two ways in, same kernels:

* **batch**: :meth:`L3Book.process` takes an :data:`~cns.venue.l3book_dtypes.L3_OP_DTYPE` array and returns
  the :data:`~cns.venue.l3book_dtypes.L3_EXEC_DTYPE` reports of all its ops from one kernel call (the call
  returns to Python only to grow the book or the report buffer); ``process(ops, reports=False)`` updates the
  book only (a market-data replay), :meth:`L3Book.process_into` writes the reports into the caller's reused
  array. :meth:`L3Book.replay` also returns the LOBSTER-format top of book after every op.
* **single op**: :meth:`L3Book.limit`, :meth:`~L3Book.cancel`, ... call one compiled kernel with scalar
  arguments; the reports are a view into the book's own report area, **valid until the next call** (copy it
  to keep it).

Active ops (limit/GTC, market, IOC, FOK, post-only, cancel, modify, market-by-quote) are matched by price then
time with optional self-trade prevention; passive ops (add, pmodify, reduce, delete, exec, print, noop) apply
a recorded feed verbatim. Modify rules: a new price or a larger size moves the order to the tail of its
(new) level; a smaller size keeps its place. An active re-priced order may match; a passive one never does.

Every bad op (unknown kind, side, price outside ``1..MAX_PRICE``, size outside ``1..MAX_QTY``, unknown or
duplicate id, ...) becomes one ``EXEC_REJECTED`` report with a ``REJECT_*`` reason; the kernels never raise.
Python values that do not fit the op record at all (an id >= 2**64, a float NaN) raise :class:`L3InputError`.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np

from cns.venue import l3book_kernels as K
from cns.venue import l3book_query as Q
from cns.venue import l3book_store as L
from cns.venue.errors import OrderBatchError, VenueConfigError, VenueError
from cns.venue.l3book_dtypes import (
    DEPTH_DTYPE,
    EXEC_FIELDS,
    L3_EXEC_DTYPE,
    L3_OP_DTYPE,
    MAX_ORDERS,
    MAX_PRICE,
    OP_ADD,
    OP_CANCEL,
    OP_DELETE,
    OP_EXEC,
    OP_FIELDS,
    OP_FOK,
    OP_IOC,
    OP_LIMIT,
    OP_MARKET,
    OP_MARKET_QUOTE,
    OP_MODIFY,
    OP_PMODIFY,
    OP_POST_ONLY,
    OP_PRINT,
    OP_REDUCE,
    ORDER_VIEW_DTYPE,
    SIDE_BUY,
    SIDE_SELL,
    STP_NONE,
)

__all__ = ["L3Book", "L3BookError", "L3InputError", "OrderState", "make_ops"]

_OP1 = K.op1
_BAD_SCALAR = (OverflowError, ValueError, TypeError)
_MAX_TOB_BYTES = 2 << 30  # replay() refuses to allocate more top-of-book rows than this
_MAX_BUF_ROWS = 1 << 20  # the kept report buffer grows (doubling) up to this many rows, then flushes


class L3BookError(VenueError):
    """Base class of the L3 book's Python-side refusals."""


class L3InputError(L3BookError, ValueError):
    """A value that cannot be put in an op record at all (NaN, a float price, an id outside uint64, ...)."""


class OrderState(NamedTuple):
    """A resting order: side (SIDE_*), price (ticks), leaves (shares), owner, and its queue position:
    ``orders_ahead`` / ``shares_ahead`` resting before it at its price."""

    side: int
    price: int
    leaves: int
    owner: int
    orders_ahead: int
    shares_ahead: int


def make_ops(n: int) -> np.ndarray:
    """A zeroed :data:`L3_OP_DTYPE` batch of ``n`` ops (kind 0 = OP_LIMIT: fill every field you use)."""
    return np.zeros(n, L3_OP_DTYPE)


def _check_ops(ops: np.ndarray) -> np.ndarray:
    if not isinstance(ops, np.ndarray) or ops.dtype != L3_OP_DTYPE:
        got = getattr(ops, "dtype", type(ops).__name__)
        raise OrderBatchError(f"ops must be a numpy array of cns.venue.l3book_dtypes.L3_OP_DTYPE, got {got}")
    if ops.ndim != 1:
        raise OrderBatchError(f"ops must be 1-D, got shape {ops.shape}")
    return np.ascontiguousarray(ops)


_SCRATCH = (
    threading.local()
)  # .buf: this thread's report scratch (int64[rows, EXEC_FIELDS]), shared by its books


def _scratch(rows: int) -> np.ndarray:
    """This thread's report scratch, at least ``rows`` rows (grown, never shrunk; batch calls do not nest)."""
    buf: np.ndarray | None = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.shape[0] < rows:
        buf = _SCRATCH.buf = np.empty((max(rows, 4096), EXEC_FIELDS), np.int64)
    return buf


def _as_reports(rows: np.ndarray) -> np.ndarray:
    """int64[n, EXEC_FIELDS] -> a new L3_EXEC_DTYPE array of n reports."""
    return np.ascontiguousarray(rows).copy().view(L3_EXEC_DTYPE).reshape(-1)


class L3Book:
    """The order book of one instrument; see the module docstring for the contracts.

    ``tick_size`` (USD per tick, > 0) only converts prices for display and :meth:`to_ticks`; the book works in
    ticks. ``capacity`` is the initial number of resting orders; the state doubles when full, up to
    ``max_orders`` (<= MAX_ORDERS), after which ops that would rest are refused (``REJECT_BOOK_FULL``).
    ``report_capacity`` sizes the single-op report area (a single op needing more falls back to the batch
    path, which returns a fresh array instead of a view).
    """

    def __init__(
        self,
        tick_size: float = 0.01,
        *,
        capacity: int = 1024,
        max_orders: int = MAX_ORDERS,
        report_capacity: int = 256,
        instrument: int = 0,
    ) -> None:
        if not (isinstance(tick_size, (int, float)) and math.isfinite(tick_size) and tick_size > 0):
            raise VenueConfigError(f"tick_size must be a finite number > 0, got {tick_size!r}")
        if not 1 <= max_orders <= MAX_ORDERS:
            raise VenueConfigError(f"max_orders must be in 1..{MAX_ORDERS}, got {max_orders}")
        if not 1 <= capacity:
            raise VenueConfigError(f"capacity must be >= 1, got {capacity}")
        if not 16 <= report_capacity <= 1 << 20:
            raise VenueConfigError(f"report_capacity must be in 16..{1 << 20}, got {report_capacity}")
        self.tick_size = float(tick_size)
        self.instrument = int(instrument)
        self.max_orders = int(max_orders)
        self._report_capacity = int(report_capacity)
        cap = min(int(capacity), self.max_orders)
        self._S = L.allocate(cap, self._report_capacity, cap < self.max_orders)
        self._bind()
        self._no_tob = np.zeros((0, 0), np.int64)

    def _bind(self) -> None:
        o, n = int(self._S[L.H_OFF_OUT]), int(self._S[L.H_CAP_OUT])
        self._out1 = self._S[o : o + n * EXEC_FIELDS].view(L3_EXEC_DTYPE)
        self._firsts: list[np.ndarray] = [self._out1[:k] for k in range(n + 1)]  # prebuilt: no slicing per op

    # ---- capacity ------------------------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Resting orders the current state holds before it grows."""
        return int(self._S[L.H_CAP])

    def _grow(self) -> None:
        cap = self.capacity
        if cap >= self.max_orders:
            self._S[L.H_GROWABLE] = 0
            return
        new_cap = min(2 * cap, self.max_orders)
        new = L.allocate(new_cap, self._report_capacity, new_cap < self.max_orders)
        Q.grow_into(self._S, new)
        new[L.H_GROWABLE] = 1 if new_cap < self.max_orders else 0
        self._S = new
        self._bind()

    # ---- batch ---------------------------------------------------------------------------------------------

    def _run(self, ops: np.ndarray, tob: np.ndarray, emit: bool = True) -> np.ndarray:
        ops = _check_ops(ops)
        m = ops.view(np.int64).reshape(-1, OP_FIELDS)
        # the report scratch is per thread and kept (no fresh pages per call); sized for one report per op up
        # front (a feed op writes at most one), so a feed never regrows it
        buf = _scratch(min(m.shape[0] + 16, _MAX_BUF_ROWS) if emit else 64)
        chunks: list[np.ndarray] = []
        i, n_out = 0, 0
        while True:
            i, n_out, status = K.process_batch(self._S, m, i, buf, n_out, tob, 1 if emit else 0)
            if status == L.ST_DONE:
                break
            if status == L.ST_GROW:
                self._grow()
            elif n_out > 0 and buf.shape[0] >= _MAX_BUF_ROWS:  # ST_OUT, buffer at its cap: flush
                chunks.append(_as_reports(buf[:n_out]))
                n_out = 0
            else:  # ST_OUT: double the scratch (kept for later calls), keeping the reports written so far
                bigger = np.empty((2 * buf.shape[0], EXEC_FIELDS), np.int64)
                bigger[:n_out] = buf[:n_out]
                buf = _SCRATCH.buf = bigger
        chunks.append(_as_reports(buf[:n_out]))
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def process(self, ops: np.ndarray, *, reports: bool = True) -> np.ndarray:
        """Apply ``ops`` (L3_OP_DTYPE, in array order); return their reports (a new L3_EXEC_DTYPE array).

        ``reports=False`` is the book-only mode of a market-data replay: the book and its counters change
        exactly as with reports, but no report is written or kept and the result is an empty array.
        """
        return self._run(ops, self._no_tob, reports)

    def process_into(self, ops: np.ndarray, out: np.ndarray) -> tuple[int, int]:
        """Apply ``ops`` in order, writing their reports into the caller's ``out`` (a writable C-contiguous 1-D
        L3_EXEC_DTYPE array, reused across calls: no allocation, no copy) from row 0.

        Stops *before* an op whose reports might not fit in what is left of ``out``. Returns ``(ops applied,
        reports written)``: read ``out[:reports]``, then call again with ``ops[applied:]``. Raises
        :class:`OrderBatchError` for a bad ``out``, or when not even the first op's reports fit an empty
        ``out`` (a sweep needs up to 4 + 2 x the resting orders it can reach).
        """
        ops = _check_ops(ops)
        if not (
            isinstance(out, np.ndarray)
            and out.dtype == L3_EXEC_DTYPE
            and out.ndim == 1
            and out.flags.c_contiguous
            and out.flags.writeable
        ):
            got = getattr(out, "dtype", type(out).__name__)
            raise OrderBatchError(f"out must be a writable C-contiguous 1-D L3_EXEC_DTYPE array, got {got}")
        m = ops.view(np.int64).reshape(-1, OP_FIELDS)
        rows = out.view(np.int64).reshape(-1, EXEC_FIELDS)
        i, n_out = 0, 0
        while True:
            i, n_out, status = K.process_batch(self._S, m, i, rows, n_out, self._no_tob, 1)
            if status != L.ST_GROW:
                break
            self._grow()
        if status == L.ST_OUT and i == 0 and n_out == 0 and m.shape[0] > 0:
            raise OrderBatchError(f"out ({out.shape[0]} rows) cannot hold the reports of the first op")
        return int(i), int(n_out)

    def replay(self, ops: np.ndarray, levels: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`process`, plus the top ``levels`` levels after every op in the LOBSTER orderbook layout:
        ``tob[i, 4k:4k+4] = ask price, ask shares, bid price, bid shares`` of level ``k+1`` after op ``i``
        (an empty level is ``EMPTY_ASK_PRICE``/``EMPTY_BID_PRICE`` with 0 shares)."""
        if not 1 <= levels <= 1000:
            raise VenueConfigError(f"levels must be in 1..1000, got {levels}")
        n = _check_ops(ops).shape[0]
        if n * levels * 32 > _MAX_TOB_BYTES:
            raise VenueConfigError(
                f"replay of {n} ops x {levels} levels needs {n * levels * 32 / 1e9:.1f} GB of "
                f"top-of-book rows (limit {_MAX_TOB_BYTES / 1e9:.0f} GB): replay in chunks"
            )
        tob = np.zeros((n, 4 * levels), np.int64)
        if n == 0:
            return np.zeros(0, L3_EXEC_DTYPE), tob
        return self._run(ops, tob), tob

    # ---- single op -----------------------------------------------------------------------------------------

    def submit(
        self,
        kind: int,
        order_id: int,
        side: int = 0,
        price: int = 0,
        qty: int = 0,
        *,
        owner: int = 0,
        quote: int = 0,
        stp: int = STP_NONE,
        ts_ns: int = 0,
    ) -> np.ndarray:
        """Apply one op of any kind (fields as in L3_OP_DTYPE); return its reports (a view, see the module
        docstring). The named helpers below are this call with the kind filled in."""
        try:
            n: int = _OP1(self._S, ts_ns, order_id, owner, kind, side, price, qty, quote, stp)
        except _BAD_SCALAR as e:
            raise L3InputError(f"op field not representable as int64/uint64: {e}") from None
        if n >= 0:
            return self._firsts[n]
        one = np.zeros(1, L3_OP_DTYPE)
        one[0] = (ts_ns, order_id, owner, kind, side, price, qty, quote, stp)
        return self.process(one)

    def limit(
        self,
        order_id: int,
        side: int,
        price: int,
        qty: int,
        *,
        owner: int = 0,
        stp: int = STP_NONE,
        ts_ns: int = 0,
    ) -> np.ndarray:
        """GTC limit buy (side 1) / sell (-1) of ``qty`` shares at ``price`` ticks."""
        try:
            n: int = _OP1(self._S, ts_ns, order_id, owner, OP_LIMIT, side, price, qty, 0, stp)
        except _BAD_SCALAR as e:
            raise L3InputError(f"op field not representable as int64/uint64: {e}") from None
        if n >= 0:
            return self._firsts[n]
        return self.submit(OP_LIMIT, order_id, side, price, qty, owner=owner, stp=stp, ts_ns=ts_ns)

    def cancel(self, order_id: int, *, owner: int = 0, ts_ns: int = 0) -> np.ndarray:
        """Cancel resting ``order_id`` of ``owner`` (EXEC_CANCELED, qty = the canceled leaves)."""
        try:
            n: int = _OP1(self._S, ts_ns, order_id, owner, OP_CANCEL, 0, 0, 0, 0, 0)
        except _BAD_SCALAR as e:
            raise L3InputError(f"op field not representable as int64/uint64: {e}") from None
        return self._firsts[n]

    def market(self, order_id: int, side: int, qty: int, **kw: int) -> np.ndarray:
        """Market order: match ``qty`` shares at any price, the remainder expires."""
        return self.submit(OP_MARKET, order_id, side, 0, qty, **kw)

    def ioc(self, order_id: int, side: int, price: int, qty: int, **kw: int) -> np.ndarray:
        """Immediate-or-cancel limit: match what crosses ``price``, the remainder expires."""
        return self.submit(OP_IOC, order_id, side, price, qty, **kw)

    def fok(self, order_id: int, side: int, price: int, qty: int, **kw: int) -> np.ndarray:
        """Fill-or-kill: all ``qty`` shares at prices up to ``price``, or nothing (REJECT_FOK, book unchanged)."""
        return self.submit(OP_FOK, order_id, side, price, qty, **kw)

    def post_only(self, order_id: int, side: int, price: int, qty: int, **kw: int) -> np.ndarray:
        """Maker-only limit: rejected (REJECT_POST_ONLY) if it would cross, else rests like :meth:`limit`."""
        return self.submit(OP_POST_ONLY, order_id, side, price, qty, **kw)

    def modify(self, order_id: int, price: int, qty: int, **kw: int) -> np.ndarray:
        """New price / new leaves of a resting order (see the module docstring for priority); may match."""
        return self.submit(OP_MODIFY, order_id, 0, price, qty, **kw)

    def market_quote(
        self, order_id: int, side: int, quote: int, *, max_qty: int = 0, **kw: int
    ) -> np.ndarray:
        """Market order spending (buy) / receiving (sell) at most ``quote`` quote units (ticks x shares; see
        :meth:`quote_units`), optionally at most ``max_qty`` shares. The last report (EXEC_EXPIRED) has the
        unspent budget in ``leaves``."""
        return self.submit(OP_MARKET_QUOTE, order_id, side, 0, max_qty, quote=quote, **kw)

    def add(self, order_id: int, side: int, price: int, qty: int, **kw: int) -> np.ndarray:
        """Passive: rest an order from a feed without matching."""
        return self.submit(OP_ADD, order_id, side, price, qty, **kw)

    def pmodify(self, order_id: int, price: int, qty: int, **kw: int) -> np.ndarray:
        """Passive modify: set price and size verbatim (priority rules as :meth:`modify`), no matching."""
        return self.submit(OP_PMODIFY, order_id, 0, price, qty, **kw)

    def reduce(self, order_id: int, qty: int, **kw: int) -> np.ndarray:
        """Partial cancel of ``qty`` shares (keeps priority; all of them removes the order)."""
        return self.submit(OP_REDUCE, order_id, 0, 0, qty, **kw)

    def delete(self, order_id: int, **kw: int) -> np.ndarray:
        """Passive delete of an order (no owner check, no report)."""
        return self.submit(OP_DELETE, order_id, **kw)

    def execute(self, order_id: int, qty: int, **kw: int) -> np.ndarray:
        """Passive execution of ``qty`` shares of a resting order: one maker fill report."""
        return self.submit(OP_EXEC, order_id, 0, 0, qty, **kw)

    def print_trade(self, order_id: int, side: int, price: int, qty: int, **kw: int) -> np.ndarray:
        """Passive trade print with no visible resting order (hidden / cross trade): an EXEC_PRINT report."""
        return self.submit(OP_PRINT, order_id, side, price, qty, **kw)

    # ---- queries -------------------------------------------------------------------------------------------

    def best(self) -> tuple[int, int, int, int]:
        """``(bid ticks, bid shares, ask ticks, ask shares)``; an empty side is ``0, 0``."""
        bp, bq = K.best_level(self._S, 0, 0)
        ap, aq = K.best_level(self._S, 1, 0)
        return int(bp), int(bq), int(ap), int(aq)

    def depth(self, side: int, n: int = 10) -> np.ndarray:
        """Up to ``n`` levels of one side, best first (DEPTH_DTYPE: price ticks, shares, orders)."""
        if side not in (SIDE_BUY, SIDE_SELL):
            raise L3InputError(f"side must be SIDE_BUY (1) or SIDE_SELL (-1), got {side!r}")
        out = np.zeros((max(0, min(int(n), self.n_levels(side))), 3), np.int64)
        k = Q.depth(self._S, 0 if side == SIDE_BUY else 1, out)
        return out[:k].copy().view(DEPTH_DTYPE).reshape(-1)

    def order(self, order_id: int) -> OrderState | None:
        """The resting order ``order_id`` with its queue position, or None if it is not resting."""
        try:
            r = Q.order_info(self._S, order_id)
        except _BAD_SCALAR as e:
            raise L3InputError(f"order id not representable as uint64: {e}") from None
        return None if r[0] == 0 else OrderState(*(int(x) for x in r))

    def leaves(self, order_id: int) -> int:
        """Remaining shares of a resting order (0 if it is not resting)."""
        o = self.order(order_id)
        return 0 if o is None else o.leaves

    def queue_ahead(self, order_id: int) -> tuple[int, int] | None:
        """``(orders, shares)`` resting ahead of ``order_id`` at its price, or None if it is not resting."""
        o = self.order(order_id)
        return None if o is None else (o.orders_ahead, o.shares_ahead)

    def snapshot(self) -> np.ndarray:
        """Every resting order (ORDER_VIEW_DTYPE), bids best first then asks best first, FIFO per level."""
        out = np.zeros((self.n_orders, 5), np.int64)
        k = Q.snapshot(self._S, out)
        return out[:k].copy().view(ORDER_VIEW_DTYPE).reshape(-1)

    @property
    def n_orders(self) -> int:
        """Resting orders, both sides."""
        return int(self._S[L.H_NORD] + self._S[L.H_NORD + 1])

    def n_levels(self, side: int) -> int:
        """Active price levels of one side."""
        return int(self._S[L.H_NLVL + (0 if side == SIDE_BUY else 1)])

    def stats(self) -> dict[str, int]:
        """Counters since creation: ops, fills, cancels, rejects, stp (self-trade events), volume (shares),
        resting orders, levels, capacity, last trade price (ticks) and size."""
        S = self._S
        return {
            "ops": int(S[L.H_OPS]),
            "fills": int(S[L.H_FILLS]),
            "cancels": int(S[L.H_CANCELS]),
            "rejects": int(S[L.H_REJECTS]),
            "stp": int(S[L.H_STP]),
            "volume": int(S[L.H_VOLUME]),
            "resting": self.n_orders,
            "bid_levels": self.n_levels(SIDE_BUY),
            "ask_levels": self.n_levels(SIDE_SELL),
            "capacity": self.capacity,
            "last_price": int(S[L.H_LAST_PX]),
            "last_qty": int(S[L.H_LAST_QTY]),
        }

    def check(self) -> int:
        """0 if the internal state is consistent, else the code of :func:`l3book_query.check_invariants`."""
        return int(Q.check_invariants(self._S))

    def state_bytes(self) -> int:
        """Bytes held by the book's state array (grows with the live orders, never with the price range)."""
        return int(self._S.nbytes)

    # ---- units ---------------------------------------------------------------------------------------------

    def to_ticks(self, usd: float) -> int:
        """A USD price as ticks; refuses (L3InputError) NaN/inf, <= 0, off-grid (> 1e-6 tick) or > MAX_PRICE."""
        if not isinstance(usd, (int, float)) or not math.isfinite(usd):
            raise L3InputError(f"price must be a finite number, got {usd!r}")
        x = usd / self.tick_size
        t = round(x)
        if abs(x - t) > 1e-6 * max(1.0, abs(x)) or not 1 <= t <= MAX_PRICE:
            raise L3InputError(
                f"price {usd!r} is not a positive multiple of the tick {self.tick_size} "
                f"within {MAX_PRICE} ticks"
            )
        return int(t)

    def to_usd(self, ticks: int) -> float:
        """Ticks as a USD price."""
        return ticks * self.tick_size

    def quote_units(self, usd: float) -> int:
        """A USD amount as quote units (ticks x shares) for :meth:`market_quote`, rounded down."""
        if not isinstance(usd, (int, float)) or not math.isfinite(usd) or usd <= 0:
            raise L3InputError(f"quote amount must be a finite number > 0, got {usd!r}")
        return int(math.floor(usd / self.tick_size + 1e-9))
