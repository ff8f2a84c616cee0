"""Attribution splits the entry fills by the decision that made them: trade entries that rest as limits
(``signal.trade_order = "limit"``) count as trade fills, not contingency ones (cns.replay.attribution)."""

from __future__ import annotations

import dataclasses

import numpy as np

from cns.market.dtypes import STORY_DTYPE
from cns.replay.desk import DeskConfig, TradingDesk
from cns.signals.universe import default_instruments, source_dictionary, ticker_dictionary
from cns.trading.config import TradingConfig
from cns.trading.corroborate_kernels import ACTION_CONTINGENCY, ACTION_TRADE
from tests.replay.test_desk import decisions

START = 1_700_000_000_000_000_000
SEC = 1_000_000_000
INSTRUMENTS = default_instruments(5)
TICKERS = ticker_dictionary(INSTRUMENTS)


def run(trade_order: str) -> dict:
    base = TradingConfig()
    sig = dataclasses.replace(
        base.signal, trade_order=trade_order, aggress_bps=50.0, contingency_offset_bps=0.0, hold_ns=SEC
    )
    story = np.zeros(1, STORY_DTYPE)  # attribution needs the story table (here: one true story on AAPL)
    story["instrument"], story["first_report_ns"], story["impact_pct"], story["is_true"] = (
        1,
        START + SEC,
        1.0,
        1,
    )
    cfg = DeskConfig(
        dataclasses.replace(base, signal=sig),
        source_dictionary(),
        TICKERS,
        INSTRUMENTS,
        story,
        START,
        START + 4 * SEC,
        seed=3,
    )
    aapl, msft = TICKERS.code("AAPL"), TICKERS.code("MSFT")
    d = decisions(
        (1.0, aapl, 1, ACTION_TRADE),
        (1.2, msft, 1, ACTION_TRADE),
        (1.4, aapl, 1, ACTION_CONTINGENCY),
        (1.6, msft, 1, ACTION_CONTINGENCY),
    )
    desk = TradingDesk(cfg, 300)
    desk.on_decisions(d)
    return desk.finish().attribution


def test_resting_trade_entries_are_attributed_to_trades():
    ioc, limit = run("ioc"), run("limit")
    for a in (ioc, limit):
        assert a["trade"]["fills"] > 0
        assert a["trade"]["fills"] + a["contingency"]["fills"] == a["entry_fills"]
    assert limit["trade"]["fills"] >= ioc["trade"]["fills"] > 0
