"""Exits are never throttled: a position-reducing order (opposite side, at most the position) skips the
duplicate check and the order-rate throttle, but never the kill switch (nor the price and size checks); an
order larger than the position is throttled like an entry."""

from __future__ import annotations

from tests.trading.test_risk import AAPL, NOW, SEC, Desk


def test_reducing_exits_skip_the_rate_throttle_but_still_count_in_it() -> None:
    d = Desk(max_orders_per_window=2, rate_window_ns=SEC, disabled_checks=("duplicate",))
    assert d.check(d.order(ts=NOW), d.order(ts=NOW + 1)) == ["accepted", "accepted"]
    assert d.check(d.order(ts=NOW + 2)) == ["rate"]  # an entry: throttled
    d.portfolio.position[AAPL] = 300
    d.oms.open_buy[AAPL] = 0
    # selling 100 of 300: strictly reducing, passes although the window is full
    assert d.check(d.order(side=-1, qty=100, ts=NOW + 3)) == ["accepted"]
    # larger than the position: it would go through zero, throttled like an entry
    assert d.check(d.order(side=-1, qty=400, ts=NOW + 4)) == ["rate"]
    assert d.check(d.order(side=-1, qty=300, ts=NOW + 5)) == ["accepted"]


def test_repeated_identical_exits_are_retries_not_duplicates() -> None:
    d = Desk(duplicate_window_ns=SEC)
    d.portfolio.position[AAPL] = -500
    a = d.check(d.order(side=1, qty=100, price=100.0, ts=NOW))
    b = d.check(d.order(side=1, qty=100, price=100.0, ts=NOW + 10))
    assert a == b == ["accepted"]
    # the same pair of entries on a flat instrument: the second one is a duplicate
    d2 = Desk(duplicate_window_ns=SEC)
    assert d2.check(d2.order(ts=NOW), d2.order(ts=NOW + 10)) == ["accepted", "duplicate"]


def test_the_kill_switch_stops_exits_too() -> None:
    d = Desk(max_orders_per_window=1, rate_window_ns=SEC)
    d.portfolio.position[AAPL] = 300
    d.gate.engage_kill_switch(NOW)
    assert d.check(d.order(side=-1, qty=100, ts=NOW + 1)) == ["kill_switch"]
    d.gate.release_kill_switch()
    assert d.check(d.order(side=-1, qty=100, ts=NOW + 2)) == ["accepted"]


def test_exits_still_pass_the_collar_and_size_checks() -> None:
    d = Desk(max_orders_per_window=1, rate_window_ns=SEC, collar_bps=100.0, max_order_qty=150)
    d.portfolio.position[AAPL] = 300
    assert d.check(d.order(side=-1, qty=100, price=90.0, ts=NOW)) == ["collar"]
    assert d.check(d.order(side=-1, qty=200, price=100.0, ts=NOW)) == ["max_qty"]
