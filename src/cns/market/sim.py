"""The simulated market's participants and schedules: who trades on news, when, and what news does to prices.

* Stories (``cns.market.dtypes.STORY_DTYPE``) with ``is_true`` move the instrument's fundamental by
  ``impact_pct`` percent at ``first_report_ns + impact_delay_ns`` (the market makers requote at once).
* Competitors react to a story's first report after their own latency with an IOC in the direction of the
  impact (priced ``aggression_bp`` through the mid they find), and close the position with a market order
  ``hold_ns`` after the later of their entry and the impact. A competitor also chases a false rumor with
  probability ``rumor_chase_prob``, in a random direction (a false story carries no impact sign).

All decisions that need randomness are drawn here, once, from the simulator's generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cns.market.prices import FlowConfig
from cns.venue.errors import VenueConfigError

OWNER_CNS = 0
OWNER_MARKET_MAKER = 1
OWNER_TAKERS = 2
FIRST_COMPETITOR = 3

ACTION_ENTRY = 0
ACTION_EXIT = 1

ACTION_DTYPE = np.dtype(
    [
        ("t_ns", np.int64),  # when the competitor's order reaches the venue
        ("instrument", np.uint32),
        ("owner", np.uint32),
        ("side", np.int8),  # entry direction (exits close whatever position is held)
        ("kind", np.uint8),  # ACTION_*
        ("notional_usd", np.float64),
        ("story_id", np.uint64),
    ],
    align=True,
)


@dataclass(frozen=True, slots=True)
class Competitor:
    """A rival news trader. ``latency_ns`` is its total reaction time from first report to venue arrival."""

    name: str
    latency_ns: int
    notional_usd: float = 50_000.0
    rumor_chase_prob: float = 0.0

    def __post_init__(self) -> None:
        if self.latency_ns < 0:
            raise VenueConfigError(f"Competitor {self.name!r}: latency_ns must be >= 0")
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
        if self.hold_ns < 0:
            raise VenueConfigError("MarketConfig.hold_ns must be >= 0")


def impact_schedule(stories: np.ndarray, n_instruments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_ns, instrument, factor)`` of true stories' fundamental moves, sorted by time (stable)."""
    true = stories[(stories["is_true"] != 0) & (stories["impact_pct"] != 0.0)]
    _check_instruments(true, n_instruments)
    t = true["first_report_ns"] + np.maximum(true["impact_delay_ns"], 0)
    order = np.argsort(t, kind="stable")
    factor = 1.0 + true["impact_pct"][order] / 100.0
    if np.any(factor <= 0):
        raise VenueConfigError("a story's impact_pct is <= -100 %: the price would not stay positive")
    return t[order].astype(np.int64), true["instrument"][order].astype(np.uint32), factor.astype(np.float64)


def competitor_schedule(stories: np.ndarray, config: MarketConfig, n_instruments: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Entry and exit actions of every competitor for every story it trades, sorted by time (stable)."""
    _check_instruments(stories, n_instruments)
    n = stories.shape[0]
    rows = []
    rumor_side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    for j, c in enumerate(config.competitors):
        chase = rng.random(n) < c.rumor_chase_prob
        is_true = (stories["is_true"] != 0) & (stories["impact_pct"] != 0.0)
        take = is_true | ((stories["is_true"] == 0) & chase)
        s = stories[take]
        side = np.where(is_true[take], np.sign(s["impact_pct"]), rumor_side[take]).astype(np.int8)
        entry = s["first_report_ns"] + c.latency_ns
        impact_t = s["first_report_ns"] + np.maximum(s["impact_delay_ns"], 0)
        exit_t = np.maximum(entry, impact_t) + config.hold_ns
        for t, kind in ((entry, ACTION_ENTRY), (exit_t, ACTION_EXIT)):
            a = np.zeros(s.shape[0], ACTION_DTYPE)
            a["t_ns"] = t
            a["instrument"] = s["instrument"]
            a["owner"] = FIRST_COMPETITOR + j
            a["side"] = side
            a["kind"] = kind
            a["notional_usd"] = c.notional_usd
            a["story_id"] = s["story_id"]
            rows.append(a)
    if not rows:
        return np.zeros(0, ACTION_DTYPE)
    out = np.concatenate(rows)
    return out[np.argsort(out["t_ns"], kind="stable")]


def _check_instruments(stories: np.ndarray, n_instruments: int) -> None:
    bad = (stories["instrument"] < 1) | (stories["instrument"] > n_instruments)
    if np.any(bad):
        k = int(np.argmax(bad))
        raise VenueConfigError(f"story {int(stories['story_id'][k])} names instrument "
                               f"{int(stories['instrument'][k])}, outside 1..{n_instruments}")
