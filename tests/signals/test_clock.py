"""Clocks: the cycle counter and monotonic ns clock are readable from kernels and from Python."""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from cns.signals.clock import clock_costs, cycles_per_ns, monotonic_ns, read_cycles


@njit(cache=True)
def _stamps(n: int) -> tuple[np.ndarray, np.ndarray]:
    c = np.empty(n, dtype=np.uint64)
    t = np.empty(n, dtype=np.int64)
    for i in range(n):
        c[i] = read_cycles()
        t[i] = monotonic_ns()
    return c, t


def test_kernel_clocks_advance_monotonically() -> None:
    c, t = _stamps(1000)
    assert np.all(np.diff(c.astype(np.int64)) >= 0) and c[-1] > c[0]
    assert np.all(np.diff(t) >= 0)


def test_monotonic_ns_is_the_python_monotonic_clock() -> None:
    a = time.monotonic_ns()
    b = monotonic_ns()
    c = time.monotonic_ns()
    assert a <= b <= c


def test_cycles_per_ns_matches_elapsed_time() -> None:
    rate = cycles_per_ns()
    assert 0.1 < rate < 10.0
    c0, t0 = read_cycles(), time.perf_counter_ns()
    time.sleep(0.02)
    c1, t1 = read_cycles(), time.perf_counter_ns()
    assert abs((c1 - c0) / (t1 - t0) - rate) / rate < 0.1


def test_clock_costs_are_measured() -> None:
    costs = clock_costs(n=20_000, repeats=3)
    assert costs.read_cycles_cycles > 0 and costs.monotonic_ns_cycles > 0
    assert costs.read_cycles_ns < 1000 and costs.monotonic_ns_ns < 5000
