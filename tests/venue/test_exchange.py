"""ExchangeSimulator: latency, quotes seen through md latency, story impact, competitors, determinism.

The market model's information tests (no leak of the hidden value, refill delay, spreads, competitors that
read only reports) are in tests/market/test_market_model.py."""

from __future__ import annotations

import numpy as np
import pytest

from cns.market.dtypes import STORY_DTYPE
from cns.market.exchange import ExchangeSimulator, SimConfig
from cns.market.prices import FlowConfig
from cns.market.public import REPORT_DTYPE
from cns.market.sim import FIRST_COMPETITOR, Competitor, MarketConfig
from cns.signals.universe import default_instruments
from cns.venue.book import make_orders
from cns.venue.dtypes import EXEC_ACK, EXEC_FILL, EXEC_PARTIAL, ORDER_LIMIT, ORDER_MARKET, SIDE_BUY
from cns.venue.errors import OrderBatchError, ReservedOwnerError, SimClockError

START = 1_700_000_000_000_000_000
SEC = 1_000_000_000
QUIET = MarketConfig(flow=FlowConfig(requote_hz=0.2, taker_hz=0.2, informed_hz=0.2))
CREDIBLE = np.array([0.5, 0.95, 0.3])  # source 1: a wire; source 2: worse than a coin


def story(
    instrument: int, at_s: float, pct: float, delay_ns: int, true: bool = True, sid: int = 0
) -> np.ndarray:
    s = np.zeros(1, STORY_DTYPE)
    s["story_id"] = sid
    s["instrument"] = instrument
    s["first_report_ns"] = START + int(at_s * SEC)
    s["impact_pct"] = pct if true else 0.0
    s["impact_delay_ns"] = delay_ns
    s["is_true"] = true
    return s


def report(
    instrument: int, at_s: float, direction: int, move_pct: float, source: int = 1, event: int = 0
) -> np.ndarray:
    r = np.zeros(1, REPORT_DTYPE)
    r[0] = (START + int(at_s * SEC), instrument, source, event, direction, 1, move_pct)
    return r


def sim_with(stories=None, n=5, seed=1, market=QUIET, reports=None, rel=CREDIBLE, **cfg) -> ExchangeSimulator:
    return ExchangeSimulator(
        default_instruments(n),
        stories,
        SimConfig(start_ns=START, market=market, **cfg),
        seed=seed,
        reports=reports,
        source_reliability=rel,
    )


def cns_order(oid, instrument, side, otype, qty, price, ts):
    o = make_orders(1)
    o[0] = (oid, 0, 0, instrument, side, otype, qty, price, ts, 0)
    return o


def test_order_cannot_reach_the_venue_before_entry_latency():
    sim = sim_with(entry_latency_ns=30_000)
    sent = START + SEC
    sim.advance_to(sent)
    sim.submit(cns_order(7, 2, SIDE_BUY, ORDER_MARKET, 10, 0.0, sent))
    assert len(sim.advance_to(sent + 29_999)) == 0
    rep = sim.advance_to(sent + 30_000)
    assert rep[0]["kind"] == EXEC_ACK and rep[0]["ts_ns"] == sent + 30_000
    assert rep[-1]["kind"] == EXEC_FILL and rep[-1]["ts_ns"] == sent + 30_000
    assert sim.positions()[0, 2] == 10


def test_quotes_are_seen_md_latency_late():
    wide = MarketConfig(flow=FlowConfig(requote_hz=0.2, taker_hz=0.2, mm_half_spread_bp=20.0))
    sim = sim_with(entry_latency_ns=0, md_latency_ns=50_000, market=wide)
    t = START + 2 * SEC
    sim.advance_to(t)
    bid0, ask0, _ = sim.reference_quotes(t + 50_000)
    tick = sim.tick_sizes()[1]
    assert ask0[1] - bid0[1] > 2 * tick  # room to improve the bid
    sim.submit(cns_order(1, 1, SIDE_BUY, ORDER_LIMIT, 1, bid0[1] + tick, t))
    sim.advance_to(t + 60_000)
    bid, _, ts = sim.reference_quotes(t + 50_000 - 1)
    assert bid[1] == bid0[1]  # the change is not visible yet
    bid, _, ts = sim.reference_quotes(t + 50_000)
    assert bid[1] == pytest.approx(bid0[1] + tick) and ts[1] == t
    mid, ts2 = sim.reference_prices(t + 50_000)
    assert mid[1] == pytest.approx(0.5 * (bid[1] + ask0[1])) and ts2[1] == t
    assert np.isnan(mid[0]) and ts2[0] == 0
    assert sim.queue_position(0, 1) == 0
    with pytest.raises(SimClockError):
        sim.reference_quotes(t + 60_000 + 50_001)


