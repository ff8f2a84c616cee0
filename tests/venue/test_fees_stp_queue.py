"""Fees and rebates on every fill, self-trade prevention by owner, and passive orders with queue position."""

from __future__ import annotations

import numpy as np
import pytest

from cns.trading.portfolio import Portfolio
from cns.venue.book import FeeSchedule, OrderBook, make_orders
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    LIQ_MAKER,
    LIQ_NONE,
    LIQ_TAKER,
    ORDER_IOC,
    ORDER_LIMIT,
    REJECT_SELF_TRADE,
    STP_CANCEL_BOTH,
    STP_CANCEL_NEWEST,
    STP_CANCEL_OLDEST,
    STP_NONE,
)
from cns.venue.errors import VenueConfigError


def orders(*rows: tuple) -> np.ndarray:
    """(order_id, owner, side, type, qty, price) rows on instrument 1, times 1, 2, ..."""
    o = make_orders(len(rows))
    for k, (oid, owner, side, typ, qty, px) in enumerate(rows):
        o[k] = (oid, 0, owner, 1, side, typ, qty, px, k + 1, 0)
    return o


def fills(rep: np.ndarray) -> np.ndarray:
    return rep[(rep["kind"] == EXEC_FILL) | (rep["kind"] == EXEC_PARTIAL)]


def test_maker_and_taker_fees_bps_and_per_share_on_every_fill():
    fees = FeeSchedule(maker_bps=-0.5, taker_bps=1.0, maker_per_share=-0.002, taker_per_share=0.003)
    book = OrderBook([10.0], tick_sizes=[0.01], levels=64, fees=fees)
    rep = book.process(
        orders(
            (1, 1, -1, ORDER_LIMIT, 100, 10.0),
            (2, 1, -1, ORDER_LIMIT, 50, 10.01),
            (3, 0, 1, ORDER_IOC, 120, 10.01),
        )
    )
    f = fills(rep)
    taker, maker = f[f["owner"] == 0], f[f["owner"] == 1]
    assert np.all(taker["liquidity"] == LIQ_TAKER) and np.all(maker["liquidity"] == LIQ_MAKER)
    assert np.all(rep[rep["kind"] == EXEC_ACK]["liquidity"] == LIQ_NONE) and np.all(
        rep[rep["kind"] == EXEC_ACK]["fee"] == 0
    )
    want_t = taker["qty"] * (taker["price"] * 1e-4 + 0.003)
    want_m = maker["qty"] * (maker["price"] * -0.5e-4 - 0.002)
    assert taker["fee"] == pytest.approx(want_t) and maker["fee"] == pytest.approx(want_m)
    assert taker["fee"].sum() == pytest.approx(100 * (10.0 * 1e-4 + 0.003) + 20 * (10.01 * 1e-4 + 0.003))
    assert book.fees(0) == pytest.approx((want_t.sum(), 0.0))
    assert book.fees(1) == pytest.approx((0.0, -want_m.sum()))  # rebates earned, as a positive amount
    notional = 100 * 10.0 + 20 * 10.01
    assert book.cash(0) == pytest.approx(-notional - want_t.sum())
    assert book.cash(1) == pytest.approx(notional - want_m.sum())


def test_no_fees_by_default_for_a_bare_book():
    book = OrderBook([10.0], tick_sizes=[0.01], levels=64)
    rep = book.process(orders((1, 1, -1, ORDER_LIMIT, 10, 10.0), (2, 0, 1, ORDER_IOC, 10, 10.0)))
    assert np.all(rep["fee"] == 0) and book.fees(0) == (0.0, 0.0)


@pytest.mark.parametrize(
    "bad",
    [{"maker_bps": 101.0}, {"taker_per_share": float("nan")}, {"taker_bps": True}, {"maker_per_share": -2.0}],
)
def test_fee_schedule_is_validated(bad):
    with pytest.raises(VenueConfigError, match="FeeSchedule"):
        FeeSchedule(**bad)


# ---- self-trade prevention -----------------------------------------------------------------------------------


def _stp_book(mode: int) -> tuple[OrderBook, np.ndarray]:
    book = OrderBook([10.0], tick_sizes=[0.01], levels=64, stp=mode)
    # owner 1 rests 30 @ 10.00, then owner 0 rests 40 @ 10.00 behind it, then owner 0 buys 100 @ 10.01
    book.process(
        orders(
            (1, 1, -1, ORDER_LIMIT, 30, 10.0),
            (2, 0, -1, ORDER_LIMIT, 40, 10.0),
            (3, 2, -1, ORDER_LIMIT, 50, 10.01),
        )
    )
    return book, book.process(orders((9, 0, 1, ORDER_IOC, 100, 10.01)))


