"""The replay's trading desk on a tiny market: entries, exits after the holding period, risk on exits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cns.market.dtypes import STORY_DTYPE
from cns.replay.desk import DeskConfig, TradingDesk
from cns.signals.universe import default_instruments, source_dictionary, ticker_dictionary
from cns.trading.config import TradingConfig
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE, DECISION_DTYPE

START = 1_700_000_000_000_000_000
SEC = 1_000_000_000
INSTRUMENTS = default_instruments(5)
TICKERS = ticker_dictionary(INSTRUMENTS)
AAPL, MSFT = TICKERS.code("AAPL"), TICKERS.code("MSFT")


def config(seconds: float = 6.0, hold_ns: int = SEC, **risk) -> DeskConfig:
    base = TradingConfig()
    # IOCs 50 bp through the mid: the default market's quiet spread (~10-15 bp) is wider than the desk's default
    # 5 bp entry / 10 bp exit, and these tests are about the desk's mechanics, which need fills
    cfg = dataclasses.replace(
        base,
        signal=dataclasses.replace(base.signal, hold_ns=hold_ns, aggress_bps=50.0, exit_aggress_bps=50.0),
        risk=dataclasses.replace(base.risk, **risk),
    )
    return DeskConfig(
        cfg,
        source_dictionary(),
        TICKERS,
        INSTRUMENTS,
        np.zeros(0, STORY_DTYPE),
        START,
        START + int(seconds * SEC),
        seed=3,
    )


def decisions(*rows: tuple[float, int, int, int]) -> np.ndarray:
    """(at seconds, ticker, direction, action) -> DECISION_DTYPE, sorted by time, strength 0.7."""
    d = np.zeros(len(rows), DECISION_DTYPE)
    for k, (at, ticker, direction, action) in enumerate(rows):
        d[k]["news_id"] = k + 1
        d[k]["ts_ns"] = d[k]["t0_ns"] = START + int(at * SEC)
        d[k]["ticker"] = ticker
        d[k]["action"] = action
        d[k]["direction"] = direction
        d[k]["size_basis"] = 5.0
    return d


def run(cfg: DeskConfig, d: np.ndarray) -> tuple[TradingDesk, object]:
    desk = TradingDesk(cfg, 300)
    desk.on_decisions(d)
    return desk, desk.finish()


def test_positions_are_flattened_after_the_holding_period_and_pnl_realised():
    desk, r = run(config(hold_ns=SEC), decisions((1.0, AAPL, 1, ACTION_TRADE), (1.5, MSFT, -1, ACTION_TRADE)))
    assert r.orders == 2 + r.exit_orders and r.exit_orders >= 2
    assert np.all(desk.pipeline.portfolio.position == 0)
    assert r.unrealized == 0.0 and r.realized != 0.0
    assert desk.pipeline.portfolio.stats()["closes"] >= 2
    # every exit was sent at or after entry + hold, at the slice or snapshot time it fell due
    t = desk.pipeline.oms.table[: int(desk.pipeline.oms.id_counter[0]) - 1]
    exits = t[(t["state"] != 0) & (t["news_id"] == 0)]
    assert np.all(exits["sent_ns"] >= START + int(1.0 * SEC) + SEC)


def test_hold_zero_keeps_positions_to_the_end():
    desk, r = run(config(hold_ns=0), decisions((1.0, AAPL, 1, ACTION_TRADE)))
    assert r.exit_orders == 0 and r.orders == 1
    # nothing closed: realised P&L is the fees alone
    assert desk.pipeline.portfolio.position[AAPL] > 0 and r.realized == pytest.approx(-r.fees["net"])


def test_exit_is_not_blocked_by_the_gross_limit_that_blocks_entries():
    # the first entry (70k USD) fits the gross limit, the second is rejected for it; the exit still goes out
    # (an exit while the book is *above* the limit, after a re-mark, is in tests/trading/test_risk.py)
    desk, r = run(
        config(hold_ns=SEC, max_gross_exposure_usd=75_000.0),
        decisions((1.0, AAPL, 1, ACTION_TRADE), (1.2, MSFT, 1, ACTION_TRADE)),
    )
    assert r.risk_rejects["gross_exposure"] >= 1
    assert r.exit_orders >= 1 and np.all(desk.pipeline.portfolio.position == 0)


def test_resting_contingency_order_is_canceled_when_due():
    desk, r = run(config(hold_ns=SEC), decisions((1.0, AAPL, 1, ACTION_CONTINGENCY)))
    t = desk.pipeline.oms.table[0]
    assert r.exit_cancels == 1
    assert desk.pipeline.oms.state(1) in ("canceled", "filled")
    assert desk.pipeline.oms.open_buy[AAPL] == 0
    assert desk.pipeline.portfolio.position[AAPL] == 0 or t["filled"] > 0


@pytest.mark.parametrize("latency_ns", [300, 100_000_000])
def test_deterministic(latency_ns: int):
    d = decisions((1.0, AAPL, 1, ACTION_TRADE), (1.1, MSFT, -1, ACTION_TRADE), (2.5, AAPL, -1, ACTION_TRADE))
    a = TradingDesk(config(), latency_ns)
    a.on_decisions(d)
    ra = a.finish()
    b = TradingDesk(config(), latency_ns)
    b.on_decisions(d)
    rb = b.finish()
    key = ("orders", "fills", "realized", "exit_orders")
    assert [getattr(ra, k) for k in key] == [getattr(rb, k) for k in key]


def _story(instrument: int, at_s: float, pct: float, delay_ns: int) -> np.ndarray:
    s = np.zeros(1, STORY_DTYPE)
    s["instrument"], s["impact_pct"], s["impact_delay_ns"], s["is_true"] = instrument, pct, delay_ns, 1
    s["first_report_ns"] = START + int(at_s * SEC)
    return s


@pytest.mark.parametrize("latency_ns", [300, 100_000_000])
def test_attribution_credits_reported_impacts_only_to_the_desk_that_was_in_first(latency_ns: int):
    from cns.market.public import REPORT_DTYPE
    from cns.replay.attribution import attribute

    stories = _story(AAPL, 1.0, 3.0, 50_000_000)
    rep = np.zeros(1, REPORT_DTYPE)  # the story's public report: a trusted source claims +3 %
    rep[0] = (START + SEC, AAPL, 1, 0, 1, 1, 3.0)
    cfg = dataclasses.replace(
        config(hold_ns=SEC), stories=stories, reports=rep, source_reliability=np.array([0.5, 0.95])
    )
    desk = TradingDesk(cfg, latency_ns)
    desk.on_decisions(decisions((1.0, AAPL, 1, ACTION_TRADE)))  # on the report; the impact is 50 ms later
    r = desk.finish()
    a = attribute(r, desk.sim, stories)
    assert a["entry_fills"] == 1 and a["exit_fills"] >= 1 and a["total"] == pytest.approx(r.pnl_total)
    assert a["exit_edge"] < 0  # the exit pays the spread against the fundamental
    if latency_ns == 300:  # at the venue 20 us later, before the market maker reprices (50 us): it earns it
        assert a["entry_edge"] < 0
        assert a["hold_informed"] > 0 and a["entries_with_reported_impact_pending"] == 1 and r.pnl_total > 0
    else:  # 100 ms late: the impact is in the price already
        assert a["hold_informed"] == 0.0
    assert abs(a["residual"]) < 0.2 * abs(a["total"]) + 50.0


def test_exit_kernel_plans_cancels_and_unwinds_and_stays_inside_the_table():
    from cns.replay.desk_kernels import plan_exits
    from cns.trading.oms_kernels import ORDER_STATE_DTYPE, OS_ACKED, OS_FILLED
    from cns.venue.dtypes import ORDER_CANCEL, ORDER_DTYPE, ORDER_IOC

    t, hold, retry, base = 10 * SEC, SEC, 100_000_000, 1
    table = np.zeros(4, ORDER_STATE_DTYPE)  # ids 1..6 handed out, only 4 rows: the kernel must stop at 4
    rows = [
        (OS_FILLED, 1, AAPL, 100, 100, 7, 0),
        (OS_ACKED, 1, MSFT, 50, 10, 8, 0),
        (OS_FILLED, -1, AAPL, 5, 5, 0, 0),
        (OS_FILLED, 1, AAPL, 30, 30, 9, t),
    ]
    for i, (state, side, ins, qty, filled, news, sent) in enumerate(rows):
        table[i]["state"], table[i]["side"], table[i]["instrument"] = state, side, ins
        table[i]["qty"], table[i]["filled"] = qty, filled
        table[i]["news_id"], table[i]["sent_ns"] = news, sent
        table[i]["price"] = 99.0
    n1 = len(INSTRUMENTS) + 1
    position = np.zeros(n1, np.int64)
    position[AAPL], position[MSFT] = 130, 10
    mid = np.full(n1, np.nan)
    mid[AAPL] = 100.0  # MSFT has no mid: its exit waits for the retry
    exit_ids = np.array([base + 2, 0], np.int64)  # a reported exit: no longer in flight
    out = np.zeros(8, ORDER_DTYPE)
    due_row, nc, ne, n_ids, next_exit = plan_exits(
        table,
        0,
        6,
        t,
        hold,
        retry,
        position,
        mid,
        np.zeros(n1, np.int64),
        exit_ids,
        1,
        7,
        base,
        0.001,
        1000,
        1e6,
        out,
    )
    assert (due_row, nc, ne, n_ids) == (3, 1, 1, 0)
    assert next_exit == t + retry  # MSFT still to do; the pending AAPL entry falls due later (t + hold)
    c, e = out[0], out[1]
    assert (c["type"], c["target_id"], c["order_id"], c["qty"], c["instrument"]) == (
        ORDER_CANCEL,
        base + 1,
        7,
        40,
        MSFT,
    )
    assert (e["type"], e["order_id"], e["instrument"], e["side"], e["qty"]) == (ORDER_IOC, 8, AAPL, -1, 100)
    assert e["price"] == 100.0 * (1.0 - 0.001) and e["ts_ns"] == c["ts_ns"] == t and e["news_id"] == 0


def test_order_stamping_kernel_matches_the_numpy_lookup():
    from cns.replay.desk_kernels import stamp_orders
    from cns.venue.dtypes import ORDER_DTYPE

    rng = np.random.default_rng(7)
    for _ in range(200):
        n, nc = int(rng.integers(1, 10)), int(rng.integers(1, 10))
        group = np.zeros(n, DECISION_DTYPE)
        group["news_id"] = rng.integers(1, 8, n)  # duplicates, and candidates for ids not in the group
        act = rng.integers(0, 100, n).astype(np.int64)
        cand = np.zeros(nc, ORDER_DTYPE)
        cand["news_id"] = rng.integers(0, 10, nc)
        t = int(rng.integers(0, 100))
        by_id = np.argsort(group["news_id"], kind="stable")
        k = np.searchsorted(group["news_id"][by_id], cand["news_id"])
        want = np.maximum(act[by_id[np.minimum(k, n - 1)]], t)
        stamp_orders(cand, group["news_id"], act, t)
        assert np.array_equal(cand["ts_ns"], want)
