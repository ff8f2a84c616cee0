"""The latency model is an input: parsed and range-checked, drawn per decision from (seed, report id) only, and
the `[latency]` config section follows the config's fail-closed rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cns.errors import CNSError
from cns.replay.desk import TradingDesk
from cns.replay.latency import (
    QUANTILES,
    DecisionLatency,
    LatencyModel,
    LatencySpecError,
    parse_decision_latency,
    parse_duration,
)
from cns.trading.config import LatencyConfig, TradingConfig, config_from_dict
from cns.trading.corroborate_kernels import ACTION_TRADE
from cns.trading.errors import ConfigError
from tests.replay.test_desk import AAPL, MSFT, config, decisions


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("500ns", 500),
        ("2us", 2_000),
        ("2µs", 2_000),
        ("1.5ms", 1_500_000),
        ("100ms", 100_000_000),
        ("1s", 10**9),
        ("0", 0),
        (" 3 us ", 3_000),
    ],
)
def test_durations_parse(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    "text", ["inf", "nan", "-1us", "2", "1e3us", "2 parsecs", "", "2days", "1e400s", "us"]
)
def test_bad_durations_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(LatencySpecError, match="expected|between") as e:
        parse_duration(text)
    assert isinstance(e.value, CNSError) and "\n" not in str(e.value)


def test_decision_specs_round_trip() -> None:
    for spec in ("2us", "100ms", "1500ns", "lognormal:p50=2us,p99=20us", "lognormal:p50=1ms,p99=1ms"):
        d = parse_decision_latency(spec)
        assert parse_decision_latency(d.spec()) == d
    assert parse_decision_latency("constant:3us") == DecisionLatency(3_000)
    assert parse_decision_latency("lognormal:p99=20us,p50=2us") == DecisionLatency(2_000, 20_000)
    assert DecisionLatency(5, 5).constant and DecisionLatency(5, 5) == DecisionLatency(5)


@pytest.mark.parametrize(
    "spec",
    [
        "lognormal:p50=2us",
        "lognormal:p50=20us,p99=2us",
        "lognormal:p50=0,p99=2us",
        "gamma:k=2",
        "lognormal:p50=2us,p50=3us",
        "lognormal:p50=2us,p99=inf",
    ],
)
def test_bad_decision_specs(spec: str) -> None:
    with pytest.raises(LatencySpecError):
        parse_decision_latency(spec)


def test_lognormal_draws_are_a_function_of_seed_and_report_id_only() -> None:
    d = DecisionLatency(2_000, 20_000)
    ids = np.arange(1, 200_001, dtype=np.uint64)
    a = d.draw(ids, 7)
    assert a.dtype == np.int64 and np.array_equal(a, d.draw(ids, 7))
    # one decision's draw does not depend on which others exist or their order
    perm = np.random.default_rng(1).permutation(len(ids))
    assert np.array_equal(d.draw(ids[perm], 7), a[perm])
    assert np.array_equal(d.draw(ids[::7], 7), a[::7])
    assert not np.array_equal(d.draw(ids, 8), a)
    # the distribution: median and p99 as asked (the table's resolution is 1 / QUANTILES)
    assert abs(np.median(a) / 2_000 - 1) < 0.03 and abs(np.percentile(a, 99) / 20_000 - 1) < 0.05
    assert a.min() > 0 and QUANTILES >= 1 << 12
    # pinned bytes: a change of the draw (hash, table) changes every trading figure
    assert a[:5].tolist() == PINNED_FIRST_DRAWS


PINNED_FIRST_DRAWS = [534, 627, 1456, 929, 1715]


def test_constant_model_draws_the_constant() -> None:
    assert np.array_equal(DecisionLatency(1234).draw(np.arange(5, dtype=np.uint64), 3), np.full(5, 1234))


def test_latency_config_section_is_range_checked() -> None:
    cfg = config_from_dict({"latency": {"decision_ns": 5_000, "decision_p99_ns": 0, "return_ns": 1_000}})
    assert cfg.latency.decision_ns == 5_000 and cfg.latency.return_ns == 1_000
    for bad, key in (
        ({"decision_ns": -1}, "latency.decision_ns"),
        ({"md_ns": 11 * 10**9}, "latency.md_ns"),
        ({"feed_ns": 1.5}, "latency.feed_ns"),
        ({"entry_ns": True}, "latency.entry_ns"),
        ({"decision_ns": 10, "decision_p99_ns": 5}, "latency.decision_p99_ns"),
        ({"decision_ns": 0, "decision_p99_ns": 5}, "latency.decision_ns"),
        ({"slow_decision_ns": float("nan")}, "latency.slow_decision_ns"),
    ):
        with pytest.raises(ConfigError, match=key):
            config_from_dict({"latency": bad})
    with pytest.raises(ConfigError, match="latency.bogus"):
        config_from_dict({"latency": {"bogus": 1}})
    with pytest.raises(ConfigError, match="corroboration.strategy"):
        config_from_dict({"corroboration": {"strategy": "yolo"}})


def test_model_from_config_and_slow_baseline() -> None:
    lc = LatencyConfig(decision_ns=3_000, decision_p99_ns=30_000, slow_decision_ns=50_000_000, return_ns=7)
    m = LatencyModel.from_config(lc)
    assert m.decision == DecisionLatency(3_000, 30_000) and m.return_ns == 7
    slow = m.slow()
    assert slow.decision == DecisionLatency(50_000_000) and slow.return_ns == 7 and slow.md_ns == m.md_ns
    assert m.to_dict()["decision"] == "lognormal:p50=3us,p99=30us"


def test_desk_uses_the_model_hops() -> None:
    base = config()
    lc = LatencyConfig(decision_ns=300, decision_p99_ns=0, entry_ns=7_000, md_ns=9_000, return_ns=11_000)
    cfg = dataclasses.replace(base, trading=dataclasses.replace(TradingConfig(), latency=lc))
    desk = TradingDesk(cfg)
    assert desk.sim.config.entry_latency_ns == 7_000 and desk.sim.config.md_latency_ns == 9_000
    assert desk.latency.return_ns == 11_000 and desk.decision_latency_ns == 300
    desk.on_decisions(decisions((1.0, AAPL, 1, ACTION_TRADE), (1.5, MSFT, -1, ACTION_TRADE)))
    r = desk.finish()
    assert r.latency["decision"] == "300ns" and r.decision_latency_ns["p50"] == 300.0
    # an int overrides the decision hop only
    assert TradingDesk(cfg, 5_000).latency.md_ns == 9_000


def test_the_same_decision_is_acted_on_at_the_same_time_whatever_else_is_decided() -> None:
    """Per-decision draws: adding decisions does not move the act time of the others."""
    model = LatencyModel(DecisionLatency(2_000_000, 200_000_000))
    one = decisions((1.0, AAPL, 1, ACTION_TRADE))
    a = TradingDesk(config(hold_ns=0), model)
    a.on_decisions(one)
    two = decisions((1.0, AAPL, 1, ACTION_TRADE), (1.0005, MSFT, -1, ACTION_TRADE))
    b = TradingDesk(config(hold_ns=0), model)
    b.on_decisions(two)
    sent_a = a.pipeline.oms.table[0]["sent_ns"]
    rows_b = b.pipeline.oms.table[:2]
    assert sent_a in rows_b["sent_ns"].tolist()
