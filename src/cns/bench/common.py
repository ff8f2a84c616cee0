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

import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

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


def cpu_model() -> str:
    """The CPU model name (first ``model name`` line of ``/proc/cpuinfo``), or the platform's best guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("model name", "Model", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict[str, Any]:
    """Facts about the machine and interpreter a benchmark ran on (for the JSON ``machine`` field)."""
    facts: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "numpy": np.__version__,
    }
    try:
        import numba

        facts["numba"] = numba.__version__
    except ImportError:  # numba is a hard dependency, but machine() must never fail
        facts["numba"] = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            first = f.readline().split()
            facts["mem_total_kib"] = int(first[1])
    except (OSError, IndexError, ValueError):
        facts["mem_total_kib"] = None
    return facts


def percentiles_ns(arr: np.ndarray | Sequence[int]) -> dict[str, float]:
    """p50, p99, p99.9 and max (ns) of a raw array of latencies in ns, plus ``count`` and ``mean``.

    Keys: ``p50``, ``p99``, ``p999``, ``max``, ``mean``, ``count``. Percentiles use the "higher" method
    (an observed sample, never an interpolation below it). An empty array gives NaN for every statistic and
    ``count`` 0 rather than raising, so a benchmark that measured nothing shows it instead of crashing.
    """
    a = np.asarray(arr, dtype=np.int64)
    if a.size == 0:
        nan = float("nan")
        return {"p50": nan, "p99": nan, "p999": nan, "max": nan, "mean": nan, "count": 0}
    p50, p99, p999 = np.percentile(a, [50.0, 99.0, 99.9], method="higher")
    return {
        "p50": float(p50),
        "p99": float(p99),
        "p999": float(p999),
        "max": float(a.max()),
        "mean": float(a.mean()),
        "count": int(a.size),
    }


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


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"write_json: cannot encode {type(o).__name__}")


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` (parents created); numpy scalars/arrays are converted.

    NaN is written as ``null`` so the file is strict JSON. Returns the path written.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_nan_to_none(obj), indent=2, default=_json_default, allow_nan=False)
    p.write_text(text + "\n", encoding="utf-8")
    return p


def _nan_to_none(o: Any) -> Any:
    if isinstance(o, (float, np.floating)) and math.isnan(o):
        return None
    if isinstance(o, dict):
        return {k: _nan_to_none(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_nan_to_none(v) for v in o]
    return o


def timed_ns(fn: Callable[[], Any]) -> int:
    """Wall time of one call of ``fn`` in ns (``time.perf_counter_ns``)."""
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0
