"""A market that does not hand out the answer: what each simulated participant knows, and when.

* the market maker's quotes never depend on the hidden fundamental, given the same public flow;
* it refills only after its delay, widens its spread after a volatility burst and with inventory (and skews
  against the inventory);
* competitors act on the reports they read and their own source estimates, not on whether a story is true;
* every fill pays the venue's fees, reported per fill and netted into P&L.
"""

from __future__ import annotations

import numpy as np
import pytest

from cns.market.dtypes import STORY_DTYPE
from cns.market.exchange import ExchangeSimulator, SimConfig
from cns.market.prices import FlowConfig
from cns.market.public import REPORT_DTYPE
from cns.market.sim import FIRST_COMPETITOR, OWNER_MARKET_MAKER, Competitor, MarketConfig
from cns.signals.universe import default_instruments
from cns.venue.book import FeeSchedule, make_orders
from cns.venue.dtypes import EXEC_FILL, EXEC_PARTIAL, LIQ_TAKER, ORDER_MARKET, SIDE_BUY, SIDE_SELL

START = 1_700_000_000_000_000_000
SEC = 1_000_000_000
MS = 1_000_000
REL = np.array([0.5, 0.95, 0.55, 0.3])


def story(
    instrument: int, at_s: float, pct: float, delay_ns: int, true: bool = True, sid: int = 0
) -> np.ndarray:
    s = np.zeros(1, STORY_DTYPE)
    s[0] = (sid, instrument, 1, START + int(at_s * SEC), pct if true else 0.0, delay_ns if true else 0, true)
    return s


def reports(*rows: tuple[int, float, int, int, int, float]) -> np.ndarray:
    """(instrument, t s, source, event, direction, move %)."""
    r = np.zeros(len(rows), REPORT_DTYPE)
    for k, (i, t, src, ev, d, mv) in enumerate(rows):
        r[k] = (START + int(t * SEC), i, src, ev, d, 1, mv)
    return r


def make(
    stories=None, reps=None, market: MarketConfig | None = None, seed: int = 3, n: int = 4, **cfg
) -> ExchangeSimulator:
    return ExchangeSimulator(
        default_instruments(n),
        stories,
        SimConfig(start_ns=START, market=market or MarketConfig(), **cfg),
        seed=seed,
        reports=reps,
        source_reliability=REL,
    )


def cns(oid: int, instrument: int, side: int, otype: int, qty: int, price: float, ts: int) -> np.ndarray:
    o = make_orders(1)
    o[0] = (oid, 0, 0, instrument, side, otype, qty, price, ts, 0)
    return o


def quote_path(sim: ExchangeSimulator) -> tuple[np.ndarray, ...]:
    s = sim.state
    return s.q_ts.copy(), s.q_bid.copy(), s.q_ask.copy(), s.q_cnt.copy()


# ---- the hidden value does not leak -------------------------------------------------------------------------

NEWS = reports(
    (2, 1.0, 1, 0, 1, 2.0), (2, 1.05, 2, 0, 1, 3.0), (3, 2.0, 3, 1, -1, 1.0), (2, 2.5, 1, 2, -1, 0.5)
)


@pytest.mark.parametrize(
    "other",
    [
        np.concatenate(
            [
                story(2, 1.0, -4.0, 20 * MS, sid=0),
                story(3, 2.0, 0.0, 0, False, sid=1),
                story(2, 2.5, 6.0, 1 * MS, sid=2),
            ]
        ),  # the reports were wrong about every story
        np.zeros(0, STORY_DTYPE),  # nothing was true
    ],
)
def test_mm_quotes_are_identical_whatever_the_hidden_truth_given_the_same_public_flow(other):
    flow = FlowConfig(informed_hz=0.0, taker_hz=3.0, requote_hz=2.0)  # no one who reads the fundamental
    truth = np.concatenate(
        [
            story(2, 1.0, 2.0, 20 * MS, sid=0),
            story(3, 2.0, -1.0, 5 * MS, sid=1),
            story(2, 2.5, -0.5, 1 * MS, sid=2),
        ]
    )
    a = make(truth, NEWS, MarketConfig(flow=flow))
    b = make(
        other,
        NEWS,
        MarketConfig(
            flow=flow,
        ),
    )
    for t in (START + SEC + 30 * MS, START + 4 * SEC):
        a.advance_to(t)
        b.advance_to(t)
    assert not np.allclose(a.fundamentals()[1:], b.fundamentals()[1:])  # the hidden worlds differ ...
    for x, y in zip(quote_path(a), quote_path(b), strict=True):  # ... the quotes do not
        assert np.array_equal(x, y, equal_nan=True)
    assert np.array_equal(a.trades(), b.trades())
    assert np.array_equal(a.mm_estimates(), b.mm_estimates(), equal_nan=True)
    assert a.stats()["competitor_orders"] > 0 and a.stats()["mm_news_updates"] > 0


