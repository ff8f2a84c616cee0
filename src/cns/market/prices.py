"""Seeded background activity of the simulated market: the fundamental price process and the event stream.

Every instrument has a hidden *fundamental* value (USD) following a geometric random walk with volatility
``vol_per_sqrt_s`` (fraction per sqrt(second)); market makers quote around it and random takers trade
against them. The activity is one merged Poisson stream over all instruments, drawn in fixed-size chunks
from a single ``np.random.Generator``: the stream depends only on the seed, never on how the simulation is
stepped. Each event carries its random numbers (``u`` uniform, ``z`` standard normal) so the Numba kernel
that consumes it draws nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cns.market.timebounds import check_duration
from cns.venue.errors import VenueConfigError

_LAST_NS = float(2**63 - 1024)  # the largest float64 below 2**63 (converts to int64 exactly)
BG_REQUOTE = 0  # market maker: step the fundamental (z) and requote the ladder
BG_TAKER = 1  # background taker: side from u, size from z


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Background market activity; rates are per instrument per simulated second."""

    vol_per_sqrt_s: float = 1.2e-4  # fundamental volatility, fraction per sqrt(s) (~30 % a year)
    requote_hz: float = 2.0  # market-maker requotes
    taker_hz: float = 1.0  # background taker orders
    mm_levels: int = 5  # price levels quoted per side
    mm_half_spread_bp: float = 2.0  # distance of the best quote from the fundamental, bp
    mm_level_notional_usd: float = 25_000.0  # size of each quoted level, USD
    taker_notional_usd: float = 5_000.0  # median taker order, USD (lognormal)
    taker_cross_ticks: int = 2  # takers send IOC limits this many ticks through the touch
    mm_refill_ns: int = 0  # the market maker requotes this long after being traded against (0 = at once)
    mm_skew_bp: float = 5.0  # being traded against skews its next quotes this far toward the aggressor (bp)
    mm_skew_decay_ns: int = 2_000_000_000  # e-folding time of that skew; a story's impact resets it
    chunk_events: int = 1 << 16  # background events drawn per chunk

    def __post_init__(self) -> None:
        for name in ("vol_per_sqrt_s", "requote_hz", "taker_hz", "mm_half_spread_bp"):
            if not getattr(self, name) >= 0:
                raise VenueConfigError(f"FlowConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.requote_hz + self.taker_hz <= 0:
            raise VenueConfigError("FlowConfig: requote_hz + taker_hz must be > 0")
        for name in ("mm_levels", "chunk_events"):
            if getattr(self, name) < 1:
                raise VenueConfigError(f"FlowConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if not (self.mm_level_notional_usd > 0 and self.taker_notional_usd > 0):
            raise VenueConfigError("FlowConfig: notionals must be > 0 USD")
        if not self.mm_skew_bp >= 0:
            raise VenueConfigError("FlowConfig.mm_skew_bp must be >= 0")
        check_duration("FlowConfig", "mm_refill_ns", self.mm_refill_ns)
        check_duration("FlowConfig", "mm_skew_decay_ns", self.mm_skew_decay_ns, positive=True)
        if self.taker_cross_ticks < 0:
            raise VenueConfigError("FlowConfig.taker_cross_ticks must be >= 0")


class BackgroundStream:
    """The merged Poisson stream of background events of ``n_instruments`` (codes ``1..n``).

    ``next_chunk()`` returns ``(t_ns i8, instrument i4, kind u1, u f8, z f8)`` arrays of ``chunk_events``
    events in time order, continuing where the previous chunk stopped. Times past the last float64 below 2**63
    are clipped there (never converted out of the int64 range).
    """

    def __init__(self, n_instruments: int, flow: FlowConfig, rng: np.random.Generator, start_ns: int) -> None:
        if n_instruments < 1:
            raise VenueConfigError(f"need at least one instrument, got {n_instruments}")
        self._n = n_instruments
        self._flow = flow
        self._rng = rng
        self._t = float(start_ns)
        self._rate_ns = n_instruments * (flow.requote_hz + flow.taker_hz) * 1e-9  # events per ns
        self._p_requote = flow.requote_hz / (flow.requote_hz + flow.taker_hz)

    def next_chunk(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        c = self._flow.chunk_events
        rng = self._rng
        gaps = rng.exponential(1.0 / self._rate_ns, c)
        t = self._t + np.cumsum(gaps)
        self._t = float(t[-1])
        np.minimum(t, _LAST_NS, out=t)
        instrument = rng.integers(1, self._n + 1, c, dtype=np.int32)
        kind = np.where(rng.random(c) < self._p_requote, BG_REQUOTE, BG_TAKER).astype(np.uint8)
        u = rng.random(c)
        z = rng.standard_normal(c)
        return t.astype(np.int64), instrument, kind, u, z


def lot_sizes(prices: np.ndarray, notional_usd: float) -> np.ndarray:
    """Shares worth about ``notional_usd`` at each price, at least 1 (index 0, unused, gets 0)."""
    out = np.zeros(prices.shape[0], np.int64)
    out[1:] = np.maximum(1, np.round(notional_usd / prices[1:])).astype(np.int64)
    return out
