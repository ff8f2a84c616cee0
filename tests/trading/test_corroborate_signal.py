"""Streaming corroboration (state across batches, windows, independence) and the signal stage."""

from __future__ import annotations

import numpy as np
import pytest

from cns.signals.dtypes import KIND_HEARTBEAT, KIND_MACRO, KIND_SUPPLY, empty_news
from cns.signals.universe import source_dictionary, ticker_dictionary
from cns.trading import (
    ACTION_MONITOR,
    ACTION_TRADE,
    DECISION_DTYPE,
    SignalGenerator,
    StateError,
    TradingConfig,
    TradingPipeline,
)
from cns.trading.corroborate import Corroborator
from cns.trading.credibility import CredibilityTable
from cns.venue.dtypes import SIDE_SELL

SRC = source_dictionary()
TICK = ticker_dictionary()
SEC = 1_000_000_000
T0 = 1_700_000_000 * SEC


def news(rows):
    """rows: (source, ticker codes, kind, move_pct, publish offset ns)."""
    r = empty_news(len(rows))
    for i, (src, tickers, kind, move, dt) in enumerate(rows):
        r[i]["id"] = i + 1
        r[i]["source"] = SRC.code(src)
        r[i]["tickers"][: len(tickers)] = tickers
        r[i]["n_tickers"] = len(tickers)
        r[i]["kind"] = kind
        r[i]["move_pct"] = move
        r[i]["publish_ns"] = T0 + dt
        r[i]["receive_ns"] = T0 + dt + 1000
    return r


def corroborator(**over):
    import dataclasses

    cfg = TradingConfig()
    c = dataclasses.replace(cfg.corroboration, **over)
    return Corroborator(c, CredibilityTable.for_dictionary(SRC, cfg.credibility), n_tickers=4)


CRASH = [
    ("reuters.com", [1], KIND_MACRO, -3.0, 0),
    ("bloomberg.com", [1], KIND_MACRO, -3.1, 100),
    ("wsj.com", [1], KIND_MACRO, -2.9, 200),
    ("ft.com", [1], KIND_MACRO, -3.0, 300),
]


def test_state_carries_across_batches_one_record_at_a_time():
    whole = corroborator().process(news(CRASH))
    c = corroborator()
    rec = news(CRASH)
    split = np.concatenate([c.process(rec[i : i + 1]) for i in range(len(rec))])
    for name in DECISION_DTYPE.names:
        np.testing.assert_array_equal(whole[name], split[name], err_msg=name)  # NaN == NaN here
    assert [int(a) for a in whole["action"]] == [ACTION_MONITOR, ACTION_TRADE]


def test_same_source_twice_is_not_independent():
    rows = [
        CRASH[0],
        ("reuters.com", [1], KIND_MACRO, -3.0, 50),
        ("reuters.com", [1], KIND_MACRO, -3.0, 60),
        CRASH[1],
    ]
    c = corroborator()
    d = c.process(news(rows))
    assert int(d["action"].max()) == ACTION_MONITOR
    assert c.stats()["duplicate_source"] == 2


def test_window_expiry_starts_a_new_cluster_and_stale_reports_are_dropped():
    rows = [
        CRASH[0],
        CRASH[1],
        ("wsj.com", [1], KIND_MACRO, -3.0, 3 * SEC),
        ("ft.com", [1], KIND_MACRO, -3.0, 0),
    ]
    c = corroborator(window_ns=SEC)
    d = c.process(news(rows))
    assert int(d["action"].max()) == ACTION_MONITOR  # 2 in the first window, 1 in the second
    s = c.stats()
    assert s["clusters"] == 2 and s["stale"] == 1


def test_multi_ticker_reports_count_for_each_ticker_and_heartbeats_are_skipped():
    rows = [
        (s, [1, 2], KIND_SUPPLY, np.nan, k * 10)
        for k, s in enumerate(("reuters.com", "wsj.com", "ft.com", "cnbc.com"))
    ]
    rows.append(("reuters.com", [1], KIND_HEARTBEAT, np.nan, 50))
    c = corroborator()
    d = c.process(news(rows))
    trades = d[d["action"] == ACTION_TRADE]
    assert sorted(trades["ticker"].tolist()) == [1, 2] and (trades["direction"] == -1).all()
    assert c.stats()["unclustered"] == 1


def test_state_grows_for_larger_ticker_codes():
    c = corroborator()
    rows = [(s, [450], KIND_MACRO, -3.0, k) for k, s in enumerate(("reuters.com", "wsj.com", "ft.com"))]
    d = c.process(news(rows))
    assert d["ticker"][-1] == 450 and d["action"][-1] == ACTION_TRADE


def test_bad_input_dtype_raises():
    with pytest.raises(StateError):
        corroborator().process(np.zeros(3, dtype=np.float64))
    with pytest.raises(StateError):
        SignalGenerator(TradingConfig().signal, TICK).orders(
            np.zeros(1, DECISION_DTYPE), np.zeros(3, np.int64)
        )


def test_missing_reference_price_fails_closed_through_the_pipeline():
    pipe = TradingPipeline(TradingConfig(), SRC, TICK)
    mid = np.full(len(TICK), 50.0)
    mid_ts = np.full(len(TICK), T0, dtype=np.int64)
    mid[1] = np.nan  # SPX reference missing
    step = pipe.on_news(news(CRASH), mid, mid_ts, T0 + SEC // 2)
    assert len(step.candidates) == 1 and len(step.accepted) == 0
    assert pipe.risk.rejections()["reference"] == 1 and pipe.signal.stats()["no_reference"] == 1


def test_signal_sells_the_index_on_a_corroborated_crash():
    pipe = TradingPipeline(TradingConfig(), SRC, TICK)
    mid = np.full(len(TICK), 5000.0)
    mid_ts = np.full(len(TICK), T0, dtype=np.int64)
    step = pipe.on_news(news(CRASH), mid, mid_ts, T0 + SEC // 2)
    (o,) = step.accepted
    assert o["side"] == SIDE_SELL and o["instrument"] == 1 and o["price"] < 5000.0
    assert o["news_id"] == step.decisions[-1]["news_id"]
    cfg = TradingConfig().signal
    strength = cfg.surprise_weight * 3.0 / cfg.surprise_full_pct  # sentiment 0 in these synthetic records
    assert o["qty"] == int(strength * cfg.notional_usd / 5000.0)