def test_true_story_moves_the_fundamental_after_the_delay_and_the_mm_after_reading_the_report():
    delay = 300_000_000
    market = MarketConfig(flow=QUIET.flow, competitors=(), belief_noise=0.0, mm_news_latency_ns=1_000_000)
    sim = sim_with(
        story(3, 1.0, 5.0, delay), market=market, reports=report(3, 1.0, 1, 5.0), snapshot_ns=50_000_000
    )
    first = START + SEC
    sim.advance_to(first + 999_999)
    before, est0 = sim.fundamentals()[3], sim.mm_estimates()[3]
    sim.advance_to(first + 1_000_000)  # the market maker has read the report: it prices 0.9 of the claim
    assert sim.fundamentals()[3] == before
    assert sim.mm_estimates()[3] == pytest.approx(est0 * (1 + 0.9 * 0.05))
    assert sim.mark_prices()[3] == pytest.approx(est0 * 1.045, rel=2e-3)
    sim.advance_to(first + delay - 1)
    assert sim.fundamentals()[3] == pytest.approx(before, rel=1e-3)  # the hidden value has not moved yet
    sim.advance_to(first + delay)
    assert sim.fundamentals()[3] == pytest.approx(before * 1.05, rel=1e-3)
    sim.advance_to(first + delay + 200_000_000)
    ts, mid, fund = sim.snapshots()
    assert np.all(np.diff(ts) == 50_000_000) and mid.shape == fund.shape == (ts.shape[0], 6)
    assert fund[ts < first + delay, 3].max() < before * 1.01 < fund[ts > first + delay, 3].min()
    assert sim.stats()["mm_news_updates"] == 1 and sim.stats()["public_reports"] == 1


def test_without_reports_informed_flow_brings_the_hidden_value_into_prices():
    flow = FlowConfig(requote_hz=1.0, taker_hz=0.1, informed_hz=20.0)
    sim = sim_with(story(3, 1.0, 3.0, 1_000_000), market=MarketConfig(flow=flow, competitors=()))
    sim.advance_to(START + SEC + 2_000_000)
    mid0, fund = sim.mark_prices()[3], sim.fundamentals()[3]
    assert mid0 < fund * 0.98  # nobody has read anything: the quotes are where they were
    sim.advance_to(START + 6 * SEC)
    assert sim.mark_prices()[3] > fund * 0.993  # informed buying moved the market maker's estimate up
    assert sim.stats()["informed_orders"] > 0 and sim.positions()[1, 3] < 0


def test_false_story_moves_nothing():
    sim = sim_with(story(3, 1.0, 5.0, 100_000_000, true=False))
    sim.advance_to(START + 3 * SEC)
    assert sim.stats()["impacts"] == 0
    assert abs(sim.fundamentals()[3] / default_instruments(5)[2].price - 1) < 0.01


def test_competitors_trade_on_the_reports_faster_ones_get_better_prices():
    comps = tuple(Competitor(f"c{lat}", lat, 20_000.0, 0.5) for lat in (5_000, 50_000, 500_000, 5_000_000))
    market = MarketConfig(
        flow=QUIET.flow, competitors=comps, belief_noise=0.0, mm_news_latency_ns=100_000_000
    )
    sim = sim_with(story(3, 1.0, -3.0, 200_000_000), n=3, market=market, reports=report(3, 1.0, -1, 3.0))
    sim.advance_to(START + 5 * SEC)
    tr = sim.trades()
    avg = []
    for j, c in enumerate(comps):
        mine = tr[tr["taker_owner"] == FIRST_COMPETITOR + j]
        entry = mine[mine["ts_ns"] == START + SEC + c.latency_ns]
        assert entry.shape[0] > 0 and np.all(entry["side"] == -1)  # sells into bad news, at its latency
        avg.append(float((entry["price"] * entry["qty"]).sum() / entry["qty"].sum()))
    assert avg == sorted(avg, reverse=True)  # the faster seller got the higher average price
    assert avg[0] > avg[-1]
    pnl = sim.pnl()
    assert pnl[comps[0].name] > pnl[comps[-1].name]
    assert np.all(sim.positions()[FIRST_COMPETITOR:, 3] == 0)  # all flat after hold_ns


def test_only_the_competitor_with_a_low_bar_chases_a_thin_rumor():
    market = MarketConfig(
        flow=QUIET.flow,
        belief_noise=0.0,
        competitors=(Competitor("picky", 5_000, 10_000.0, 0.9), Competitor("eager", 5_000, 10_000.0, 0.15)),
    )
    rel = np.array([0.5, 0.95, 0.6])
    sim = sim_with(
        story(2, 1.0, 0.0, 0, true=False), market=market, reports=report(2, 1.0, 1, 2.0, source=2), rel=rel
    )
    sim.advance_to(START + 2 * SEC)
    owners = set(sim.trades()["taker_owner"].tolist())
    assert FIRST_COMPETITOR + 1 in owners and FIRST_COMPETITOR not in owners


