"""The five news scenarios of issue 4 §3 as acceptance tests: data files in scenarios/, read with the real
JSON Lines reader, pushed through corroboration → signal → pre-trade risk → OMS."""

from __future__ import annotations

import dataclasses
import math

import pytest

from cns.signals.dtypes import KIND_CENTRAL_BANK, KIND_EARNINGS, KIND_MACRO, KIND_RUMOR, KIND_SUPPLY
from cns.trading import (
    ACTION_ALERT,
    ACTION_CONTINGENCY,
    ACTION_IGNORE,
    ACTION_MONITOR,
    ACTION_TRADE,
)
from cns.trading.signal import signal_params
from cns.trading.signal_kernels import order_quantity, signal_score
from cns.venue.dtypes import ORDER_IOC, ORDER_LIMIT, SIDE_BUY, SIDE_SELL
from tests.scenarios import builders


# ---- 1. flash crash ----------------------------------------------------------------------------------------
def test_flash_crash_consensus_triggers_protective_trade_sized_on_minus_3(run_file, scenario_config):
    run = run_file("1-flash-crash")
    trades = run.decisions[run.decisions["action"] == ACTION_TRADE]
    assert len(trades) == 1
    d = trades[0]
    assert d["kind"] == KIND_MACRO and run.ticker(int(d["ticker"])) == "SPX"
    assert d["n_agree"] == 3  # fires at the third credible agreeing report
    assert d["consensus"] == pytest.approx(-3.0, abs=0.05)  # the -10 % outlier is not in the consensus
    assert d["direction"] == -1
    assert len(run.orders) == 1
    o = run.orders[0]
    assert run.ticker(int(o["instrument"])) == "SPX" and o["side"] == SIDE_SELL and o["type"] == ORDER_IOC
    # sized on the 3 % consensus, not on the 10 % claim
    p = signal_params(scenario_config.signal)
    mid = run.mid[o["instrument"]]
    on_3 = order_quantity(min(abs(signal_score(KIND_MACRO, -1, 3.0, d["sentiment"], p)), 1.0), p[4], 1.0, mid)
    on_10 = order_quantity(
        min(abs(signal_score(KIND_MACRO, -1, 10.0, d["sentiment"], p)), 1.0), p[4], 1.0, mid
    )
    assert o["qty"] == on_3 and on_3 != on_10
    assert run.pipe.corroborator.stats()["low_credibility"] == 1


def test_flash_crash_two_credible_sources_do_not_trade(run_items):
    run = run_items(builders.flash_crash(n_credible=2))
    assert run.final_action() == ACTION_MONITOR
    assert len(run.orders) == 0


def test_flash_crash_low_credibility_alone_decides_nothing(run_items):
    run = run_items(builders.flash_crash(n_credible=0))
    assert len(run.decisions) == 0 and len(run.orders) == 0


# ---- 2. earnings beat --------------------------------------------------------------------------------------
def test_earnings_beat_confirmed_by_three_buys_and_ignores_outlier(run_file):
    run = run_file("2-earnings-beat")
    trades = run.decisions[run.decisions["action"] == ACTION_TRADE]
    assert len(trades) == 1
    d = trades[0]
    assert d["kind"] == KIND_EARNINGS and run.ticker(int(d["ticker"])) == "AAPL"
    assert d["n_agree"] == 3
    assert d["consensus"] == pytest.approx((3.14 + 3.14 + 3.13) / 3)  # 4.20 ignored
    assert d["surprise_pct"] == pytest.approx(100 * ((3.14 + 3.14 + 3.13) / 3 - 2.89) / 2.89)
    assert d["direction"] == 1
    assert len(run.orders) == 1 and run.orders[0]["side"] == SIDE_BUY
    assert run.ticker(int(run.orders[0]["instrument"])) == "AAPL"


def test_earnings_single_source_beat_above_20pct_is_not_trusted(run_items):
    run = run_items(builders.earnings_beat(credible_eps=(3.60,), outlier_eps=None))  # +24.6 % from one source
    assert len(run.decisions) == 0 and len(run.orders) == 0
    assert run.pipe.corroborator.stats()["untrusted"] == 1


def test_earnings_single_source_small_beat_is_monitored_not_traded(run_items):
    run = run_items(builders.earnings_beat(credible_eps=(3.14,), outlier_eps=None))  # +8.7 %
    assert run.final_action() == ACTION_MONITOR
    assert len(run.orders) == 0


def test_earnings_large_beat_confirmed_by_three_is_trusted(run_items):
    run = run_items(builders.earnings_beat(credible_eps=(3.60, 3.61, 3.60), outlier_eps=None))
    assert run.final_action() == ACTION_TRADE


def test_earnings_disagreeing_credible_sources_do_not_trade(run_items):
    run = run_items(builders.earnings_beat(credible_eps=(3.14, 2.70, 3.50), outlier_eps=None))
    assert run.final_action() == ACTION_MONITOR
    assert run.pipe.corroborator.stats()["disagree"] == 2


