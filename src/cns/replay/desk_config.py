"""The desk's configuration (:class:`DeskConfig`: the market a pass trades in and how it steps) and its result
(:class:`DeskResult`), apart from the stepping in :mod:`cns.replay.desk`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cns.market.venue_api import ExchangeFactory
from cns.replay.desk_kernels import NEVER_NS as _NEVER_NS
from cns.signals.dictionary import Dictionary
from cns.signals.universe import InstrumentInfo
from cns.trading.config import DAY_NS, Range, TradingConfig, checked_number
from cns.trading.errors import ConfigError

__all__ = ["DESK_RANGES", "MAX_SNAPSHOTS", "SEC_NS", "DeskConfig", "DeskResult"]

SEC_NS = 1_000_000_000


DESK_RANGES: dict[str, Range] = {  # end_ns: start_ns .. NEVER_NS - DAY_NS
    "start_ns": Range(0, _NEVER_NS - DAY_NS),
    "seed": Range(0, (1 << 63) - 1),
    "slice_ns": Range(1, DAY_NS),
    "sample_every": Range(1, 1_000_000),
    "snapshot_ns": Range(1_000_000, DAY_NS),  # >= 1 ms: every snapshot steps the venue and marks the book
    "exit_retry_ns": Range(1, DAY_NS),
}
MAX_SNAPSHOTS = (
    40_000_000  # P&L snapshots one pass may step through ((end_ns - start_ns) / snapshot_ns): a year at 1 s
)
# (an idle venue's snapshots cost nothing and keep no point; an active hour takes 3,600 steps)


@dataclass(frozen=True, slots=True)
class DeskConfig:
    """The market a desk trades in and how it steps (times in ns since epoch, slices in ns).

    Checked at construction, failing with a :class:`~cns.trading.errors.ConfigError` naming the field
    (``desk.<field>``): every number is an integer (never a bool) in its :data:`DESK_RANGES` range,
    ``start_ns <= end_ns`` and at most :data:`MAX_SNAPSHOTS` P&L snapshots fit between them; ``trading`` is a
    :class:`TradingConfig` (itself checked when it was built).
    """

    trading: TradingConfig
    sources: Dictionary
    tickers: Dictionary
    instruments: tuple[InstrumentInfo, ...]
    stories: np.ndarray
    start_ns: int
    end_ns: int
    seed: int
    slice_ns: int = 1  # decisions acted on within one slot share one venue step and quote lookup (1: none do)
    sample_every: int = 1  # stamp every Nth decision/order in the signal and risk kernels
    snapshot_ns: int = SEC_NS
    exit_retry_ns: int = 100_000_000  # an exit that could not go out or fill is retried this much later
    # what the simulated market trades on (cns.market.exchange.ExchangeSimulator): the public reports
    # (REPORT_DTYPE; None = nobody in the market trades on news) and the street's reliability per source code
    # (None = MarketConfig.default_reliability for every source)
    reports: np.ndarray | None = None
    source_reliability: np.ndarray | None = None
    # the venue of each pass (cns.market.venue_api): None = ExchangeSimulator of the fields above
    exchange: ExchangeFactory | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.trading, TradingConfig):
            got = type(self.trading).__name__
            raise ConfigError(f"config key 'desk.trading': expected TradingConfig, got {got}")
        if self.exchange is not None and not callable(self.exchange):
            got = type(self.exchange).__name__
            raise ConfigError(
                f"config key 'desk.exchange': expected a callable (SimConfig -> Exchange), got {got}"
            )
        for name, rng in DESK_RANGES.items():
            object.__setattr__(self, name, checked_number(getattr(self, name), int, rng, f"desk.{name}"))
        end = checked_number(self.end_ns, int, Range(self.start_ns, _NEVER_NS - DAY_NS), "desk.end_ns")
        object.__setattr__(self, "end_ns", end)
        if (end - self.start_ns) // self.snapshot_ns > MAX_SNAPSHOTS:
            raise ConfigError(
                f"config key 'desk.snapshot_ns': {self.snapshot_ns} ns over "
                f"{end - self.start_ns} ns is more than {MAX_SNAPSHOTS:,} P&L snapshots"
            )


@dataclass(frozen=True, slots=True)
class DeskResult:
    """What one pass of the desk over the whole replay produced (USD, shares, ns)."""

    orders: int
    fills: int
    filled_orders: int
    realized: float
    unrealized: float
    hit_rate: float
    fill_rate: float
    risk_rejects: dict[str, int]
    signal_latency_ns: np.ndarray  # per decision, in-kernel (-1 = not sampled)
    risk_latency_ns: np.ndarray  # per candidate order, in-kernel (-1 = not sampled)
    pnl_t_s: np.ndarray  # simulated seconds since the open
    pnl_usd: np.ndarray  # realised + unrealised at each point
    venue: dict[str, int]
    decisions: np.ndarray  # every decision the desk was given (DECISION_DTYPE), acted on or not
    exit_orders: int = 0  # of ``orders``: exit IOCs that passed risk
    exit_cancels: int = 0  # cancels of entry orders still resting when due
    hold_ns: int = 0  # the holding period the desk ran with (0 = no exits)
    filled_rows: np.ndarray | None = None  # OMS rows (ORDER_STATE_DTYPE) of every order with a fill
    end_ns: int = 0  # the venue time the result was marked at
    attribution: dict[str, Any] = field(
        default_factory=dict
    )  # cns.replay.attribution.attribute (with stories)
    latency: dict[str, Any] = field(default_factory=dict)  # the LatencyModel this pass ran with (to_dict)
    decision_latency_ns: dict[str, float] = field(
        default_factory=dict
    )  # the drawn latencies: n, p50, p99, max
    risk_limits: dict[str, dict[str, Any]] = field(default_factory=dict)  # per check that dropped a candidate
    reports_in_flight_at_end: int = 0  # execution reports still on their way back at the end (booked then)
    fees: dict[str, float] = field(default_factory=dict)  # the desk's fees: paid, rebates (both >= 0), net
    market: dict[str, Any] = field(default_factory=dict)  # the simulated market: P&L/fees per owner, spreads

    @property
    def pnl_total(self) -> float:
        """Realized plus unrealized P&L at ``end_ns``, USD."""
        return self.realized + self.unrealized
