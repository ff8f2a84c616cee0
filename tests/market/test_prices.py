"""The seeded background stream of the simulated market and its sizing helpers."""

from __future__ import annotations

import numpy as np
import pytest

from cns.market.prices import BG_INFORMED, BG_REQUOTE, BG_TAKER, BackgroundStream, FlowConfig, lot_sizes
from cns.venue.errors import VenueConfigError

START = 1_700_000_000_000_000_000


def test_stream_is_time_ordered_and_has_the_configured_rates():
    flow = FlowConfig(requote_hz=3.0, taker_hz=1.0, informed_hz=2.0, chunk_events=20_000)
    s = BackgroundStream(50, flow, np.random.default_rng(1), START)
    t, instr, kind, u, z = s.next_chunk()
    t2, *_ = s.next_chunk()
    assert np.all(np.diff(t) >= 0) and t2[0] >= t[-1] and t[0] > START
    seconds = (t[-1] - START) / 1e9
    assert 20_000 / seconds == pytest.approx(50 * 6.0, rel=0.05)  # events per second, all instruments
    assert instr.min() == 1 and instr.max() == 50
    assert np.mean(kind == BG_REQUOTE) == pytest.approx(0.5, abs=0.02)
    assert np.mean(kind == BG_INFORMED) == pytest.approx(1 / 3, abs=0.02)
    assert set(np.unique(kind).tolist()) == {BG_REQUOTE, BG_TAKER, BG_INFORMED}
    quiet = BackgroundStream(
        5, FlowConfig(informed_hz=0.0, chunk_events=1000), np.random.default_rng(1), START
    )
    assert not np.any(quiet.next_chunk()[2] == BG_INFORMED)
    assert 0 <= u.min() and u.max() < 1 and abs(z.mean()) < 0.05


def test_stream_is_deterministic_for_a_seed():
    a = BackgroundStream(10, FlowConfig(chunk_events=1000), np.random.default_rng(9), START).next_chunk()
    b = BackgroundStream(10, FlowConfig(chunk_events=1000), np.random.default_rng(9), START).next_chunk()
    c = BackgroundStream(10, FlowConfig(chunk_events=1000), np.random.default_rng(8), START).next_chunk()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_lot_sizes():
    assert lot_sizes(np.array([np.nan, 20.0, 5000.0, 1e9]), 25_000.0).tolist() == [0, 1250, 5, 1]


@pytest.mark.parametrize(
    "kw",
    [
        {"requote_hz": -1.0},
        {"requote_hz": 0.0, "taker_hz": 0.0, "informed_hz": 0.0},
        {"mm_levels": 0},
        {"taker_notional_usd": 0.0},
        {"taker_cross_ticks": -1},
        {"informed_hz": float("nan")},
        {"mm_flow_bp_per_lot": -1.0},
        {"mm_max_half_spread_bp": 1.0},
        {"mm_vol_window_ns": 0},
        {"informed_max_notional_usd": 0.0},
        {"mm_inventory_skew_max_bp": 1e9},
    ],
)
def test_flow_config_is_validated(kw):
    with pytest.raises(VenueConfigError):
        FlowConfig(**kw)
