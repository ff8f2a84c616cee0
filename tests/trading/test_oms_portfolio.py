from __future__ import annotations

import math

import numpy as np
import pytest

from cns.trading import OrderManager, Portfolio, StateError
from cns.venue.dtypes import (
    EXEC_ACK,
    EXEC_CANCELED,
    EXEC_DTYPE,
    EXEC_FILL,
    EXEC_PARTIAL,
    EXEC_REJECTED,
    ORDER_DTYPE,
    ORDER_LIMIT,
)

A, B = 1, 2


def setup(n=4):
    pf = Portfolio(n)
    return pf, OrderManager(pf)


def send(oms, instr, side, qty, price=100.0):
    o = np.zeros(1, ORDER_DTYPE)
    o["order_id"] = oms.id_counter[0]
    oms.id_counter[0] += 1
    o["instrument"], o["side"], o["qty"], o["price"], o["type"] = instr, side, qty, price, ORDER_LIMIT
    oms.book_open(o)
    oms.submit(o)
    return int(o["order_id"][0])


def rep(oid, kind, qty=0, leaves=0, price=0.0, owner=0, ts=1):
    e = np.zeros(1, EXEC_DTYPE)
    e["order_id"], e["kind"], e["qty"], e["leaves"], e["price"], e["owner"], e["ts_ns"] = (
        oid,
        kind,
        qty,
        leaves,
        price,
        owner,
        ts,
    )
    return e


def test_order_lifecycle_ack_partial_fill():
    pf, oms = setup()
    oid = send(oms, A, 1, 100)
    assert oms.state(oid) == "new" and oms.open_buy[A] == 100
    oms.apply(rep(oid, EXEC_ACK))
    assert oms.state(oid) == "acked"
    oms.apply(rep(oid, EXEC_PARTIAL, 40, 60, 10.0))
    assert oms.state(oid) == "partially_filled" and oms.open_buy[A] == 60 and pf.position[A] == 40
    oms.apply(rep(oid, EXEC_FILL, 60, 0, 11.0))
    assert oms.state(oid) == "filled" and oms.open_buy[A] == 0 and pf.position[A] == 100
    row = oms.order(oid)
    assert row["filled"] == 100 and row["avg_px"] == pytest.approx(10.6)
    assert pf.avg_cost[A] == pytest.approx(10.6)
    # reports after a terminal state are not applied twice
    oms.apply(rep(oid, EXEC_FILL, 60, 0, 11.0))
    assert pf.position[A] == 100 and oms.stats()["unknown"] == 1


def test_cancel_reject_release_open_quantity_and_foreign_reports_are_ignored():
    pf, oms = setup()
    c = send(oms, A, -1, 50)
    r = send(oms, B, 1, 30)
    oms.apply(
        np.concatenate(
            [
                rep(c, EXEC_PARTIAL, 20, 30, 5.0),
                rep(c, EXEC_CANCELED),
                rep(r, EXEC_REJECTED),
                rep(r, EXEC_FILL, 30, 0, 5.0, owner=7),
                rep(999, EXEC_ACK),
            ]
        )
    )
    assert oms.state(c) == "canceled" and oms.state(r) == "rejected"
    assert oms.open_sell[A] == 0 and oms.open_buy[B] == 0 and pf.position[A] == -20 and pf.position[B] == 0
    s = oms.stats()
    assert s["foreign"] == 1 and s["unknown"] == 1
    assert oms.state_counts()["canceled"] == 1 and oms.state_counts()["rejected"] == 1


def test_realised_unrealised_pnl_and_flip_through_zero():
    pf, oms = setup()
    b = send(oms, A, 1, 100)
    oms.apply(rep(b, EXEC_FILL, 100, 0, 10.0))
    s = send(oms, A, -1, 150)
    realised = oms.apply(rep(s, EXEC_FILL, 150, 0, 12.0))
    assert realised == pytest.approx(200.0) and pf.realized_total == pytest.approx(200.0)
    assert pf.position[A] == -50 and pf.avg_cost[A] == pytest.approx(12.0)
    mid = np.array([np.nan, 11.0, 0.0, 0.0])
    assert pf.mark(mid) == pytest.approx(50.0)  # short 50 from 12, marked at 11
    assert pf.day_pnl == pytest.approx(250.0)
    cover = send(oms, A, 1, 50)
    oms.apply(rep(cover, EXEC_FILL, 50, 0, 13.0))
    assert pf.position[A] == 0 and pf.realized_total == pytest.approx(150.0)
    st = pf.stats()
    assert st["closes"] == 2 and st["wins"] == 1 and st["losses"] == 1 and pf.hit_rate() == 0.5


def test_mark_keeps_last_good_value_when_mid_is_missing():
    pf, oms = setup()
    oms.apply(rep(send(oms, A, 1, 10), EXEC_FILL, 10, 0, 100.0))
    assert pf.mark(np.array([0.0, 101.0, 0, 0])) == pytest.approx(10.0)
    assert pf.mark(np.array([0.0, np.nan, 0, 0])) == pytest.approx(10.0)


def test_pnl_series_and_marked_hit_rate():
    pf, oms = setup()
    assert math.isnan(pf.hit_rate())
    oms.apply(rep(send(oms, A, 1, 10), EXEC_FILL, 10, 0, 100.0))
    oms.apply(rep(send(oms, B, -1, 10), EXEC_FILL, 10, 0, 50.0))
    mid = np.array([0.0, 102.0, 51.0, 0.0])
    for k in range(3000):
        pf.snapshot(k, mid)
    series = pf.pnl_series()
    assert len(series) == 3000 and series["unrealized"][-1] == pytest.approx(20.0 - 10.0)
    f = oms.filled_orders()
    assert Portfolio.marked_hit_rate(f["side"], f["avg_px"], f["instrument"], mid) == 0.5


def test_cancel_all_targets_open_orders_only():
    pf, oms = setup()
    a = send(oms, A, 1, 10)
    b = send(oms, B, 1, 10)
    oms.apply(rep(b, EXEC_FILL, 10, 0, 1.0))
    cancels = oms.cancel_all(5)
    assert cancels["target_id"].tolist() == [a] and cancels["qty"].tolist() == [10]
    assert cancels["order_id"][0] == oms.id_counter[0] - 1


def test_order_table_grows_and_rejects_foreign_ids():
    pf = Portfolio(4)
    oms = OrderManager(pf, capacity=16)
    ids = [send(oms, A, 1, 1) for _ in range(100)]
    assert oms.state(ids[-1]) == "new" and oms.state_counts()["new"] == 100
    o = np.zeros(1, ORDER_DTYPE)
    o["order_id"] = 10_000
    with pytest.raises(StateError):
        oms.submit(o)
    with pytest.raises(StateError):
        Portfolio(0)
