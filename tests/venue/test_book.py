"""Order book kernels: explicit scenarios and a property test against the pure-Python reference book."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cns.venue.book import FeeSchedule, OrderBook, make_orders
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_EXPIRED,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    ORDER_CANCEL,
    ORDER_IOC,
    ORDER_LIMIT,
    ORDER_MARKET,
    REJECT_BOOK_FULL,
    REJECT_DUPLICATE_ID,
    REJECT_INSTRUMENT,
    REJECT_PRICE,
    REJECT_PRICE_BAND,
    REJECT_QTY,
    REJECT_SIDE,
    REJECT_TYPE,
    REJECT_UNKNOWN_ORDER,
)
from cns.venue.errors import OrderBatchError

from .reference_book import ReferenceBook

LEVELS = 64


def orders(*rows: dict) -> np.ndarray:
    o = make_orders(len(rows))
    for i, r in enumerate(rows):
        for k, v in {"ts_ns": i + 1, "instrument": 1, **r}.items():
            o[i][k] = v
    return o


def lim(oid, side, qty, price, owner=1, **kw):
    return {
        "order_id": oid,
        "owner": owner,
        "side": side,
        "type": ORDER_LIMIT,
        "qty": qty,
        "price": price,
        **kw,
    }


def kinds(rep):
    return [(int(r["order_id"]), int(r["kind"])) for r in rep]


@pytest.fixture
def book() -> OrderBook:
    return OrderBook([10.0, 50.0], tick_sizes=[0.01, 0.05], levels=LEVELS)


def test_partial_fill_then_rest(book):
    rep = book.process(orders(lim(1, -1, 100, 10.0), lim(2, 1, 150, 10.0, owner=0)))
    assert kinds(rep) == [(1, EXEC_ACK), (2, EXEC_ACK), (2, EXEC_PARTIAL), (1, EXEC_FILL)]
    taker = rep[2]
    assert taker["qty"] == 100 and taker["leaves"] == 50 and taker["price"] == pytest.approx(10.0)
    assert book.best(1)[:2] == (pytest.approx(10.0), 50)  # remainder rests as the new bid
    assert math.isnan(book.best(1)[2])
    assert book.position(0, 1) == 100 and book.position(1, 1) == -100
    assert book.cash(0) == pytest.approx(-1000.0)


def test_price_time_priority_and_queue_position(book):
    book.process(
        orders(
            lim(1, -1, 30, 10.01),
            lim(2, -1, 40, 10.0, owner=2),
            lim(3, -1, 50, 10.0),
            lim(4, -1, 60, 10.0, owner=3),
        )
    )
    assert [q[1] for q in book.queue(1, 10.0, -1)] == [2, 3, 4]
    assert book.shares_ahead(2, 2) == 0
    assert book.shares_ahead(1, 3) == 40
    assert book.shares_ahead(3, 4) == 90
    assert book.shares_ahead(1, 1) == 0  # alone at 10.01
    assert book.shares_ahead(1, 99) == -1
    rep = book.process(orders(lim(9, 1, 60, 10.01, owner=0)))  # best price first, then FIFO within it
    assert [(int(t["maker_id"]), int(t["qty"])) for t in book.trades()] == [(2, 40), (3, 20)]
    assert rep[-1]["kind"] == EXEC_PARTIAL and rep[-1]["leaves"] == 30
    assert book.shares_ahead(3, 4) == 30  # moved up as the queue ahead was filled


def test_cancel_frees_level_and_reports_target(book):
    book.process(orders(lim(1, 1, 10, 9.99), lim(2, 1, 10, 9.98)))
    rep = book.process(orders({"order_id": 50, "owner": 1, "type": ORDER_CANCEL, "target_id": 1, "side": 1}))
    assert kinds(rep) == [(1, EXEC_CANCELED)]
    assert rep[0]["price"] == pytest.approx(9.99) and rep[0]["leaves"] == 0
    assert book.best(1)[0] == pytest.approx(9.98)
    rep = book.process(orders({"order_id": 51, "owner": 1, "type": ORDER_CANCEL, "target_id": 1}))
    assert rep[0]["kind"] == EXEC_REJECTED and rep[0]["reason"] == REJECT_UNKNOWN_ORDER
    rep = book.process(orders({"order_id": 52, "owner": 7, "type": ORDER_CANCEL, "target_id": 2}))
    assert rep[0]["reason"] == REJECT_UNKNOWN_ORDER  # another owner cannot cancel it


def test_ioc_remainder_expires(book):
    book.process(orders(lim(1, -1, 30, 10.0), lim(2, -1, 30, 10.02)))
    rep = book.process(
        orders({"order_id": 3, "owner": 0, "side": 1, "type": ORDER_IOC, "qty": 100, "price": 10.01})
    )
    assert kinds(rep) == [(3, EXEC_ACK), (3, EXEC_PARTIAL), (1, EXEC_FILL), (3, EXEC_EXPIRED)]
    assert rep[-1]["leaves"] == 0
    assert math.isnan(book.best(1)[0])  # nothing rested
    assert book.best(1)[2:] == (pytest.approx(10.02), 30)


def test_market_order_walks_the_book(book):
    book.process(orders(lim(1, 1, 10, 9.99), lim(2, 1, 20, 9.97), lim(3, 1, 30, 9.95)))
    rep = book.process(orders({"order_id": 4, "owner": 0, "side": -1, "type": ORDER_MARKET, "qty": 45}))
    fills = [(float(r["price"]), int(r["qty"])) for r in rep if r["order_id"] == 4 and r["qty"] > 0]
    assert fills == [(pytest.approx(9.99), 10), (pytest.approx(9.97), 20), (pytest.approx(9.95), 15)]
    assert rep[-2]["kind"] == EXEC_FILL and rep[-2]["leaves"] == 0
    assert rep[-1]["order_id"] == 3 and rep[-1]["kind"] == EXEC_PARTIAL and rep[-1]["leaves"] == 15
    rep = book.process(orders({"order_id": 5, "owner": 0, "side": -1, "type": ORDER_MARKET, "qty": 100}))
    assert kinds(rep)[-1] == (5, EXEC_EXPIRED)
    assert sum(int(r["qty"]) for r in rep if r["order_id"] == 5) == 15


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (lim(1, 1, 0, 10.0), REJECT_QTY),
        (lim(1, 1, -5, 10.0), REJECT_QTY),
        (lim(1, 1, 10, float("nan")), REJECT_PRICE),
        (lim(1, 1, 10, -1.0), REJECT_PRICE),
        (lim(1, 1, 10, 1e6), REJECT_PRICE_BAND),
        (lim(1, 1, 10, 10.0, instrument=0), REJECT_INSTRUMENT),
        (lim(1, 1, 10, 10.0, instrument=3), REJECT_INSTRUMENT),
        (lim(1, 0, 10, 10.0), REJECT_SIDE),
        ({**lim(1, 1, 10, 10.0), "type": 9}, REJECT_TYPE),
    ],
)
def test_invalid_orders_are_rejected_not_raised(book, row, reason):
    rep = book.process(orders(row))
    assert len(rep) == 1 and rep[0]["kind"] == EXEC_REJECTED and rep[0]["reason"] == reason
    assert book.stats()["resting"] == 0


def test_duplicate_id_and_full_pool():
    small = OrderBook([10.0], tick_sizes=[0.01], levels=LEVELS, capacity=2)
    rep = small.process(orders(lim(1, 1, 1, 9.9), lim(1, 1, 1, 9.9), lim(2, 1, 1, 9.8), lim(3, 1, 1, 9.7)))
    assert [(int(r["kind"]), int(r["reason"])) for r in rep] == [
        (EXEC_ACK, 0),
        (EXEC_REJECTED, REJECT_DUPLICATE_ID),
        (EXEC_ACK, 0),
        (EXEC_ACK, 0),
        (EXEC_REJECTED, REJECT_BOOK_FULL),
    ]
    small.process(orders({"order_id": 9, "owner": 1, "type": ORDER_CANCEL, "target_id": 1}))
    assert small.process(orders(lim(3, 1, 1, 9.7)))[-1]["kind"] == EXEC_ACK  # slot was freed


def test_limit_prices_snap_toward_passive_side(book):
    book.process(orders(lim(1, 1, 5, 10.019), lim(2, -1, 5, 10.031)))
    assert book.best(1)[0] == pytest.approx(10.01) and book.best(1)[2] == pytest.approx(10.04)


def test_wrong_dtype_raises(book):
    with pytest.raises(OrderBatchError, match="ORDER_DTYPE"):
        book.process(np.zeros(3, np.int64))


def test_output_buffer_grows_for_large_sweeps(book):
    book.process(orders(*[lim(i, -1, 1, 10.0 + 0.01 * (i % 20)) for i in range(1, 3001)]))
    rep = book.process(orders({"order_id": 9000, "owner": 0, "side": 1, "type": ORDER_MARKET, "qty": 5000}))
    assert len(rep) == 1 + 2 * 3000 + 1 and rep[-1]["kind"] == EXEC_EXPIRED
    assert len(book.trades()) == 3000


# ---- property test against the reference model ------------------------------------------------------------

TICKS = [0.0, 0.01, 0.05]
REFS = [math.nan, 1.0, 20.0]


BAD_PRICES = (-1.0, 0.0, float("nan"), float("inf"))


@st.composite
def _order(draw, n_ids: int) -> dict:
    """Mostly valid orders on a narrow price range (so they cross and queue), some of every invalid kind."""
    dice = draw(st.lists(st.integers(0, 19), min_size=5, max_size=5))
    kind = dice[0]
    otype = (
        ORDER_LIMIT
        if kind < 12
        else ORDER_IOC
        if kind < 14
        else ORDER_MARKET
        if kind < 16
        else ORDER_CANCEL
        if kind < 19
        else 7
    )
    instrument = 1 if dice[1] < 12 else 2 if dice[1] < 18 else (0, 3)[dice[1] - 18]
    side = 0 if dice[2] == 0 else (1, -1)[dice[2] % 2]
    qty = draw(st.integers(-2, 0)) if dice[3] == 0 else draw(st.integers(1, 300))
    if dice[4] == 0:
        price: float | int = draw(st.sampled_from(BAD_PRICES))
    elif dice[4] == 1:
        price = draw(st.integers(-3, LEVELS + 3))  # anywhere, including outside the band
    else:
        price = draw(st.integers(28, 36))
    return {
        "order_id": draw(st.integers(1, n_ids)),
        "target_id": draw(st.integers(1, n_ids)),
        "owner": draw(st.integers(0, 2)),
        "instrument": instrument,
        "side": side,
        "type": otype,
        "qty": qty,
        "price": price,
        "offgrid": draw(st.booleans()),
    }


FEES = (-0.5, 1.5, -0.002, 0.003)  # maker bp, taker bp, maker USD/share, taker USD/share


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_order(40), min_size=5, max_size=120), st.sampled_from([0, 1, 2, 3]))
def test_kernel_matches_reference_book(raw, stp):
    fees = FeeSchedule(maker_bps=FEES[0], taker_bps=FEES[1], maker_per_share=FEES[2], taker_per_share=FEES[3])
    book = OrderBook(REFS[1:], tick_sizes=TICKS[1:], levels=LEVELS, fees=fees, stp=stp)
    b = book.arrays
    ref = ReferenceBook(list(b.tick), [int(x) for x in b.base_tick], LEVELS, stp=stp, fee=FEES)
    batch = make_orders(len(raw))
    for i, r in enumerate(raw):
        price = r["price"]
        if isinstance(price, int):  # a level: turn into a price of a valid instrument, maybe off the grid
            ins = r["instrument"] if r["instrument"] in (1, 2) else 1
            price = (int(b.base_tick[ins]) + price) * TICKS[ins] + (
                0.37 * TICKS[ins] if r["offgrid"] else 0.0
            )
        for k in ("order_id", "target_id", "owner", "instrument", "side", "type", "qty"):
            batch[i][k] = r[k]
        batch[i]["price"] = price
        batch[i]["ts_ns"] = 1000 + i
    got = book.process(batch)
    want = []
    for i in range(len(batch)):
        want += ref.process({k: batch[i][k].item() for k in batch.dtype.names})
    assert len(got) == len(want)
    for g, w in zip(got.tolist(), want, strict=True):
        assert g[:9] == w[:9] and g[10] == w[10]  # ids, kind, side, reason, liquidity, qty, leaves; time
        assert g[9] == w[9] or (math.isnan(g[9]) and math.isnan(w[9]))  # price
        assert g[11] == pytest.approx(w[11], rel=1e-12, abs=1e-12)  # fee
    cash = {o: 0.0 for o in range(3)}
    for t in ref.trades:  # (t, instr, side, qty, px, taker, maker, ...): cash net of fees
        _, _, side, q, px, tk, mk = t[:7]
        cash[tk] -= side * q * px + q * (px * FEES[1] * 1e-4 + FEES[3])
        cash[mk] += side * q * px - q * (px * FEES[0] * 1e-4 + FEES[2])
    for o in range(3):
        assert book.cash(o) == pytest.approx(cash[o], abs=1e-6)
    assert book.trades().tolist() == ref.trades
    event(
        f"trades: {min(len(ref.trades), 5)}+, rejects: {min(int((got['kind'] == EXEC_REJECTED).sum()), 3)}+"
    )
    for ins in (1, 2):  # same resting book, same FIFO order at every level
        lv = {k: book.queue(ins, (int(b.base_tick[ins]) + k) * TICKS[ins], 1) for k in range(LEVELS)}
        assert {k: v for k, v in lv.items() if v} == ref.resting(ins)
        bid, _, ask, _ = book.best(ins)
        rb = [k for k, q in ref.resting(ins).items() if q and ref.book[ins][k][0].side == 1]
        ra = [k for k, q in ref.resting(ins).items() if q and ref.book[ins][k][0].side == -1]
        assert (math.isnan(bid) and not rb) or bid == pytest.approx(ref.price(ins, max(rb)))
        assert (math.isnan(ask) and not ra) or ask == pytest.approx(ref.price(ins, min(ra)))
