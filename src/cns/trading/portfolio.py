"""Positions (shares), average cost and P&L (USD) per instrument, with a P&L time series for plots.

Hit rate is defined over round-trip legs: the share of position-reducing fills whose realised P&L is
positive (``wins / closes``). :meth:`Portfolio.marked_hit_rate` is the alternative for runs that rarely close:
the share of filled orders that are in profit at the current mark.

Fees: :meth:`Portfolio.apply_fees` books the venue's per-fill fee (``EXEC_DTYPE.fee``: > 0 paid, < 0 rebate)
into ``realized`` (so realised P&L, day P&L and the daily-loss limit are net of fees) and keeps the gross
amounts in ``fees_paid`` / ``rebates_earned`` per instrument for the report.
"""

from __future__ import annotations

import math

import numpy as np

from cns.trading.errors import StateError
from cns.trading.portfolio_kernels import PF_CLOSES, PF_WINS, PORTFOLIO_STAT_NAMES, mark_to_market

PNL_POINT_DTYPE = np.dtype([("ts_ns", np.int64), ("realized", np.float64), ("unrealized", np.float64)])


class Portfolio:
    """Per-instrument arrays indexed by ticker code: ``position`` (int64 shares, signed), ``avg_cost`` (USD),
    ``realized`` and ``unrealized`` (USD). Fills are booked by the order manager's kernel."""

    def __init__(self, n_instruments: int) -> None:
        if n_instruments < 1:
            raise StateError("Portfolio needs at least one instrument slot")
        self.position = np.zeros(n_instruments, dtype=np.int64)
        self.avg_cost = np.zeros(n_instruments, dtype=np.float64)
        self.realized = np.zeros(n_instruments, dtype=np.float64)
        self.unrealized = np.zeros(n_instruments, dtype=np.float64)
        self.fees_paid = np.zeros(n_instruments, dtype=np.float64)  # USD, >= 0
        self.rebates_earned = np.zeros(n_instruments, dtype=np.float64)  # USD, >= 0
        self.stats_array = np.zeros(len(PORTFOLIO_STAT_NAMES), dtype=np.int64)
        self._series = np.zeros(1024, dtype=PNL_POINT_DTYPE)
        self._n_points = 0
        self._unrealized_total = 0.0

    def __len__(self) -> int:
        return len(self.position)

    def mark(self, mid: np.ndarray) -> float:
        """Mark every position to ``mid`` (USD per ticker code); returns total unrealised P&L (USD)."""
        if mid.dtype != np.float64:
            raise StateError("Portfolio.mark needs float64 mids indexed by ticker code")
        self._unrealized_total = float(mark_to_market(self.position, self.avg_cost, mid, self.unrealized))
        return self._unrealized_total

    def apply_fees(self, execs: np.ndarray, owner: int) -> float:
        """Book the ``fee`` of ``owner``'s fill reports in ``execs`` (EXEC_DTYPE) into ``realized``; returns the
        net fee booked (USD, > 0 = cost). Reports of other owners, non-fills and instruments outside the
        portfolio are ignored (vectorised; no per-record Python)."""
        from cns.venue.dtypes import EXEC_DTYPE, EXEC_FILL, EXEC_PARTIAL

        if execs.dtype != EXEC_DTYPE:
            raise StateError(f"Portfolio.apply_fees needs EXEC_DTYPE, got {execs.dtype}")
        k = execs["kind"]
        ins = execs["instrument"].astype(np.int64)
        fee = execs["fee"]
        m = (
            (execs["owner"] == owner)
            & ((k == EXEC_FILL) | (k == EXEC_PARTIAL))
            & (ins < len(self.position))
            & np.isfinite(fee)
            & (fee != 0.0)
        )
        if not m.any():
            return 0.0
        ins, fee = ins[m], fee[m]
        np.subtract.at(self.realized, ins, fee)
        np.add.at(self.fees_paid, ins, np.maximum(fee, 0.0))
        np.add.at(self.rebates_earned, ins, np.maximum(-fee, 0.0))
        return float(fee.sum())

    @property
    def fees_total(self) -> float:
        """Fees paid minus rebates earned so far (USD; already inside ``realized``)."""
        return float(self.fees_paid.sum() - self.rebates_earned.sum())

    @property
    def realized_total(self) -> float:
        """Realised P&L over all instruments, USD (fees included once applied)."""
        return float(self.realized.sum())

    @property
    def unrealized_total(self) -> float:
        """Unrealised P&L at the last :meth:`mark` (USD)."""
        return self._unrealized_total

    @property
    def day_pnl(self) -> float:
        """Realised + last-marked unrealised P&L (USD), what the daily loss limit watches."""
        return self.realized_total + self._unrealized_total

    def snapshot(self, ts_ns: int, mid: np.ndarray | None = None) -> None:
        """Append a point ``(ts_ns, realized, unrealized)`` to the P&L series (marking first if ``mid``)."""
        if mid is not None:
            self.mark(mid)
        if self._n_points == len(self._series):
            self._series = np.resize(self._series, 2 * len(self._series))
        self._series[self._n_points] = (ts_ns, self.realized_total, self._unrealized_total)
        self._n_points += 1

    def repeat_snapshot(self, ts_ns: int) -> None:
        """The last P&L point again, at ``ts_ns``: it stands for every snapshot since, a market that has not
        moved (an idle venue) marks the same; the series keeps the ends of such a stretch, not its middle, so
        its length follows the active time, not the span. Nothing when there is no point yet."""
        n = self._n_points
        if n == 0:
            return
        if n == len(self._series):
            self._series = np.resize(self._series, 2 * len(self._series))
        self._series[n] = self._series[n - 1]
        self._series["ts_ns"][n] = ts_ns
        self._n_points = n + 1

    def pnl_series(self) -> np.ndarray:
        """The P&L points so far (PNL_POINT_DTYPE: ts_ns, realized, unrealized USD)."""
        return self._series[: self._n_points].copy()

    def stats(self) -> dict[str, int]:
        """Fill and round-trip counters by name (see ``PORTFOLIO_STAT_NAMES``)."""
        return {n: int(v) for n, v in zip(PORTFOLIO_STAT_NAMES, self.stats_array, strict=True)}

    def hit_rate(self) -> float:
        """Winning closing fills / closing fills (NaN before any position was reduced)."""
        closes = int(self.stats_array[PF_CLOSES])
        return int(self.stats_array[PF_WINS]) / closes if closes else math.nan

    @staticmethod
    def marked_hit_rate(
        side: np.ndarray, avg_px: np.ndarray, instrument: np.ndarray, mid: np.ndarray
    ) -> float:
        """Share of filled orders (given as arrays) in profit at ``mid``: ``side * (mid - avg_px) > 0``."""
        if len(side) == 0:
            return math.nan
        m = mid[instrument]
        ok = np.isfinite(m) & (m > 0)
        if not ok.any():
            return math.nan
        return float(np.mean(side[ok] * (m[ok] - avg_px[ok]) > 0))
