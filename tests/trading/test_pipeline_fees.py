"""The pipeline books the venue's fees: ``on_execs`` applies the reports to the OMS and the fee of each of our
fills to realised P&L (paid > 0 lowers it, a rebate < 0 raises it), so day P&L and the daily-loss limit see
them; other owners' fees are not ours."""

from __future__ import annotations

import numpy as np
import pytest

from cns.signals.universe import source_dictionary, ticker_dictionary
from cns.trading import TradingConfig
from cns.trading.pipeline import TradingPipeline
from cns.venue.dtypes import EXEC_DTYPE, EXEC_FILL, LIQ_MAKER, LIQ_TAKER, ORDER_DTYPE, ORDER_LIMIT

TICK = ticker_dictionary()
AAPL = TICK.code("AAPL")


def _pipe_with_order(qty: int) -> tuple[TradingPipeline, int]:
    pipe = TradingPipeline(TradingConfig(), source_dictionary(), TICK)
    o = np.zeros(1, ORDER_DTYPE)
    oid = int(pipe.oms.id_counter[0])
    pipe.oms.id_counter[0] += 1
    o["order_id"], o["instrument"], o["side"], o["qty"], o["price"], o["type"] = (
        oid,
        AAPL,
        1,
        qty,
        100.0,
        ORDER_LIMIT,
    )
    pipe.oms.submit(o)
    pipe.oms.book_open(o)
    return pipe, oid


def _fill(oid: int, qty: int, price: float, fee: float, liq: int, owner: int = 0) -> np.ndarray:
    e = np.zeros(1, EXEC_DTYPE)
    e["order_id"], e["owner"], e["instrument"], e["side"], e["kind"] = oid, owner, AAPL, 1, EXEC_FILL
    e["qty"], e["price"], e["fee"], e["liquidity"], e["ts_ns"] = qty, price, fee, liq, 1
    return e


def test_fees_and_rebates_reach_realised_pnl() -> None:
    pipe, oid = _pipe_with_order(100)
    booked = pipe.on_execs(_fill(oid, 100, 100.0, 0.30, LIQ_TAKER))
    pf = pipe.portfolio
    assert booked == pytest.approx(-0.30)
    assert pf.realized_total == pytest.approx(-0.30) and pf.fees_paid.sum() == pytest.approx(0.30)
    assert pf.day_pnl == pytest.approx(-0.30)
    pipe2, oid2 = _pipe_with_order(100)
    assert pipe2.on_execs(_fill(oid2, 100, 100.0, -0.20, LIQ_MAKER)) == pytest.approx(0.20)
    assert pipe2.portfolio.rebates_earned.sum() == pytest.approx(0.20)
    assert pipe2.portfolio.fees_total == pytest.approx(-0.20)


def test_other_owners_fees_are_not_ours() -> None:
    pipe, oid = _pipe_with_order(100)
    assert pipe.on_execs(_fill(oid, 100, 100.0, 0.30, LIQ_TAKER, owner=7)) == 0.0
    assert pipe.portfolio.realized_total == 0.0 and pipe.portfolio.fees_paid.sum() == 0.0
