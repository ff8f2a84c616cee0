"""The desk over news hours apart: the venue idles through the gap, the desk's snapshots of the idle market
are taken at once, and the trades are those of stepping every snapshot (cns.replay.desk)."""

from __future__ import annotations

import numpy as np

from cns.replay.desk import DeskConfig, TradingDesk
from cns.trading.corroborate_kernels import ACTION_TRADE
from tests.replay.test_desk import INSTRUMENTS, SEC, START, TICKERS
from tests.replay.test_desk import config as desk_config
from tests.replay.test_desk import decisions as desk_decisions

HOUR = 3600 * SEC


def config() -> DeskConfig:
    """The tiny market of :mod:`tests.replay.test_desk` over 7 h, the default 2 s hold."""
    return desk_config(seconds=7 * 3600.0, hold_ns=2 * SEC)


def decisions() -> np.ndarray:
    """Trades on every ticker at 1..3 s and again six hours later."""
    times = [1.0, 1.5, 2.0, 2.5, 3.0]
    return desk_decisions(
        *(
            (at, TICKERS.code(INSTRUMENTS[k % len(INSTRUMENTS)].ticker), 1 if k % 2 else -1, ACTION_TRADE)
            for k, at in enumerate(times + [6 * 3600 + t for t in times])
        )
    )


def run(frozen_reads: bool) -> tuple[TradingDesk, object]:
    desk = TradingDesk(config(), 300)
    desk._frozen_reads = frozen_reads
    desk.on_decisions(decisions())
    return desk, desk.finish()


def _collapsed(series: np.ndarray) -> np.ndarray:
    """The P&L values with runs of equal points reduced to one (the frozen path keeps their ends only)."""
    v = series["realized"] + series["unrealized"]
    keep = np.concatenate(([True], np.diff(v) != 0))
    return v[keep]


def test_an_idle_gap_is_skipped_with_the_same_trades():
    fast_desk, fast = run(True)
    slow_desk, slow = run(False)
    assert fast.venue["wakes"] >= 1 and fast.venue["idle_s"] > 5 * 3600
    for f in ("orders", "fills", "realized", "unrealized", "exit_orders", "venue", "market", "fees"):
        assert getattr(fast, f) == getattr(slow, f), f
    assert np.array_equal(fast.decisions, slow.decisions)
    assert np.array_equal(
        _collapsed(fast_desk.pipeline.portfolio.pnl_series()),
        _collapsed(slow_desk.pipeline.portfolio.pnl_series()),
    )
    # memory follows the active window: a handful of P&L points and spread samples for 7 h of 1 s snapshots
    n_points = len(fast_desk.pipeline.portfolio.pnl_series())
    assert n_points < 1000 < len(slow_desk.pipeline.portfolio.pnl_series())
    assert len(fast_desk._spreads) < 1000 and sum(fast_desk._spread_counts) == 7 * 3600 + 1
    assert fast.market["spread_bp"]["n"] == slow.market["spread_bp"]["n"]


def test_the_desk_announces_its_act_times_so_it_never_trades_an_idle_market():
    desk, r = run(True)
    assert r.orders > 10 and r.venue["late_orders"] == 0
    # both bursts traded on a market awake a minute before: each burst has fills
    t = desk.pipeline.oms.table[: int(desk.pipeline.oms.id_counter[0]) - desk.pipeline.oms.base_id]
    filled = t[t["filled"] > 0]
    assert np.any(filled["sent_ns"] < START + HOUR) and np.any(filled["sent_ns"] > START + 6 * HOUR)
