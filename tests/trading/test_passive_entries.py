"""Trade entries that rest (issue 8): ``signal.trade_order = "limit"`` sends a day limit at the trade price, which
rests with queue position when it does not fill at once; ``signal.trade_offset_bps`` prices it behind the mid.
The default (``"ioc"``, offset 0) is today's IOC byte for byte."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cns.market.dtypes import STORY_DTYPE
from cns.replay.desk import DeskConfig, TradingDesk
from cns.signals.universe import source_dictionary
from cns.trading import ConfigError, config_from_dict, load_config
from cns.trading.config import SignalConfig, TradingConfig
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE
from cns.trading.signal import SignalGenerator, signal_params
from cns.trading.signal_kernels import N_SIGNAL_PARAMS, SIGNAL_STAT_NAMES, decisions_to_orders
from cns.venue.book import FeeSchedule
from cns.venue.dtypes import (
    EXEC_CANCELED,
    EXEC_FILL,
    EXEC_PARTIAL,
    LIQ_MAKER,
    ORDER_DTYPE,
    ORDER_IOC,
    ORDER_LIMIT,
)
from tests.replay.test_desk import AAPL, INSTRUMENTS, MSFT, SEC, START, TICKERS, decisions

MIDS = np.full(len(TICKERS), np.nan)
MIDS[AAPL], MIDS[MSFT] = 187.33, 411.07
THREE = decisions(
    (1.0, AAPL, 1, ACTION_TRADE), (1.0, MSFT, -1, ACTION_TRADE), (1.0, AAPL, 1, ACTION_CONTINGENCY)
)


def field_bytes(a: np.ndarray) -> bytes:
    """The bytes of every field of ``a`` (the aligned dtype's padding is not data)."""
    return b"".join(a[name].tobytes() for name in a.dtype.names)


def orders(cfg: SignalConfig) -> np.ndarray:
    return SignalGenerator(cfg, TICKERS).orders(THREE, MIDS)


# ---- the signal kernel ---------------------------------------------------------------------------------------


def test_default_trade_orders_are_the_same_iocs_byte_for_byte():
    got = orders(SignalConfig())
    want = np.zeros(3, ORDER_DTYPE)
    want["order_id"] = [1, 2, 3]
    want["instrument"] = [AAPL, MSFT, AAPL]
    want["side"] = [1, -1, 1]
    want["type"] = [ORDER_IOC, ORDER_IOC, ORDER_LIMIT]
    want["qty"] = got["qty"]
    for k, (m, side, bps) in enumerate(((MIDS[AAPL], 1, 5.0), (MIDS[MSFT], -1, 5.0), (MIDS[AAPL], 1, -20.0))):
        want["price"][k] = m * (1.0 + side * bps * 1e-4)  # the formula before trade_order existed
    want["ts_ns"] = THREE["ts_ns"]
    want["news_id"] = THREE["news_id"]
    assert field_bytes(got) == field_bytes(want)
    assert SignalConfig().trade_order == "ioc" and SignalConfig().trade_offset_bps == 0.0


def test_limit_trade_orders_rest_at_the_same_price():
    ioc = orders(SignalConfig())
    lim = orders(SignalConfig(trade_order="limit"))
    assert list(lim["type"]) == [ORDER_LIMIT, ORDER_LIMIT, ORDER_LIMIT]
    same = ioc.copy()
    same["type"][:2] = ORDER_LIMIT
    assert field_bytes(lim) == field_bytes(same)  # only the type of the trade orders changed


def test_passive_trade_orders_are_priced_behind_the_mid():
    lim = orders(SignalConfig(trade_order="limit", aggress_bps=0.0, trade_offset_bps=2.0))
    assert list(lim["type"]) == [ORDER_LIMIT] * 3
    assert lim["price"][0] == MIDS[AAPL] * (1.0 - 2.0 * 1e-4) < MIDS[AAPL]  # a buy below the mid
    assert lim["price"][1] == MIDS[MSFT] * (1.0 + 2.0 * 1e-4) > MIDS[MSFT]  # a sell above it
    assert lim["price"][2] == orders(SignalConfig())["price"][2]  # contingency orders do not move


def test_at_the_mid():
    lim = orders(SignalConfig(trade_order="limit", aggress_bps=0.0))
    assert lim["price"][0] == MIDS[AAPL] and lim["price"][1] == MIDS[MSFT]


@pytest.mark.parametrize(
    ("n_params", "n_stats"), [(N_SIGNAL_PARAMS - 1, len(SIGNAL_STAT_NAMES)), (N_SIGNAL_PARAMS, 2), (0, 0)]
)
def test_kernel_refuses_short_parameter_and_counter_arrays(n_params, n_stats):
    p = signal_params(SignalConfig(trade_order="limit"))[:n_params].copy()
    out = np.zeros(4, ORDER_DTYPE)
    stats = np.zeros(n_stats, np.int64)
    next_id = np.ones(1, np.int64)
    assert decisions_to_orders(THREE, MIDS, AAPL, p, next_id, out, stats) == 0
    assert next_id[0] == 1 and not out.view(np.uint8).any() and not stats.any()


def test_hostile_offset_gives_an_unpriced_order_not_a_crash():
    g = SignalGenerator(SignalConfig(trade_order="limit", aggress_bps=0.0, trade_offset_bps=1.0), TICKERS)
    g._p[-1] = math.nan  # the offset
    o = g.orders(THREE[:1], MIDS)
    assert len(o) == 1 and math.isnan(o["price"][0])  # the risk gate's collar refuses it


# ---- configuration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"trade_order": "post"}, "signal.trade_order"),
        ({"trade_order": "LIMIT"}, "signal.trade_order"),
        ({"trade_order": 1}, "signal.trade_order"),
        ({"trade_order": True}, "signal.trade_order"),
        ({"trade_offset_bps": -1.0}, "signal.trade_offset_bps"),
        ({"trade_offset_bps": 6_000.0}, "signal.trade_offset_bps"),
        ({"trade_offset_bps": math.nan}, "signal.trade_offset_bps"),
        ({"trade_offset_bps": math.inf}, "signal.trade_offset_bps"),
        ({"trade_offset_bps": "2"}, "signal.trade_offset_bps"),
        # a passive price must rest, and is not combined with a price through the mid
        ({"trade_offset_bps": 2.0, "aggress_bps": 0.0}, "signal.trade_offset_bps"),
        ({"trade_offset_bps": 2.0, "trade_order": "limit"}, "signal.trade_offset_bps"),
    ],
)
def test_bad_values_are_refused_by_name(table, key):
    with pytest.raises(ConfigError, match=key) as e:
        config_from_dict({"signal": table})
    assert "\n" not in str(e.value)


