"""Order manager: order states from execution reports, open quantities, fills booked into a Portfolio.

Order ids are dense: the manager hands out ids from its ``id_counter`` (shared with the
:class:`cns.trading.signal.SignalGenerator`) and keeps one ORDER_STATE_DTYPE row per id, so applying a report
is an array index, not a lookup. States: new → acked → partially_filled → filled, or canceled / rejected /
expired (terminal). ``open_buy``/``open_sell`` (shares per ticker code) are what the risk gate's position and
exposure checks count as open orders.
"""

from __future__ import annotations

import numpy as np

from cns.trading.errors import StateError
from cns.trading.oms_kernels import (
    OMS_STAT_NAMES,
    ORDER_STATE_DTYPE,
    ORDER_STATE_NAMES,
    OS_FILLED,
    OS_PARTIAL,
    apply_execs,
    cancel_open,
    register_orders,
)
from cns.trading.portfolio import Portfolio
from cns.venue.dtypes import EXEC_DTYPE, ORDER_CANCEL, ORDER_DTYPE


class OrderManager:
    """Tracks our orders (owner ``owner``) and books their fills into ``portfolio``."""

    def __init__(
        self, portfolio: Portfolio, owner: int = 0, first_order_id: int = 1, capacity: int = 4096
    ) -> None:
        if first_order_id < 1:
            raise StateError("first_order_id must be >= 1")
        self.portfolio = portfolio
        self.owner = owner
        self.base_id = first_order_id
        self.id_counter = np.array([first_order_id], dtype=np.int64)
        n = len(portfolio)
        self.open_buy = np.zeros(n, dtype=np.int64)
        self.open_sell = np.zeros(n, dtype=np.int64)
        self.table = np.zeros(max(capacity, 16), dtype=ORDER_STATE_DTYPE)
        self.stats_array = np.zeros(len(OMS_STAT_NAMES), dtype=np.int64)

    def _ensure(self, max_id: int) -> None:
        need = max_id - self.base_id + 1
        if need > len(self.table):
            grown = np.zeros(max(need, 2 * len(self.table)), dtype=ORDER_STATE_DTYPE)
            grown[: len(self.table)] = self.table
            self.table = grown

    def submit(self, orders: np.ndarray) -> int:
        """Register sent orders (ORDER_DTYPE) as NEW; returns how many. Ids must come from ``id_counter``.

        Open quantities are *not* changed here: the risk gate books them when it accepts an order (so later
        orders in the same batch see them); use :meth:`book_open` when bypassing the gate.
        """
        if orders.dtype != ORDER_DTYPE:
            raise StateError(f"OrderManager.submit needs ORDER_DTYPE, got {orders.dtype}")
        n = len(orders)
        if n == 0:
            return 0
        if n == 1:  # the common case, without array temporaries
            o = orders[0]
            live_ids = None if o["type"] == ORDER_CANCEL else (int(o["order_id"]), int(o["order_id"]))
        else:
            ids = orders["order_id"][orders["type"] != ORDER_CANCEL]
            live_ids = (int(ids.min()), int(ids.max())) if len(ids) else None
        if live_ids is not None:
            lo, hi = live_ids
            if lo < self.base_id or hi >= int(self.id_counter[0]):
                raise StateError(f"order ids {lo}..{hi} were not handed out by this OrderManager")
            self._ensure(hi)
        return int(register_orders(orders, self.base_id, self.table, self.stats_array))

    def book_open(self, orders: np.ndarray) -> None:
        """Add ``orders``' quantities to the open buy/sell counts (what the risk gate does on accept)."""
        live = orders[orders["type"] != ORDER_CANCEL]
        buy = live["side"] > 0
        np.add.at(self.open_buy, live["instrument"][buy], live["qty"][buy])
        np.add.at(self.open_sell, live["instrument"][~buy], live["qty"][~buy])

    def apply(self, execs: np.ndarray) -> float:
        """Apply execution reports (EXEC_DTYPE); returns realised P&L (USD) booked by them."""
        if execs.dtype != EXEC_DTYPE:
            raise StateError(f"OrderManager.apply needs EXEC_DTYPE, got {execs.dtype}")
        pf = self.portfolio
        return float(
            apply_execs(
                execs,
                self.owner,
                self.base_id,
                self.table,
                self.open_buy,
                self.open_sell,
                pf.position,
                pf.avg_cost,
                pf.realized,
                pf.stats_array,
                self.stats_array,
            )
        )

    def cancel_all(self, ts_ns: int) -> np.ndarray:
        """ORDER_CANCEL requests for every open order (the kill switch's 'cancel all')."""
        out = np.zeros(len(self.table), dtype=ORDER_DTYPE)
        n = cancel_open(self.table, self.base_id, self.id_counter, np.int64(ts_ns), out)
        return out[:n].copy()

    def state(self, order_id: int) -> str:
        """The state name of ``order_id`` (``"unused"`` for an id never submitted)."""
        k = order_id - self.base_id
        if not 0 <= k < len(self.table):
            return ORDER_STATE_NAMES[0]
        return ORDER_STATE_NAMES[int(self.table[k]["state"])]

    def order(self, order_id: int) -> np.void:
        """The ORDER_STATE_DTYPE row of ``order_id``."""
        k = order_id - self.base_id
        if not 0 <= k < len(self.table):
            raise StateError(f"order id {order_id} outside this OrderManager's table")
        return self.table[k]

    def filled_orders(self) -> np.ndarray:
        """Rows of orders with any fill (filled, or partially filled and possibly canceled/expired later)."""
        t = self.table[: int(self.id_counter[0]) - self.base_id]
        return t[(t["filled"] > 0) | (t["state"] == OS_FILLED) | (t["state"] == OS_PARTIAL)]

    def state_counts(self) -> dict[str, int]:
        """Orders per state name."""
        t = self.table[: int(self.id_counter[0]) - self.base_id]
        counts = np.bincount(t["state"], minlength=len(ORDER_STATE_NAMES))
        return {name: int(c) for name, c in zip(ORDER_STATE_NAMES, counts, strict=True) if name != "unused"}

    def stats(self) -> dict[str, int]:
        """Counters by name (see ``OMS_STAT_NAMES``)."""
        return {n: int(v) for n, v in zip(OMS_STAT_NAMES, self.stats_array, strict=True)}
