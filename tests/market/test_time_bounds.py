"""The exchange simulator is safe for any time it accepts: no sentinel collides with a real time (no
out-of-bounds read, no segfault), no int64 overflow in ``t + latency``, a clock that cannot run away and memory
that does not grow with an absurd span."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cns.market.dtypes import STORY_DTYPE
from cns.market.exchange import ExchangeSimulator, SimConfig
from cns.market.prices import BackgroundStream, FlowConfig
from cns.market.sim import MarketConfig
from cns.market.sim_config import MAX_SPAN_NS
from cns.signals.universe import default_instruments
from cns.venue.book import make_orders
from cns.venue.dtypes import ORDER_LIMIT, SIDE_BUY
from cns.venue.errors import SimClockError, VenueConfigError

SEC = 1_000_000_000
START = 1_700_000_000 * SEC
I64_MAX = 2**63 - 1


def _run(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child: a segfault must fail the test, not kill pytest."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )


def test_times_past_2116_do_not_crash_the_kernel():
    r = _run("""
        from cns.market.exchange import ExchangeSimulator, SimConfig
        from cns.signals.universe import default_instruments
        t0 = (1 << 62) + 10
        sim = ExchangeSimulator(default_instruments(5), None, SimConfig(start_ns=t0), seed=1)
        sim.advance_to(t0 + 2_000_000_000)
        assert sim.stats()["requotes"] > 0
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])


def test_start_without_room_for_the_span_is_refused():
    with pytest.raises(VenueConfigError, match="start_ns"):
        SimConfig(start_ns=I64_MAX - 1000)
    with pytest.raises(VenueConfigError, match="start_ns"):
        SimConfig(start_ns=-1)


def test_order_stamped_near_int64_max_does_not_wrap_into_the_past():
    sim = ExchangeSimulator(default_instruments(5), None, SimConfig(start_ns=START), seed=1)
    o = make_orders(1)
    o[0] = (1, 0, 0, 1, SIDE_BUY, ORDER_LIMIT, 1, 100.0, I64_MAX - 100, 0)
    sim.submit(o)
    rep = sim.advance_to(START + SEC)
    assert len(rep) == 0 and sim.late_orders == 0 and sim.stats()["external_orders"] == 0


def test_clock_beyond_the_span_or_int64_is_refused():
    sim = ExchangeSimulator(
        default_instruments(3), None, SimConfig(start_ns=START, max_span_ns=10 * SEC), seed=1
    )
    sim.advance_to(START + 10 * SEC)
    with pytest.raises(SimClockError, match="max_span_ns"):
        sim.advance_to(START + 10 * SEC + 1)
    for t in (2**63, 2**64, -(2**63) - 1):
        with pytest.raises(SimClockError):
            sim.advance_to(t)
    with pytest.raises(SimClockError):
        sim.reference_prices(2**70)


def test_default_span_is_bounded():
    cfg = SimConfig(start_ns=START)
    assert 3600 * SEC <= cfg.max_span_ns <= MAX_SPAN_NS  # a year of news fits; idle gaps cost nothing


def test_snapshot_memory_is_bounded_whatever_the_span():
    cfg = SimConfig(
        start_ns=START,
        snapshot_ns=1_000_000,
        max_snapshots=2048,
        market=MarketConfig(flow=FlowConfig(requote_hz=0.5, taker_hz=0.5)),
    )
    sim = ExchangeSimulator(default_instruments(3), None, cfg, seed=1)
    sim.advance_to(START + 20 * SEC)  # 20 000 snapshots at the configured interval
    ts, mid, fund = sim.snapshots()
    assert 1024 <= len(ts) <= 2048 and sim._io.snap_t.shape[0] <= 2048
    assert ts[0] == START and np.all(np.diff(ts) == np.diff(ts)[0]) and ts[-1] > START + 19 * SEC


def _story(first_ns: int, delay_ns: int, pct: float = 5.0) -> np.ndarray:
    s = np.zeros(1, STORY_DTYPE)
    s["instrument"], s["first_report_ns"], s["impact_delay_ns"] = 1, first_ns, delay_ns
    s["impact_pct"], s["is_true"] = pct, 1
    return s


def test_story_impact_near_int64_max_does_not_wrap_into_the_past():
    sim = ExchangeSimulator(
        default_instruments(3), _story(I64_MAX - 10, 1_000), SimConfig(start_ns=START), seed=1
    )
    f0 = sim.fundamentals()[1]
    sim.advance_to(START + SEC)
    st = sim.stats()
    assert st["impacts"] == 0 and st["competitor_orders"] == 0
    assert abs(sim.fundamentals()[1] / f0 - 1) < 0.01


def test_story_times_must_be_non_negative():
    with pytest.raises(VenueConfigError, match="first_report_ns"):
        ExchangeSimulator(default_instruments(3), _story(-5, 0), SimConfig(start_ns=START), seed=1)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: MarketConfig(hold_ns=2**62), "hold_ns"),
        (lambda: FlowConfig(mm_refill_ns=2**62), "mm_refill_ns"),
        (lambda: SimConfig(start_ns=START, entry_latency_ns=2**62), "entry_latency_ns"),
        (lambda: SimConfig(start_ns=START, snapshot_ns=2**62), "snapshot_ns"),
    ],
)
def test_durations_that_would_overflow_are_refused(make, match):
    with pytest.raises(VenueConfigError, match=match):
        make()


def test_background_stream_near_the_end_of_int64_stays_monotone():
    bs = BackgroundStream(2, FlowConfig(chunk_events=1000), np.random.default_rng(1), I64_MAX - SEC)
    for _ in range(3):
        t = bs.next_chunk()[0]
        assert np.all(t >= I64_MAX - SEC) and np.all(np.diff(t) >= 0)


@pytest.mark.parametrize("pct", [float("nan"), float("inf"), -100.0])
def test_story_impact_that_would_break_the_price_is_refused(pct):
    with pytest.raises(VenueConfigError, match="impact_pct"):
        ExchangeSimulator(
            default_instruments(3), _story(START + SEC, 0, pct), SimConfig(start_ns=START), seed=1
        )
