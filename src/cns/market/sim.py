"""The simulated market's participants and schedules: who trades on news, when, and what news does to prices.

* Stories (``cns.market.dtypes.STORY_DTYPE``) with ``is_true`` move the instrument's fundamental by
  ``impact_pct`` percent at ``first_report_ns + impact_delay_ns`` (the market makers requote at once).
* Competitors react to a story's first report after their own latency with an IOC in the direction of the
  impact (priced ``aggression_bp`` through the mid they find), and close the position with a market order
  ``hold_ns`` after the later of their entry and the impact. A competitor also chases a false rumor with
  probability ``rumor_chase_prob``, in a random direction (a false story carries no impact sign).

All decisions that need randomness are drawn here, once, from the simulator's generator.

Time arithmetic (``first report + delay``, ``+ latency``, ``+ hold``) saturates at int64 max ("never") rather
than wrapping into the past; durations are bounded by ``MAX_DURATION_NS`` and story times must be >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from cns.market.prices import FlowConfig
from cns.market.timebounds import check_duration, sat_add
from cns.venue.errors import VenueConfigError

OWNER_CNS = 0
OWNER_MARKET_MAKER = 1
OWNER_TAKERS = 2
FIRST_COMPETITOR = 3


@dataclass(frozen=True, slots=True)
class Competitor:
    """A rival news trader. ``latency_ns`` is its total reaction time from first report to venue arrival."""

    name: str
    latency_ns: int
    notional_usd: float = 50_000.0
    rumor_chase_prob: float = 0.0

    def __post_init__(self) -> None:
        check_duration(f"Competitor {self.name!r}", "latency_ns", self.latency_ns)
        if not self.notional_usd > 0:
            raise VenueConfigError(f"Competitor {self.name!r}: notional_usd must be > 0")
        if not 0.0 <= self.rumor_chase_prob <= 1.0:
            raise VenueConfigError(f"Competitor {self.name!r}: rumor_chase_prob must be in [0, 1]")


DEFAULT_COMPETITORS: tuple[Competitor, ...] = (
    Competitor("colo-5us", 5_000, 50_000.0, 0.0),
    Competitor("fast-50us", 50_000, 50_000.0, 0.2),
    Competitor("prop-500us", 500_000, 50_000.0, 0.5),
    Competitor("slow-5ms", 5_000_000, 50_000.0, 1.0),
)


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """Everything the simulated market does besides matching (see module docstring)."""

    flow: FlowConfig = field(default_factory=FlowConfig)
    competitors: tuple[Competitor, ...] = DEFAULT_COMPETITORS
    aggression_bp: float = 30.0  # competitors' IOC limit distance through the mid, bp
    hold_ns: int = 1_000_000_000  # competitors hold this long after the later of entry and impact

    def __post_init__(self) -> None:
        if not self.aggression_bp >= 0:
            raise VenueConfigError("MarketConfig.aggression_bp must be >= 0")
        check_duration("MarketConfig", "hold_ns", self.hold_ns)


def impact_schedule(stories: np.ndarray, n_instruments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_ns, instrument, factor)`` of true stories' fundamental moves, sorted by time (stable)."""
    true = stories[(stories["is_true"] != 0) & (stories["impact_pct"] != 0.0)]
    _check_instruments(true, n_instruments)
    _check_times(stories)
    t = sat_add(true["first_report_ns"], np.maximum(true["impact_delay_ns"], 0))
    order = np.argsort(t, kind="stable")
    factor = 1.0 + true["impact_pct"][order] / 100.0
    if np.any(~(factor > 0) | ~np.isfinite(factor)):
        raise VenueConfigError("a story's impact_pct is <= -100 %, infinite or NaN: the price would not stay "
                               "positive and finite")
    return t[order].astype(np.int64), true["instrument"][order].astype(np.uint32), factor.astype(np.float64)


class CompetitorPlan(NamedTuple):
    """Who trades which story, in a compact form the event loop walks with cursors (no per-action rows).

    Stories are sorted by first report. Competitor ``j`` enters story ``k`` (if ``take[k, j]``) at
    ``first_ns[k] + latency_ns[j]`` and exits at ``max(entry, impact_ns[k]) + hold_ns``; ``exit_order[j,
    :exit_len[j]]`` lists its stories by exit time.
    """

    first_ns: np.ndarray  # i8[n] first report, sorted
    impact_ns: np.ndarray  # i8[n] first report + impact delay
    instrument: np.ndarray  # u4[n]
    side: np.ndarray  # i1[n] impact sign (true stories) or the rumor's drawn direction
    take: np.ndarray  # u1[n, K]
    latency_ns: np.ndarray  # i8[K]
    notional_usd: np.ndarray  # f8[K]
    exit_order: np.ndarray  # i4[K, n], -1 padded
    exit_len: np.ndarray  # i8[K]
    hold_ns: int


def competitor_plan(stories: np.ndarray, config: MarketConfig, n_instruments: int,
                    rng: np.random.Generator) -> CompetitorPlan:
    """Draw every competitor's decisions (rumor chasing, rumor direction) once and lay out its schedule."""
    _check_instruments(stories, n_instruments)
    _check_times(stories)
    st = stories[np.argsort(stories["first_report_ns"], kind="stable")]
    n, k = st.shape[0], len(config.competitors)
    is_true = (st["is_true"] != 0) & (st["impact_pct"] != 0.0)
    rumor_side = np.where(rng.random(n) < 0.5, 1, -1)
    side = np.where(is_true, np.sign(st["impact_pct"]), rumor_side).astype(np.int8)
    take = np.zeros((n, k), np.uint8)
    for j, c in enumerate(config.competitors):
        take[:, j] = is_true | ((st["is_true"] == 0) & (rng.random(n) < c.rumor_chase_prob))
    first = st["first_report_ns"].astype(np.int64)
    impact = sat_add(first, np.maximum(st["impact_delay_ns"], 0))
    lat = np.array([c.latency_ns for c in config.competitors], np.int64)
    exit_order = np.full((k, n), -1, np.int32)
    exit_len = np.zeros(k, np.int64)
    for j in range(k):
        idx = np.nonzero(take[:, j])[0]
        t_exit = sat_add(np.maximum(sat_add(first[idx], lat[j]), impact[idx]), config.hold_ns)
        exit_order[j, : idx.shape[0]] = idx[np.argsort(t_exit, kind="stable")]
        exit_len[j] = idx.shape[0]
    return CompetitorPlan(first, impact, st["instrument"].astype(np.uint32), side, take, lat,
                          np.array([c.notional_usd for c in config.competitors], np.float64), exit_order,
                          exit_len, int(config.hold_ns))


def _check_times(stories: np.ndarray) -> None:
    bad = stories["first_report_ns"] < 0
    if np.any(bad):
        k = int(np.argmax(bad))
        raise VenueConfigError(f"story {int(stories['story_id'][k])} has first_report_ns "
                               f"{int(stories['first_report_ns'][k])} < 0")


def _check_instruments(stories: np.ndarray, n_instruments: int) -> None:
    bad = (stories["instrument"] < 1) | (stories["instrument"] > n_instruments)
    if np.any(bad):
        k = int(np.argmax(bad))
        raise VenueConfigError(f"story {int(stories['story_id'][k])} names instrument "
                               f"{int(stories['instrument'][k])}, outside 1..{n_instruments}")
