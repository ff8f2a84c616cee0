"""Helpers shared by every ``cns bench`` benchmark: machine facts, percentiles, a table and JSON output.

Stable API (other benchmarks import it):

* :func:`cpu_model` -> the CPU model string from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere).
* :func:`machine` -> a dict of machine facts (cpu, cores, python, numpy, numba, os) to embed in JSON.
* :func:`percentiles_ns` -> p50/p99/p999/max (and count, mean) of a raw int64 ns array.
* :func:`print_table` -> a plain-text table of a list of dict rows.
* :func:`write_json` -> write a JSON document (creating parent directories), numpy scalars allowed.
* :func:`timed_ns` -> run a callable once and return its wall time in ns (``time.perf_counter_ns``).

Every figure is measured with ``time.perf_counter_ns``; nothing here invents a number.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from cns.telemetry.facts import cpu_model, machine, write_json
from cns.telemetry.stats import summarize

__all__ = [
    "cpu_model",
    "fmt_ns",
    "fmt_rate",
    "machine",
    "percentiles_ns",
    "print_table",
    "timed_ns",
    "write_json",
]


def percentiles_ns(arr: np.ndarray | Sequence[int]) -> dict[str, float]:
    """p50/p99/p999/max/mean/count of raw ns latencies: :func:`cns.telemetry.stats.summarize`."""
    return summarize(arr)


def fmt_ns(ns: float | None) -> str:
    """Human form of a duration in ns: ``850 ns``, ``1.25 µs``, ``3.40 ms``, ``1.20 s``; ``n/a`` for None/NaN."""
    if ns is None or math.isnan(ns):
        return "n/a"
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def fmt_rate(per_s: float | None) -> str:
    """Human form of a rate: ``3.10 M/s``, ``850 k/s``; ``n/a`` for None/NaN."""
    if per_s is None or math.isnan(per_s):
        return "n/a"
    if per_s >= 1e6:
        return f"{per_s / 1e6:.2f} M/s"
    if per_s >= 1e3:
        return f"{per_s / 1e3:.1f} k/s"
    return f"{per_s:.0f} /s"


def _cell(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if math.isnan(v):
            return "n/a"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return str(v)


def print_table(title: str, rows: Sequence[Mapping[str, Any]], *, file: Any = None) -> str:
    """Print ``rows`` (dicts; columns = union of keys in first-seen order) as an aligned table under ``title``.

    Returns the rendered text too (handy for README fragments). Missing cells and None/NaN print ``n/a``.
    """
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells)
    text = "\n".join(lines)
    print(text, file=file if file is not None else sys.stdout, flush=True)
    return text


def timed_ns(fn: Callable[[], Any]) -> int:
    """Wall time of one call of ``fn`` in ns (``time.perf_counter_ns``)."""
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0
