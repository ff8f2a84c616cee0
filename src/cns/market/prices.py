"""Seeded background activity of the simulated market: the fundamental price process and the event stream.

Every instrument has a hidden *fundamental* value (USD) following a geometric random walk with volatility
``vol_per_sqrt_s`` (fraction per sqrt(second)), stepped at the market maker's timed requotes. The market maker
never reads it: it quotes around its own estimate, learnt from public reports and signed order flow (see
:class:`FlowConfig`). Uninformed takers trade at random;
*informed* takers know the fundamental and trade (Kyle-sized: half the gap over lambda) when the quotes are
more than ``informed_edge_bp`` away from it — besides the public news, the only way the hidden value reaches
prices. The activity is one merged Poisson stream over all instruments, drawn in fixed-size chunks
from a single ``np.random.Generator``: the stream depends only on the seed, never on how the simulation is
stepped. Each event carries its random numbers (``u`` uniform, ``z`` standard normal) so the Numba kernel
that consumes it draws nothing itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cns.market.timebounds import check_duration
from cns.venue.errors import VenueConfigError

_LAST_NS = float(2**63 - 1024)  # the largest float64 below 2**63 (converts to int64 exactly)
BG_REQUOTE = 0  # market maker: step the fundamental (z) and requote the ladder
BG_TAKER = 1  # uninformed background taker: side from u, size from z
BG_INFORMED = 2  # informed taker: side from the fundamental vs the quotes, size from z


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Background market activity and the market maker's quoting; rates are per instrument per simulated s.

    The market maker's value estimate ``v`` (USD, starts at the opening price) moves by
    ``mm_flow_bp_per_lot`` bp per lot (one quoted level, ``mm_level_notional_usd``) of net signed aggressor
    volume on the public tape (its own aggressive fills excluded; at most ``mm_flow_max_bp`` per event) —
    a Kyle-style adverse-selection update — and by its news updates (``MarketConfig.mm_news_*``). It quotes
    ``mm_levels`` ticks deep per side around ``v * (1 - skew)`` with half spread

        ``mm_half_spread_bp + mm_vol_spread_mult * realised vol + mm_inventory_spread_bp_per_lot * |inv|``

    capped at ``mm_max_half_spread_bp``, where ``inv`` is its position in lots, ``skew =
    mm_inventory_skew_bp_per_lot * inv`` (capped at ``mm_inventory_skew_max_bp``; long → quotes lower) and the
    realised vol (per sqrt second) is ``sqrt(sum / window_s)`` of its squared log estimate changes, each
    decaying with e-folding time ``mm_vol_window_ns`` (``window_s`` in seconds). It requotes on timed events (``requote_hz``), when it reads news, and
    ``mm_refill_ns`` after the tape moved its estimate (it is hit, or others trade), never at once.
    """

    vol_per_sqrt_s: float = 1.2e-4  # fundamental volatility, fraction per sqrt(s) (~30 % a year)
    requote_hz: float = 2.0  # market-maker timed requotes (each also steps the hidden fundamental)
    taker_hz: float = 25.0  # uninformed background taker orders
    informed_hz: float = (
        0.5  # informed taker arrivals (each trades only if the quotes are off the fundamental)
    )
    mm_levels: int = 5  # price levels quoted per side
    mm_half_spread_bp: float = 2.0  # base distance of the best quote from the quote centre, bp
    mm_level_notional_usd: float = 25_000.0  # size of each quoted level (one lot), USD
    taker_notional_usd: float = 12_500.0  # median uninformed taker order, USD (lognormal)
    taker_cross_ticks: int = 2  # uninformed takers send IOC limits this many ticks through the touch
    informed_edge_bp: float = 20.0  # informed takers trade only this far inside the fundamental, bp
    informed_max_notional_usd: float = 25_000.0  # cap of an informed order (gap / (2 lambda) lots), USD
    mm_refill_ns: int = 1_000_000  # the market maker requotes this long after the tape moved its estimate
    mm_flow_bp_per_lot: float = 6.0  # Kyle lambda: estimate move per lot of net aggressor flow, bp
    mm_flow_max_bp: float = 50.0  # at most this much per event, bp
    mm_vol_window_ns: int = 1_000_000_000  # e-folding time of the realised-volatility memory
    mm_vol_spread_mult: float = 0.03  # half spread added per unit of realised vol per sqrt(s)
    mm_inventory_skew_bp_per_lot: float = 0.5  # quote-centre skew against the inventory, bp per lot held
    mm_inventory_skew_max_bp: float = 50.0  # cap of that skew, bp
    mm_inventory_spread_bp_per_lot: float = 0.25  # half spread added per lot held, bp
    mm_max_half_spread_bp: float = 200.0  # cap of the half spread, bp
    chunk_events: int = 1 << 16  # background events drawn per chunk

    def __post_init__(self) -> None:
        for name in (
            "vol_per_sqrt_s",
            "requote_hz",
            "taker_hz",
            "informed_hz",
            "mm_half_spread_bp",
            "informed_edge_bp",
            "mm_flow_bp_per_lot",
            "mm_flow_max_bp",
            "mm_vol_spread_mult",
            "mm_inventory_skew_bp_per_lot",
            "mm_inventory_skew_max_bp",
            "mm_inventory_spread_bp_per_lot",
        ):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise VenueConfigError(f"FlowConfig.{name} must be finite and >= 0, got {v!r}")
        if self.requote_hz + self.taker_hz + self.informed_hz <= 0:
            raise VenueConfigError("FlowConfig: requote_hz + taker_hz + informed_hz must be > 0")
        for name in ("mm_levels", "chunk_events"):
            if getattr(self, name) < 1:
                raise VenueConfigError(f"FlowConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if not (
            self.mm_level_notional_usd > 0
            and self.taker_notional_usd > 0
            and self.informed_max_notional_usd > 0
        ):
            raise VenueConfigError("FlowConfig: notionals must be > 0 USD")
        if not self.mm_half_spread_bp <= self.mm_max_half_spread_bp <= 5000.0:
            raise VenueConfigError("FlowConfig: need mm_half_spread_bp <= mm_max_half_spread_bp <= 5000 bp")
        if not self.mm_inventory_skew_max_bp <= 5000.0 or not self.mm_flow_max_bp <= 5000.0:
            raise VenueConfigError(
                "FlowConfig: mm_inventory_skew_max_bp and mm_flow_max_bp must be <= 5000 bp"
            )
        check_duration("FlowConfig", "mm_refill_ns", self.mm_refill_ns)
        check_duration("FlowConfig", "mm_vol_window_ns", self.mm_vol_window_ns, positive=True)
        if self.taker_cross_ticks < 0:
            raise VenueConfigError("FlowConfig.taker_cross_ticks must be >= 0")


