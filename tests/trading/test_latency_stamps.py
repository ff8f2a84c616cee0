"""In-kernel per-event latency stamps (``lat_ns``) and the corroboration ``mask``: stamps land exactly on the
sampled events, are plausible, and change nothing the stages decide."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cns.bench.trading import T0, synthetic_news
from cns.signals.dtypes import KIND_HEARTBEAT, KIND_MACRO, empty_news
from cns.signals.universe import default_instruments, source_dictionary, ticker_dictionary
from cns.trading import ACTION_TRADE, DECISION_DTYPE, StateError, TradingConfig, TradingPipeline
from cns.trading.corroborate import Corroborator
from cns.trading.credibility import CredibilityTable
from cns.trading.oms import OrderManager
from cns.trading.portfolio import Portfolio
from cns.trading.risk import RiskGate
from cns.trading.signal import SignalGenerator

SRC = source_dictionary()
TICK = ticker_dictionary()
SEC = 1_000_000_000
ONE_SECOND_NS = 1_000_000_000


@pytest.fixture(scope="module")
def mix() -> np.ndarray:
    return synthetic_news(20_000, len(TICK), len(SRC) - 1, 10.0, np.random.default_rng(3))


@pytest.fixture(scope="module")
def mids() -> tuple[np.ndarray, np.ndarray]:
    mid = np.zeros(len(TICK))
    mid[1:] = [i.price for i in default_instruments()]
    return mid, np.full(len(TICK), T0, dtype=np.int64)


def corroborator(n_tickers: int = len(TICK)) -> Corroborator:
    cfg = TradingConfig()
    return Corroborator(cfg.corroboration, CredibilityTable.for_dictionary(SRC, cfg.credibility), n_tickers)


def sampled(n: int, every: int = 3) -> np.ndarray:
    lat = np.full(n, -1, dtype=np.int64)
    lat[::every] = 0
    return lat


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Field by field (structured arrays carry undefined padding bytes); NaN == NaN."""
    assert a.dtype == b.dtype and len(a) == len(b)
    for name in a.dtype.names or ():
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    if a.dtype.names is None:
        np.testing.assert_array_equal(a, b)
    return True


def assert_stamped(lat: np.ndarray, want: np.ndarray) -> None:
    """``want``: which entries were sampled (0) — they hold ns in [0, 1 s); the rest are still -1."""
    assert (lat[~want] == -1).all()
    s = lat[want]
    assert (s >= 0).all() and (s < ONE_SECOND_NS).all()
    assert len(s) == 0 or np.median(s) < 100_000  # a record/decision/order is ns to µs, even on a loaded box


def test_corroboration_stamps_exactly_the_sampled_records_and_changes_nothing(mix):
    plain_c = corroborator()
    plain = plain_c.process(mix)
    lat = sampled(len(mix))
    want = lat == 0
    stamped_c = corroborator()
    stamped = stamped_c.process(mix, lat_ns=lat)
    assert len(plain) > 100
    assert same(plain, stamped)
    assert plain_c.stats() == stamped_c.stats()
    assert_stamped(lat, want)
    assert (lat[want] > 0).any()  # the clock advances: not everything rounds to 0


def test_corroboration_stamps_survive_state_growth_mid_batch():
    rows = empty_news(6)
    rows["id"] = np.arange(1, 7)
    rows["source"] = [
        SRC.code(s) for s in ("reuters.com", "wsj.com", "ft.com", "cnbc.com", "reuters.com", "bloomberg.com")
    ]
    rows["kind"] = KIND_MACRO
    rows["move_pct"] = -3.0
    rows["n_tickers"] = 1
    rows["tickers"][:, 0] = [1, 1, 300, 300, 900, 900]  # the kernel stops twice to grow the state
    rows["publish_ns"] = T0 + np.arange(6)
    rows["receive_ns"] = rows["publish_ns"] + 1000
    lat = np.zeros(6, dtype=np.int64)
    c = corroborator(n_tickers=4)
    d = c.process(rows, lat_ns=lat)
    assert_stamped(lat, np.ones(6, dtype=bool))
    assert c.stats()["records"] == 6
    assert sorted(set(d["ticker"].tolist())) == [1, 300, 900]
    ref = corroborator(n_tickers=1024).process(rows)
    assert same(ref, d)


