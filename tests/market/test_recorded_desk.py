"""The trading desk against a recorded day (cns.market.recorded_run): DeskConfig.exchange wiring."""

from __future__ import annotations

import numpy as np
import pytest

from cns.market.lobster import LobsterImportError
from cns.market.lobster_sample import sample_paths
from cns.market.recorded import RecordedExchange
from cns.market.recorded_data import load_lobster_book
from cns.market.recorded_run import load_recorded, recorded_desk_config, run_recorded
from cns.replay.desk import TradingDesk
from cns.trading.corroborate_kernels import ACTION_TRADE
from tests.replay.test_desk import AAPL, MSFT, SEC, START, config, decisions


def _decisions() -> np.ndarray:
    rows = [(10.0 + 90 * k, AAPL, 1 if k % 2 else -1, ACTION_TRADE) for k in range(16)]
    return decisions(*rows, (55.0, MSFT, 1, ACTION_TRADE))


def test_the_desk_trades_the_recorded_book_deterministically() -> None:
    day = load_recorded(",".join(map(str, sample_paths())))
    cfg = config(seconds=1800, hold_ns=60 * SEC)
    r1, info1 = run_recorded(cfg, [day], _decisions(), tickers=["AAPL"])
    r2, info2 = run_recorded(cfg, [day], _decisions(), tickers=["AAPL"])
    assert r1.orders > 16 and r1.fills > 0 and r1.exit_orders > 0
    assert np.array_equal(r1.pnl_usd, r2.pnl_usd) and (r1.realized, r1.fees) == (r2.realized, r2.fees)
    assert info1 == info2
    cmp = info1["trades"]["CNSX"]
    assert cmp["book_with_desk"] > 0 and cmp["recorded"]["trades"] > 0
    # MSFT has no recorded book, hence no quote: pre-trade risk drops its order (no reference price)
    assert r1.risk_rejects["reference"] >= 1
    assert r1.market["fees"]["cns"]["net"] == pytest.approx(r1.fees["net"])


def test_the_recorded_day_is_moved_onto_the_desk_timeline_and_priced_from_its_book() -> None:
    day = load_lobster_book(*sample_paths())
    cfg, notes = recorded_desk_config(config(seconds=60), [day], tickers=["AAPL"])
    desk = TradingDesk(cfg, 300)
    assert isinstance(desk.sim, RecordedExchange) and "AAPL <- " in notes[0]
    assert cfg.instruments[AAPL - 1].price == pytest.approx(day.opening_price_usd())
    desk.sim.advance_to(START + 60 * SEC)
    mid, _ = desk.sim.reference_prices(START + 60 * SEC)
    assert 580 < mid[AAPL] < 590 and np.isnan(mid[MSFT])


def test_a_book_for_a_ticker_outside_the_universe_is_refused() -> None:
    day = load_lobster_book(*sample_paths())
    with pytest.raises(LobsterImportError, match="CNSX"):
        recorded_desk_config(config(), [day])


def test_a_pass_with_stories_is_attributed_without_a_hidden_value() -> None:
    """Recorded markets have no fundamental: the attribution runs, its value-based parts are NaN."""
    import dataclasses

    from cns.market.dtypes import STORY_DTYPE

    day = load_lobster_book(*sample_paths())
    stories = np.zeros(2, STORY_DTYPE)
    stories["story_id"] = [0, 1]
    stories["instrument"] = AAPL
    stories["first_report_ns"] = [START + 5 * SEC, START + 300 * SEC]
    stories["impact_pct"] = [1.0, -1.0]
    stories["is_true"] = 1
    cfg = dataclasses.replace(config(seconds=900, hold_ns=60 * SEC), stories=stories)
    r, _ = run_recorded(cfg, [day], _decisions(), tickers=["AAPL"])
    assert r.attribution["entry_fills"] > 0 and np.isnan(r.attribution["entry_edge"])
    assert np.isfinite(r.realized) and np.isfinite(r.pnl_total)


def test_the_driver_hook_loads_book_arguments_and_notes_quarantined_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cns.market.recorded_run import desk_with_books

    msg, ob = sample_paths()
    bad = tmp_path / msg.name
    bad.write_text(msg.read_text() + "garbage line\n")
    obx = tmp_path / ob.name
    obx.write_text(ob.read_text() + ob.read_text().splitlines()[-1] + "\n")
    cfg, notes = desk_with_books(config(), [f"{bad},{obx}"], tickers=["AAPL"])
    assert cfg.exchange is not None
    assert any("quarantined" in n and "line 3008" in n for n in notes)
    with pytest.raises(LobsterImportError, match="tick size"):
        hdr = tmp_path / "feed.csv"
        hdr.write_text("id,timestamp,side,price,size,action\n1,1,b,10,1,add\n")
        desk_with_books(config(), [str(hdr)], tickers=["AAPL"])