def test_fundamental_volatility_does_not_reach_the_quotes_without_informed_flow():
    quiet = FlowConfig(informed_hz=0.0, taker_hz=2.0)
    a = make(market=MarketConfig(flow=quiet))
    b = make(market=MarketConfig(flow=FlowConfig(informed_hz=0.0, taker_hz=2.0, vol_per_sqrt_s=5e-3)))
    a.advance_to(START + 5 * SEC)
    b.advance_to(START + 5 * SEC)
    assert not np.array_equal(a.fundamentals(), b.fundamentals())
    assert np.array_equal(a.trades(), b.trades())
    for x, y in zip(quote_path(a), quote_path(b), strict=True):
        assert np.array_equal(x, y, equal_nan=True)


# ---- competitors ----------------------------------------------------------------------------------------------


def test_competitor_actions_are_identical_for_a_true_and_a_false_story_with_the_same_reports():
    flow = FlowConfig(informed_hz=0.0)
    rep = reports((2, 1.0, 1, 0, 1, 2.0), (2, 1.001, 2, 0, 1, 2.0))
    a = make(story(2, 1.0, 2.0, 30 * MS), rep, MarketConfig(flow=flow))
    b = make(story(2, 1.0, 0.0, 0, true=False), rep, MarketConfig(flow=flow))
    a.advance_to(START + 4 * SEC)
    b.advance_to(START + 4 * SEC)
    ta, tb = a.trades(), b.trades()
    ca, cb = ta[ta["taker_owner"] >= FIRST_COMPETITOR], tb[tb["taker_owner"] >= FIRST_COMPETITOR]
    assert ca.shape[0] > 0 and np.array_equal(ca, cb)
    assert a.stats()["competitor_orders"] == b.stats()["competitor_orders"]
    assert a.stats()["impacts"] == 1 and b.stats()["impacts"] == 0


def test_competitors_act_after_their_own_latency_on_their_own_estimates():
    comps = (Competitor("trusts-2", 7_000, 20_000.0, 0.3), Competitor("slow", 3 * MS, 20_000.0, 0.3))
    market = MarketConfig(flow=FlowConfig(informed_hz=0.0, taker_hz=0.1), competitors=comps, belief_noise=0.0)
    rep = reports((2, 1.0, 2, 0, -1, 1.0))  # source 2: reliability 0.55, confidence 0.1 < 0.3
    sim = ExchangeSimulator(
        default_instruments(3),
        None,
        SimConfig(start_ns=START, market=market),
        seed=1,
        reports=rep,
        source_reliability=np.array([0.5, 0.9, 0.8]),
    )  # the street trusts it
    sim.advance_to(START + 2 * SEC)
    tr = sim.trades()
    first = tr[tr["taker_owner"] == FIRST_COMPETITOR]
    second = tr[tr["taker_owner"] == FIRST_COMPETITOR + 1]
    assert first["ts_ns"].min() == START + SEC + 7_000 and np.all(first["side"][:1] == SIDE_SELL)
    assert second["ts_ns"].min() == START + SEC + 3 * MS
    quiet = ExchangeSimulator(
        default_instruments(3),
        None,
        SimConfig(start_ns=START, market=market),
        seed=1,
        reports=rep,
        source_reliability=np.array([0.5, 0.9, 0.55]),
    )
    quiet.advance_to(START + 2 * SEC)
    assert quiet.stats()["competitor_orders"] == 0  # the same report from a source it doubts: no trade


