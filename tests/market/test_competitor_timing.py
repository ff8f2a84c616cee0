"""Competitors' timing is not a step function: each entry adds a seeded per-story jitter to the competitor's
minimum latency, and a competitor prices on the quote its own market-data delay lets it see, not on the live
book."""

from __future__ import annotations

import numpy as np

from cns.market.exchange import ExchangeSimulator, SimConfig
from cns.market.prices import FlowConfig
from cns.market.sim import (
    FIRST_COMPETITOR,
    Competitor,
    MarketConfig,
    competitor_schedule,
    participant_weights,
)
from cns.signals.universe import default_instruments
from tests.market.test_market_model import SEC, START, reports

QUIET = FlowConfig(informed_hz=0.0, taker_hz=0.01, requote_hz=0.01)


def _plan(seed: int, jitter: int):
    rep = reports(*[(1 + k % 3, 0.01 * k, 1, k, 1 if k % 2 else -1, 1.0) for k in range(200)])
    comp = (Competitor("c", 50_000, 25_000.0, 0.5, jitter, 0),)
    cfg = MarketConfig(competitors=comp, belief_noise=0.0)
    w = participant_weights(np.array([0.5, 0.95]), 2, 1, cfg, np.random.default_rng(0))
    return rep, competitor_schedule(rep, w, cfg, seed)


def test_jitter_is_seeded_bounded_and_keeps_entries_in_time_order() -> None:
    rep, plan = _plan(seed=5, jitter=10_000)
    base = rep["t_ns"] + 50_000  # every report makes an entry (one per event, confident source)
    assert plan.t_ns.shape == base.shape
    d = np.sort(plan.t_ns) - np.sort(base)  # (reports are 10 ms apart: the jitter cannot reorder them)
    assert d.min() >= 0 and d.max() <= 20_000 and len(np.unique(d)) > 100
    assert np.all(np.diff(plan.t_ns) >= 0)
    _, again = _plan(seed=5, jitter=10_000)
    _, other = _plan(seed=6, jitter=10_000)
    assert np.array_equal(plan.t_ns, again.t_ns) and not np.array_equal(plan.t_ns, other.t_ns)
    _, none = _plan(seed=5, jitter=0)
    assert np.array_equal(none.t_ns, base)


def _after_news(md_ns: int) -> ExchangeSimulator:
    """A confident +5 % report at 1 s; the market maker reprices 50 us later, the competitor acts at 100 us."""
    comp = (Competitor("c", 100_000, 25_000.0, 0.5, 0, md_ns),)
    market = MarketConfig(flow=QUIET, competitors=comp, belief_noise=0.0, mm_news_latency_ns=50_000)
    sim = ExchangeSimulator(
        default_instruments(3),
        None,
        SimConfig(start_ns=START, market=market),
        seed=2,
        reports=reports((2, 1.0, 1, 0, 1, 5.0)),
        source_reliability=np.array([0.5, 0.95]),
    )
    sim.advance_to(START + 2 * SEC)
    return sim


def test_a_competitor_prices_on_the_quote_its_market_data_delay_shows() -> None:
    live, stale = _after_news(0), _after_news(80_000)
    # with a live feed its IOC is priced through the repriced book and fills; 80 us late, it still sees the
    # quote from before the market maker read the news, and its limit is below the new ask: no fill
    assert live.positions()[FIRST_COMPETITOR, 2] > 0
    assert stale.positions()[FIRST_COMPETITOR, 2] == 0
    assert stale.stats()["competitor_orders"] >= 1