# ---- 3. supply disruption ----------------------------------------------------------------------------------
def test_supply_disruption_four_credible_adjusts_positions(run_file):
    run = run_file("3-supply-disruption")
    assert [int(a) for a in run.decisions["action"]] == [ACTION_MONITOR, ACTION_CONTINGENCY, ACTION_TRADE]
    assert (run.decisions["kind"] == KIND_SUPPLY).all()
    last = run.decisions[-1]
    assert last["n_sources"] == 4 and last["direction"] == -1
    assert run.pipe.corroborator.stats()["low_credibility"] == 2  # twitter (20) and zerohedge (40)
    adjust = run.orders[run.orders["type"] == ORDER_IOC]
    assert len(adjust) == 1 and adjust[0]["side"] == SIDE_SELL


@pytest.mark.parametrize(
    ("n", "expected", "order_type"),
    [
        (3, ACTION_CONTINGENCY, ORDER_LIMIT),
        (2, ACTION_MONITOR, None),
        (1, ACTION_MONITOR, None),
        (0, None, None),
    ],
)
def test_supply_disruption_tiers(run_items, n, expected, order_type):
    run = run_items(builders.supply_disruption(n_credible=n))
    assert run.final_action() == expected
    if order_type is None:
        assert len(run.orders) == 0
    else:
        assert len(run.orders) == 1 and run.orders[0]["type"] == order_type


# ---- 4. central-bank quote ---------------------------------------------------------------------------------
def test_central_bank_two_valid_direct_quotes_trade(run_file):
    run = run_file("4-central-bank-quote")
    trades = run.decisions[run.decisions["action"] == ACTION_TRADE]
    assert len(trades) == 1
    d = trades[0]
    assert d["kind"] == KIND_CENTRAL_BANK and d["ticker"] == 0 and d["n_sources"] == 2
    assert d["consensus"] == pytest.approx(5.50) and d["surprise_pct"] == pytest.approx(0.25)
    assert d["direction"] == -1  # hawkish against the 5.25 % expectation
    assert len(run.orders) == 1
    assert run.ticker(int(run.orders[0]["instrument"])) == "SPX" and run.orders[0]["side"] == SIDE_SELL
    s = run.pipe.corroborator.stats()
    assert s["stale"] == 1  # published 10 s before the first report
    assert s["low_credibility"] == 2  # marketwatch (80, not > 80) and bloomberg (no direct-quote flag)


def test_central_bank_one_valid_quote_does_not_trade(run_items):
    run = run_items(builders.central_bank_quote(n_valid=1))
    assert run.final_action() == ACTION_MONITOR and len(run.orders) == 0


def test_central_bank_three_valid_quotes_trade_once(run_items):
    run = run_items(builders.central_bank_quote(n_valid=3))
    assert int((run.decisions["action"] == ACTION_TRADE).sum()) == 1 and len(run.orders) == 1


# ---- 5. rumor storm ----------------------------------------------------------------------------------------
def test_rumor_storm_20pct_verified_is_monitored(run_file):
    run = run_file("5-rumor-storm")
    assert len(run.decisions) == 1
    d = run.decisions[0]
    assert d["kind"] == KIND_RUMOR and d["n_reports"] == 50
    assert d["verified_pct"] == pytest.approx(20.0)
    assert d["action"] == ACTION_MONITOR
    assert len(run.orders) == 0


@pytest.mark.parametrize(
    ("mainstream", "others", "expected"),
    [
        (10, 30, ACTION_MONITOR),  # 25 %
        (14, 26, ACTION_ALERT),  # 35 %
        (4, 36, ACTION_IGNORE),  # 10 %
        (6, 34, ACTION_MONITOR),  # exactly 15 %: not below the ignore threshold
    ],
)
def test_rumor_storm_verified_share_tiers(run_items, mainstream, others, expected):
    items = builders.rumor_storm(
        n_social=others * 3 // 4, n_blog=others - others * 3 // 4, n_mainstream=mainstream
    )
    run = run_items(items)
    assert len(run.decisions) == 1
    assert run.decisions[0]["verified_pct"] == pytest.approx(100 * mainstream / (mainstream + others))
    assert run.decisions[0]["action"] == expected


def test_thresholds_come_from_config(run_items, scenario_config):
    """The same data under a stricter config: the flash crash needs 5 agreeing credible reports."""
    cfg = dataclasses.replace(
        scenario_config, corroboration=dataclasses.replace(scenario_config.corroboration, min_agreeing=5)
    )
    run = run_items(builders.flash_crash(n_credible=4), cfg)
    assert run.final_action() == ACTION_MONITOR and len(run.orders) == 0
    assert not math.isnan(run.decisions[-1]["consensus"])
    assert run.pipe.corroborator.stats()["qualified"] == 4  # all four counted, still short of the stricter 5