# ---- market maker: latency, refill delay, spreads -------------------------------------------------------------


def test_mm_reads_news_after_its_latency_never_at_the_impact():
    market = MarketConfig(
        flow=FlowConfig(informed_hz=0.0, taker_hz=0.01, requote_hz=0.01),
        competitors=(),
        mm_news_latency_ns=2 * MS,
        belief_noise=0.0,
    )
    sim = make(story(2, 1.0, 2.0, 1 * MS), reports((2, 1.0, 1, 0, 1, 2.0)), market, md_latency_ns=0)
    sim.advance_to(START + SEC + 1 * MS)  # the impact: the hidden value moved, the quotes did not
    bid0, ask0, ts0 = sim.reference_quotes(START + SEC + 1 * MS)
    assert ts0[2] == START and sim.stats()["impacts"] == 1
    sim.advance_to(START + SEC + 2 * MS)
    bid1, ask1, ts1 = sim.reference_quotes(START + SEC + 2 * MS)
    assert ts1[2] == START + SEC + 2 * MS and bid1[2] > ask0[2]  # requoted when it read the report


def test_refill_waits_for_the_configured_delay():
    for refill in (250_000, 4 * MS):
        flow = FlowConfig(informed_hz=0.0, taker_hz=0.01, requote_hz=0.01, mm_refill_ns=refill)
        sim = make(market=MarketConfig(flow=flow, competitors=()), md_latency_ns=0, entry_latency_ns=0)
        t = START + SEC
        sim.advance_to(t)
        sim.submit(cns(1, 2, SIDE_BUY, ORDER_MARKET, 10**6, 0.0, t))  # sweeps the whole ask side
        sim.advance_to(t + refill - 1)
        assert np.isnan(sim.reference_quotes(t + refill - 1)[1][2])  # still empty
        sim.advance_to(t + refill)
        _, ask, ts = sim.reference_quotes(t + refill)
        assert ask[2] > 0 and ts[2] == t + refill and sim.stats()["refills"] == 1


def _spread_bp(sim: ExchangeSimulator, i: int, t: int) -> float:
    bid, ask, _ = sim.reference_quotes(t)
    return float((ask[i] - bid[i]) / (ask[i] + bid[i]) * 2e4)


def test_spread_widens_after_a_volatility_burst_and_relaxes_after():
    flow = FlowConfig(
        informed_hz=0.0, taker_hz=0.01, requote_hz=1.0, mm_vol_window_ns=2 * SEC, mm_vol_spread_mult=1.0
    )
    market = MarketConfig(flow=flow, competitors=(), belief_noise=0.0, mm_news_latency_ns=1_000)
    burst = reports(*[(2, 1.0 + 0.01 * k, 1, k, 1 if k % 2 == 0 else -1, 1.0) for k in range(10)])
    sim = make(None, burst, market, md_latency_ns=0)
    sim.advance_to(START + SEC - 1)
    calm, calm3 = _spread_bp(sim, 2, START + SEC - 1), _spread_bp(sim, 3, START + SEC - 1)
    sim.advance_to(START + SEC + 100 * MS)
    wide = _spread_bp(sim, 2, START + SEC + 100 * MS)
    assert wide > calm + 5.0  # ten ±1 % news moves in 0.1 s
    assert _spread_bp(sim, 3, START + SEC + 100 * MS) == calm3  # other names calm
    later = START + 15 * SEC
    sim.advance_to(later)
    assert _spread_bp(sim, 2, later) < wide / 5  # the memory decays (2 s): timed requotes quote tighter again


