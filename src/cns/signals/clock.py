"""Clocks that Numba kernels can read: the CPU cycle counter and the monotonic ns clock.

* :func:`read_cycles` — ``llvm.readcyclecounter`` (``rdtsc`` on x86-64, ``cntvct_el0`` on AArch64), ``uint64``
  cycles. Cheap and not serialising: it measures a batch or a sampled handler, not a single instruction.
* :func:`monotonic_ns` — ``clock_gettime(CLOCK_MONOTONIC)`` (vDSO on Linux), ``int64`` ns, the same clock as
  ``time.monotonic_ns`` and, on Linux, ``time.perf_counter_ns``; stamps are comparable across processes.

Both are Numba intrinsics that call into LLVM / libc by *symbol name* (not a ctypes function pointer), so
kernels that use them keep ``@njit(cache=True)`` working. Both may also be called from Python (a tiny jitted
wrapper each), at Python call cost.

:func:`cycles_per_ns` calibrates the cycle counter against ``time.perf_counter_ns``; :func:`clock_costs`
measures what one read of each clock costs inside a kernel (see ``docs/signals.md`` for this box).

**The one stamp calibration.** Every stage that stamps per-event latency inside a kernel (parse, validate,
sentiment, corroborate, signal, risk) converts cycles to ns with :func:`stamp_calibration`: the rate from
:func:`cycles_per_ns` and, as the overhead every stamp subtracts, the median raw stamp of an empty region
(:func:`empty_stamps`). Measured once per process, so all stages agree on what "0 ns" and "1 ns" are.
:func:`stamp_step` is the in-kernel helper that opens and closes such stamps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "read_cycles",
    "monotonic_ns",
    "cycles_per_ns",
    "ClockCosts",
    "clock_costs",
    "CLOCK_MONOTONIC",
    "StampCalibration",
    "stamp_calibration",
    "stamp_step",
    "empty_stamps",
]

CLOCK_MONOTONIC = 1  # Linux <time.h>


@intrinsic
def _readcyclecounter(typingctx):  # type: ignore[no-untyped-def]
    sig = types.uint64()

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])

    return sig, codegen


@intrinsic
def _clock_gettime_ns(typingctx, clock_id):  # type: ignore[no-untyped-def]
    sig = types.int64(clock_id)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        i64 = ir.IntType(64)
        i32 = ir.IntType(32)
        timespec = ir.LiteralStructType([i64, i64])  # struct timespec {time_t tv_sec; long tv_nsec;} (LP64)
        fnty = ir.FunctionType(i32, [i32, timespec.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "clock_gettime")
        ts = cgutils.alloca_once(builder, timespec)
        cid = builder.trunc(args[0], i32) if args[0].type.width > 32 else builder.sext(args[0], i32)
        builder.call(fn, [cid, ts])
        sec = builder.load(builder.gep(ts, [i32(0), i32(0)]))
        nsec = builder.load(builder.gep(ts, [i32(0), i32(1)]))
        return builder.add(builder.mul(sec, i64(1_000_000_000)), nsec)

    return sig, codegen


@njit(cache=True)
def read_cycles() -> int:
    """CPU cycle counter (``uint64``, TSC cycles; invariant TSC assumed). Numba- and Python-callable."""
    return _readcyclecounter()


@njit(cache=True)
def monotonic_ns() -> int:
    """``CLOCK_MONOTONIC`` in ns (``int64``). Numba- and Python-callable."""
    return _clock_gettime_ns(CLOCK_MONOTONIC)


@njit(cache=True)
def _cycles_and_ns() -> tuple[int, int]:
    return read_cycles(), monotonic_ns()


@njit(cache=True)
def _cost_loop(n: int) -> tuple[int, int, int]:
    """Cycles for ``n`` back-to-back cycle-counter reads, for ``n`` clock reads, and for an empty loop."""
    acc = np.uint64(0)
    c0 = read_cycles()
    for _ in range(n):
        acc += read_cycles()
    c1 = read_cycles()
    s = 0
    for _ in range(n):
        s += monotonic_ns()
    c2 = read_cycles()
    return int(c1 - c0), int(c2 - c1), int(acc & np.uint64(1)) + (s & 1)


_CALIBRATION: list[float] = []


def cycles_per_ns(window_ns: int = 20_000_000, *, refresh: bool = False) -> float:
    """Cycle-counter cycles per ns, measured against ``time.perf_counter_ns`` over ``window_ns`` (20 ms).

    The first result is cached for the process; ``refresh=True`` measures again. Raises ``RuntimeError`` if
    the counter does not advance (a platform without a usable cycle counter).
    """
    if _CALIBRATION and not refresh:
        return _CALIBRATION[0]
    read_cycles()  # compile / load outside the window
    rates = []
    for _ in range(3):
        t0 = time.perf_counter_ns()
        c0 = read_cycles()
        while time.perf_counter_ns() - t0 < window_ns // 3:
            pass
        c1 = read_cycles()
        t1 = time.perf_counter_ns()
        rates.append((c1 - c0) / max(1, t1 - t0))
    best = float(np.median(rates))
    if best <= 0.0:
        raise RuntimeError("the cycle counter does not advance on this platform")
    _CALIBRATION[:] = [best]
    return best


@dataclass(frozen=True, slots=True)
class ClockCosts:
    """Measured cost of one read inside a kernel, in cycles and ns (median of a few runs)."""

    read_cycles_cycles: float
    read_cycles_ns: float
    monotonic_ns_cycles: float
    monotonic_ns_ns: float
    cycles_per_ns: float


def clock_costs(n: int = 200_000, repeats: int = 5) -> ClockCosts:
    """In-kernel cost of :func:`read_cycles` and :func:`monotonic_ns` (``n`` reads, ``repeats`` runs)."""
    cpn = cycles_per_ns()
    _cost_loop(10)
    rc, mono = [], []
    for _ in range(repeats):
        a, b, _sink = _cost_loop(n)
        rc.append(a / n)
        mono.append(b / n)
    r, m = float(np.median(rc)), float(np.median(mono))
    return ClockCosts(r, r / cpn, m, m / cpn, cpn)


@njit(cache=True, inline="always")
def stamp_step(lat_ns, i, pending, c0, ns_per_cycle, overhead_cycles):  # type: ignore[no-untyped-def]
    """Per-item latency stamping inside a kernel loop, on the CPU cycle counter (:func:`read_cycles`).

    Call it first thing in every iteration with the item index ``i`` and once after the loop with ``i = -1``;
    ``(pending, c0)`` is the open sample (start ``-1, np.uint64(0)``) and the new pair is returned. It closes
    the open sample — ``lat_ns[pending] = max(0, (cycles elapsed - overhead_cycles) * ns_per_cycle)`` — then,
    if ``lat_ns[i] == 0`` (the caller's "sample this one"; ``-1`` = don't), reads the counter again to open a
    sample for ``i``. So a stamp spans everything the loop body did for item ``i``, whichever ``continue`` or
    ``break`` ended it, plus the loop back-edge. The counter is not serialising and on AMD Zen ticks at
    100 MHz (10 ns steps), so one stamp is good to about ±10 ns — fine for a per-event distribution, not for
    single instructions.
    """
    if pending >= 0:
        d = np.int64(read_cycles() - c0)  # a negative delta (clock stepped back) clamps to 0 below
        lat_ns[pending] = max(np.int64(0), np.int64((d - overhead_cycles) * ns_per_cycle))
        pending = -1
    if i >= 0 and lat_ns[i] == 0:
        return np.int64(i), read_cycles()
    return np.int64(pending), c0


@njit(cache=True)
def empty_stamps(lat_ns):  # type: ignore[no-untyped-def]
    """Stamp every entry of ``lat_ns`` around an empty loop body, raw (1 ns per cycle, no correction): the
    cycles one stamp reads when there is nothing to measure — the overhead :func:`stamp_step` subtracts."""
    pending = -1
    c0 = np.uint64(0)
    for i in range(len(lat_ns)):
        pending, c0 = stamp_step(lat_ns, i, pending, c0, 1.0, 0.0)
    stamp_step(lat_ns, -1, pending, c0, 1.0, 0.0)


@dataclass(frozen=True, slots=True)
class StampCalibration:
    """How in-kernel cycle stamps become ns: ``ns = max(0, (cycles - overhead_cycles) * ns_per_cycle)``."""

    ns_per_cycle: float
    overhead_cycles: float

    def __iter__(self):  # type: ignore[no-untyped-def]
        """Unpacks as ``(ns_per_cycle, overhead_cycles)``, the two kernel arguments."""
        return iter((self.ns_per_cycle, self.overhead_cycles))


_STAMP_CAL: list[StampCalibration] = []


def stamp_calibration(*, refresh: bool = False) -> StampCalibration:
    """The process-wide stamp calibration, measured once (~25 ms) on first use, then cached.

    ``ns_per_cycle`` is ``1 / cycles_per_ns()``; ``overhead_cycles`` is the median raw stamp of an empty loop
    body (3 x 100k stamps of :func:`empty_stamps`), so an empty body reads ~0 ns. This is deliberately not
    :func:`clock_costs`' per-read throughput cost: subtracting that would bias stamps low by up to ~20 ns
    on a counter that ticks every 10 ns. ``refresh=True`` measures again.
    """
    if not _STAMP_CAL or refresh:
        cpn = cycles_per_ns(refresh=refresh)
        empty_stamps(np.zeros(16, dtype=np.int64))  # compile / load outside the measurement
        raw = np.zeros(300_000, dtype=np.int64)
        empty_stamps(raw)
        _STAMP_CAL[:] = [StampCalibration(1.0 / cpn, float(np.median(raw)))]
    return _STAMP_CAL[0]