class BackgroundStream:
    """The merged Poisson stream of background events of ``n_instruments`` (codes ``1..n``).

    ``next_chunk()`` returns ``(t_ns i8, instrument i4, kind u1, u f8, z f8)`` arrays of ``chunk_events``
    events in time order, continuing where the previous chunk stopped. ``kind`` is BG_REQUOTE, BG_INFORMED or
    BG_TAKER in proportion to ``requote_hz``, ``informed_hz`` and ``taker_hz``. Times past the last float64 below 2**63
    are clipped there (never converted out of the int64 range).
    """

    def __init__(self, n_instruments: int, flow: FlowConfig, rng: np.random.Generator, start_ns: int) -> None:
        if n_instruments < 1:
            raise VenueConfigError(f"need at least one instrument, got {n_instruments}")
        self._n = n_instruments
        self._flow = flow
        self._rng = rng
        self._t = float(start_ns)
        total = flow.requote_hz + flow.taker_hz + flow.informed_hz
        self._rate_ns = n_instruments * total * 1e-9  # events per ns
        self._p_requote = flow.requote_hz / total
        self._p_informed = (flow.requote_hz + flow.informed_hz) / total

    def restart(self, t_ns: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Start the stream afresh at ``t_ns`` (an idle market wakes: the events of the gap are never drawn;
        a Poisson stream has no memory, so this is the same process). Returns one standard normal per ticker
        code (index 0 unused: the fundamental's steps over the gap) and the first chunk from ``t_ns``."""
        z = self._rng.standard_normal(self._n + 1)
        self._t = float(t_ns)
        return z, self.next_chunk()

    def next_chunk(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The next ``chunk_events`` background events (times ns, instruments, sides, sizes, prices), seeded."""
        c = self._flow.chunk_events
        rng = self._rng
        gaps = rng.exponential(1.0 / self._rate_ns, c)
        t = self._t + np.cumsum(gaps)
        self._t = float(t[-1])
        np.minimum(t, _LAST_NS, out=t)
        instrument = rng.integers(1, self._n + 1, c, dtype=np.int32)
        uk = rng.random(c)
        kind = np.where(
            uk < self._p_requote, BG_REQUOTE, np.where(uk < self._p_informed, BG_INFORMED, BG_TAKER)
        ).astype(np.uint8)
        u = rng.random(c)
        z = rng.standard_normal(c)
        return t.astype(np.int64), instrument, kind, u, z


def lot_sizes(prices: np.ndarray, notional_usd: float) -> np.ndarray:
    """Shares worth about ``notional_usd`` at each price, at least 1 (index 0, unused, gets 0)."""
    out = np.zeros(prices.shape[0], np.int64)
    out[1:] = np.maximum(1, np.round(notional_usd / prices[1:])).astype(np.int64)
    return out
