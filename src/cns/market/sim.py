"""The simulated market's participants and schedules: who trades on news, when, and what news does to prices.

* Stories (``cns.market.dtypes.STORY_DTYPE``) with ``is_true`` move the instrument's hidden fundamental by
  ``impact_pct`` percent at ``first_report_ns + impact_delay_ns``. Nobody but the informed traders of the
  background flow sees the fundamental; the market maker learns the move only from public reports and flow.
* What everyone can read is the public report stream (:mod:`cns.market.public`). Each participant weighs a
  source by its own estimate of how often that source's claimed direction is right: the street's table
  (``source_reliability``, e.g. a calibrated credibility table) perturbed per participant by seeded noise
  (``MarketConfig.belief_noise``, log-odds), see :func:`participant_weights`.
* The market maker reads each report ``mm_news_latency_ns`` after it is public and moves its value estimate
  to price ``mm_news_weight`` of the expected claimed move (:func:`mm_news_schedule`).
* A competitor reads each report ``latency_ns`` after it is public and enters once per event, on the side
  its evidence points to, when its confidence reaches ``min_confidence`` (:func:`competitor_schedule`): an IOC
  ``aggression_bp`` through the mid it finds. It closes its whole position in the instrument with an IOC the
  same distance through the mid ``hold_ns`` after the entry. It never knows whether a story is true.

All randomness (the participants' belief noise) is drawn here, once, from the simulator's generator, and
never depends on the hidden story table.

Time arithmetic (``report + latency``, ``entry + hold``) saturates at int64 max ("never") rather than wrapping
into the past; durations are bounded by ``MAX_DURATION_NS`` and story and report times must be >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from cns.market.plan_kernels import competitor_entries, news_updates
from cns.market.prices import FlowConfig
from cns.market.timebounds import check_duration, sat_add
from cns.venue.errors import VenueConfigError

OWNER_CNS = 0
OWNER_MARKET_MAKER = 1
OWNER_TAKERS = 2  # background takers, uninformed and informed
FIRST_COMPETITOR = 3


@dataclass(frozen=True, slots=True)
class Competitor:
    """A rival news trader. ``latency_ns``: its minimum reaction time from a report being public to its order
    reaching the venue; each entry adds a seeded jitter drawn uniformly from ``[0, 2 * jitter_ns]`` (integer
    ns, hashed from the simulator's seed, the competitor and the entry: the same on every machine).
    ``md_latency_ns``: its own market-data delay — it prices its orders on the quote in force that long
    before it acts (0: the live book). ``min_confidence`` (0..1): the ``|P(up) - P(down)|`` its evidence on
    an event must reach before it trades (low = chases thin, uncorroborated news)."""

    name: str
    latency_ns: int
    notional_usd: float = 25_000.0
    min_confidence: float = 0.5
    jitter_ns: int = 0
    md_latency_ns: int = 0

    def __post_init__(self) -> None:
        for name in ("latency_ns", "jitter_ns", "md_latency_ns"):
            check_duration(f"Competitor {self.name!r}", name, getattr(self, name))
        if not self.notional_usd > 0:
            raise VenueConfigError(f"Competitor {self.name!r}: notional_usd must be > 0")
        if not 0.0 < self.min_confidence < 1.0:
            raise VenueConfigError(f"Competitor {self.name!r}: min_confidence must be in (0, 1)")


DEFAULT_COMPETITORS: tuple[Competitor, ...] = (  # name, min latency, notional, confidence, jitter, md delay
    Competitor("colo-5us", 5_000, 25_000.0, 0.9, 1_000, 1_000),
    Competitor("fast-50us", 50_000, 25_000.0, 0.8, 10_000, 10_000),
    Competitor("prop-500us", 500_000, 25_000.0, 0.6, 100_000, 100_000),
    Competitor("slow-5ms", 5_000_000, 25_000.0, 0.3, 1_000_000, 1_000_000),
)


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """Everything the simulated market does besides matching (see module docstring)."""

    flow: FlowConfig = field(default_factory=FlowConfig)
    competitors: tuple[Competitor, ...] = DEFAULT_COMPETITORS
    aggression_bp: float = 30.0  # competitors' IOC limit distance through the mid, bp
    hold_ns: int = 1_000_000_000  # competitors close their position this long after an entry
    mm_news_latency_ns: int = 50_000  # the market maker reads a report this long after it is public
    mm_news_weight: float = 1.0  # share of the expected claimed move the market maker prices in (0..1)
    belief_noise: float = 0.25  # sd of each participant's own error on a source's log-odds
    default_reliability: float = 0.6  # reliability assumed for a source the street's table does not rate
    typical_move_pct: float = 0.8  # the move a report claiming a direction but no number is taken to mean, %

    def __post_init__(self) -> None:
        if not self.aggression_bp >= 0:
            raise VenueConfigError("MarketConfig.aggression_bp must be >= 0")
        check_duration("MarketConfig", "hold_ns", self.hold_ns)
        check_duration("MarketConfig", "mm_news_latency_ns", self.mm_news_latency_ns)
        if not 0.0 <= self.mm_news_weight <= 1.0:
            raise VenueConfigError("MarketConfig.mm_news_weight must be in [0, 1]")
        if not 0.0 <= self.belief_noise <= 5.0:
            raise VenueConfigError("MarketConfig.belief_noise must be in [0, 5] (log-odds)")
        if not 0.0 < self.default_reliability < 1.0:
            raise VenueConfigError("MarketConfig.default_reliability must be in (0, 1)")
        if not 0.0 <= self.typical_move_pct <= 50.0:
            raise VenueConfigError("MarketConfig.typical_move_pct must be in [0, 50]")


NEVER = np.iinfo(np.int64).max
RELIABILITY_CLIP = 0.02  # estimates are kept in [0.02, 0.98]: no source is taken as certain either way


def participant_weights(
    source_reliability: np.ndarray | None,
    n_sources: int,
    n_participants: int,
    config: MarketConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """``w[p, code]``: participant ``p``'s log-odds that source ``code``'s claimed direction is right.

    The street's estimate ``source_reliability[code]`` (probability, NaN or missing = ``default_reliability``)
    clipped to [0.02, 0.98], as log-odds, plus ``N(0, belief_noise)`` drawn per participant and source (row 0
    is the market maker, rows 1.. the competitors). Draws ``n_participants * n_sources`` normals from ``rng``.
    """
    rel = np.full(n_sources, config.default_reliability)
    if source_reliability is not None:
        sr = np.asarray(source_reliability, np.float64)
        if sr.ndim != 1:
            raise VenueConfigError("source_reliability must be 1-D (indexed by source code)")
        m = min(n_sources, sr.shape[0])
        ok = np.isfinite(sr[:m])
        if np.any(ok & ((sr[:m] < 0) | (sr[:m] > 1))):
            raise VenueConfigError("source_reliability values must be probabilities in [0, 1]")
        rel[:m] = np.where(ok, sr[:m], config.default_reliability)
    rel = np.clip(rel, RELIABILITY_CLIP, 1.0 - RELIABILITY_CLIP)
    base = np.log(rel / (1.0 - rel))
    noise = rng.standard_normal((n_participants, n_sources)) * config.belief_noise
    out: np.ndarray = base[None, :] + noise
    return out


def _events(reports: np.ndarray) -> tuple[np.ndarray, int]:
    """Event ids as ``0..n-1`` indices: as they are when already small (<= 2 per report, e.g. story ids),
    else renumbered densely."""
    ev = reports["event"].astype(np.int64)
    if ev.shape[0] == 0:
        return ev, 0
    top = int(ev.max()) + 1
    if top <= 2 * ev.shape[0] + 16:
        return ev, top
    uniq, inv = np.unique(ev, return_inverse=True)
    return inv.reshape(-1).astype(np.int64), int(uniq.shape[0])


def mm_news_schedule(
    reports: np.ndarray, weights: np.ndarray, config: MarketConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_ns, instrument, log move)`` of the market maker's news-driven value updates, in time order
    (``reports``: checked REPORT_DTYPE, sorted by time; ``weights``: its row of :func:`participant_weights`)."""
    ev, n_ev = _events(reports)
    n = reports.shape[0]
    t, ins, dl = np.zeros(n, np.int64), np.zeros(n, np.uint32), np.zeros(n)
    mag = np.where(np.isfinite(reports["move_pct"]), reports["move_pct"], -1.0)
    k = news_updates(
        reports["t_ns"],
        reports["instrument"],
        reports["source"].astype(np.int64),
        ev,
        reports["direction"].astype(np.int64),
        mag,
        weights,
        np.int64(config.mm_news_latency_ns),
        float(config.mm_news_weight),
        float(config.typical_move_pct),
        n_ev,
        t,
        ins,
        dl,
    )
    return t[:k].copy(), ins[:k].copy(), dl[:k].copy()


class CompetitorPlan(NamedTuple):
    """Every competitor's entries, concatenated (competitor ``j``: rows ``offset[j]:offset[j+1]``, in time
    order). Entry ``r`` exits (closes the competitor's whole position in the instrument) at ``t_ns[r] +
    hold_ns``, so exits are in time order too."""

    offset: np.ndarray  # i8[K + 1]
    t_ns: np.ndarray  # i8[n] entry time at the venue
    instrument: np.ndarray  # u4[n]
    side: np.ndarray  # i1[n] +1 buy / -1 sell
    latency_ns: np.ndarray  # i8[K]
    notional_usd: np.ndarray  # f8[K]
    hold_ns: int
    md_latency_ns: np.ndarray | None = None  # i8[K] each competitor's market-data delay (None: all 0)


_JITTER_SALT = 0x4A4954544552  # "JITTER": the competitors' latency jitter has its own hash stream


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser of every element of the uint64 array ``x`` (wrapping integer arithmetic: the
    same bits on every machine)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def jitter_ns(
    seed: int, competitor: int, t_ns: np.ndarray, instrument: np.ndarray, spread_ns: int
) -> np.ndarray:
    """Seeded latency jitter (int64 ns, uniform on ``[0, 2 * spread_ns]``) of competitor ``competitor``'s entries
    at ``t_ns`` on ``instrument`` (one entry per event, so: per story). Integer hashing (SplitMix64) only: the
    same on every machine, and independent of the simulator's random stream."""
    n = t_ns.shape[0]
    if spread_ns <= 0 or n == 0:
        return np.zeros(n, np.int64)
    key = splitmix64(np.array([(int(seed) ^ _JITTER_SALT ^ (competitor << 48)) & (2**64 - 1)], np.uint64))
    x = t_ns.astype(np.uint64) ^ (instrument.astype(np.uint64) << np.uint64(40)) ^ key
    h = splitmix64(splitmix64(x))
    return (h % np.uint64(2 * int(spread_ns) + 1)).astype(np.int64)


def competitor_schedule(
    reports: np.ndarray, weights: np.ndarray, config: MarketConfig, seed: int = 0
) -> CompetitorPlan:
    """The competitors' entries from the public ``reports`` (checked, sorted) and their own ``weights``
    (``weights[j]`` of competitor ``j``): see :func:`cns.market.plan_kernels.competitor_entries`. Each entry
    is delayed by its seeded jitter (:func:`jitter_ns`, keyed by ``seed``) and each competitor's entries are
    then put back in time order (stable)."""
    ev, n_ev = _events(reports)
    n, k = reports.shape[0], len(config.competitors)
    src = reports["source"].astype(np.int64)
    direction = reports["direction"].astype(np.int64)
    ts, ins, sides, off = [], [], [], [0]
    for j, c in enumerate(config.competitors):
        t, i, sd = np.zeros(n, np.int64), np.zeros(n, np.uint32), np.zeros(n, np.int8)
        m = competitor_entries(
            reports["t_ns"],
            reports["instrument"],
            src,
            ev,
            direction,
            weights[j],
            np.int64(c.latency_ns),
            float(c.min_confidence),
            n_ev,
            t,
            i,
            sd,
        )
        t, i, sd = t[:m], i[:m], sd[:m]
        if c.jitter_ns > 0 and m:
            j_ns = jitter_ns(seed, j, t, i, c.jitter_ns)
            t = np.where(t > NEVER - j_ns, NEVER, t + j_ns)  # saturating: "never" stays never
            order = np.argsort(t, kind="stable")
            t, i, sd = t[order], i[order], sd[order]
        ts.append(t)
        ins.append(i)
        sides.append(sd)
        off.append(off[-1] + m)
    return CompetitorPlan(
        np.array(off, np.int64),
        _cat(ts, np.int64),
        _cat(ins, np.uint32),
        _cat(sides, np.int8),
        np.array([c.latency_ns for c in config.competitors], np.int64).reshape(k),
        np.array([c.notional_usd for c in config.competitors], np.float64).reshape(k),
        int(config.hold_ns),
        np.array([c.md_latency_ns for c in config.competitors], np.int64).reshape(k),
    )


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def impact_schedule(stories: np.ndarray, n_instruments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_ns, instrument, factor)`` of true stories' fundamental moves, sorted by time (stable)."""
    true = stories[(stories["is_true"] != 0) & (stories["impact_pct"] != 0.0)]
    _check_instruments(true, n_instruments)
    _check_times(stories)
    t = sat_add(true["first_report_ns"], np.maximum(true["impact_delay_ns"], 0))
    order = np.argsort(t, kind="stable")
    factor = 1.0 + true["impact_pct"][order] / 100.0
    if np.any(~(factor > 0) | ~np.isfinite(factor)):
        raise VenueConfigError(
            "a story's impact_pct is <= -100 %, infinite or NaN: the price would not stay positive and finite"
        )
    return t[order].astype(np.int64), true["instrument"][order].astype(np.uint32), factor.astype(np.float64)


def _check_times(stories: np.ndarray) -> None:
    bad = stories["first_report_ns"] < 0
    if np.any(bad):
        k = int(np.argmax(bad))
        raise VenueConfigError(
            f"story {int(stories['story_id'][k])} has first_report_ns "
            f"{int(stories['first_report_ns'][k])} < 0"
        )


def _check_instruments(stories: np.ndarray, n_instruments: int) -> None:
    bad = (stories["instrument"] < 1) | (stories["instrument"] > n_instruments)
    if np.any(bad):
        k = int(np.argmax(bad))
        raise VenueConfigError(
            f"story {int(stories['story_id'][k])} names instrument "
            f"{int(stories['instrument'][k])}, outside 1..{n_instruments}"
        )