def test_the_toml_loader_takes_the_new_keys(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[signal]\ntrade_order = "limit"\naggress_bps = 0\ntrade_offset_bps = 2.5\n')
    sig = load_config(p).signal
    assert (sig.trade_order, sig.aggress_bps, sig.trade_offset_bps) == ("limit", 0.0, 2.5)
    p.write_text('[signal]\ntrade_order = "resting"\n')
    with pytest.raises(ConfigError, match="signal.trade_order") as e:
        load_config(p)
    assert str(p) in str(e.value)
    assert config_from_dict({"signal": {"trade_order": "limit"}}).signal.aggress_bps == 5.0


# ---- end to end: the replay desk over the simulated exchange -------------------------------------------------


def desk_config(order: str, hold_ns: int, **signal: float) -> DeskConfig:
    base = TradingConfig()
    sig = dataclasses.replace(
        base.signal, hold_ns=hold_ns, trade_order=order, exit_aggress_bps=50.0, **signal
    )
    return DeskConfig(
        dataclasses.replace(base, signal=sig),
        source_dictionary(),
        TICKERS,
        INSTRUMENTS,
        np.zeros(0, STORY_DTYPE),
        START,
        START + 3 * SEC,
        seed=3,
        snapshot_ns=10_000_000,  # the exit pass runs at least every 10 ms
    )


def test_a_passive_entry_rests_fills_as_maker_and_the_rest_is_canceled_when_due():
    desk = TradingDesk(desk_config("limit", SEC // 10, aggress_bps=0.0, trade_offset_bps=2.0), 300)
    seen: list[np.ndarray] = []
    book = desk.pipeline.on_execs

    def spy(execs: np.ndarray) -> float:
        seen.append(execs.copy())
        return book(execs)

    desk.pipeline.on_execs = spy  # type: ignore[method-assign]
    desk.on_decisions(decisions((1.0, AAPL, 1, ACTION_TRADE)))
    entry = desk.pipeline.oms.table[0].copy()
    assert entry["type"] == ORDER_LIMIT and entry["news_id"] == 1
    arrive = int(entry["sent_ns"]) + desk.latency.entry_ns
    desk._advance(arrive + 1)  # at the venue, nothing else happened yet
    assert desk.sim.queue_position(0, 1) >= 0  # resting, with its place in the queue
    r = desk.finish()

    execs = np.concatenate(seen)
    mine = execs[(execs["owner"] == 0) & (execs["order_id"] == 1)]
    fills = mine[(mine["kind"] == EXEC_FILL) | (mine["kind"] == EXEC_PARTIAL)]
    assert len(fills) >= 1 and np.all(fills["ts_ns"] > arrive)  # filled later, not on arrival
    assert np.all(fills["liquidity"] == LIQ_MAKER)
    maker = FeeSchedule.us_equities()
    want_fee = fills["qty"] * (fills["price"] * maker.maker_bps * 1e-4 + maker.maker_per_share)
    assert np.allclose(fills["fee"], want_fee) and np.all(fills["fee"] < 0)  # the maker rebate
    assert np.all(fills["price"] <= entry["price"])
    # the hold exit canceled what still rested and unwound what had filled
    filled = int(fills["qty"].sum())
    assert 0 < filled < int(entry["qty"])
    assert r.exit_cancels == 1 and desk.pipeline.oms.state(1) == "canceled"
    assert (mine["kind"] == EXEC_CANCELED).sum() == 1
    assert r.exit_orders >= 1 and desk.pipeline.portfolio.position[AAPL] == 0
    assert desk.pipeline.oms.open_buy[AAPL] == 0
    assert r.fees["rebates"] == pytest.approx(-float(fills["fee"].sum()))


def test_the_default_ioc_entry_never_rests():
    desk = TradingDesk(desk_config("ioc", SEC // 10, aggress_bps=50.0), 300)
    desk.on_decisions(decisions((1.0, AAPL, 1, ACTION_TRADE)))
    entry = desk.pipeline.oms.table[0].copy()
    assert entry["type"] == ORDER_IOC
    desk._advance(int(entry["sent_ns"]) + desk.latency.entry_ns + 1)
    assert desk.sim.queue_position(0, 1) == -1
    r = desk.finish()
    assert r.exit_cancels == 0 and r.fees["rebates"] == 0.0