def test_stp_cancel_newest_is_the_default_and_cancels_the_incoming_remainder():
    book, rep = _stp_book(STP_CANCEL_NEWEST)
    assert OrderBook([10.0]).arrays.meta[5] == STP_CANCEL_NEWEST
    f = fills(rep)
    assert f[f["owner"] == 0]["qty"].sum() == 30  # traded with owner 1 only
    last = rep[-1]
    assert last["kind"] == EXEC_CANCELED and last["order_id"] == 9 and last["reason"] == REJECT_SELF_TRADE
    assert book.queue(1, 10.0, -1) == [(0, 2, 40)]  # its resting order stays
    assert book.position(0, 1) == 30 and book.stats()["stp_cancels"] == 1


def test_stp_cancel_oldest_cancels_the_resting_order_and_goes_on():
    book, rep = _stp_book(STP_CANCEL_OLDEST)
    canc = rep[rep["kind"] == EXEC_CANCELED]
    assert canc["order_id"].tolist() == [2] and canc["reason"].tolist() == [REJECT_SELF_TRADE]
    f = fills(rep)
    assert f[f["owner"] == 0]["qty"].sum() == 80  # 30 @ 10.00 from owner 1, then 50 @ 10.01 from owner 2
    assert rep[-1]["kind"] == EXEC_EXPIRED and book.queue(1, 10.0, -1) == []


def test_stp_cancel_both_and_none():
    book, rep = _stp_book(STP_CANCEL_BOTH)
    canc = rep[rep["kind"] == EXEC_CANCELED]
    assert canc["order_id"].tolist() == [2, 9] and np.all(canc["reason"] == REJECT_SELF_TRADE)
    assert book.stats()["stp_cancels"] == 2
    book, rep = _stp_book(STP_NONE)
    f = fills(rep)
    assert f[(f["owner"] == 0) & (f["liquidity"] == LIQ_TAKER)]["qty"].sum() == 100  # it traded with itself
    assert book.position(0, 1) == 30 + 30  # 40 of the 100 were with itself: no position change
    with pytest.raises(VenueConfigError, match="stp"):
        OrderBook([10.0], stp=7)


# ---- passive orders: queue position, fills when the queue ahead is consumed ----------------------------------


def test_resting_desk_order_keeps_its_place_and_fills_once_the_queue_ahead_is_consumed():
    fees = FeeSchedule.us_equities()
    book = OrderBook([10.0], tick_sizes=[0.01], levels=64, fees=fees)
    book.process(
        orders(
            (1, 1, 1, ORDER_LIMIT, 300, 9.99),
            (2, 2, 1, ORDER_LIMIT, 200, 9.99),
            (7, 0, 1, ORDER_LIMIT, 100, 9.99),
            (3, 1, 1, ORDER_LIMIT, 500, 9.99),
        )
    )
    assert book.shares_ahead(0, 7) == 500
    rep = book.process(orders((10, 3, -1, ORDER_IOC, 350, 9.99)))
    assert not np.any(rep["owner"] == 0)  # nothing reached the desk yet
    assert book.shares_ahead(0, 7) == 150
    rep = book.process(orders((11, 3, -1, ORDER_IOC, 200, 9.99)))
    mine = rep[rep["owner"] == 0]
    assert mine.shape[0] == 1 and mine[0]["kind"] == EXEC_PARTIAL and mine[0]["qty"] == 50
    assert mine[0]["leaves"] == 50 and mine[0]["liquidity"] == LIQ_MAKER
    assert mine[0]["fee"] == pytest.approx(-0.002 * 50)  # a maker rebate
    assert book.shares_ahead(0, 7) == 0
    rep = book.process(orders((12, 3, -1, ORDER_IOC, 60, 9.99)))
    mine = rep[rep["owner"] == 0]
    assert mine[0]["kind"] == EXEC_FILL and mine[0]["qty"] == 50 and mine[0]["leaves"] == 0
    assert book.shares_ahead(0, 7) == -1 and book.position(0, 1) == 100
    assert book.queue(1, 9.99, 1) == [(1, 3, 490)]  # the order behind the desk is next


def test_portfolio_books_fees_into_realised_pnl():
    fees = FeeSchedule(maker_per_share=-0.002, taker_per_share=0.003)
    book = OrderBook([10.0], tick_sizes=[0.01], levels=64, fees=fees)
    rep = book.process(
        orders(
            (1, 1, -1, ORDER_LIMIT, 100, 10.0),
            (2, 0, 1, ORDER_IOC, 100, 10.0),
            (3, 0, -1, ORDER_LIMIT, 40, 10.05),
            (4, 1, 1, ORDER_IOC, 40, 10.05),
        )
    )
    pf = Portfolio(3)
    net = pf.apply_fees(rep, 0)
    assert net == pytest.approx(100 * 0.003 - 40 * 0.002)
    assert pf.fees_paid[1] == pytest.approx(0.3) and pf.rebates_earned[1] == pytest.approx(0.08)
    assert pf.realized_total == pytest.approx(-net) and pf.fees_total == pytest.approx(net)
    assert pf.apply_fees(rep, 5) == 0.0  # another owner's reports
