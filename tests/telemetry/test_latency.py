"""LatencyRecorder: raw buffer protocol, folding into HDR, coordinated-omission modes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from cns.telemetry import (
    OPEN_LOOP,
    LatencyCapacityError,
    LatencyConfig,
    LatencyRecorder,
    LatencyValueError,
)


@njit(cache=True)
def _kernel_latencies(start_ns: np.ndarray, end_ns: np.ndarray, out: np.ndarray) -> int:
    n = min(start_ns.size, out.size)
    for i in range(n):
        out[i] = end_ns[i] - start_ns[i]
    return n


def _reference_hist(values: np.ndarray, interval: int | None = None) -> HdrHistogram:
    h = HdrHistogram(1, 3_600_000_000_000, 3)
    for v in values.tolist():
        if interval is None:
            h.record_value(v)
        else:
            h.record_corrected_value(v, interval)
    return h


def test_percentiles_match_numpy_within_hdr_precision() -> None:
    rng = np.random.default_rng(7)
    v = rng.lognormal(mean=8.0, sigma=1.0, size=200_000).astype(np.int64) + 1
    rec = LatencyRecorder("t", capacity=50_000)
    rec.record_many(v)
    s = rec.summary()
    assert s["count"] == v.size
    assert s["max"] == int(v.max()) and s["min"] == int(v.min())
    assert s["mean"] == pytest.approx(float(v.mean()))
    for key, pct in (("p50", 50), ("p99", 99), ("p999", 99.9)):
        exact = float(np.percentile(v, pct, method="higher"))
        assert abs(s[key] - exact) / exact < 2e-3, (key, s[key], exact)
    assert s["folds"] == 4


def test_vectorised_fold_equals_per_value_hdr() -> None:
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.integers(0, 5_000, 3_000), rng.integers(0, 10**11, 3_000)]).astype(np.int64)
    rec = LatencyRecorder("t", capacity=1_000)
    rec.record_many(v)
    ref = _reference_hist(v)
    h = rec.histogram
    assert h.get_total_count() == ref.get_total_count()
    for pct in (1, 10, 50, 90, 99, 99.9, 100):
        assert h.get_value_at_percentile(pct) == ref.get_value_at_percentile(pct)


def test_kernel_writes_into_free_then_commit() -> None:
    rec = LatencyRecorder("k", capacity=1_000)
    start = np.arange(0, 600, dtype=np.int64) * 1000
    end = start + np.arange(1, 601, dtype=np.int64)
    n = _kernel_latencies(start, end, rec.free())
    rec.commit(n)
    assert rec.pending == 600
    n = _kernel_latencies(start, end, rec.free())  # only 400 slots left: the kernel respects the view
    assert n == 400
    rec.commit(n)  # buffer full -> folded automatically
    assert rec.pending == 0
    s = rec.summary()
    assert s["count"] == 1_000 and s["max"] == 600 and s["min"] == 1


def test_expected_interval_backfill_equals_hdr_corrected() -> None:
    v = np.array([5, 100, 250, 1_000, 1_001, 37], dtype=np.int64)
    rec = LatencyRecorder("co", capacity=16, expected_interval_ns=100)
    rec.record_many(v)
    ref = _reference_hist(v, interval=100)
    s = rec.summary()
    assert s["count"] == v.size
    assert s["hist_count"] == ref.get_total_count() > v.size
    for pct in (10, 50, 90, 100):
        assert rec.histogram.get_value_at_percentile(pct) == ref.get_value_at_percentile(pct)


def test_open_loop_measures_from_intended_start() -> None:
    interval = 1_000
    intended = np.arange(10, dtype=np.int64) * interval
    # the system stalled 9.5 µs at the start: every request completes late, queued behind the stall
    done = np.maximum(intended, 9_500) + 10
    rec = LatencyRecorder("ol", mode=OPEN_LOOP, capacity=64)
    rec.record_from_intended(intended, done)
    s = rec.summary()
    assert s["mode"] == OPEN_LOOP
    assert s["max"] == 9_510 and s["min"] == 510
    assert s["p50"] >= 1_000  # a closed loop would record one 9.5 µs sample and nine of ~10 ns


def test_clamps_above_highest_and_counts_it() -> None:
    rec = LatencyRecorder("c", capacity=8, highest_ns=1_000_000)
    rec.record_many(np.array([10, 2_000_000], dtype=np.int64))
    s = rec.summary()
    assert s["clamped"] == 1 and s["max"] == 2_000_000
    assert s["p999"] <= 1_001_000


def test_errors_are_specific() -> None:
    rec = LatencyRecorder("e", capacity=4)
    with pytest.raises(LatencyCapacityError, match="'e'"):
        rec.commit(5)
    rec.record(3)
    rec.record(-1)
    with pytest.raises(LatencyValueError, match="negative latency -1 ns at pending sample 1"):
        rec.fold()
    with pytest.raises(LatencyValueError):
        LatencyConfig(capacity=0)
    with pytest.raises(LatencyValueError, match="unknown option"):
        LatencyRecorder("x", bogus=1)
    with pytest.raises(LatencyValueError):
        LatencyRecorder("x", mode="sometimes")
    with pytest.raises(LatencyValueError):
        LatencyRecorder("x", capacity=4).record_from_intended(np.zeros(2), np.zeros(3))


def test_empty_summary_has_no_invented_numbers() -> None:
    s = LatencyRecorder("empty").summary()
    assert s["count"] == 0 and s["p50"] is None and s["max"] is None


def test_reset_forgets() -> None:
    rec = LatencyRecorder("r", capacity=4)
    rec.record_many(np.array([1, 2, 3], dtype=np.int64))
    rec.summary()
    rec.reset()
    assert rec.summary()["count"] == 0 and rec.pending == 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=3_600_000_000_000), min_size=1, max_size=300),
    st.sampled_from([1, 2, 3, 4]),
)
def test_fold_matches_hdr_for_any_values(values: list[int], figures: int) -> None:
    v = np.array(values, dtype=np.int64)
    rec = LatencyRecorder("p", capacity=64, significant_figures=figures)
    rec.record_many(v)
    ref = HdrHistogram(1, 3_600_000_000_000, figures)
    for x in values:
        ref.record_value(x)
    h = rec.histogram
    assert h.get_total_count() == ref.get_total_count()
    for pct in (0.1, 50, 99, 99.9, 100):
        assert h.get_value_at_percentile(pct) == ref.get_value_at_percentile(pct)
