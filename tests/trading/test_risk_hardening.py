"""The risk and signal kernels fail closed on their own, whatever reaches them: a NaN limit rejects the order
(never switches its check off), a malformed order never passes, a non-finite size never becomes a share count."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cns.trading.config import SignalConfig
from cns.trading.corroborate_kernels import ACTION_TRADE, DECISION_DTYPE
from cns.trading.risk_kernels import (
    RP_COLLAR,
    RP_COOLDOWN,
    RP_DAILY_LOSS,
    RP_DUP_WINDOW,
    RP_MAX_GROSS,
    RP_MAX_NOTIONAL,
    RP_MAX_POSITION,
    RP_MAX_QTY,
    RP_MAX_REF_AGE,
    RP_RATE_WINDOW,
)
from cns.trading.signal import SignalGenerator
from cns.trading.signal_kernels import P_MIN_STRENGTH, P_NOTIONAL, QTY_CAP, order_quantity
from tests.trading.test_risk import AAPL, MSFT, NOW, TICKERS, Desk


def _prime(d: Desk, param: int) -> list[np.ndarray]:
    """Orders that reach the check of ``param``: for duplicate/cool-down/rate an earlier accepted order first."""
    if param == RP_DUP_WINDOW:
        assert d.check(d.order()) == ["accepted"]
        return [d.order(ts=NOW + 1)]
    if param == RP_COOLDOWN:
        assert d.check(d.order(news_id=7)) == ["accepted"]
        return [d.order(news_id=7, qty=5, ts=NOW + 1)]
    if param == RP_RATE_WINDOW:
        assert d.check(d.order(qty=1)) == ["accepted"]
        return [d.order(qty=2, ts=NOW + 1)]
    return [d.order()]


@pytest.mark.parametrize(
    ("param", "reason"),
    [
        (RP_MAX_REF_AGE, "reference"),
        (RP_COLLAR, "collar"),
        (RP_MAX_QTY, "max_qty"),
        (RP_MAX_NOTIONAL, "max_notional"),
        (RP_DUP_WINDOW, "duplicate"),
        (RP_COOLDOWN, "cooldown"),
        (RP_MAX_POSITION, "position"),
        (RP_MAX_GROSS, "gross_exposure"),
        (RP_DAILY_LOSS, "daily_loss"),
        (RP_RATE_WINDOW, "rate"),
    ],
)
def test_a_nan_limit_rejects_instead_of_switching_the_check_off(param, reason):
    d = Desk(max_orders_per_window=1)
    orders = _prime(d, param)
    d.gate._p[param] = math.nan
    assert d.check(*orders, day_pnl=-1.0) == [reason]


def test_a_nan_day_pnl_blocks_all_but_risk_reducing_orders():
    d = Desk()
    d.portfolio.position[AAPL] = 300
    assert d.check(d.order(qty=10), d.order(side=-1, qty=100), day_pnl=math.nan) == ["daily_loss", "accepted"]


@pytest.mark.parametrize("qty", [0, -5, -(1 << 62)])
def test_a_non_positive_quantity_never_passes_even_with_the_size_checks_disabled(qty):
    d = Desk(disabled_checks=("max_qty", "max_notional", "position", "gross_exposure"))
    assert d.check(d.order(qty=qty), d.order(instr=MSFT)) == ["max_qty", "accepted"]
    assert d.oms.open_buy[AAPL] == 0


@pytest.mark.parametrize("price", [math.nan, math.inf, 0.0, -100.0])
def test_a_bad_limit_price_never_passes_even_with_the_price_checks_disabled(price):
    d = Desk(disabled_checks=("collar", "max_notional", "position", "gross_exposure"))
    assert d.check(d.order(price=price), d.order(instr=MSFT)) == ["collar", "accepted"]


def test_order_quantity_never_converts_a_non_finite_size():
    assert order_quantity(1.0, math.inf, 1.0, 100.0) == QTY_CAP  # clamped, then the risk gate's max_qty
    assert order_quantity(1.0, 1e300, 1.0, 1e-300) == QTY_CAP
    assert order_quantity(1.0, math.nan, 1.0, 100.0) == 0
    assert order_quantity(math.nan, 1e5, 1.0, 100.0) == 0
    assert order_quantity(1.0, -1e5, 1.0, 100.0) == 0
    for bad_mid in (math.nan, math.inf, 0.0, -1.0):
        assert order_quantity(1.0, 1e5, 1.0, bad_mid) == 0
    assert order_quantity(0.5, 100_000.0, 1.0, 100.0) == 500


def _decision() -> np.ndarray:
    d = np.zeros(1, DECISION_DTYPE)
    d["news_id"], d["ts_ns"], d["ticker"], d["action"] = 1, NOW, AAPL, ACTION_TRADE
    d["direction"], d["size_basis"] = 1, 5.0
    return d


def test_signal_with_a_nan_min_strength_makes_no_order():
    g = SignalGenerator(SignalConfig(), TICKERS)
    mid = np.full(len(TICKERS), 100.0)
    g._p[P_MIN_STRENGTH] = math.nan
    assert len(g.orders(_decision(), mid)) == 0 and g.stats()["weak"] == 1


def test_signal_with_an_infinite_notional_never_emits_a_negative_quantity():
    g = SignalGenerator(SignalConfig(), TICKERS)
    mid = np.full(len(TICKERS), 100.0)
    g._p[P_NOTIONAL] = math.inf
    o = g.orders(_decision(), mid)
    assert len(o) == 1 and int(o["qty"][0]) == QTY_CAP
    d = Desk()
    assert d.check(o) == ["max_qty"]  # and the risk gate stops it


def test_signal_with_a_nan_score_makes_no_order():
    """A decision whose sentiment is NaN scores NaN: before, ``NaN < min_strength`` was false and the decision
    became a full-size sell."""
    g = SignalGenerator(SignalConfig(), TICKERS)
    mid = np.full(len(TICKERS), 100.0)
    d = _decision()
    d["sentiment"] = math.nan
    assert len(g.orders(d, mid)) == 0 and g.stats()["weak"] == 1


@pytest.mark.parametrize("slots", [1 << 40, 0, 3, True, 64.0])
def test_cooldown_table_size_is_bounded_and_typed(slots):
    from cns.trading import RiskConfig, RiskGate, StateError

    d = Desk()
    with pytest.raises(StateError, match="cooldown_slots"):
        RiskGate(RiskConfig(), TICKERS, d.oms, cooldown_slots=slots)
