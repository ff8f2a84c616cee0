"""Percentiles of the quoted spreads the desk saw at its P&L snapshots, stored run-length encoded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["spread_percentiles"]


def spread_percentiles(
    samples: Sequence[np.ndarray], counts: Sequence[int], qs: Sequence[float]
) -> dict[str, float]:
    """``{"n": values, "p<q>": ...}`` of the spreads (bp) in ``samples``, sample ``k`` counted ``counts[k]``
    times: the same numbers as ``np.percentile`` (linear) of every sample repeated, without building that
    array (an idle market repeats one sample for days of snapshots). NaN percentiles when there is none."""
    lens = np.array([len(s) for s in samples], np.int64)
    reps = np.asarray(counts, np.int64)
    n = int((lens * reps).sum())
    out: dict[str, float] = {"n": n}
    if n == 0:
        return out | {f"p{q:g}": float("nan") for q in qs}
    values = np.concatenate(samples)
    if bool(np.all(reps == 1)):
        for q in qs:
            out[f"p{q:g}"] = float(np.percentile(values, q))
        return out
    weights = np.repeat(reps, lens)
    order = np.argsort(values, kind="stable")
    values, ends = values[order], np.cumsum(weights[order])  # value k fills ranks ends[k-1] .. ends[k]-1
    for q in qs:
        h = (n - 1) * (q / 100.0)
        lo = int(np.floor(h))
        a, b = values[np.searchsorted(ends, [lo, min(lo + 1, n - 1)], side="right")]
        t = h - lo
        out[f"p{q:g}"] = float(b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t)  # numpy's lerp
    return out