def _run(seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    stories = np.concatenate([story(2, 1.0, 2.0, 100_000_000, sid=0), story(4, 1.5, 0.0, 0, True, sid=1)])
    reps = np.concatenate(
        [
            report(2, 1.0, 1, 2.0, event=0),
            report(2, 1.2, 1, 2.5, source=2, event=0),
            report(4, 1.5, -1, 1.0, event=1),
        ]
    )
    sim = sim_with(stories, seed=seed, market=MarketConfig(flow=FlowConfig(taker_hz=10.0)), reports=reps)
    for k in range(1, steps + 1):
        sim.advance_to(START + 3 * SEC * k // steps)
    return sim.trades(), sim.snapshots()[1]


def test_deterministic_for_a_seed_and_independent_of_stepping():
    a, ma = _run(5, 1)
    b, mb = _run(5, 37)
    assert a.shape[0] > 100
    assert np.array_equal(a, b) and np.array_equal(ma, mb, equal_nan=True)
    c, _ = _run(6, 1)
    assert not (a.shape == c.shape and np.array_equal(a, c))


def test_cns_resting_order_is_filled_by_background_flow_and_reported():
    sim = sim_with(market=MarketConfig(flow=FlowConfig(requote_hz=1.0, taker_hz=50.0), competitors=()), n=2)
    t = START + SEC
    sim.advance_to(t)
    bid, ask, _ = sim.reference_quotes(t)
    tick = sim.tick_sizes()[2]
    sim.submit(cns_order(11, 2, SIDE_BUY, ORDER_LIMIT, 50, bid[2] + tick, t))
    rep = sim.advance_to(t + 5 * SEC)
    fills = rep[(rep["kind"] == EXEC_FILL) | (rep["kind"] == EXEC_PARTIAL)]
    assert rep[0]["kind"] == EXEC_ACK and fills.shape[0] > 0
    assert np.all(rep["owner"] == 0) and np.all(np.diff(rep["ts_ns"]) >= 0)
    assert sim.positions()[0, 2] == fills["qty"].sum()


def test_invalid_api_use_raises():
    sim = sim_with()
    with pytest.raises(OrderBatchError):
        sim.submit(np.zeros(2))
    bad = cns_order(1, 2, SIDE_BUY, ORDER_MARKET, 1, 0.0, START)
    bad["owner"] = 1
    with pytest.raises(ReservedOwnerError, match="market_maker"):
        sim.submit(bad)
    sim.advance_to(START + SEC)
    with pytest.raises(SimClockError):
        sim.advance_to(START)


def test_late_orders_are_applied_now_never_early():
    sim = sim_with(entry_latency_ns=10_000)
    sim.advance_to(START + SEC)
    sim.submit(cns_order(3, 2, SIDE_BUY, ORDER_MARKET, 1, 0.0, START))  # stamped a second ago
    rep = sim.advance_to(START + SEC)
    assert rep.shape[0] > 0 and np.all(rep["ts_ns"] == START + SEC)
    assert sim.stats()["late_orders"] == 1


def test_buffers_grow_without_losing_events():
    """More trades and snapshots than the initial buffers hold; results independent of the stepping."""
    busy = MarketConfig(flow=FlowConfig(requote_hz=20.0, taker_hz=1000.0))

    def run(steps: int) -> ExchangeSimulator:
        sim = sim_with(n=30, market=busy, snapshot_ns=1_000_000)
        for k in range(1, steps + 1):
            sim.advance_to(START + 4 * SEC * k // steps)
        return sim

    a, b = run(1), run(13)
    ts, mid, _ = a.snapshots()
    assert ts.shape[0] == 4001 and np.all(np.diff(ts) == 1_000_000)  # > 1024 initial rows
    assert a.trades().shape[0] > 1 << 16  # > initial trade buffer
    assert np.array_equal(a.trades(), b.trades())
    assert np.array_equal(mid, b.snapshots()[1], equal_nan=True)
    assert a.stats()["trades"] == a.trades().shape[0] == a.stats()["matches"]


def test_market_maker_refills_after_its_delay_higher_after_a_buy_sweep():
    flow = FlowConfig(requote_hz=0.01, taker_hz=0.01, informed_hz=0.0, mm_refill_ns=1_000_000)
    market = MarketConfig(
        flow=flow,
        competitors=(Competitor("whale", 5_000, 1e7, 0.5),),
        belief_noise=0.0,
        mm_news_latency_ns=100_000_000,
    )
    sim = sim_with(
        story(3, 1.0, 3.0, 500_000_000), market=market, md_latency_ns=0, reports=report(3, 1.0, 1, 3.0)
    )
    hit = START + SEC + 5_000
    sim.advance_to(hit - 1)
    _, ask_before, _ = sim.reference_quotes(hit - 1)
    sim.advance_to(hit + 999_999)
    assert np.isnan(sim.reference_quotes(hit + 999_999)[1][3])  # the whale swept the whole ask ladder
    sim.advance_to(hit + 1_000_000)
    _, ask_after, ts = sim.reference_quotes(hit + 1_000_000)
    assert ts[3] == hit + 1_000_000 and ask_after[3] > ask_before[3]  # refilled after the delay, higher
    assert sim.stats()["refills"] == 1 and sim.stats()["mm_flow_updates"] == 1