def test_inventory_widens_the_spread_and_skews_quotes_against_it():
    flow = FlowConfig(
        informed_hz=0.0,
        taker_hz=0.01,
        requote_hz=0.01,
        mm_flow_bp_per_lot=0.0,
        mm_vol_spread_mult=0.0,
        mm_inventory_skew_bp_per_lot=4.0,
        mm_inventory_spread_bp_per_lot=2.0,
        mm_refill_ns=1 * MS,
        mm_half_spread_bp=5.0,
    )
    sim = make(
        market=MarketConfig(flow=flow, competitors=()),
        md_latency_ns=0,
        entry_latency_ns=0,
        tick_bp=0.5,
        levels=1 << 14,
    )
    t, i = START + SEC, 1  # the index, priced 5000: ticks of 0.4 bp keep the rounding small
    sim.advance_to(t)
    bid0, ask0, _ = sim.reference_quotes(t)
    lot = int(sim.state.mm_qty[i])
    sim.submit(cns(1, i, SIDE_SELL, ORDER_MARKET, 3 * lot, 0.0, t))  # the market maker buys 3 lots
    sim.advance_to(t + 2 * MS)
    assert sim.positions()[OWNER_MARKET_MAKER, i] == 3 * lot
    bid1, ask1, _ = sim.reference_quotes(t + 2 * MS)
    assert sim.mm_estimates()[i] == sim.state.ref_px[i]  # no flow learning here: only inventory acts
    mid0, mid1 = 0.5 * (bid0[i] + ask0[i]), 0.5 * (bid1[i] + ask1[i])
    assert mid1 / mid0 - 1 == pytest.approx(-12e-4, abs=1e-4)  # centre skewed 3 x 4 bp down: it wants to sell
    f0 = flow.mm_half_spread_bp
    assert (ask0[i] - bid0[i]) / mid0 * 1e4 == pytest.approx(2 * f0, abs=1.0)
    assert (ask1[i] - bid1[i]) / mid1 * 1e4 == pytest.approx(
        2 * (f0 + 3 * 2.0), abs=1.0
    )  # 3 lots x 2 bp wider


def test_flow_moves_the_estimate_kyle_style_and_only_others_aggression_counts():
    flow = FlowConfig(informed_hz=0.0, taker_hz=0.01, requote_hz=0.01, mm_flow_bp_per_lot=8.0)
    sim = make(market=MarketConfig(flow=flow, competitors=()), md_latency_ns=0, entry_latency_ns=0)
    t = START + SEC
    sim.advance_to(t)
    est0, lot = sim.mm_estimates()[2], int(sim.state.mm_qty[2])
    sim.submit(cns(1, 2, SIDE_BUY, ORDER_MARKET, 2 * lot, 0.0, t))
    sim.advance_to(t + 1)
    assert sim.mm_estimates()[2] == pytest.approx(est0 * np.exp(16e-4))  # 2 lots x 8 bp


# ---- fees -----------------------------------------------------------------------------------------------------


def test_every_fill_pays_the_fee_schedule_and_pnl_is_net_of_it():
    fees = FeeSchedule(maker_bps=-0.2, taker_bps=0.5, maker_per_share=-0.001, taker_per_share=0.002)
    flow = FlowConfig(informed_hz=0.0, taker_hz=0.01, requote_hz=0.01)
    sim = make(market=MarketConfig(flow=flow, competitors=()), fees=fees, entry_latency_ns=0)
    t = START + SEC
    sim.advance_to(t)
    sim.submit(cns(1, 2, SIDE_BUY, ORDER_MARKET, 700, 0.0, t))
    rep = sim.advance_to(t + 1)
    fills = rep[(rep["kind"] == EXEC_FILL) | (rep["kind"] == EXEC_PARTIAL)]
    assert fills.shape[0] > 0 and np.all(fills["liquidity"] == LIQ_TAKER)
    want = fills["qty"] * (fills["price"] * 0.5e-4 + 0.002)
    assert fills["fee"] == pytest.approx(want)
    f = sim.fees()
    assert f["cns"]["paid"] == pytest.approx(want.sum()) and f["cns"]["rebates"] == 0.0
    assert f["market_maker"]["rebates"] == pytest.approx(
        (fills["qty"] * (fills["price"] * 0.2e-4 + 0.001)).sum()
    )
    cash = -(fills["qty"] * fills["price"]).sum() - want.sum()
    assert sim.book.cash[0] == pytest.approx(cash)
    assert SimConfig().fees == FeeSchedule.us_equities()  # the default schedule charges the taker