def test_mask_skips_records_as_if_they_were_not_there(mix):
    rng = np.random.default_rng(5)
    mask = rng.random(len(mix)) < 0.7
    masked_c = corroborator()
    lat = sampled(len(mix), every=2)
    want = lat == 0
    masked = masked_c.process(mix, mask=mask, lat_ns=lat)
    ref_c = corroborator()
    ref = ref_c.process(mix[mask])
    assert len(ref) > 50 and same(masked, ref)
    s, r = masked_c.stats(), ref_c.stats()
    assert s["masked"] == int((~mask).sum()) and s["records"] == len(mix) and r["masked"] == 0
    assert {k: v for k, v in s.items() if k not in ("masked", "records")} == {
        k: v for k, v in r.items() if k not in ("masked", "records")
    }
    assert_stamped(lat, want)  # masked-out records that were sampled get their (tiny) skip cost
    # uint8 masks work the same; an all-true mask is the same as none
    assert same(corroborator().process(mix, mask=mask.astype(np.uint8)), ref)
    assert same(corroborator().process(mix, mask=np.ones(len(mix), bool)), corroborator().process(mix))


def test_masked_out_records_are_not_read():
    bad = empty_news(3)
    bad["kind"] = KIND_MACRO
    bad["source"] = 10_000_000  # beyond every table
    bad["n_tickers"] = 200  # corrupt
    bad["tickers"][:] = 4_000_000_000
    c = corroborator(n_tickers=4)
    assert len(c.process(bad, mask=np.zeros(3, dtype=bool))) == 0
    assert c._n_tickers == 4 and c.stats()["masked"] == 3 and c.stats()["reports"] == 0
    pipe = TradingPipeline(TradingConfig(), SRC, TICK)
    cred = pipe.corroborator.credibility
    mid = np.full(len(TICK), 50.0)
    step = pipe.on_news(bad, mid, np.full(len(TICK), T0, dtype=np.int64), T0, mask=np.zeros(3, dtype=bool))
    assert (
        len(step.decisions) == 0 and pipe.corroborator.credibility is cred
    )  # no rebuild for a masked source


def test_bad_stamp_and_mask_arrays_raise(mix):
    c = corroborator()
    with pytest.raises(StateError):
        c.process(mix[:10], lat_ns=np.zeros(10, dtype=np.int32))
    with pytest.raises(StateError):
        c.process(mix[:10], lat_ns=np.zeros(9, dtype=np.int64))
    with pytest.raises(StateError):
        c.process(mix[:10], mask=np.ones(9, dtype=bool))
    with pytest.raises(StateError):
        c.process(mix[:10], mask=np.ones(10, dtype=np.float64))
    with pytest.raises(StateError):
        SignalGenerator(TradingConfig().signal, TICK).orders(
            np.zeros(2, DECISION_DTYPE), np.zeros(3), lat_ns=np.zeros(1, dtype=np.int64)
        )


def _decisions(mix: np.ndarray) -> np.ndarray:
    d = corroborator().process(mix)
    d["action"][::4] = (
        ACTION_TRADE  # plenty of actionable ones; the rest stay as decided (many make no order)
    )
    return d


def test_signal_stamps_exactly_the_sampled_decisions_and_changes_nothing(mix, mids):
    mid, _ = mids
    d = _decisions(mix)
    cfg = TradingConfig().signal
    plain_g = SignalGenerator(cfg, TICK)
    plain = plain_g.orders(d, mid)
    lat = sampled(len(d), every=2)
    want = lat == 0
    stamped_g = SignalGenerator(cfg, TICK)
    stamped = stamped_g.orders(d, mid, lat)
    assert len(plain) > 100 and same(plain, stamped)
    assert plain_g.stats() == stamped_g.stats() and plain_g.next_order_id == stamped_g.next_order_id
    assert_stamped(lat, want)


