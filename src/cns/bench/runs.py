"""Spread of a figure over repeated runs, for benchmarks on a noisy machine.

:func:`spread` folds the per-run values of one figure into ``median`` / ``min`` / ``max`` (and the values
themselves), with the one percentile helper :func:`cns.telemetry.stats.summarize` (its ``p50`` is NumPy's
``"higher"`` percentile: the true median for an odd count, the higher middle value for an even one).
:func:`fmt_spread` prints it as ``median (min–max, N runs)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from cns.telemetry.stats import summarize

__all__ = ["fmt_spread", "spread"]


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """``{"median", "min", "max", "runs", "values"}`` of the runs that produced a number (None/NaN skipped)."""
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return {"median": None, "min": None, "max": None, "runs": 0, "values": []}
    s = summarize(vals)
    return {"median": s["p50"], "min": min(vals), "max": s["max"], "runs": len(vals), "values": vals}


def fmt_spread(sp: dict[str, Any], fmt: Callable[[float], str]) -> str:
    """``median (min–max, N runs)`` with ``fmt`` applied to each number; one run prints just the value."""
    if not sp.get("runs"):
        return "n/a"
    if sp["runs"] == 1:
        return fmt(sp["median"])
    return f"{fmt(sp['median'])} ({fmt(sp['min'])}–{fmt(sp['max'])}, {sp['runs']} runs)"
