"""DeskConfig.exchange: the desk trades against whatever venue the factory builds (cns.market.venue_api)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cns.market.exchange import ExchangeSimulator, SimConfig
from cns.market.venue_api import Exchange
from cns.replay.desk import TradingDesk
from cns.trading.corroborate_kernels import ACTION_TRADE
from cns.trading.errors import ConfigError
from tests.replay.test_desk import AAPL, INSTRUMENTS, MSFT, config, decisions


def test_the_default_simulator_satisfies_the_protocol():
    assert isinstance(ExchangeSimulator(INSTRUMENTS, None, SimConfig(), seed=1), Exchange)


def test_a_plugged_in_venue_is_built_per_pass_with_the_pass_latencies_and_traded_against():
    built: list[SimConfig] = []
    base = config(hold_ns=1_000_000_000)

    def factory(sim_cfg: SimConfig) -> Exchange:
        built.append(sim_cfg)
        return ExchangeSimulator(base.instruments, base.stories, sim_cfg, seed=base.seed)

    d = decisions((1.0, AAPL, 1, ACTION_TRADE), (1.5, MSFT, -1, ACTION_TRADE))
    plugged = TradingDesk(dataclasses.replace(base, exchange=factory), 300)
    plugged.on_decisions(d)
    r1 = plugged.finish()
    default = TradingDesk(base, 300)
    default.on_decisions(d)
    r0 = default.finish()
    assert len(built) == 1 and built[0].start_ns == base.start_ns
    assert built[0].md_latency_ns == default.latency.md_ns
    assert built[0].entry_latency_ns == default.latency.entry_ns
    assert (r1.orders, r1.fills, r1.realized, r1.unrealized) == (
        r0.orders,
        r0.fills,
        r0.realized,
        r0.unrealized,
    )
    assert np.array_equal(r1.pnl_usd, r0.pnl_usd)


def test_a_non_callable_exchange_is_a_config_error():
    with pytest.raises(ConfigError, match="desk.exchange"):
        dataclasses.replace(config(), exchange=42)