def _gate_and_candidates(cfg, decisions: np.ndarray, mid: np.ndarray) -> tuple[RiskGate, np.ndarray]:
    oms = OrderManager(Portfolio(len(TICK)), capacity=1 << 16)
    cands = SignalGenerator(TradingConfig().signal, TICK, oms.id_counter).orders(decisions, mid)
    return RiskGate(cfg, TICK, oms), cands


def test_risk_stamps_exactly_the_sampled_candidates_and_changes_nothing(mix, mids):
    mid, _ = mids
    d = _decisions(mix)
    cfg = dataclasses.replace(TradingConfig().risk, max_orders_per_window=200)  # some rate rejects too
    plain_g, cands = _gate_and_candidates(cfg, d, mid)
    now = int(cands["ts_ns"].max())
    mid_ts = np.full(len(TICK), now, dtype=np.int64)
    acc, reasons = plain_g.check(cands, mid, mid_ts, now)
    lat = sampled(len(cands), every=2)
    want = lat == 0
    stamped_g, cands2 = _gate_and_candidates(cfg, d, mid)
    acc2, reasons2 = stamped_g.check(cands2, mid, mid_ts, now, lat_ns=lat)
    assert len(acc) > 10 and (reasons != 0).any()
    assert same(acc, acc2) and same(reasons, reasons2)
    assert (
        plain_g.rejections() == stamped_g.rejections() and plain_g.accepted_count == stamped_g.accepted_count
    )
    assert_stamped(lat, want)


def test_pipeline_threads_the_stamps_and_results_do_not_change(mix, mids):
    mid, mid_ts = mids
    cfg = TradingConfig()
    now = int(mix["receive_ns"].max())
    mid_ts = np.full(len(TICK), now, dtype=np.int64)
    plain_p = TradingPipeline(cfg, SRC, TICK)
    a = plain_p.on_news(mix, mid, mid_ts, now)
    a2 = plain_p.on_clock(mid, mid_ts, now, close_all=True)
    assert a.lat_signal is None and a.lat_risk is None
    lat = sampled(len(mix))
    want = lat == 0
    stamped_p = TradingPipeline(cfg, SRC, TICK)
    b = stamped_p.on_news(mix, mid, mid_ts, now, lat_news=lat)
    b2 = stamped_p.on_clock(mid, mid_ts, now, close_all=True, stamp=True)
    for x, y in ((a, b), (a2, b2)):
        for f in ("decisions", "candidates", "accepted", "reasons"):
            assert same(getattr(x, f), getattr(y, f)), f
    assert len(b.candidates) > 0 and len(b2.decisions) > 0  # rumor storms decide at the close
    assert_stamped(lat, want)
    for step in (b, b2):
        assert step.lat_signal is not None and len(step.lat_signal) == len(step.decisions)
        assert step.lat_risk is not None and len(step.lat_risk) == len(step.candidates)
        assert_stamped(step.lat_signal, np.ones(len(step.lat_signal), dtype=bool))
        assert_stamped(step.lat_risk, np.ones(len(step.lat_risk), dtype=bool))
    assert plain_p.stats() == stamped_p.stats()


def test_heartbeats_cost_little_and_stamps_are_corrected_for_clock_overhead():
    hb = empty_news(50_000)
    hb["kind"] = KIND_HEARTBEAT
    lat = np.zeros(len(hb), dtype=np.int64)
    corroborator().process(hb, lat_ns=lat)
    assert (lat >= 0).all()
    # a skipped heartbeat is a few ns of work: with the read overhead subtracted the median is tiny
    assert np.median(lat) < 200
