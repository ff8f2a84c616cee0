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
