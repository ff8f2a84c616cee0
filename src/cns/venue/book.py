"""A multi-instrument price-time-priority limit order book: allocation, validation and a Python face.

The matching itself runs in :mod:`cns.venue.book_kernels`; this module only allocates the arrays, checks
that batches have the right dtype, grows the output buffers and offers read-only views for tests and plots.

Instrument ``k`` (a ticker code, ``1..n``) has a tick size ``tick[k]`` USD and a price band of ``levels``
ticks centred on its reference price; limit prices are snapped to the grid toward the passive side (buy
down, sell up), so snapping never makes a limit more aggressive. Prices outside the band are rejected
(REJECT_PRICE_BAND), like an exchange's limit-up/limit-down band.

Every fill is charged by the book's :class:`FeeSchedule` (maker/taker, bp of notional and/or USD per share;
negative = rebate), reported per fill (``EXEC_DTYPE.fee``, ``liquidity``) and netted into the owner's cash.
Self-trade prevention (``stp``, ``STP_*`` in :mod:`cns.venue.dtypes`) is by owner id, cancel-newest by default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cns.venue import book_kernels as K
from cns.venue.dtypes import EXEC_DTYPE, ORDER_DTYPE, SIDE_BUY, SIDE_SELL, STP_CANCEL_NEWEST, STP_NAMES
from cns.venue.errors import OrderBatchError, VenueConfigError

TRADE_DTYPE = np.dtype(
    [
        ("ts_ns", np.int64),  # venue time of the match, ns
        ("instrument", np.uint32),  # ticker code
        ("side", np.int8),  # aggressor side (SIDE_*)
        ("qty", np.int64),  # shares
        ("price", np.float64),  # USD, the resting order's level price
        ("taker_owner", np.uint32),
        ("maker_owner", np.uint32),
        ("taker_id", np.uint64),
        ("maker_id", np.uint64),
    ],
    align=True,
)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A venue's maker/taker fees. Each fill of ``q`` shares at ``p`` USD charges the resting order's owner
    ``q * (p * maker_bps * 1e-4 + maker_per_share)`` and the incoming order's owner the same with the taker
    rates. Positive = a fee paid, negative = a rebate earned. All zero: no fees (``FeeSchedule()``).

    :meth:`us_equities` is the simulator's default: a typical US lit venue, taker $0.0030/share, maker rebate
    $0.0020/share. Rates are bounded (|bp| <= 100, |per share| <= $1) so a typo cannot swamp every P&L.
    """

    maker_bps: float = 0.0  # bp of notional, maker (resting) side
    taker_bps: float = 0.0  # bp of notional, taker (incoming) side
    maker_per_share: float = 0.0  # USD per share, maker side
    taker_per_share: float = 0.0  # USD per share, taker side

    def __post_init__(self) -> None:
        for name, lim in (
            ("maker_bps", 100.0),
            ("taker_bps", 100.0),
            ("maker_per_share", 1.0),
            ("taker_per_share", 1.0),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not -lim <= float(v) <= lim:
                raise VenueConfigError(
                    f"FeeSchedule.{name} must be a number in [-{lim:g}, {lim:g}], got {v!r}"
                )
            object.__setattr__(self, name, float(v))

    @classmethod
    def us_equities(cls) -> FeeSchedule:
        """Taker $0.0030/share, maker rebate $0.0020/share (a typical US lit venue's headline tier)."""
        return cls(maker_per_share=-0.0020, taker_per_share=0.0030)

    def as_array(self) -> np.ndarray:
        """The kernel's ``fee`` vector (``book_kernels.F_*`` order)."""
        out = np.zeros(K.FEE_SIZE)
        out[K.F_MAKER_BP], out[K.F_TAKER_BP] = self.maker_bps, self.taker_bps
        out[K.F_MAKER_PS], out[K.F_TAKER_PS] = self.maker_per_share, self.taker_per_share
        return out

    def to_dict(self) -> dict[str, float]:
        """The four rates as a dict: ``maker_bps``/``taker_bps`` (bp of notional), ``*_per_share`` (USD per share)."""
        return {
            "maker_bps": self.maker_bps,
            "taker_bps": self.taker_bps,
            "maker_per_share": self.maker_per_share,
            "taker_per_share": self.taker_per_share,
        }


def tick_size_for(price: float, bp: float = 5.0) -> float:
    """Default tick (USD) for an instrument priced ``price``: about ``bp`` basis points, rounded down to a
    1-2-5 grid, at least $0.01. With the default 4096 levels, 5 bp ticks give a band of about ±100 %."""
    if not (price > 0 and math.isfinite(price)):
        raise VenueConfigError(f"reference price must be finite and > 0, got {price!r}")
    if not bp > 0:
        raise VenueConfigError(f"tick bp must be > 0, got {bp!r}")
    raw = price * bp * 1e-4
    if raw <= 0.01:
        return 0.01
    exp = math.floor(math.log10(raw))
    for m in (5, 2, 1):
        if m * 10**exp <= raw:
            return float(m * 10**exp)
    return float(10**exp)  # pragma: no cover - unreachable, m=1 always fits


def allocate_book(
    ref_prices: np.ndarray,
    *,
    tick_sizes: np.ndarray | None = None,
    tick_bp: float = 5.0,
    levels: int = 4096,
    capacity: int = 1 << 16,
    tracked_owners: int = 8,
    emit: np.ndarray | None = None,
    fees: FeeSchedule | None = None,
    stp: int = STP_CANCEL_NEWEST,
) -> K.BookArrays:
    """Allocate an empty book. ``ref_prices[k]`` (USD) centres instrument ``k``'s band; index 0 is unused.
    Ticks are ``tick_sizes`` or else :func:`tick_size_for` at ``tick_bp``.

    ``capacity`` bounds the resting orders of all instruments together; ``tracked_owners`` is the number of
    owners (ids ``0..tracked_owners-1``) whose position, cash and fees are kept; ``emit[o] == 0`` silences
    owner ``o``'s reports. ``fees``: the fee schedule (default none); ``stp``: self-trade prevention mode
    (``STP_*``, default cancel-newest).
    """
    ref = np.asarray(ref_prices, dtype=np.float64)
    if ref.ndim != 1 or ref.shape[0] < 2:
        raise VenueConfigError("ref_prices must be 1-D with index 0 unused and at least one instrument")
    if levels < 16:
        raise VenueConfigError(f"levels must be >= 16, got {levels}")
    if capacity < 1:
        raise VenueConfigError(f"capacity must be >= 1, got {capacity}")
    if isinstance(stp, bool) or not isinstance(stp, (int, np.integer)) or not 0 <= int(stp) < len(STP_NAMES):
        raise VenueConfigError(
            f"stp must be one of STP_* (0..{len(STP_NAMES) - 1}: {', '.join(STP_NAMES)}), got {stp!r}"
        )
    n1 = ref.shape[0]
    tick = np.zeros(n1)
    if tick_sizes is None:
        tick[1:] = [tick_size_for(float(p), tick_bp) for p in ref[1:]]
    else:
        tick[:] = np.asarray(tick_sizes, dtype=np.float64)
        tick[0] = 0.0
        if not np.all(tick[1:] > 0):
            raise VenueConfigError("tick_sizes must be > 0 for every instrument")
    base = np.zeros(n1, dtype=np.int64)
    for k in range(1, n1):
        if not (ref[k] > 0 and math.isfinite(ref[k])):
            raise VenueConfigError(f"ref_prices[{k}] must be finite and > 0, got {ref[k]!r}")
        base[k] = max(1, int(round(ref[k] / tick[k])) - levels // 2)
    h = 1 << max(4, int(2 * capacity - 1).bit_length())
    if emit is None:
        emit = np.ones(tracked_owners, dtype=np.uint8)
    lv = np.zeros((n1, levels, 4), np.int64)
    lv[:, :, :2] = -1
    pool = np.zeros((capacity, 8), np.int64)
    pool[:, K.Q_PREV] = -1
    pool[:, K.Q_NEXT] = -1
    hx = np.zeros((h, 4), np.int64)
    hx[:, 2] = -1
    meta = np.zeros(K.META_SIZE, np.int64)
    meta[K.M_NFREE] = capacity
    meta[K.M_STP] = int(stp)
    return K.BookArrays(
        lv=lv,
        best_bid=np.full(n1, -1, np.int32),
        best_ask=np.full(n1, levels, np.int32),
        n_rest=np.zeros((n1, 2), np.int64),
        base_tick=base,
        tick=tick,
        last_px=np.full(n1, np.nan),
        pool=pool,
        free=np.arange(capacity - 1, -1, -1, dtype=np.int32),
        meta=meta,
        hx=hx,
        pos=np.zeros((tracked_owners, n1), np.int64),
        cash=np.zeros(tracked_owners, np.float64),
        emit=np.asarray(emit, dtype=np.uint8),
        fee=(fees or FeeSchedule()).as_array(),
        fees=np.zeros((tracked_owners, 2), np.float64),
    )


def check_orders(orders: np.ndarray) -> np.ndarray:
    """Return ``orders`` as a contiguous 1-D ORDER_DTYPE array or raise :class:`OrderBatchError`."""
    if not isinstance(orders, np.ndarray) or orders.dtype != ORDER_DTYPE:
        got = getattr(orders, "dtype", type(orders).__name__)
        raise OrderBatchError(f"orders must be a numpy array of cns.venue.dtypes.ORDER_DTYPE, got {got}")
    if orders.ndim != 1:
        raise OrderBatchError(f"orders must be 1-D, got shape {orders.shape}")
    return np.ascontiguousarray(orders)


class OrderBook:
    """Limit order books for instruments ``1..n`` (codes), matched by price then time.

    ``process(orders)`` applies a batch in array order, each order at its own ``ts_ns`` (taken as the venue
    arrival time), and returns the EXEC_DTYPE reports: ACK, then per match a taker and a maker report
    (PARTIAL/FILL), then EXPIRED for an IOC/market remainder; CANCELED carries the *target's* order id; an
    invalid request gets one EXEC_REJECTED with ``reason`` = REJECT_* and never raises.
    """

    def __init__(
        self,
        ref_prices: Sequence[float],
        *,
        tick_sizes: Sequence[float] | None = None,
        levels: int = 4096,
        capacity: int = 1 << 16,
        tracked_owners: int = 8,
        fees: FeeSchedule | None = None,
        stp: int = STP_CANCEL_NEWEST,
    ) -> None:
        ref = np.concatenate(([np.nan], np.asarray(ref_prices, dtype=np.float64)))
        ticks = None if tick_sizes is None else np.concatenate(([0.0], np.asarray(tick_sizes, np.float64)))
        self.arrays = allocate_book(
            ref,
            tick_sizes=ticks,
            levels=levels,
            capacity=capacity,
            tracked_owners=tracked_owners,
            fees=fees,
            stp=stp,
        )
        self._out = np.zeros(1024, EXEC_DTYPE)
        self._trades = np.zeros(1024, TRADE_DTYPE)
        self._n_trades = 0

    @property
    def levels(self) -> int:
        """Price levels per instrument in the dense ladder."""
        return int(self.arrays.lv.shape[1])

    @property
    def n_instruments(self) -> int:
        """Instruments in the book (codes ``1..n_instruments``; 0 is unused)."""
        return int(self.arrays.tick.shape[0] - 1)

    def tick(self, instrument: int) -> float:
        """Tick size (USD) of ``instrument``."""
        return float(self.arrays.tick[instrument])

    def band(self, instrument: int) -> tuple[float, float]:
        """Lowest and highest accepted limit price (USD) of ``instrument``."""
        b = self.arrays
        return (
            float(b.base_tick[instrument] * b.tick[instrument]),
            float((b.base_tick[instrument] + self.levels - 1) * b.tick[instrument]),
        )

    def process(self, orders: np.ndarray) -> np.ndarray:
        """Apply ``orders`` (ORDER_DTYPE); return the reports (a new EXEC_DTYPE array)."""
        orders = check_orders(orders)
        chunks = []
        i = 0
        while i < orders.shape[0]:
            if self._trades.shape[0] - self._n_trades < self._out.shape[0]:
                self._trades = np.concatenate((self._trades, np.zeros_like(self._trades)))
            j, n_out, self._n_trades = K.process_batch(
                self.arrays, orders, i, self._out, 0, self._trades, self._n_trades
            )
            chunks.append(self._out[:n_out].copy())
            if j == i:  # one order needs more room than the buffer has: grow it
                self._out = np.zeros(self._out.shape[0] * 2, EXEC_DTYPE)
            i = j
        return np.concatenate(chunks) if chunks else np.zeros(0, EXEC_DTYPE)

    def trades(self) -> np.ndarray:
        """Every match so far (TRADE_DTYPE, a copy)."""
        return self._trades[: self._n_trades].copy()

    def best(self, instrument: int) -> tuple[float, int, float, int]:
        """``(bid USD, bid shares, ask USD, ask shares)``; NaN/0 for an empty side."""
        b = self.arrays
        bb, ba = int(b.best_bid[instrument]), int(b.best_ask[instrument])
        bid = (
            (float(K.level_price(b, instrument, bb)), int(b.lv[instrument, bb, 2]))
            if bb >= 0
            else (math.nan, 0)
        )
        ask = (
            (float(K.level_price(b, instrument, ba)), int(b.lv[instrument, ba, 2]))
            if ba < self.levels
            else (math.nan, 0)
        )
        return bid + ask

    def depth(self, instrument: int, side: int, n: int = 10) -> list[tuple[float, int]]:
        """Up to ``n`` non-empty levels of one side, best first, as ``(price USD, shares)``."""
        b = self.arrays
        q = b.lv[instrument, :, 2]
        idx = np.nonzero(q > 0)[0]
        if side == SIDE_BUY:
            idx = idx[idx <= b.best_bid[instrument]][::-1]
        elif side == SIDE_SELL:
            idx = idx[idx >= b.best_ask[instrument]]
        else:
            raise ValueError(f"side must be SIDE_BUY or SIDE_SELL, got {side}")
        return [(float(K.level_price(b, instrument, int(k))), int(q[k])) for k in idx[:n]]

    def queue(self, instrument: int, price: float, side: int) -> list[tuple[int, int, int]]:
        """FIFO queue at ``price`` as ``(owner, order_id, shares)``, first in line first."""
        b = self.arrays
        lvl = int(K.snap_level(b, instrument, side, price))
        if not 0 <= lvl < self.levels:
            return []
        n = int(b.n_rest[instrument].sum())
        own, oid, qty = np.zeros(n, np.uint32), np.zeros(n, np.uint64), np.zeros(n, np.int64)
        k = K.level_orders(b, instrument, lvl, own, oid, qty)
        return [(int(own[i]), int(oid[i]), int(qty[i])) for i in range(k)]

    def shares_ahead(self, owner: int, order_id: int) -> int:
        """Shares queued ahead of a resting order at its price (its queue position); -1 if not resting."""
        return int(K.shares_ahead(self.arrays, np.uint32(owner), np.uint64(order_id)))

    def position(self, owner: int, instrument: int) -> int:
        """Net shares of a tracked owner in an instrument."""
        return int(self.arrays.pos[owner, instrument])

    def cash(self, owner: int) -> float:
        """Cash of a tracked owner, USD (buys negative), net of fees paid and rebates earned."""
        return float(self.arrays.cash[owner])

    def fees(self, owner: int) -> tuple[float, float]:
        """``(fees paid, rebates earned)`` of a tracked owner so far, USD (both >= 0)."""
        return float(self.arrays.fees[owner, 0]), float(self.arrays.fees[owner, 1])

    def stats(self) -> dict[str, int]:
        """Lifetime counters: orders, matches, cancels, rejects, STP cancels, and orders resting now."""
        m = self.arrays.meta
        return {
            "orders": int(m[K.M_ORDERS]),
            "matches": int(m[K.M_MATCHES]),
            "cancels": int(m[K.M_CANCELS]),
            "rejects": int(m[K.M_REJECTS]),
            "resting": int(self.arrays.n_rest.sum()),
            "stp_cancels": int(m[K.M_STP_CANCELS]),
        }


def make_orders(n: int) -> np.ndarray:
    """A zeroed ORDER_DTYPE batch of ``n`` records (convenience for callers and tests)."""
    return np.zeros(n, ORDER_DTYPE)
