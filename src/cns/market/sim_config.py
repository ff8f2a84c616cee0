"""SimConfig: the settings of :class:`cns.market.exchange.ExchangeSimulator` (venue, market, idling)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cns.market.sim import MarketConfig
from cns.market.timebounds import NEVER_NS, check_duration
from cns.venue.book import FeeSchedule
from cns.venue.dtypes import STP_CANCEL_NEWEST, STP_NAMES
from cns.venue.errors import VenueConfigError

IDLE_AFTER_NS = 60_000_000_000  # default SimConfig.idle_after_ns and wake_before_ns: a minute
MAX_SPAN_NS = 400 * 86_400 * 1_000_000_000  # the longest span a simulator may cover (a year of news and more)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Venue and market settings. Latencies and intervals in ns."""

    start_ns: int = 1_700_000_000_000_000_000  # opening time, ns since epoch (match the news generator)
    entry_latency_ns: int = 20_000  # order sent at t reaches the venue at t + entry_latency_ns
    md_latency_ns: int = 50_000  # quotes reach the trader md_latency_ns after they change
    levels: int = 4096  # price levels per instrument band (ticks)
    tick_bp: float = 5.0  # tick ≈ this many bp of the opening price (5 bp x 4096 levels: band ≈ ±100 %)
    order_capacity: int = 1 << 17  # resting orders, all instruments together
    quote_history: int = 64  # remembered quote changes per instrument (md latency lookback)
    snapshot_ns: int = 100_000_000  # interval of the mid/fundamental snapshots kept for plots
    market: MarketConfig = field(default_factory=MarketConfig)
    # the clock never runs past start_ns + max_span_ns: a guard against absurd times, not a memory bound (idle
    # gaps cost nothing; keep_tape=True holds ~100 MB of trade tape per active hour at the default flow)
    max_span_ns: int = 366 * 86_400 * 1_000_000_000
    max_snapshots: int = 8192  # snapshots kept; past that every other one is dropped and the interval doubles
    fees: FeeSchedule = field(default_factory=FeeSchedule.us_equities)  # maker/taker fees of every fill
    stp: int = STP_CANCEL_NEWEST  # self-trade prevention (cns.venue.dtypes.STP_*)
    idle_after_ns: int = IDLE_AFTER_NS  # the market goes idle this long after the last activity (0: never)
    wake_before_ns: int = IDLE_AFTER_NS  # an idle market wakes this long before the next known activity
    keep_tape: bool = True  # keep every trade for trades(); False: count them only (memory follows nothing)

    def __post_init__(self) -> None:
        if not isinstance(self.fees, FeeSchedule):
            raise VenueConfigError(f"SimConfig.fees must be a cns.venue.book.FeeSchedule, got {self.fees!r}")
        if isinstance(self.stp, bool) or not isinstance(self.stp, int) or not 0 <= self.stp < len(STP_NAMES):
            raise VenueConfigError(
                f"SimConfig.stp must be one of STP_* (0..{len(STP_NAMES) - 1}), got {self.stp!r}"
            )
        if not isinstance(self.keep_tape, bool):
            raise VenueConfigError(f"SimConfig.keep_tape must be a bool, got {self.keep_tape!r}")
        for name in ("entry_latency_ns", "md_latency_ns", "idle_after_ns", "wake_before_ns"):
            check_duration("SimConfig", name, getattr(self, name))
        check_duration("SimConfig", "snapshot_ns", self.snapshot_ns, positive=True)
        ms = self.max_span_ns
        if isinstance(ms, bool) or not isinstance(ms, (int, np.integer)) or not 0 < ms <= MAX_SPAN_NS:
            raise VenueConfigError(f"SimConfig.max_span_ns must be an int of 1..{MAX_SPAN_NS} ns, got {ms!r}")
        for name in ("quote_history", "order_capacity"):
            if getattr(self, name) < 1:
                raise VenueConfigError(f"SimConfig.{name} must be >= 1, got {getattr(self, name)}")
        if (
            isinstance(self.max_snapshots, bool)
            or not isinstance(self.max_snapshots, int)
            or self.max_snapshots < 2
        ):
            raise VenueConfigError(f"SimConfig.max_snapshots must be an int >= 2, got {self.max_snapshots!r}")
        st = self.start_ns
        is_int = isinstance(st, (int, np.integer)) and not isinstance(st, bool)
        if not is_int or not 0 <= int(st) < NEVER_NS - self.max_span_ns:
            raise VenueConfigError(
                f"SimConfig.start_ns must be an int with 0 <= start_ns and start_ns + max_span_ns "
                f"< 2**63-1 ns, got {st!r}"
            )
