"""Idle gaps cost nothing: between bursts of activity the simulated market stops drawing background flow and
wakes, warmed up, before the next known activity; the gap is summarised exactly (cns.market.sim_kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from cns.market.exchange import ExchangeSimulator, SimConfig
from cns.market.public import REPORT_DTYPE
from cns.signals.universe import default_instruments
from cns.venue.book import make_orders
from cns.venue.dtypes import ORDER_IOC, SIDE_BUY
from cns.venue.errors import VenueConfigError

SEC = 1_000_000_000
MIN = 60 * SEC
START = 1_700_000_000 * SEC
INSTRUMENTS = default_instruments(20)


def reports(times: np.ndarray) -> np.ndarray:
    r = np.zeros(len(times), REPORT_DTYPE)
    r["t_ns"] = times
    r["instrument"] = 1 + np.arange(len(times)) % len(INSTRUMENTS)
    r["source"] = 1
    r["event"] = np.arange(len(times))
    r["direction"] = 1
    r["move_pct"] = np.nan
    return r


def bursts(gap_ns: int) -> np.ndarray:
    """Two 5 s bursts of reports (one every 100 ms), ``gap_ns`` apart."""
    one = START + np.arange(0, 5 * SEC, 100_000_000, dtype=np.int64)
    return np.concatenate((one, one + gap_ns))


def sim(times: np.ndarray, seed: int = 3, **cfg: object) -> ExchangeSimulator:
    return ExchangeSimulator(
        INSTRUMENTS, None, SimConfig(start_ns=START, **cfg), seed=seed, reports=reports(times)
    )


def stats_without_idle(s: ExchangeSimulator) -> dict[str, object]:
    return {k: v for k, v in s.stats().items() if k not in ("idle_s", "wakes")}


def test_a_long_gap_costs_what_a_short_one_does():
    runs = {}
    for gap in (10 * MIN, 3 * 3600 * SEC):
        t = bursts(gap)
        s = sim(t)
        s.advance_to(int(t[-1]) + 30 * SEC)
        runs[gap] = s.stats()
    short, long = runs[10 * MIN], runs[3 * 3600 * SEC]
    assert long["wakes"] == short["wakes"] == 1
    # idle from a minute after the first burst to a minute before the second
    assert long["idle_s"] == pytest.approx(3 * 3600 - 5 - 120, abs=1.0)
    assert short["idle_s"] == pytest.approx(600 - 5 - 120, abs=1.0)
    # the same active time, so about the same work, whatever the gap
    assert long["orders"] == pytest.approx(short["orders"], rel=0.05)
    assert long["taker_orders"] == pytest.approx(short["taker_orders"], rel=0.05)
    never = sim(bursts(10 * MIN), idle_after_ns=0)
    never.advance_to(int(bursts(10 * MIN)[-1]) + 30 * SEC)
    assert never.stats()["wakes"] == 0 and never.stats()["orders"] > 2.5 * short["orders"]


def test_a_market_without_gaps_trades_exactly_as_one_that_never_idles():
    t = START + np.arange(0, 40 * SEC, 20 * SEC, dtype=np.int64)  # activity every 20 s: no gap of 2 minutes
    a, b = sim(t), sim(t, idle_after_ns=0)
    for s in (a, b):
        s.advance_to(START + 50 * SEC)
    assert a.stats()["wakes"] == 0 and a.stats()["idle_s"] == 0.0
    assert np.array_equal(a.trades(), b.trades())
    assert stats_without_idle(a) == stats_without_idle(b)


def test_the_market_does_not_depend_on_how_it_is_stepped():
    t = bursts(20 * MIN)
    end = int(t[-1]) + 10 * SEC
    one = sim(t)
    one.advance_to(end)
    many = sim(t)
    rng = np.random.default_rng(5)
    now = START
    while now < end:
        now = min(end, now + int(rng.exponential(30 * SEC)))
        many.advance_to(now)
    assert np.array_equal(one.trades(), many.trades())
    assert one.stats() == many.stats()
    assert np.array_equal(one.mm_estimates(), many.mm_estimates(), equal_nan=True)


def test_announced_activity_finds_the_market_awake_and_priced():
    s = sim(np.zeros(0, np.int64))
    act = START + 3600 * SEC
    s.expect_activity(np.array([act], np.int64))
    s.advance_to(act - 2 * MIN)
    assert s.idle
    s.advance_to(act - 30 * SEC)
    assert not s.idle and s.stats()["wakes"] == 1
    # after the wake-up the market maker's estimate is within the informed takers' edge of the hidden value
    edge = s.config.market.flow.informed_edge_bp * 1e-4
    gap = np.abs(s.mm_estimates()[1:] / s.fundamentals()[1:] - 1.0)
    assert np.all(gap <= edge + 0.01)
    s.advance_to(act + 2 * MIN)
    assert s.idle


def test_an_unannounced_order_wakes_the_market_when_it_arrives():
    s = sim(np.zeros(0, np.int64))
    s.advance_to(START + 3600 * SEC)
    assert s.idle and s.stats()["wakes"] == 0
    order = make_orders(1)
    order["order_id"], order["instrument"], order["side"], order["type"] = 1, 1, SIDE_BUY, ORDER_IOC
    order["qty"], order["price"], order["ts_ns"] = 10, 1.05 * INSTRUMENTS[0].price, START + 3600 * SEC
    s.submit(order)
    reports = s.advance_to(START + 3601 * SEC)
    assert s.stats()["wakes"] == 1 and s.stats()["external_orders"] == 1
    fills = reports[reports["qty"] > 0]
    assert len(fills) and np.all(np.abs(fills["price"] / s.fundamentals()[1] - 1.0) < 0.01)


def test_the_hidden_value_takes_its_exact_random_walk_over_a_gap():
    n = 400
    instruments = default_instruments(n)
    s = ExchangeSimulator(instruments, None, SimConfig(start_ns=START), seed=11)
    s.advance_to(START + 70 * SEC)  # idle from the opening's minute on
    assert s.idle
    before = s.fundamentals()[1:]
    s.expect_activity(np.array([START + 4 * 3600 * SEC], np.int64))
    s.advance_to(START + 4 * 3600 * SEC - MIN)  # the wake-up steps every fundamental once
    after = s.fundamentals()[1:]
    r = np.log(after / before)
    vol = s.config.market.flow.vol_per_sqrt_s
    dt = (4 * 3600 - 60) - 70  # s: from the last requote before the gap (within a second of it) to the wake
    assert np.std(r) == pytest.approx(vol * np.sqrt(dt), rel=0.15)
    assert abs(np.mean(r)) < 4 * vol * np.sqrt(dt / n)


def test_a_venue_that_keeps_no_tape_still_counts_its_trades():
    t = bursts(MIN)
    kept, counted = sim(t), sim(t, keep_tape=False)
    for s in (kept, counted):
        s.advance_to(int(t[-1]) + 10 * SEC)
    assert counted.stats() == kept.stats() and kept.stats()["trades"] == len(kept.trades()) > 0
    with pytest.raises(VenueConfigError, match="keep_tape"):
        counted.trades()


@pytest.mark.parametrize(
    "bad",
    [{"idle_after_ns": -1}, {"wake_before_ns": 1 << 60}, {"keep_tape": 1}, {"max_span_ns": 0}],
)
def test_bad_idle_settings_are_refused_by_name(bad: dict[str, object]):
    with pytest.raises(VenueConfigError, match=next(iter(bad))):
        SimConfig(start_ns=START, **bad)


def test_announcements_must_be_integer_times():
    s = sim(np.zeros(0, np.int64))
    with pytest.raises(VenueConfigError, match="expect_activity"):
        s.expect_activity(np.array([1.5]))
