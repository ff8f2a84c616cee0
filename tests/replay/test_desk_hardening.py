"""The replay desk fails closed: its own config is checked at construction (every numeric field finite, in
range, of the right type) and the exit kernel never turns a non-finite bound or price into a share count."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cns.replay.desk import TradingDesk
from cns.trading.corroborate_kernels import ACTION_TRADE
from cns.trading.errors import ConfigError
from cns.venue.dtypes import ORDER_DTYPE, ORDER_IOC
from tests.replay.test_desk import AAPL, INSTRUMENTS, MSFT, SEC, START, config, decisions


def _plan(position_aapl: int, mid_aapl: float, exit_frac: float, max_qty: int, max_notional: float):
    """One due, filled AAPL entry of ``position_aapl`` shares; the exit the kernel plans for it."""
    from cns.replay.desk_kernels import plan_exits
    from cns.trading.oms_kernels import ORDER_STATE_DTYPE, OS_FILLED

    t, hold, retry, base = 10 * SEC, SEC, 100_000_000, 1
    table = np.zeros(1, ORDER_STATE_DTYPE)
    table[0]["state"], table[0]["side"], table[0]["instrument"] = OS_FILLED, 1, AAPL
    table[0]["qty"] = table[0]["filled"] = position_aapl
    table[0]["news_id"], table[0]["sent_ns"], table[0]["price"] = 7, 0, 100.0
    n1 = len(INSTRUMENTS) + 1
    position = np.zeros(n1, np.int64)
    position[AAPL] = position_aapl
    mid = np.full(n1, np.nan)
    mid[AAPL] = mid_aapl
    out = np.zeros(4, ORDER_DTYPE)
    _, nc, ne, _, next_exit = plan_exits(
        table,
        0,
        1,
        t,
        hold,
        retry,
        position,
        mid,
        np.zeros(n1, np.int64),
        np.zeros(2, np.int64),
        0,
        2,
        base,
        exit_frac,
        max_qty,
        max_notional,
        out,
    )
    return out[nc : nc + ne], next_exit - t


def test_exit_with_an_infinite_notional_cap_is_sized_by_the_position():
    exits, _ = _plan(300, 100.0, 0.001, 10_000, math.inf)
    assert len(exits) == 1 and int(exits["qty"][0]) == 300 and exits["type"][0] == ORDER_IOC


def test_exit_with_a_huge_notional_cap_is_capped_by_max_qty():
    exits, _ = _plan(300, 100.0, 0.001, 100, 1e300)
    assert int(exits["qty"][0]) == 100


@pytest.mark.parametrize(
    ("mid", "frac", "notional"),
    [
        (math.inf, 0.001, 1e6),  # an infinite mid: no price to send at
        (100.0, 1.5, 1e6),  # an exit price through zero
        (100.0, 1.0, 1e6),  # an exit price of zero
        (100.0, 0.001, math.nan),  # a NaN cap
        (100.0, 0.001, 50.0),  # a cap below one share
        (100.0, 0.001, -1e6),
    ],
)
def test_exit_that_cannot_be_priced_or_sized_is_no_order_and_is_retried(mid, frac, notional):
    exits, retry_in = _plan(300, mid, frac, 10_000, notional)
    assert len(exits) == 0 and retry_in == 100_000_000


def test_desk_with_an_infinite_notional_cap_still_unwinds():
    """The issue's symptom: with ``max_order_notional_usd = inf`` reaching the desk, every exit was a negative
    quantity the risk gate rejected and positions were never unwound."""
    desk = TradingDesk(config(hold_ns=SEC), 300)
    desk._max_notional = math.inf  # what a config with inf would hand the desk (the config refuses it now)
    desk.on_decisions(decisions((1.0, AAPL, 1, ACTION_TRADE), (1.5, MSFT, -1, ACTION_TRADE)))
    r = desk.finish()
    assert r.exit_orders >= 2 and r.risk_rejects["max_qty"] == 0
    assert np.all(desk.pipeline.portfolio.position == 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slice_ns", 0),
        ("slice_ns", -1),
        ("snapshot_ns", 0),
        ("snapshot_ns", 10),
        ("sample_every", 0),
        ("exit_retry_ns", 0),
        ("exit_retry_ns", -5),
        ("slice_ns", 1.5),
        ("sample_every", True),
        ("seed", -1),
        ("seed", "7"),
        ("end_ns", START - 1),
        ("start_ns", -1),
        ("slice_ns", 10**18),
        ("sample_every", 10**12),
    ],
)
def test_desk_config_rejects_bad_numbers_by_name(field, value):
    with pytest.raises(ConfigError, match=f"desk.{field}") as e:
        dataclasses.replace(config(), **{field: value})
    assert "\n" not in str(e.value)


def test_desk_config_revalidates_its_trading_config():
    cfg = config()
    with pytest.raises(ConfigError, match="desk.trading"):
        dataclasses.replace(cfg, trading="not a config")


def test_desk_rejects_a_bad_decision_latency():
    for bad in (-1, math.nan, 10**18, True):
        with pytest.raises(ConfigError, match="decision_latency_ns"):
            TradingDesk(config(), bad)  # type: ignore[arg-type]


def test_desk_config_defaults_pass():
    cfg = config()
    assert cfg.slice_ns == 1 and cfg.sample_every == 1 and cfg.snapshot_ns == SEC


def test_desk_config_refuses_more_snapshots_than_it_can_hold():
    with pytest.raises(ConfigError, match="desk.snapshot_ns"):
        dataclasses.replace(config(), end_ns=START + 10**9 * SEC)  # ~31 years of 1 s snapshots
    with pytest.raises(ConfigError, match="desk.end_ns"):
        dataclasses.replace(config(), end_ns=1 << 62)
